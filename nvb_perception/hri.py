"""REP-155 (ROS4HRI) bodies from our tracks: body ids, the 18-point 2D skeleton, the normalised ROI. Pure Python.

Ids: each track id maps to 5 lowercase letters (REP-155's usual id shape), by a fixed bijection of
[0, 26^5): the same track always gets the same id, two live tracks never share one, and ids do not look
sequential (consumers must not parse them). `track_id_of` inverts it.

2D skeleton: hri_msgs/Skeleton2D holds 18 points in the order of its constants (NOSE = 0 ... RIGHT_EAR = 17),
coordinates normalised by the image size to [0, 1] and a confidence c. Our BlazePose-33 (or COCO-17) joints map
by name; NECK, which neither has, is the midpoint of the shoulders with the smaller of their two confidences.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvb_perception.errors import ConfigError
from nvb_perception.params import param, validate
from nvb_perception.skeleton import joint_set
from nvb_perception.types import Skeleton2D

# hri_msgs/msg/Skeleton2D constants, in index order
REP155_JOINTS = ('NOSE', 'NECK', 'RIGHT_SHOULDER', 'RIGHT_ELBOW', 'RIGHT_WRIST', 'LEFT_SHOULDER', 'LEFT_ELBOW',
                 'LEFT_WRIST', 'RIGHT_HIP', 'RIGHT_KNEE', 'RIGHT_ANKLE', 'LEFT_HIP', 'LEFT_KNEE', 'LEFT_ANKLE',
                 'LEFT_EYE', 'RIGHT_EYE', 'LEFT_EAR', 'RIGHT_EAR')
ID_LETTERS = 5
ID_SPACE = 26 ** ID_LETTERS
_MIX = 7_368_787                     # odd and not a multiple of 13: coprime with 26^5, so n -> n*_MIX is a bijection
_OFFSET = 4_711_913
_UNMIX = pow(_MIX, -1, ID_SPACE)


@dataclass(frozen=True)
class HriConfig:
    """What hri_bridge publishes besides the REP-155 body topics: the TF frames and how long a silent body lives."""

    body_frames: bool = param(True, 'Publish a TF frame per tracked body (pelvis, REP-103 axes) on /tf')
    joint_frames: bool = param(False, 'Also publish one TF frame per joint, child of the body frame')
    frame_prefix: str = param('body_', 'Body frame name = prefix + body id (REP-155 expects body_)')
    root_relative_depth_m: float = param(0.0, 'Depth at which root-relative skeletons (no camera_info) get a body '
                                         'frame; 0: no frame for them', low=0.0, high=20.0)
    forget_after_s: float = param(2.0, 'A body whose track sends nothing for this long is removed (a missed '
                                  'TERMINATED)', low=0.1, high=60.0)

    def __post_init__(self):
        validate(self)
        if self.frame_prefix.startswith('/') or any(c.isspace() for c in self.frame_prefix):
            raise ConfigError(f'frame_prefix {self.frame_prefix!r} must not start with / or contain spaces')


def body_id(track_id: int) -> str:
    """The REP-155 body id of a track: 5 lowercase letters."""
    n = (int(track_id) * _MIX + _OFFSET) % ID_SPACE
    letters = []
    for _ in range(ID_LETTERS):
        n, digit = divmod(n, 26)
        letters.append(chr(ord('a') + digit))
    return ''.join(reversed(letters))


def track_id_of(body: str) -> int:
    """The track id (modulo 26^5) a body id came from; ValueError for a string body_id() cannot make."""
    if len(body) != ID_LETTERS or not all('a' <= c <= 'z' for c in body):
        raise ValueError(f'{body!r} is not a body id (5 lowercase letters)')
    n = 0
    for c in body:
        n = n * 26 + ord(c) - ord('a')
    return (n - _OFFSET) * _UNMIX % ID_SPACE


def _normalised(xy: np.ndarray, image_size) -> np.ndarray:
    w, h = image_size
    return np.clip(xy / np.array([w, h], np.float64), 0.0, 1.0)


def skeleton_points(s: Skeleton2D, image_size) -> np.ndarray:
    """(18, 3) x, y in [0, 1] and c, in REP-155 order; unobserved or non-finite joints are (0, 0, 0).

    ValueError for an unknown joint set or an image size of zero (nothing to normalise by).
    """
    if not all(image_size):
        raise ValueError('image size unknown: cannot normalise')
    enum = joint_set(s.joint_set)
    xy, c = s.keypoints.astype(np.float64), s.confidence.astype(np.float64)
    out = np.zeros((len(REP155_JOINTS), 3))
    for i, name in enumerate(REP155_JOINTS):
        if name == 'NECK':
            a, b = enum['LEFT_SHOULDER'], enum['RIGHT_SHOULDER']
            point, conf = (xy[a] + xy[b]) / 2, min(c[a], c[b])
        else:
            point, conf = xy[enum[name]], c[enum[name]]
        if np.isfinite(point).all() and np.isfinite(conf) and conf > 0:
            out[i, :2], out[i, 2] = _normalised(point, image_size), min(conf, 1.0)
    return out


def roi(s: Skeleton2D, image_size) -> tuple[float, float, float, float, float]:
    """(xmin, ymin, xmax, ymax, c) normalised to [0, 1], c the person score.

    The track's box, or its observed joints' extent when it has none; ValueError when there is neither, or no
    image size.
    """
    if not all(image_size):
        raise ValueError('image size unknown: cannot normalise')
    box = np.asarray(s.bbox, np.float64)
    if not (np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]):
        seen = s.keypoints[(s.confidence > 0) & np.isfinite(s.keypoints).all(axis=1)]
        if not len(seen):
            raise ValueError(f'track {s.track_id} has no box and no observed joint')
        box = np.concatenate([seen.min(axis=0), seen.max(axis=0)]).astype(np.float64)
    lo, hi = _normalised(box[:2], image_size), _normalised(box[2:], image_size)
    score = float(s.score) if np.isfinite(s.score) else 0.0
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), float(np.clip(score, 0.0, 1.0))
