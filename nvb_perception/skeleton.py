"""Joint sets (IntEnum), their bone connections and conversions between them.

BlazePose-33 is what the pose stage produces; COCO-17 is for interoperability; H36M-17 (the Human3.6M
17-joint convention used by most 2D->3D lifters) is what the lifting and ergonomics stages consume.
"""
from enum import IntEnum

import numpy as np


class BlazePose(IntEnum):
    """MediaPipe BlazePose GHUM 33 landmarks (same order as mediapipe's PoseLandmark)."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


class Coco(IntEnum):
    """COCO-17 keypoints."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16


class H36M(IntEnum):
    """Human3.6M-style 17 joints (VideoPose3D order). Pelvis is the root."""

    PELVIS = 0
    RIGHT_HIP = 1
    RIGHT_KNEE = 2
    RIGHT_ANKLE = 3
    LEFT_HIP = 4
    LEFT_KNEE = 5
    LEFT_ANKLE = 6
    SPINE = 7
    THORAX = 8
    NECK = 9       # nose/chin in the Human3.6M convention; here the midpoint of mouth and thorax
    HEAD = 10      # top of the head
    LEFT_SHOULDER = 11
    LEFT_ELBOW = 12
    LEFT_WRIST = 13
    RIGHT_SHOULDER = 14
    RIGHT_ELBOW = 15
    RIGHT_WRIST = 16


JOINT_SETS = {'blazepose33': BlazePose, 'coco17': Coco, 'h36m17': H36M}


def joint_set(name: str) -> type[IntEnum]:
    """Return the IntEnum of a joint-set name, or raise ValueError listing the known ones."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise ValueError(f'unknown joint set {name!r}; known: {sorted(JOINT_SETS)}') from None


def _pairs(enum, names):
    return tuple((enum[a], enum[b]) for a, b in names)


_LIMBS = [('LEFT_SHOULDER', 'RIGHT_SHOULDER'), ('LEFT_SHOULDER', 'LEFT_ELBOW'), ('LEFT_ELBOW', 'LEFT_WRIST'),
          ('RIGHT_SHOULDER', 'RIGHT_ELBOW'), ('RIGHT_ELBOW', 'RIGHT_WRIST'), ('LEFT_HIP', 'LEFT_KNEE'),
          ('LEFT_KNEE', 'LEFT_ANKLE'), ('RIGHT_HIP', 'RIGHT_KNEE'), ('RIGHT_KNEE', 'RIGHT_ANKLE')]

BLAZEPOSE_CONNECTIONS = _pairs(BlazePose, _LIMBS + [
    ('NOSE', 'LEFT_EYE_INNER'), ('LEFT_EYE_INNER', 'LEFT_EYE'), ('LEFT_EYE', 'LEFT_EYE_OUTER'),
    ('LEFT_EYE_OUTER', 'LEFT_EAR'), ('NOSE', 'RIGHT_EYE_INNER'), ('RIGHT_EYE_INNER', 'RIGHT_EYE'),
    ('RIGHT_EYE', 'RIGHT_EYE_OUTER'), ('RIGHT_EYE_OUTER', 'RIGHT_EAR'), ('MOUTH_LEFT', 'MOUTH_RIGHT'),
    ('LEFT_SHOULDER', 'LEFT_HIP'), ('RIGHT_SHOULDER', 'RIGHT_HIP'), ('LEFT_HIP', 'RIGHT_HIP'),
    ('LEFT_WRIST', 'LEFT_PINKY'), ('LEFT_WRIST', 'LEFT_INDEX'), ('LEFT_PINKY', 'LEFT_INDEX'),
    ('LEFT_WRIST', 'LEFT_THUMB'), ('RIGHT_WRIST', 'RIGHT_PINKY'), ('RIGHT_WRIST', 'RIGHT_INDEX'),
    ('RIGHT_PINKY', 'RIGHT_INDEX'), ('RIGHT_WRIST', 'RIGHT_THUMB'), ('LEFT_ANKLE', 'LEFT_HEEL'),
    ('LEFT_HEEL', 'LEFT_FOOT_INDEX'), ('LEFT_ANKLE', 'LEFT_FOOT_INDEX'), ('RIGHT_ANKLE', 'RIGHT_HEEL'),
    ('RIGHT_HEEL', 'RIGHT_FOOT_INDEX'), ('RIGHT_ANKLE', 'RIGHT_FOOT_INDEX')])

COCO_CONNECTIONS = _pairs(Coco, _LIMBS + [
    ('NOSE', 'LEFT_EYE'), ('NOSE', 'RIGHT_EYE'), ('LEFT_EYE', 'LEFT_EAR'), ('RIGHT_EYE', 'RIGHT_EAR'),
    ('LEFT_SHOULDER', 'LEFT_HIP'), ('RIGHT_SHOULDER', 'RIGHT_HIP'), ('LEFT_HIP', 'RIGHT_HIP')])

H36M_CONNECTIONS = _pairs(H36M, _LIMBS + [
    ('PELVIS', 'RIGHT_HIP'), ('PELVIS', 'LEFT_HIP'), ('PELVIS', 'SPINE'), ('SPINE', 'THORAX'),
    ('THORAX', 'NECK'), ('NECK', 'HEAD'), ('THORAX', 'LEFT_SHOULDER'), ('THORAX', 'RIGHT_SHOULDER')])

CONNECTIONS = {'blazepose33': BLAZEPOSE_CONNECTIONS, 'coco17': COCO_CONNECTIONS, 'h36m17': H36M_CONNECTIONS}

# COCO joint i is BlazePose joint BLAZEPOSE_TO_COCO[i] (same names).
BLAZEPOSE_TO_COCO = np.array([BlazePose[j.name] for j in Coco], dtype=np.int64)


def blazepose_to_coco(points: np.ndarray) -> np.ndarray:
    """Select the 17 COCO joints from BlazePose-33 joints. points: (..., 33, D) -> (..., 17, D)."""
    if points.shape[-2] != len(BlazePose):
        raise ValueError(f'expected (..., 33, D) BlazePose joints, got shape {points.shape}')
    return points[..., BLAZEPOSE_TO_COCO, :]


def blazepose_to_h36m(points: np.ndarray, confidence: np.ndarray | None = None):
    """Map BlazePose-33 joints to H36M-17 joints.

    Joints H36M has but BlazePose lacks are synthesised: pelvis = mid-hip, thorax = mid-shoulder,
    spine = midpoint of pelvis and thorax, neck = midpoint of mouth and thorax, head = the ears'
    midpoint pushed up away from the thorax by half the ear-thorax distance.

    Args:
        points: (..., 33, D) joints (D = 2 pixels or 3 metres).
        confidence: optional (..., 33) per-joint confidence.

    Returns:
        (..., 17, D) joints, and (..., 17) confidences when `confidence` was given (a synthesised
        joint takes the minimum confidence of the joints it is made from).
    """
    if points.shape[-2] != len(BlazePose):
        raise ValueError(f'expected (..., 33, D) BlazePose joints, got shape {points.shape}')
    b = BlazePose
    p = points

    def mid(i, j):
        return 0.5 * (p[..., i, :] + p[..., j, :])

    pelvis = mid(b.LEFT_HIP, b.RIGHT_HIP)
    thorax = mid(b.LEFT_SHOULDER, b.RIGHT_SHOULDER)
    ears = mid(b.LEFT_EAR, b.RIGHT_EAR)
    mouth = mid(b.MOUTH_LEFT, b.MOUTH_RIGHT)
    out = np.stack([
        pelvis, p[..., b.RIGHT_HIP, :], p[..., b.RIGHT_KNEE, :], p[..., b.RIGHT_ANKLE, :],
        p[..., b.LEFT_HIP, :], p[..., b.LEFT_KNEE, :], p[..., b.LEFT_ANKLE, :],
        0.5 * (pelvis + thorax), thorax, 0.5 * (mouth + thorax), ears + 0.5 * (ears - thorax),
        p[..., b.LEFT_SHOULDER, :], p[..., b.LEFT_ELBOW, :], p[..., b.LEFT_WRIST, :],
        p[..., b.RIGHT_SHOULDER, :], p[..., b.RIGHT_ELBOW, :], p[..., b.RIGHT_WRIST, :]], axis=-2)
    if confidence is None:
        return out
    c = confidence

    def cmin(*idx):
        return np.min(np.stack([c[..., i] for i in idx], axis=-1), axis=-1)

    hips = cmin(b.LEFT_HIP, b.RIGHT_HIP)
    shoulders = cmin(b.LEFT_SHOULDER, b.RIGHT_SHOULDER)
    conf = np.stack([
        hips, c[..., b.RIGHT_HIP], c[..., b.RIGHT_KNEE], c[..., b.RIGHT_ANKLE],
        c[..., b.LEFT_HIP], c[..., b.LEFT_KNEE], c[..., b.LEFT_ANKLE],
        np.minimum(hips, shoulders), shoulders, np.minimum(cmin(b.MOUTH_LEFT, b.MOUTH_RIGHT), shoulders),
        np.minimum(cmin(b.LEFT_EAR, b.RIGHT_EAR), shoulders),
        c[..., b.LEFT_SHOULDER], c[..., b.LEFT_ELBOW], c[..., b.LEFT_WRIST],
        c[..., b.RIGHT_SHOULDER], c[..., b.RIGHT_ELBOW], c[..., b.RIGHT_WRIST]], axis=-1)
    return out, conf


def skeleton2d_problem(skeleton, joint_sets=tuple(JOINT_SETS)) -> str:
    """Why a 2D skeleton (e.g. from a message) cannot be used, '' when it can.

    Checks the joint set against `joint_sets`, the joint count against that set, and that every keypoint and
    confidence is finite. Nodes drop (and count) such skeletons instead of failing on them later.
    """
    if skeleton.joint_set not in joint_sets:
        return f'joint set {skeleton.joint_set!r}; expected one of {list(joint_sets)}'
    expected = len(JOINT_SETS[skeleton.joint_set])
    if len(skeleton.keypoints) != expected:
        return f'{len(skeleton.keypoints)} joints for joint set {skeleton.joint_set!r} (expected {expected})'
    if not (np.isfinite(skeleton.keypoints).all() and np.isfinite(skeleton.confidence).all()):
        return 'NaN/inf keypoints or confidences'
    return ''
