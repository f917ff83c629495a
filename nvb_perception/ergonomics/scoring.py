"""Scoring helpers RULA and REBA share: open-input option sets, the arm bands, exact grand-score ranges.

An open input (a NaN angle or a None flag) contributes every option it allows; segments are scored as sets of
possible values and `combine_sides` / `table_set` turn them into exact (score, min, max) grand scores.
"""
import math
from dataclasses import dataclass
from itertools import product


def options(flag) -> tuple[bool, ...]:
    """The values a flag can take: both when it is None (not observed)."""
    return (False, True) if flag is None else (bool(flag),)


def is_open(angle) -> bool:
    return angle is None or math.isnan(angle)


def clip(x: int, lo: int, hi: int) -> int:
    """Clamp x to [lo, hi] (e.g. upper arm 1 - 1 'supported' stays 1)."""
    return max(lo, min(hi, x))


def upper_arm_base(flexion_deg: float) -> int:
    """RULA/REBA upper-arm position 1-4 (identical bands) from signed degrees, + flexion.

    1 = 20 ext..20 flex; 2 = > 20 ext or 20-45 flex; 3 = 45-90 flex; 4 = > 90 flex.
    """
    if flexion_deg < -20.0:
        return 2
    return 1 if flexion_deg <= 20.0 else 2 if flexion_deg <= 45.0 else 3 if flexion_deg <= 90.0 else 4


def lower_arm_base(elbow_flexion_deg: float) -> int:
    """RULA/REBA lower arm 1-2: 1 = 60-100 deg flexion (closed), 2 otherwise."""
    return 1 if 60.0 <= elbow_flexion_deg <= 100.0 else 2


def band_options(angle, band, all_bands) -> tuple[int, ...]:
    """(band(angle),), or every band when the angle is not observed."""
    return tuple(all_bands) if is_open(angle) else (band(angle),)


@dataclass(frozen=True, eq=False)
class Score:
    """A grand score over open inputs. `segments` maps a segment to the scores its open inputs allow."""

    score: int          # with every open input at its least severe option
    score_min: int
    score_max: int
    side: str           # the arm that gives `score` ('left' / 'right')
    segments: dict      # name -> tuple of possible scores (one value when fully determined)
    unobserved: frozenset = frozenset()   # segments whose position itself is not observed (not just a flag)


def combine_sides(body_sets: dict, side_sets: dict, table, body_key: str, side_key: str, offset: int = 0,
                  unobserved=()) -> Score:
    """Grand score = max over sides of table(side value, body value) + offset, enumerated exactly.

    The nominal score takes the smallest value of every set; the tables are monotone (tested), so that is the
    score with every open input at its least severe option, and equals the enumerated minimum.
    """
    bodies = body_sets[body_key]
    per_side = {s: sets[side_key] for s, sets in side_sets.items()}
    # Exact set of max over sides of table(c_side, d), each c_side free in its set, without enumerating the
    # product: m is reachable iff some side can give m and every side can give something <= m.
    grand = set()
    for d in bodies:
        values = [{table(c, d) for c in cs} for cs in per_side.values()]
        floor = max(min(v) for v in values)
        grand.update(m + offset for v in values for m in v if m >= floor)
    nominal = {s: table(v[0], bodies[0]) + offset for s, v in per_side.items()}
    side = max(nominal, key=nominal.get)
    segments = dict(body_sets)
    for s, sets in side_sets.items():
        segments.update({f'{name}_{s}': v for name, v in sets.items()})
    return Score(nominal[side], min(grand), max(grand), side, segments, frozenset(unobserved))


_NESTED: dict = {}    # id(table) -> (table, table.tolist()); the table is held so its id cannot be reused


def table_set(table, *sets) -> tuple[int, ...]:
    """Sorted distinct table values over every combination of the 1-based index sets.

    Looks up nested lists rather than the numpy array: element indexing of numpy is ~5x slower, and this runs for
    every combination of open inputs on every frame.
    """
    entry = _NESTED.get(id(table))
    if entry is None or entry[0] is not table:
        entry = _NESTED[id(table)] = (table, table.tolist())
    values = set()
    for combo in product(*sets):
        v = entry[1]
        for i in combo:
            v = v[i - 1]
        values.add(v)
    return tuple(sorted(values))


def band_or_open(angle, band, *args):
    """band(angle, *args), or None when the angle is not observed (a score-cache key component)."""
    return None if is_open(angle) else band(angle, *args)
