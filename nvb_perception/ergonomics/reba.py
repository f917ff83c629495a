"""REBA (Hignett & McAtamney 2000) scoring from body-part angles and explicit context inputs.

Same conventions as `rula`: a score rises only when an angle is strictly beyond a published threshold (20.0 deg
trunk flexion -> 2, 20.1 -> 3; knee 30.0 -> +0, 30.1 -> +1, 60.0 -> +1, 60.1 -> +2); loads follow the text
literally (< 5 kg, 5-10 kg, > 10 kg); "upright" and "extension" use `neutral_tol_deg`; NaN angles and None flags
are open inputs and the score is reported as (least-severe score, exact min, exact max) over them.
"""
from dataclasses import dataclass

from .postures import ArmPosture, BodyPosture
from .scoring import (
    Score,
    band_options,
    band_or_open,
    clip,
    combine_sides,
    is_open,
    lower_arm_base,
    options,
    table_set,
    upper_arm_base,
)
from .tables import REBA_TABLE_A, REBA_TABLE_B, REBA_TABLE_C, check_choice, check_flag, check_number

COUPLINGS = ('good', 'fair', 'poor', 'unacceptable')   # coupling score 0, 1, 2, 3


@dataclass(frozen=True)
class RebaInputs:
    """What a skeleton cannot observe, with documented defaults (each one is reported in `assumed()`).

    Wrist, neck twist and upper-arm rotation default to None = unobserved: the score is a range over them.
    """

    load_kg: float = 0.0                 # load or force, kg
    shock: bool = False                  # shock or rapid build-up of force (load +1)
    coupling: str = 'good'               # 'good' | 'fair' | 'poor' | 'unacceptable' (0-3)
    static_posture: bool = False         # one or more body parts held > 1 min (activity +1)
    repeated_small_range: bool = False   # small-range actions repeated > 4/min (activity +1)
    rapid_large_change: bool = False     # rapid large-range posture changes or unstable base (activity +1)
    arm_supported: bool = False          # arm supported, person leaning or gravity-assisted (upper arm -1)
    seated: bool = False                 # sitting: legs 1, no knee adjustment
    wrist_flexion_deg: float | None = None   # |flexion/extension| degrees; None = unobserved
    wrist_deviated: bool | None = None       # None = unobserved
    wrist_twisted: bool | None = None        # None = unobserved
    neck_twisted: bool | None = None         # None = unobserved
    upper_arm_rotated: bool | None = None    # None = unobserved
    neutral_tol_deg: float = 5.0         # |angle| <= tol counts as upright / not in extension

    def __post_init__(self):
        check_number('load_kg', self.load_kg, 0.0, 1000.0)
        check_choice('coupling', self.coupling, COUPLINGS)
        for name in ('shock', 'static_posture', 'repeated_small_range', 'rapid_large_change', 'arm_supported',
                     'seated'):
            check_flag(name, getattr(self, name))
        check_number('wrist_flexion_deg', self.wrist_flexion_deg, -180.0, 180.0, optional=True)
        for name in ('wrist_deviated', 'wrist_twisted', 'neck_twisted', 'upper_arm_rotated'):
            check_flag(name, getattr(self, name), optional=True)
        check_number('neutral_tol_deg', self.neutral_tol_deg, 0.0, 20.0)

    def assumed(self) -> tuple[str, ...]:
        """Every context input as 'name=value', open ones as 'name=unobserved(range)'."""
        out = [f'load_kg={self.load_kg:g}', f'shock={self.shock}', f'coupling={self.coupling}',
               f'static_posture={self.static_posture}', f'repeated_small_range={self.repeated_small_range}',
               f'rapid_large_change={self.rapid_large_change}', f'arm_supported={self.arm_supported}',
               f'seated={self.seated}', f'neutral_tol_deg={self.neutral_tol_deg:g}']
        for name in ('wrist_flexion_deg', 'wrist_deviated', 'wrist_twisted', 'neck_twisted', 'upper_arm_rotated'):
            value = getattr(self, name)
            out.append(f'{name}=unobserved(range)' if value is None else f'{name}={value}')
        return tuple(out)


INPUTS_DEFAULT = RebaInputs()
_TABLE_C = REBA_TABLE_C.tolist()     # nested lists: ~5x faster element look-ups than numpy indexing


def trunk_base(flexion_deg: float, neutral_tol_deg: float = 5.0) -> int:
    """REBA trunk 1-4: 1 upright, 2 = 0-20 flex/ext, 3 = 20-60 flex or > 20 ext, 4 = > 60 flex."""
    if abs(flexion_deg) <= neutral_tol_deg:
        return 1
    if flexion_deg < 0:
        return 2 if flexion_deg >= -20.0 else 3
    return 2 if flexion_deg <= 20.0 else 3 if flexion_deg <= 60.0 else 4


def trunk_options(body: BodyPosture, inputs: RebaInputs) -> tuple[int, ...]:
    """REBA trunk 1-5: position + 1 if twisted or side-flexed (once)."""
    bases = band_options(body.trunk_flexion_deg, lambda f: trunk_base(f, inputs.neutral_tol_deg), (1, 2, 3, 4))
    return tuple(sorted({b + int(t or s) for b in bases for t in options(body.trunk_twisted)
                         for s in options(body.trunk_side_bent)}))


def neck_base(flexion_deg: float, neutral_tol_deg: float = 5.0) -> int:
    """REBA neck 1-2: 1 = 0-20 flexion; 2 = >20 flexion or in extension (beyond the tolerance)."""
    return 1 if -neutral_tol_deg <= flexion_deg <= 20.0 else 2


def neck_options(body: BodyPosture, inputs: RebaInputs) -> tuple[int, ...]:
    """REBA neck 1-3: position + 1 if twisted or side-flexed (once)."""
    bases = band_options(body.neck_flexion_deg, lambda f: neck_base(f, inputs.neutral_tol_deg), (1, 2))
    return tuple(sorted({b + int(t or s) for b in bases for t in options(inputs.neck_twisted)
                         for s in options(body.neck_side_bent)}))


def knee_adjustment(knee_flexion_deg: float) -> int:
    """REBA legs +1 for 30-60 deg knee flexion, +2 for > 60 deg (strictly beyond 30 / 60)."""
    return 2 if knee_flexion_deg > 60.0 else 1 if knee_flexion_deg > 30.0 else 0


def legs_options(body: BodyPosture, inputs: RebaInputs) -> tuple[int, ...]:
    """REBA legs 1-4: 1 bilateral / walking / sitting, 2 unilateral or unstable; + knee adjustment.

    The more flexed knee gives the adjustment (none when sitting). An unobserved knee may be anything, so the
    adjustment then ranges from the observed knee's up to +2.
    """
    if inputs.seated:
        return (1,)
    knees = (body.left_knee_flexion_deg, body.right_knee_flexion_deg)
    seen = [knee_adjustment(k) for k in knees if not is_open(k)]
    lowest = max(seen, default=0)
    adjustments = range(lowest, 3) if len(seen) < len(knees) else (lowest,)
    return tuple(sorted({(1 if bilateral else 2) + k for bilateral in options(body.legs_bilateral)
                         for k in adjustments}))


def load_score(inputs: RebaInputs) -> int:
    """REBA load/force 0-3: < 5 kg 0, 5-10 kg 1, > 10 kg 2; +1 shock or rapid build-up."""
    base = 0 if inputs.load_kg < 5.0 else 1 if inputs.load_kg <= 10.0 else 2
    return base + int(inputs.shock)


def upper_arm_options(arm: ArmPosture, inputs: RebaInputs) -> tuple[int, ...]:
    """REBA upper arm 1-6: position + 1 abducted or rotated (once) + 1 shoulder raised - 1 supported (>= 1)."""
    return tuple(sorted({clip(b + int(a or r) + s - int(inputs.arm_supported), 1, 6)
                         for b in band_options(arm.upper_arm_flexion_deg, upper_arm_base, (1, 2, 3, 4))
                         for a in options(arm.upper_arm_abducted) for r in options(inputs.upper_arm_rotated)
                         for s in options(arm.shoulder_raised)}))


def lower_arm_options(arm: ArmPosture) -> tuple[int, ...]:
    """REBA lower arm 1 = 60-100 deg flexion, 2 otherwise (no adjustment)."""
    return band_options(arm.elbow_flexion_deg, lower_arm_base, (1, 2))


def wrist_base(flexion_deg: float) -> int:
    """REBA wrist 1 = 0-15 deg flexion/extension, 2 = > 15 deg."""
    return 1 if abs(flexion_deg) <= 15.0 else 2


def wrist_options(inputs: RebaInputs) -> tuple[int, ...]:
    """REBA wrist 1-3: position + 1 if deviated or twisted (once)."""
    bases = (1, 2) if inputs.wrist_flexion_deg is None else (wrist_base(inputs.wrist_flexion_deg),)
    return tuple(sorted({b + int(d or t) for b in bases for d in options(inputs.wrist_deviated)
                         for t in options(inputs.wrist_twisted)}))


def activity_score(inputs: RebaInputs) -> int:
    """REBA activity 0-3: +1 static > 1 min, +1 small-range repeats > 4/min, +1 rapid large changes/unstable."""
    return int(inputs.static_posture) + int(inputs.repeated_small_range) + int(inputs.rapid_large_change)


def score_reba(body: BodyPosture, arms: dict, inputs: RebaInputs | None = None) -> Score:
    """REBA score of a body and one or more arms ({'left': ArmPosture, ...}); several arms -> worst arm.

    Segments reported: trunk, neck, legs, table_a, load, score_a, coupling, activity, and per arm upper_arm_<side>,
    lower_arm_<side>, wrist_<side>, table_b_<side> and score_b_<side>.
    """
    inputs = INPUTS_DEFAULT if inputs is None else inputs
    if not arms:
        raise ValueError('arms must hold at least one ArmPosture, e.g. {"right": ArmPosture(...)}')
    load, coupling, activity = load_score(inputs), COUPLINGS.index(inputs.coupling), activity_score(inputs)
    b = {'trunk': trunk_options(body, inputs), 'neck': neck_options(body, inputs),
         'legs': legs_options(body, inputs), 'load': (load,), 'coupling': (coupling,), 'activity': (activity,)}
    b['table_a'] = table_set(REBA_TABLE_A, b['trunk'], b['neck'], b['legs'])
    b['score_a'] = tuple(x + load for x in b['table_a'])
    unobserved = [name for name, is_unseen in (
        ('trunk', is_open(body.trunk_flexion_deg)), ('neck', is_open(body.neck_flexion_deg)),
        ('legs', not inputs.seated and body.legs_bilateral is None)) if is_unseen]
    sides = {}
    for side, arm in arms.items():
        s = {'upper_arm': upper_arm_options(arm, inputs), 'lower_arm': lower_arm_options(arm),
             'wrist': wrist_options(inputs)}
        s['table_b'] = table_set(REBA_TABLE_B, s['upper_arm'], s['lower_arm'], s['wrist'])
        s['score_b'] = tuple(x + coupling for x in s['table_b'])
        sides[side] = s
        unobserved += [f'{name}_{side}' for name, is_unseen in (
            ('upper_arm', is_open(arm.upper_arm_flexion_deg)), ('lower_arm', is_open(arm.elbow_flexion_deg)),
            ('wrist', inputs.wrist_flexion_deg is None)) if is_unseen]

    def table_c(score_b, score_a):
        return _TABLE_C[score_a - 1][score_b - 1]

    return combine_sides(b, sides, table_c, 'score_a', 'score_b', offset=activity, unobserved=unobserved)


def score_key(body: dict, arms: dict, inputs: RebaInputs):
    """Hashable digest of everything `score_reba` reads from a posture; see `rula.score_key` (same contract)."""
    tol = inputs.neutral_tol_deg
    key = (band_or_open(body['trunk_flexion_deg'], trunk_base, tol),
           band_or_open(body['neck_flexion_deg'], neck_base, tol), body['trunk_twisted'], body['trunk_side_bent'],
           body['neck_side_bent'], body['legs_bilateral'], band_or_open(body['left_knee_flexion_deg'], knee_adjustment),
           band_or_open(body['right_knee_flexion_deg'], knee_adjustment))
    for side, arm in arms.items():
        key += (side, band_or_open(arm['upper_arm_flexion_deg'], upper_arm_base),
                band_or_open(arm['elbow_flexion_deg'], lower_arm_base), arm['upper_arm_abducted'],
                arm['shoulder_raised'])
    return key


def score_range(body: BodyPosture, arms: dict, inputs: RebaInputs | None = None) -> tuple[int, int]:
    """(min, max) REBA score over every open input."""
    s = score_reba(body, arms, inputs)
    return s.score_min, s.score_max
