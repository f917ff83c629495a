"""Write tests/data/pose_golden.npz: MediaPipe's own mp.solutions.pose output on the test photos.

    .venv-mediapipe/bin/python mediapipe_reference/pose_goldens.py        # venv: scripts/setup_mediapipe_ref.sh

Runs mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, smooth_landmarks=False,
enable_segmentation=False) on each image (RGB) and stores, per image stem:
  <stem>/landmarks_px  (33, 2) float32  x, y in pixels of the full image (MediaPipe's normalised x*W, y*H)
  <stem>/z             (33,)   float32  MediaPipe's normalised z (scale of x), for reference only
  <stem>/visibility    (33,)   float32  [0, 1]
  <stem>/presence      (33,)   float32  [0, 1] (read before Pose.process clears it)
  <stem>/world_m       (33, 3) float32  metres, hip-centred, MediaPipe's world landmarks
  <stem>/image_size    (2,)    int64    (width, height)
  metadata             JSON string: mediapipe version, settings, per-image sha256 of the file read.
Images with nobody found get no entries (and are listed in metadata['no_pose']).
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.python.solution_base import SolutionBase

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get('NVB_PERCEPTION_ASSETS') or ROOT / '.assets')
IMAGES = ('data/opencv/messi5.jpg', 'data/opencv/basketball1.png', 'data/opencv/basketball2.png',
          'data/photos/astronaut.png', 'data/photos/grace_hopper.jpg')
SETTINGS = dict(static_image_mode=True, model_complexity=1, smooth_landmarks=False, enable_segmentation=False,
                min_detection_confidence=0.5, min_tracking_confidence=0.5)
OUT = ROOT / 'tests' / 'data' / 'pose_golden.npz'


def run(pose, rgb: np.ndarray) -> dict | None:
    """One image -> the arrays described in the module docstring, or None if nobody was found."""
    # Pose.process clears `presence`; SolutionBase.process is the same graph run without that step.
    result = SolutionBase.process(pose, input_data={'image': rgb})
    if not result.pose_landmarks:
        return None
    h, w = rgb.shape[:2]
    lms = result.pose_landmarks.landmark
    xyz = np.array([[p.x, p.y, p.z] for p in lms], np.float64)
    return {'landmarks_px': (xyz[:, :2] * [w, h]).astype(np.float32),
            'z': xyz[:, 2].astype(np.float32),
            'visibility': np.array([p.visibility for p in lms], np.float32),
            'presence': np.array([p.presence for p in lms], np.float32),
            'world_m': np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark], np.float32),
            'image_size': np.array([w, h], np.int64)}


def main() -> int:
    arrays, sha, no_pose = {}, {}, []
    with mp.solutions.pose.Pose(**SETTINGS) as pose:
        for rel in IMAGES:
            path = ASSETS / rel
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                print(f'missing {path}: run `make setup`', file=sys.stderr)
                return 2
            sha[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
            found = run(pose, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if found is None:
                no_pose.append(path.name)
                continue
            arrays.update({f'{path.stem}/{k}': v for k, v in found.items()})
            print(f'{path.name}: {bgr.shape[1]}x{bgr.shape[0]}, mean visibility {found["visibility"].mean():.2f}')
    meta = {'mediapipe_version': mp.__version__, 'numpy_version': np.__version__, 'opencv_version': cv2.__version__,
            'settings': SETTINGS, 'images': [str(Path(r)) for r in IMAGES], 'sha256': sha, 'no_pose': no_pose}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, metadata=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    print(f'wrote {OUT} ({OUT.stat().st_size} bytes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
