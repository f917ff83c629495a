"""Synthetic inputs for tests and examples: a frontal BlazePose person and face observations without models.

    sk = blazepose_person(left_wrist=(335, 125))          # Skeleton2D, left hand at the left cheek
    face = face_observation(smile=0.8, pitch_deg=5.0)     # FaceObservation with chosen blendshapes/angles
"""
from __future__ import annotations

import numpy as np

from nvb_perception.cues.face import BLENDSHAPE_INDEX, FaceObservation
from nvb_perception.cues.rects import Rect
from nvb_perception.skeleton import BlazePose as B
from nvb_perception.types import Skeleton2D, TrackState

# A person facing the camera, 640x600 image: torso length 160 px, shoulder width 60 px... in pixels.
BASE = {
    B.NOSE: (320, 100), B.LEFT_EYE_INNER: (325, 92), B.LEFT_EYE: (330, 92), B.LEFT_EYE_OUTER: (334, 92),
    B.RIGHT_EYE_INNER: (315, 92), B.RIGHT_EYE: (310, 92), B.RIGHT_EYE_OUTER: (306, 92),
    B.LEFT_EAR: (342, 98), B.RIGHT_EAR: (298, 98), B.MOUTH_LEFT: (328, 116), B.MOUTH_RIGHT: (312, 116),
    B.LEFT_SHOULDER: (360, 170), B.RIGHT_SHOULDER: (280, 170), B.LEFT_ELBOW: (372, 245), B.RIGHT_ELBOW: (268, 245),
    B.LEFT_WRIST: (376, 315), B.RIGHT_WRIST: (264, 315), B.LEFT_HIP: (345, 330), B.RIGHT_HIP: (295, 330),
    B.LEFT_KNEE: (345, 430), B.RIGHT_KNEE: (295, 430), B.LEFT_ANKLE: (345, 530), B.RIGHT_ANKLE: (295, 530),
    B.LEFT_HEEL: (345, 540), B.RIGHT_HEEL: (295, 540), B.LEFT_FOOT_INDEX: (350, 548),
    B.RIGHT_FOOT_INDEX: (290, 548),
}
HAND_OFFSETS = {'PINKY': (4, 14), 'INDEX': (-4, 16), 'THUMB': (-8, 8)}   # from the wrist, px


def blazepose_person(track_id: int = 0, state: TrackState = TrackState.TRACKED, left_wrist=None, right_wrist=None,
                     shift=(0.0, 0.0), confidence: float = 0.95, overrides: dict | None = None) -> Skeleton2D:
    """A frontal BlazePose-33 skeleton; wrists (with their hand points) can be moved, everything shifted."""
    kp = np.zeros((33, 2))
    for j, xy in BASE.items():
        kp[j] = xy
    for side, wrist in (('LEFT', left_wrist), ('RIGHT', right_wrist)):
        w = np.asarray(wrist if wrist is not None else BASE[B[f'{side}_WRIST']], float)
        kp[B[f'{side}_WRIST']] = w
        sign = 1 if side == 'LEFT' else -1
        for part, (dx, dy) in HAND_OFFSETS.items():
            kp[B[f'{side}_{part}']] = w + (sign * dx, dy)
    for j, xy in (overrides or {}).items():
        kp[j] = xy
    kp += shift
    conf = np.full(33, confidence, np.float32)
    box = np.concatenate([kp.min(0), kp.max(0)])
    return Skeleton2D(kp, conf, 'blazepose33', track_id, state, 1.0, box)


def face_observation(blendshapes: dict | None = None, yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                     gaze_yaw_deg: float | None = None, gaze_pitch_deg: float | None = None,
                     presence: float = 0.99, smile: float | None = None) -> FaceObservation:
    """A FaceObservation with the given blendshape scores (others 0.02) and angles; no landmarks (zeros)."""
    bs = np.full(52, 0.02, np.float32)
    for name, value in (blendshapes or {}).items():
        bs[BLENDSHAPE_INDEX[name]] = value
    if smile is not None:
        bs[BLENDSHAPE_INDEX['mouthSmileLeft']] = bs[BLENDSHAPE_INDEX['mouthSmileRight']] = smile
    return FaceObservation(np.zeros((478, 3)), presence, bs, np.eye(4), Rect(0, 0, 1, 1), yaw_deg, pitch_deg, 0.0,
                           yaw_deg if gaze_yaw_deg is None else gaze_yaw_deg,
                           pitch_deg if gaze_pitch_deg is None else gaze_pitch_deg)
