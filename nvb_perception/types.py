"""Pure data classes that mirror the nvb_perception_msgs messages (no ROS needed).

Arrays are numpy; shapes, dtypes and units are in the comments. Timestamps are int nanoseconds
(as in rosbag2). `eq=False` because array equality is ambiguous.
"""
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class TrackState(IntEnum):
    """Life cycle of a person track (same values as Skeleton2D.TRACK_*)."""

    NEW = 0
    TRACKED = 1
    LOST = 2
    TERMINATED = 3


@dataclass(frozen=True)
class Stamp:
    """Where a result comes from: the source image's time and optical frame."""

    stamp_ns: int = 0        # nanoseconds since the epoch (or sim time) of the source image
    frame_id: str = ''       # camera optical frame of the source image


def _f32(a, n=None):
    a = np.asarray(a, dtype=np.float32)
    return a if n is None else a.reshape(n)


@dataclass(frozen=True, eq=False)
class Skeleton2D:
    """One person's 2D joints in image pixels."""

    keypoints: np.ndarray          # (J, 2) float32, pixels (x right, y down), order = joint_set
    confidence: np.ndarray         # (J,) float32 in [0, 1]; 0 = not observed
    joint_set: str = 'blazepose33'
    track_id: int = -1
    track_state: TrackState = TrackState.NEW
    score: float = 1.0             # [0, 1] person score
    bbox: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # (4,) px x0,y0,x1,y1

    def __post_init__(self):
        object.__setattr__(self, 'keypoints', _f32(self.keypoints).reshape(-1, 2))
        object.__setattr__(self, 'confidence', _f32(self.confidence).reshape(-1))
        object.__setattr__(self, 'bbox', _f32(self.bbox, 4))
        object.__setattr__(self, 'track_state', TrackState(self.track_state))
        if len(self.keypoints) != len(self.confidence):
            raise ValueError(f'{len(self.keypoints)} keypoints but {len(self.confidence)} confidences')


@dataclass(frozen=True, eq=False)
class Skeleton2DFrame:
    """Every person in one image."""

    stamp: Stamp
    image_size: tuple[int, int]    # (width, height) pixels
    skeletons: tuple[Skeleton2D, ...] = ()


@dataclass(frozen=True, eq=False)
class Skeleton3D:
    """One person's 3D joints in the camera optical frame (x right, y down, z forward), metres."""

    positions: np.ndarray          # (J, 3) float32, metres
    confidence: np.ndarray         # (J,) float32 in [0, 1]
    joint_set: str = 'h36m17'
    track_id: int = -1
    track_state: TrackState = TrackState.NEW
    root_relative: bool = True     # positions relative to the pelvis (depth unknown)
    position_std: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (J,) m or (0,)
    # (J, 6) m^2 or (0, 6): xx, xy, xz, yy, yz, zz per joint, frame of `positions`, relative to the root
    covariance: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))

    def __post_init__(self):
        object.__setattr__(self, 'positions', _f32(self.positions).reshape(-1, 3))
        object.__setattr__(self, 'confidence', _f32(self.confidence).reshape(-1))
        object.__setattr__(self, 'position_std', _f32(self.position_std).reshape(-1))
        object.__setattr__(self, 'covariance', _f32(self.covariance).reshape(-1, 6))
        object.__setattr__(self, 'track_state', TrackState(self.track_state))
        if len(self.positions) != len(self.confidence):
            raise ValueError(f'{len(self.positions)} joints but {len(self.confidence)} confidences')
        if len(self.position_std) not in (0, len(self.positions)):
            raise ValueError(f'position_std must be empty or have {len(self.positions)} values')
        if len(self.covariance) not in (0, len(self.positions)):
            raise ValueError(f'covariance must be empty or have 6 values for each of {len(self.positions)} joints')


@dataclass(frozen=True, eq=False)
class Skeleton3DFrame:
    """Every person's 3D skeleton for one image."""

    stamp: Stamp
    skeletons: tuple[Skeleton3D, ...] = ()


@dataclass(frozen=True)
class Cue:
    """A non-verbal cue event of one person, with the evidence behind it."""

    name: str                      # e.g. 'self_touch_face'
    track_id: int
    active: bool
    confidence: float              # [0, 1]
    start_ns: int                  # source-image time the cue began
    end_ns: int = 0                # source-image time it ended; 0 while active
    evidence: tuple[tuple[str, float], ...] = ()   # (name with unit suffix, value)
    explanation: str = ''


@dataclass(frozen=True)
class CueFrame:
    """All cues reported for one image."""

    stamp: Stamp
    cues: tuple[Cue, ...] = ()


@dataclass(frozen=True, eq=False)
class Action:
    """Multi-label action probabilities of one person (track_id >= 0) or the whole frame (-1)."""

    labels: tuple[str, ...]
    probabilities: np.ndarray      # (C,) float32 in [0, 1], independent per label
    track_id: int = -1
    evidence: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, 'probabilities', _f32(self.probabilities).reshape(-1))
        if len(self.labels) != len(self.probabilities):
            raise ValueError(f'{len(self.labels)} labels but {len(self.probabilities)} probabilities')


@dataclass(frozen=True, eq=False)
class ActionFrame:
    """Every action estimate for one image."""

    stamp: Stamp
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, eq=False)
class ErgonomicRisk:
    """RULA or REBA result of one person from one posture."""

    method: str                    # 'RULA' | 'REBA'
    track_id: int
    score: int                     # grand score with the assumed inputs
    score_min: int                 # range over the inputs the skeleton leaves open
    score_max: int
    action_level: int
    action: str                    # published wording of the level
    side: str = 'worst'            # 'left' | 'right' | 'worst'
    segment_scores: tuple[tuple[str, int], ...] = ()   # (segment, score); 0 = not observable
    angles_deg: tuple[tuple[str, float], ...] = ()     # (angle name, degrees); NaN = not observable
    assumed_inputs: tuple[str, ...] = ()               # e.g. 'load_kg=0'

    def __post_init__(self):
        if self.method not in ('RULA', 'REBA'):
            raise ValueError(f"method must be 'RULA' or 'REBA', got {self.method!r}")
        if not self.score_min <= self.score <= self.score_max:
            raise ValueError(f'score {self.score} outside its range [{self.score_min}, {self.score_max}]')


@dataclass(frozen=True, eq=False)
class ErgonomicRiskFrame:
    """Risk of every person for one 3D skeleton frame."""

    stamp: Stamp
    risks: tuple[ErgonomicRisk, ...] = ()


@dataclass(frozen=True, eq=False)
class HeadPose:
    """One person's head orientation and gaze in the camera optical frame (x right, y down, z forward)."""

    track_id: int
    orientation: np.ndarray        # (4,) float32 quaternion x, y, z, w: head frame (x face, y left, z up) -> optical
    yaw_deg: float                 # > 0: face towards the image's right; 0, 0, 0: facing back along the optical axis
    pitch_deg: float               # > 0: face up
    roll_deg: float                # > 0: top of the head towards the image's right
    gaze: np.ndarray               # (3,) float32 unit vector, optical frame
    looking_at_camera: bool
    gaze_to_camera_deg: float      # angle between the gaze and the direction from the face to the camera
    confidence: float              # [0, 1]

    def __post_init__(self):
        object.__setattr__(self, 'orientation', _f32(self.orientation, 4))
        object.__setattr__(self, 'gaze', _f32(self.gaze, 3))


@dataclass(frozen=True, eq=False)
class HeadPoseFrame:
    """Every modelled face of one image."""

    stamp: Stamp
    heads: tuple[HeadPose, ...] = ()
