"""MediaPipe's own face/hand results on still images: the reference our ONNX pipelines are checked against.

    .venv-mediapipe/bin/python mediapipe_reference/face_landmarker.py FACE_LANDMARKER.task OUT.npz IMG...

Runs in the reference venv (mediapipe 0.10.18, numpy 1.26; scripts/setup_mediapipe_ref.sh); imports nothing
from nvb_perception, so it works there. Per image stem it stores:
  <stem>/face_landmarks   (F, 478, 3) float32  MediaPipe Tasks FaceLandmarker (IMAGE mode), x, y px, z px-scaled
  <stem>/blendshapes      (F, 52) float32      the same faces' blendshape scores
  <stem>/face_matrix      (F, 4, 4) float32    facial transformation matrices
  <stem>/hands            (H, 21, 3) float32   mp.solutions.hands (static, complexity 1) x, y px, z
  <stem>/handedness       (H,) float32         score of the label 'Left' (MediaPipe assumes a mirrored image)
  <stem>/holistic_left / holistic_right (21, 3) mp.solutions.holistic (static, complexity 1) hands, px (or absent)
  <stem>/holistic_pose    (33, 2) float32      the holistic pose landmarks, px
"""
import sys

import numpy as np


def _px(landmarks, w, h):
    return np.array([(p.x * w, p.y * h, p.z * w) for p in landmarks], np.float32)


def run(task: str, out: str, images: list[str]) -> None:
    """Write the reference npz (see the module docstring); needs mediapipe (imported here, not at import)."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode
    options = FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=task), running_mode=RunningMode.IMAGE,
                                    num_faces=4, output_face_blendshapes=True,
                                    output_facial_transformation_matrixes=True)
    result = {}
    with FaceLandmarker.create_from_options(options) as landmarker, \
            mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=4, model_complexity=1) as hands, \
            mp.solutions.holistic.Holistic(static_image_mode=True, model_complexity=1) as holistic:
        for path in images:
            stem = path.rsplit('/', 1)[-1].rsplit('.', 1)[0]
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            h, w = rgb.shape[:2]
            faces = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            result[f'{stem}/face_landmarks'] = np.array([_px(f, w, h) for f in faces.face_landmarks],
                                                        np.float32).reshape(-1, 478, 3)
            result[f'{stem}/blendshapes'] = np.array([[c.score for c in b] for b in faces.face_blendshapes],
                                                     np.float32).reshape(-1, 52)
            result[f'{stem}/face_matrix'] = np.array(faces.facial_transformation_matrixes,
                                                     np.float32).reshape(-1, 4, 4)
            found = hands.process(rgb)
            lms = found.multi_hand_landmarks or []
            result[f'{stem}/hands'] = np.array([_px(x.landmark, w, h) for x in lms], np.float32).reshape(-1, 21, 3)
            result[f'{stem}/handedness'] = np.array(
                [c.classification[0].score if c.classification[0].label == 'Left' else 1 - c.classification[0].score
                 for c in (found.multi_handedness or [])], np.float32)
            hol = holistic.process(rgb)
            for side in ('left', 'right'):
                lm = getattr(hol, f'{side}_hand_landmarks')
                if lm:
                    result[f'{stem}/holistic_{side}'] = _px(lm.landmark, w, h)
            if hol.pose_landmarks:
                result[f'{stem}/holistic_pose'] = _px(hol.pose_landmarks.landmark, w, h)[:, :2]
            print(stem, {k.split('/')[1]: v.shape for k, v in result.items() if k.startswith(stem + '/')},
                  flush=True)
    np.savez_compressed(out, **result)


if __name__ == '__main__':
    run(sys.argv[1], sys.argv[2], sys.argv[3:])
