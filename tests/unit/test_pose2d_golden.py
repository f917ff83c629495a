"""Our pose pipeline (ONNX Runtime, numpy) against MediaPipe's own mp.solutions.pose on real photos.

Golden file: tests/data/pose_golden.npz, written by `.venv-mediapipe/bin/python mediapipe_reference/pose_goldens.py`
(mediapipe 0.10.18, static_image_mode=True, model_complexity=1, no smoothing, no segmentation). Run with
-s to see the measured numbers. Units: landmark error in image pixels (Euclidean), world error in mm (max
abs per coordinate), visibility/presence as probabilities.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator

ROOT = Path(__file__).resolve().parents[2]
ASSETS = Path(os.environ.get('NVB_PERCEPTION_ASSETS') or ROOT / '.assets')
GOLDEN = ROOT / 'tests' / 'data' / 'pose_golden.npz'
IMAGES = {'messi5': 'data/opencv/messi5.jpg', 'basketball1': 'data/opencv/basketball1.png',
          'basketball2': 'data/opencv/basketball2.png', 'astronaut': 'data/photos/astronaut.png',
          'grace_hopper': 'data/photos/grace_hopper.jpg'}
MEDIAN_PX = 0.5          # pixels, median landmark error per image
MAX_VISIBLE_PX = 5.0     # pixels, worst landmark with MediaPipe visibility > 0.5
WORLD_MM = 2.0           # millimetres, worst world coordinate
PROB = 0.01              # visibility / presence, absolute


@pytest.fixture(scope='module')
def golden():
    if not GOLDEN.is_file():
        pytest.skip(f'{GOLDEN} missing: run `.venv-mediapipe/bin/python mediapipe_reference/pose_goldens.py`')
    return np.load(GOLDEN)


@pytest.fixture(scope='module')
def estimator():
    models = ASSETS / 'models'
    if not (models / 'pose_landmark_full.onnx').is_file():
        pytest.skip(f'models missing in {models}: run `make setup` / `nvb-export-models`')
    return PoseEstimator(PoseConfig(model_dir=str(models), static_image_mode=True, max_people=1, smoothing=False,
                                    prefer=('onnxruntime',), threads=2))


def test_golden_metadata(golden):
    import hashlib
    meta = json.loads(str(golden['metadata']))
    assert meta['mediapipe_version'] == '0.10.18' and meta['settings']['static_image_mode'] is True
    for rel in IMAGES.values():
        path = ASSETS / rel
        if path.is_file():   # the goldens are only valid for the exact images they were made from
            assert hashlib.sha256(path.read_bytes()).hexdigest() == meta['sha256'][path.name], path


@pytest.mark.parametrize('stem', list(IMAGES))
def test_matches_mediapipe(stem, golden, estimator):
    import cv2
    bgr = cv2.imread(str(ASSETS / IMAGES[stem]), cv2.IMREAD_COLOR)
    if bgr is None:
        pytest.skip(f'{IMAGES[stem]} missing: run `make setup`')
    people = estimator(bgr, 0).visible
    assert len(people) == 1, 'MediaPipe found one person here'
    person = people[0]
    ref_px, ref_vis = golden[f'{stem}/landmarks_px'], golden[f'{stem}/visibility']
    err = np.linalg.norm(person.skeleton.keypoints - ref_px, axis=1)
    visible = ref_vis > 0.5
    world_mm = float(np.abs(person.world - golden[f'{stem}/world_m']).max() * 1000)
    vis_err = float(np.abs(person.skeleton.confidence - ref_vis).max())
    pres_err = float(np.abs(person.presence - golden[f'{stem}/presence']).max())
    print(f'\n{stem}: landmarks median {np.median(err):.4f} px, max visible {err[visible].max():.4f} px '
          f'({visible.sum()} visible), max all {err.max():.4f} px; world max {world_mm:.3f} mm; '
          f'visibility {vis_err:.5f}, presence {pres_err:.5f}')
    assert np.median(err) <= MEDIAN_PX
    assert err[visible].max() <= MAX_VISIBLE_PX
    assert world_mm <= WORLD_MM
    assert vis_err <= PROB and pres_err <= PROB
