"""RULA / REBA of one 3D skeleton: joints -> angles -> postures -> scores -> types.ErgonomicRisk.

Policy for what the skeleton leaves open (docs/ergonomics.md):

* Context a skeleton cannot see (load, coupling, static/repetition, support, seated) comes from `RulaInputs` /
  `RebaInputs`; every value used is listed in `assumed_inputs` ('load_kg=0', ...).
* Posture a skeleton cannot see (wrist, wrist twist, neck twist, upper-arm rotation) and body segments whose
  joints are missing (NaN or confidence < `Heuristics.min_confidence`) are open: the grand score is reported as
  the exact range [score_min, score_max] over them; `score` takes their least severe option (a lower bound);
  a segment whose position is not observed scores 0 in segment_scores and is listed as
  '<segment>=unobserved(range a-b)'; a segment whose position is seen but one adjustment is open (e.g. neck twist)
  shows its least severe value and is listed as '<segment>=open(range a-b)'.
* Flags derived by thresholds on the skeleton (side-bend, twist, abduction, shoulder raise, feet level, out to the
  side) are listed as 'heuristic:...' with their thresholds.
"""
from ..errors import ConfigError
from ..types import ErgonomicRisk
from . import reba, rula
from .angles import DEFAULT_UP, measure
from .postures import SIDES, Heuristics, fields_valid, posture_fields, postures_from_fields
from .reba import RebaInputs, score_reba
from .rula import RulaInputs, score_rula
from .tables import reba_action_level, rula_action_level

SIDE_CHOICES = ('worst', 'left', 'right')
# Defaults are frozen, so one shared instance is equivalent to a fresh one (and skips ~10 us of validation).
_DEFAULT_INPUTS = {'RULA': RulaInputs(), 'REBA': RebaInputs()}
_DEFAULT_HEURISTICS = Heuristics()
# Memo of the scoring part, keyed by (method, posture digest, inputs, heuristics): consecutive frames of a person
# usually fall in the same bands, and the exact-range enumeration is the costly part (~0.1 ms). Bounded: cleared
# when full. `set_score_cache_size(0)` turns it off (benchmarks/bench_ergonomics.py checks both give equal results).
_score_cache: dict = {}
_score_cache_size = 1024            # ~4 MB when full; consecutive video frames hit it anyway


_assumed_memo: dict = {}      # id(inputs) -> (inputs, inputs.assumed()); by identity, not equality: equal inputs
#                               can print differently (wrist_flexion_deg=10 vs 10.0)


def _assumed(inputs) -> tuple[str, ...]:
    entry = _assumed_memo.get(id(inputs))
    if entry is None or entry[0] is not inputs:
        if len(_assumed_memo) >= 64:      # ExposureTracker makes a new inputs object per frame while detecting
            _assumed_memo.clear()
        entry = _assumed_memo[id(inputs)] = (inputs, inputs.assumed())
    return entry[1]


def set_score_cache_size(size: int) -> None:
    """Bound (entries) of the score memo; 0 disables it. Clears it."""
    global _score_cache_size
    _score_cache_size = int(size)
    _score_cache.clear()
# Segments that are combinations of others; they are reported but not listed as unobserved inputs.
_GROUPS = ('score_a', 'score_b', 'score_c', 'score_d', 'table_a', 'table_b')


def _heuristic_notes(h: Heuristics) -> tuple[str, ...]:
    return (f'heuristic:side_bent=|side_bend|>{h.side_bend_deg:g}deg',
            f'heuristic:trunk_twisted=|twist|>{h.twist_deg:g}deg',
            f'heuristic:upper_arm_abducted=abduction>{h.abduction_deg:g}deg',
            f'heuristic:shoulder_raised=head_gap/trunk<{h.shoulder_gap_ratio:g}',
            f'heuristic:legs_bilateral=ankle_height_diff<={h.feet_level_m:g}m',
            f'heuristic:min_confidence={h.min_confidence:g}')


def check_method_inputs(method, side, inputs, heuristics):
    """Validate method/side and return (inputs, heuristics) with their defaults filled in."""
    if method not in ('RULA', 'REBA'):
        raise ValueError(f"method must be 'RULA' or 'REBA', got {method!r}")
    if side not in SIDE_CHOICES:
        raise ValueError(f'side must be one of {SIDE_CHOICES}, got {side!r}')
    inputs_type = RulaInputs if method == 'RULA' else RebaInputs
    inputs = _DEFAULT_INPUTS[method] if inputs is None else inputs
    heuristics = _DEFAULT_HEURISTICS if heuristics is None else heuristics
    if not isinstance(inputs, inputs_type):
        raise ConfigError(f'inputs must be a {inputs_type.__name__}, got {type(inputs).__name__}')
    if not isinstance(heuristics, Heuristics):
        raise ConfigError(f'heuristics must be a Heuristics, got {type(heuristics).__name__}')
    return inputs, heuristics


def assess_angles(method: str, angles: dict, measures: dict, inputs=None, side: str = 'worst', track_id: int = -1,
                  heuristics: Heuristics | None = None, notes: tuple[str, ...] = (),
                  reported: dict | None = None) -> ErgonomicRisk:
    """RULA or REBA from `angles.measure`'s output (possibly filtered over time).

    `notes` are appended to assumed_inputs; `reported` (default: `angles`) are the angles put in angles_deg, e.g.
    the filtered angles when `angles` went through hysteresis.
    """
    inputs, heuristics = check_method_inputs(method, side, inputs, heuristics)
    body, all_arms = posture_fields(angles, measures, heuristics)
    arms = {s: all_arms[s] for s in (SIDES if side == 'worst' else (side,))}
    if _score_cache_size and fields_valid(body, all_arms):
        key = (method, (rula if method == 'RULA' else reba).score_key(body, arms, inputs), inputs, heuristics)
        scored = _score_cache.get(key)
        if scored is None:
            scored = _score(method, body, all_arms, arms, inputs, heuristics)
            if len(_score_cache) >= _score_cache_size:
                _score_cache.clear()
            _score_cache[key] = scored
    else:                                 # no memo, or an invalid angle that the dataclasses must reject
        scored = _score(method, body, all_arms, arms, inputs, heuristics)
    score, score_min, score_max, level, segments, suffix = scored
    return ErgonomicRisk(
        method=method, track_id=int(track_id), score=score, score_min=score_min, score_max=score_max,
        action_level=level[0], action=level[1], side=side, segment_scores=segments,
        angles_deg=tuple((k, float(v)) for k, v in (angles if reported is None else reported).items()),
        assumed_inputs=_assumed(inputs) + notes + suffix)


def _score(method: str, body: dict, all_arms: dict, arms: dict, inputs, heuristics: Heuristics) -> tuple:
    """Everything of an ErgonomicRisk that depends only on the posture bands, inputs and heuristics.

    Returns (score, min, max, (level, wording), segment_scores, assumed_inputs after the caller's notes). Nothing
    in it may depend on how the inputs print (equal inputs share a memo entry).
    """
    body, postures_by_side = postures_from_fields(body, all_arms)      # validates every side, as before
    arms = {s: postures_by_side[s] for s in arms}
    suffix = ()
    if method == 'RULA':
        score = score_rula(body, arms, inputs)
        level = rula_action_level(score.score)
        suffix = (f'heuristic:across_or_out=wrist_lateral<0 or >{heuristics.out_to_side_ratio:g}',)
    else:
        score = score_reba(body, arms, inputs)
        level = reba_action_level(score.score)
    # 0 = the segment's position is not observed; otherwise its value with open flags at their least severe.
    segments = tuple((name, 0 if name in score.unobserved else v[0]) for name, v in score.segments.items())
    unobserved = tuple(f'{name}={"unobserved" if name in score.unobserved else "open"}(range {v[0]}-{v[-1]})'
                       for name, v in score.segments.items() if len(v) > 1 and not name.startswith(_GROUPS))
    return (score.score, score.score_min, score.score_max, level, segments,
            suffix + unobserved + _heuristic_notes(heuristics))


def assess(method: str, joints3d, confidence=None, inputs=None, up=DEFAULT_UP, side: str = 'worst',
           track_id: int = -1, heuristics: Heuristics | None = None) -> ErgonomicRisk:
    """RULA or REBA of one H36M-17 skeleton.

    Args:
        method: 'RULA' or 'REBA'.
        joints3d: (17, 3) metres, H36M order, any frame whose world-up direction is `up` (default camera optical
            frame: up = -y). NaN rows = missing.
        confidence: optional (17,) in [0, 1]; joints below `heuristics.min_confidence` count as missing.
        inputs: RulaInputs / RebaInputs (None = defaults); every value is listed in assumed_inputs.
        up: world up direction in the joints' frame.
        side: 'left' / 'right' arm, or 'worst' = the higher score of the two (range over both).
        track_id: copied into the result.
        heuristics: thresholds for the adjustment flags (None = Heuristics()).

    Raises:
        ValueError on a wrong shape, a zero/non-finite `up`, an unknown method/side or a wrong inputs type.

    """
    inputs, heuristics = check_method_inputs(method, side, inputs, heuristics)
    angles, measures = measure(joints3d, confidence, up, heuristics.min_confidence)
    return assess_angles(method, angles, measures, inputs, side, track_id, heuristics)


def assess_rula(joints3d, confidence=None, inputs: RulaInputs | None = None, up=DEFAULT_UP, side: str = 'worst',
                track_id: int = -1, heuristics: Heuristics | None = None) -> ErgonomicRisk:
    """RULA of one H36M-17 skeleton; see `assess`."""
    return assess('RULA', joints3d, confidence, inputs, up, side, track_id, heuristics)


def assess_reba(joints3d, confidence=None, inputs: RebaInputs | None = None, up=DEFAULT_UP, side: str = 'worst',
                track_id: int = -1, heuristics: Heuristics | None = None) -> ErgonomicRisk:
    """REBA of one H36M-17 skeleton; see `assess`."""
    return assess('REBA', joints3d, confidence, inputs, up, side, track_id, heuristics)


def assess_skeleton(skeleton, method: str = 'RULA', inputs=None, up=DEFAULT_UP, side: str = 'worst',
                    heuristics: Heuristics | None = None) -> ErgonomicRisk:
    """RULA or REBA of a types.Skeleton3D (joint_set 'h36m17'); the track id is taken from the skeleton."""
    if getattr(skeleton, 'joint_set', None) != 'h36m17':
        raise ValueError(f"skeleton must be a Skeleton3D with joint_set 'h36m17', got "
                         f"{getattr(skeleton, 'joint_set', type(skeleton).__name__)!r}")
    return assess(method, skeleton.positions, skeleton.confidence, inputs, up, side, skeleton.track_id, heuristics)


def angles_dict(risk: ErgonomicRisk) -> dict:
    """angles_deg of a result as a dict (NaN = not observable)."""
    return {k: v for k, v in risk.angles_deg}

