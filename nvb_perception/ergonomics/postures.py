"""The postures RULA / REBA score: angles and thresholded flags from `angles.measure`, validated.

`Heuristics` holds the thresholds that turn measured geometry into adjustment flags; `posture_fields` applies
them and `postures` builds the `BodyPosture` / `ArmPosture` dataclasses the scorers consume.
"""
import math
from dataclasses import dataclass

from ..errors import ConfigError
from .tables import check_flag, check_number

NAN = float('nan')
SIDES = ('left', 'right')


@dataclass(frozen=True)
class Heuristics:
    """Thresholds that turn measured geometry into RULA/REBA adjustment flags.

    A flag is set when its measure is strictly beyond the threshold. None of these are published; they are this
    project's documented choices (docs/ergonomics.md).
    """

    min_confidence: float = 0.3      # joints below it count as missing
    side_bend_deg: float = 10.0      # |side bend| above it -> 'side-bent' (trunk and neck)
    twist_deg: float = 10.0          # |trunk twist| above it -> 'twisted'
    abduction_deg: float = 20.0      # upper-arm abduction above it -> 'abducted' (matches the +-20 deg neutral band)
    shoulder_gap_ratio: float = 0.45  # shoulder gap (see module doc, ~0.5 relaxed) below it -> 'raised'
    feet_level_m: float = 0.10       # ankle height difference above it -> unilateral / unbalanced legs
    out_to_side_ratio: float = 1.75  # wrist lateral ratio above it -> "out to the side" (RULA lower arm +1)

    def __post_init__(self):
        check_number('min_confidence', self.min_confidence, 0.0, 1.0)
        check_number('side_bend_deg', self.side_bend_deg, 0.0, 90.0)
        check_number('twist_deg', self.twist_deg, 0.0, 90.0)
        check_number('abduction_deg', self.abduction_deg, 0.0, 90.0)
        check_number('shoulder_gap_ratio', self.shoulder_gap_ratio, 0.0, 2.0)
        check_number('feet_level_m', self.feet_level_m, 0.0, 2.0)
        check_number('out_to_side_ratio', self.out_to_side_ratio, 1.0, 10.0)


def _angle_ok(value: float) -> bool:
    """NaN (not observed) or within one turn either way: the angles a posture accepts."""
    return math.isnan(value) or -360.0 <= value <= 360.0


def _angle_or_nan(name, value):
    value = float(value)
    if not _angle_ok(value):
        raise ConfigError(f'{name} must be NaN (not observed) or in [-360, 360] degrees, got {value!r}')
    return value


@dataclass(frozen=True)
class ArmPosture:
    """One arm as RULA/REBA score it. Angles in degrees (NaN = not observed); flags None = not observed."""

    upper_arm_flexion_deg: float = NAN   # + flexion, - extension (see module doc)
    upper_arm_abducted: bool | None = None
    shoulder_raised: bool | None = None
    elbow_flexion_deg: float = NAN       # 0 = straight arm
    across_or_out: bool | None = None    # RULA: working across the midline or out to the side

    def __post_init__(self):
        for name in ('upper_arm_flexion_deg', 'elbow_flexion_deg'):
            object.__setattr__(self, name, _angle_or_nan(name, getattr(self, name)))
        for name in ('upper_arm_abducted', 'shoulder_raised', 'across_or_out'):
            check_flag(name, getattr(self, name), optional=True)


@dataclass(frozen=True)
class BodyPosture:
    """Neck, trunk and legs as RULA/REBA score them. Degrees, NaN = not observed; flags None = not observed."""

    neck_flexion_deg: float = NAN        # + flexion, - extension, relative to the trunk
    neck_side_bent: bool | None = None
    trunk_flexion_deg: float = NAN       # + flexion, - extension, relative to the vertical
    trunk_twisted: bool | None = None
    trunk_side_bent: bool | None = None
    hip_trunk_deg: float = NAN           # 180 standing, 90 sitting upright
    legs_bilateral: bool | None = None   # both feet bearing weight, balanced
    left_knee_flexion_deg: float = NAN
    right_knee_flexion_deg: float = NAN

    def __post_init__(self):
        for name in ('neck_flexion_deg', 'trunk_flexion_deg', 'hip_trunk_deg', 'left_knee_flexion_deg',
                     'right_knee_flexion_deg'):
            object.__setattr__(self, name, _angle_or_nan(name, getattr(self, name)))
        for name in ('neck_side_bent', 'trunk_twisted', 'trunk_side_bent', 'legs_bilateral'):
            check_flag(name, getattr(self, name), optional=True)


def fields_valid(body: dict, arms: dict) -> bool:
    """True when every *_deg value of `posture_fields`' dicts is one BodyPosture/ArmPosture accept."""
    for fields in (body, *arms.values()):
        for name, x in fields.items():
            if name.endswith('_deg'):
                try:
                    x = float(x)
                except (TypeError, ValueError):
                    return False
                if not _angle_ok(x):
                    return False
    return True


def _flag(value: float, predicate):
    """predicate(value), or None (not observed) when value is NaN."""
    return None if math.isnan(value) else bool(predicate(value))


def posture_fields(angles: dict, measures: dict, heuristics: Heuristics | None = None):
    """The field values of BodyPosture and of each side's ArmPosture (angles, thresholded flags) as plain dicts.

    `postures` builds the dataclasses from them; `assess` also reads them directly to key its score cache.
    """
    hz = Heuristics() if heuristics is None else heuristics
    body = dict(
        neck_flexion_deg=angles['neck_flexion'],
        neck_side_bent=_flag(angles['neck_side_bend'], lambda x: abs(x) > hz.side_bend_deg),
        trunk_flexion_deg=angles['trunk_flexion'],
        trunk_twisted=_flag(angles['trunk_twist'], lambda x: abs(x) > hz.twist_deg),
        trunk_side_bent=_flag(angles['trunk_side_bend'], lambda x: abs(x) > hz.side_bend_deg),
        hip_trunk_deg=angles['hip_trunk'],
        legs_bilateral=_flag(measures['ankle_height_diff_m'], lambda x: x <= hz.feet_level_m),
        left_knee_flexion_deg=angles['left_knee_flexion'],
        right_knee_flexion_deg=angles['right_knee_flexion'])
    arms = {}
    for side in SIDES:
        arms[side] = dict(
            upper_arm_flexion_deg=angles[f'{side}_upper_arm_flexion'],
            upper_arm_abducted=_flag(angles[f'{side}_upper_arm_abduction'], lambda x: x > hz.abduction_deg),
            shoulder_raised=_flag(measures[f'{side}_shoulder_gap'], lambda x: x < hz.shoulder_gap_ratio),
            elbow_flexion_deg=angles[f'{side}_elbow_flexion'],
            across_or_out=_flag(measures[f'{side}_wrist_lateral'],
                                lambda x: x < 0.0 or x > hz.out_to_side_ratio))
    return body, arms


def postures(angles: dict, measures: dict, heuristics: Heuristics | None = None):
    """(BodyPosture, {'left': ArmPosture, 'right': ArmPosture}) from `measure`'s output and the thresholds."""
    return postures_from_fields(*posture_fields(angles, measures, heuristics))


def postures_from_fields(body: dict, arms: dict):
    """(BodyPosture, {side: ArmPosture}) from `posture_fields`' dicts (validated by the dataclasses)."""
    return BodyPosture(**body), {side: ArmPosture(**fields) for side, fields in arms.items()}
