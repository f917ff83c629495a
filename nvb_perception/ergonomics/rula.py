"""RULA (McAtamney & Corlett 1993) scoring from body-part angles and explicit context inputs.

Boundary convention (the published bands share their edges, e.g. "0-20 deg" and "20-60 deg"): a score rises only
when an angle is *strictly* beyond a published threshold, so 20.0 deg trunk flexion scores 2 and 20.1 scores 3;
the lower-arm band 60-100 deg is closed on both ends. Loads follow the text literally: < 2 kg, 2-10 kg, > 10 kg.
"Neutral" / "erect" / "in extension" are read with a tolerance `neutral_tol_deg` (default 5 deg; 0 = literal).

Open inputs: a posture angle that is NaN or a flag that is None is "not observed"; every segment is scored as
the set of scores its open inputs allow, and the grand score as (score, min, max) where `score` takes the least
severe option of every open input and [min, max] is the exact range over all combinations (enumerated, no
monotonicity assumed). Because the published tables are monotone (tested), score == min.
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
from .tables import RULA_TABLE_A, RULA_TABLE_B, RULA_TABLE_C, check_choice, check_flag, check_number

LOAD_PATTERNS = ('intermittent', 'static', 'repeated')


@dataclass(frozen=True)
class RulaInputs:
    """What a skeleton cannot observe, with documented defaults (each one is reported in `assumed()`).

    Wrist and neck-twist fields default to None = unobserved: the score is then a range over their options.
    """

    load_kg: float = 0.0                 # load or force handled, kg
    load_pattern: str = 'intermittent'   # 'intermittent' | 'static' (held > 1 min) | 'repeated' (> 4/min)
    shock: bool = False                  # shocks or forces with a rapid build-up -> force score 3
    static_posture: bool = False         # posture mainly static, held > 1 min (muscle use +1)
    repeated: bool = False               # action repeated > 4 times/min (muscle use +1)
    arm_supported: bool = False          # arm supported or person leaning (upper arm -1)
    seated: bool = False                 # seated: legs supported (legs 1)
    trunk_supported: bool = False        # seated with the trunk well supported, hip-trunk >= 90 deg (trunk 1)
    wrist_flexion_deg: float | None = None   # |flexion/extension| in degrees; None = unobserved
    wrist_deviated: bool | None = None       # radial/ulnar deviation; None = unobserved
    wrist_twist_end_range: bool | None = None  # wrist twist at/near end of range; None = unobserved
    neck_twisted: bool | None = None         # None = unobserved (a 17-joint skeleton cannot see it)
    neutral_tol_deg: float = 5.0         # |angle| <= tol counts as neutral / erect / not in extension

    def __post_init__(self):
        check_number('load_kg', self.load_kg, 0.0, 1000.0)
        check_choice('load_pattern', self.load_pattern, LOAD_PATTERNS)
        for name in ('shock', 'static_posture', 'repeated', 'arm_supported', 'seated', 'trunk_supported'):
            check_flag(name, getattr(self, name))
        check_number('wrist_flexion_deg', self.wrist_flexion_deg, -180.0, 180.0, optional=True)
        for name in ('wrist_deviated', 'wrist_twist_end_range', 'neck_twisted'):
            check_flag(name, getattr(self, name), optional=True)
        check_number('neutral_tol_deg', self.neutral_tol_deg, 0.0, 20.0)
        if self.trunk_supported and not self.seated:
            raise ValueError('trunk_supported=True requires seated=True (RULA trunk score 1 is for sitting)')

    def assumed(self) -> tuple[str, ...]:
        """Every context input as 'name=value', open ones as 'name=unobserved(range)'."""
        out = [f'load_kg={self.load_kg:g}', f'load_pattern={self.load_pattern}', f'shock={self.shock}',
               f'static_posture={self.static_posture}', f'repeated={self.repeated}',
               f'arm_supported={self.arm_supported}', f'seated={self.seated}',
               f'trunk_supported={self.trunk_supported}', f'neutral_tol_deg={self.neutral_tol_deg:g}']
        for name in ('wrist_flexion_deg', 'wrist_deviated', 'wrist_twist_end_range', 'neck_twisted'):
            value = getattr(self, name)
            out.append(f'{name}=unobserved(range)' if value is None else f'{name}={value}')
        return tuple(out)


INPUTS_DEFAULT = RulaInputs()
_TABLE_C = RULA_TABLE_C.tolist()     # nested lists: ~5x faster element look-ups than numpy indexing


def upper_arm_options(arm: ArmPosture, arm_supported: bool) -> tuple[int, ...]:
    """RULA upper arm 1-6: position + shoulder raised + abducted - supported (floored at 1)."""
    return tuple(sorted({clip(b + r + a - int(arm_supported), 1, 6)
                         for b in band_options(arm.upper_arm_flexion_deg, upper_arm_base, (1, 2, 3, 4))
                         for r in options(arm.shoulder_raised) for a in options(arm.upper_arm_abducted)}))


def lower_arm_options(arm: ArmPosture) -> tuple[int, ...]:
    """RULA lower arm 1-3: position + working across the midline or out to the side."""
    return tuple(sorted({b + x for b in band_options(arm.elbow_flexion_deg, lower_arm_base, (1, 2))
                         for x in options(arm.across_or_out)}))


def wrist_base(flexion_deg: float, neutral_tol_deg: float = 5.0) -> int:
    """RULA wrist position 1-3: 1 neutral, 2 = 0-15 deg flexion/extension, 3 = >15 deg."""
    w = abs(flexion_deg)
    return 1 if w <= neutral_tol_deg else 2 if w <= 15.0 else 3


def wrist_options(inputs: RulaInputs) -> tuple[int, ...]:
    """RULA wrist 1-4: position + deviated. Unobserved -> every combination."""
    bases = (1, 2, 3) if inputs.wrist_flexion_deg is None else (wrist_base(inputs.wrist_flexion_deg,
                                                                           inputs.neutral_tol_deg),)
    return tuple(sorted({b + d for b in bases for d in options(inputs.wrist_deviated)}))


def wrist_twist_options(inputs: RulaInputs) -> tuple[int, ...]:
    """RULA wrist twist 1 = mid-range, 2 = at/near end of range."""
    return tuple(sorted({1 + t for t in options(inputs.wrist_twist_end_range)}))


def neck_base(flexion_deg: float, neutral_tol_deg: float = 5.0) -> int:
    """RULA neck 1-4: 1 = 0-10 flexion, 2 = 10-20, 3 = >20, 4 = in extension (beyond the tolerance)."""
    if flexion_deg < -neutral_tol_deg:
        return 4
    return 1 if flexion_deg <= 10.0 else 2 if flexion_deg <= 20.0 else 3


def neck_options(body: BodyPosture, inputs: RulaInputs) -> tuple[int, ...]:
    """RULA neck 1-6: position + twisted + side-bending."""
    bases = band_options(body.neck_flexion_deg, lambda f: neck_base(f, inputs.neutral_tol_deg), (1, 2, 3, 4))
    return tuple(sorted({b + t + s for b in bases for t in options(inputs.neck_twisted)
                         for s in options(body.neck_side_bent)}))


def trunk_base(flexion_deg: float, neutral_tol_deg: float = 5.0) -> int:
    """RULA trunk 1-4 standing: 1 erect (|f| <= tol), 2 = 0-20 flexion, 3 = 20-60, 4 = >60.

    RULA does not score trunk extension; extension beyond the tolerance scores 2 (not erect, least severe
    non-neutral band) -- a documented choice.
    """
    if abs(flexion_deg) <= neutral_tol_deg:
        return 1
    if flexion_deg < 0:
        return 2
    return 2 if flexion_deg <= 20.0 else 3 if flexion_deg <= 60.0 else 4


def seated_supported(body: BodyPosture, inputs: RulaInputs) -> bool:
    """Seated, trunk well supported and hip-trunk angle >= 90 deg (assumed when the thighs are not seen)."""
    return inputs.trunk_supported and (is_open(body.hip_trunk_deg) or body.hip_trunk_deg >= 90.0)


def trunk_options(body: BodyPosture, inputs: RulaInputs) -> tuple[int, ...]:
    """RULA trunk 1-6: position (1 when seated and well supported with hip-trunk >= 90) + twisted + side-bent."""
    if seated_supported(body, inputs):
        bases = (1,)
    else:
        bases = band_options(body.trunk_flexion_deg, lambda f: trunk_base(f, inputs.neutral_tol_deg), (1, 2, 3, 4))
    return tuple(sorted({b + t + s for b in bases for t in options(body.trunk_twisted)
                         for s in options(body.trunk_side_bent)}))


def legs_options(body: BodyPosture, inputs: RulaInputs) -> tuple[int, ...]:
    """RULA legs 1 = supported and balanced (seated, or both feet bearing weight), 2 = not."""
    if inputs.seated:
        return (1,)
    return tuple(sorted({1 if bilateral else 2 for bilateral in options(body.legs_bilateral)}))


def muscle_use_score(inputs: RulaInputs) -> int:
    """+1 if the posture is mainly static (> 1 min) or repeated > 4 times/min."""
    return int(inputs.static_posture or inputs.repeated)


def force_score(inputs: RulaInputs) -> int:
    """RULA force/load 0-3, as in the paper text.

    < 2 kg -> 0; 2-10 kg intermittent -> 1; 2-10 kg static/repeated or > 10 kg intermittent -> 2;
    > 10 kg static/repeated, or shocks/rapid build-up -> 3.
    """
    if inputs.shock:
        return 3
    if inputs.load_kg < 2.0:
        return 0
    sustained = inputs.load_pattern in ('static', 'repeated')
    if inputs.load_kg <= 10.0:
        return 2 if sustained else 1
    return 3 if sustained else 2


def score_rula(body: BodyPosture, arms: dict, inputs: RulaInputs | None = None) -> Score:
    """RULA grand score of a body and one or more arms ({'left': ArmPosture, ...}); several arms -> worst arm.

    Segments reported: neck, trunk, legs, score_b (Table B), score_d, muscle_use, force, and per arm
    upper_arm_<side>, lower_arm_<side>, wrist_<side>, wrist_twist_<side>, score_a_<side> (Table A), score_c_<side>.
    """
    inputs = INPUTS_DEFAULT if inputs is None else inputs
    if not arms:
        raise ValueError('arms must hold at least one ArmPosture, e.g. {"right": ArmPosture(...)}')
    muscle, force = muscle_use_score(inputs), force_score(inputs)
    b = {'neck': neck_options(body, inputs), 'trunk': trunk_options(body, inputs),
         'legs': legs_options(body, inputs), 'muscle_use': (muscle,), 'force': (force,)}
    b['score_b'] = table_set(RULA_TABLE_B, b['neck'], b['trunk'], b['legs'])
    b['score_d'] = tuple(x + muscle + force for x in b['score_b'])
    unobserved = [name for name, is_unseen in (
        ('neck', is_open(body.neck_flexion_deg)), ('legs', not inputs.seated and body.legs_bilateral is None),
        ('trunk', is_open(body.trunk_flexion_deg) and not seated_supported(body, inputs))) if is_unseen]
    sides = {}
    for side, arm in arms.items():
        s = {'upper_arm': upper_arm_options(arm, inputs.arm_supported), 'lower_arm': lower_arm_options(arm),
             'wrist': wrist_options(inputs), 'wrist_twist': wrist_twist_options(inputs)}
        s['score_a'] = table_set(RULA_TABLE_A, s['upper_arm'], s['lower_arm'], s['wrist'], s['wrist_twist'])
        s['score_c'] = tuple(x + muscle + force for x in s['score_a'])
        sides[side] = s
        unobserved += [f'{name}_{side}' for name, angle in (('upper_arm', arm.upper_arm_flexion_deg),
                                                            ('lower_arm', arm.elbow_flexion_deg)) if is_open(angle)]
        unobserved += [f'{name}_{side}' for name, value in (('wrist', inputs.wrist_flexion_deg),
                                                            ('wrist_twist', inputs.wrist_twist_end_range))
                       if value is None]

    def table_c(c, d):
        return _TABLE_C[min(c, 8) - 1][min(d, 7) - 1]

    return combine_sides(b, sides, table_c, 'score_d', 'score_c', unobserved=unobserved)


def score_key(body: dict, arms: dict, inputs: RulaInputs):
    """Hashable digest of everything `score_rula` reads from a posture: each angle's band (or open) and each flag.

    `body` / `arms` are `postures.posture_fields` dicts (arms already reduced to the sides scored). Equal keys with
    equal inputs score identically, which lets `assess` memoise the scoring (postures move between bands far less
    often than frames arrive). Keep in step with the *_options functions above. The caller checks the angles first
    (`postures.fields_valid`): an angle BodyPosture/ArmPosture would reject must take the normal path and raise.
    """
    tol, hip = inputs.neutral_tol_deg, body['hip_trunk_deg']
    key = (band_or_open(body['neck_flexion_deg'], neck_base, tol),
           band_or_open(body['trunk_flexion_deg'], trunk_base, tol), None if is_open(hip) else hip >= 90.0,
           body['neck_side_bent'], body['trunk_twisted'], body['trunk_side_bent'], body['legs_bilateral'])
    for side, arm in arms.items():
        key += (side, band_or_open(arm['upper_arm_flexion_deg'], upper_arm_base),
                band_or_open(arm['elbow_flexion_deg'], lower_arm_base), arm['upper_arm_abducted'],
                arm['shoulder_raised'], arm['across_or_out'])
    return key


def score_range(body: BodyPosture, arms: dict, inputs: RulaInputs | None = None) -> tuple[int, int]:
    """(min, max) RULA grand score over every open input."""
    s = score_rula(body, arms, inputs)
    return s.score_min, s.score_max
