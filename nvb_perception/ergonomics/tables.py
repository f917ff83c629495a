"""RULA and REBA look-up tables and action levels, exactly as published.

RULA: McAtamney & Corlett, Applied Ergonomics 24(2):91-99, 1993. REBA: Hignett & McAtamney, Applied Ergonomics
31:201-205, 2000. Values as collected in the project's ERGONOMICS.md (cross-checked against several independent
implementations). Every array is indexed with 0-based indices, i.e. ``score - 1``; use the ``*_lookup`` functions,
which take the 1-based scores of the papers, check them and apply the published caps (RULA Table C: C >= 8 and
D >= 7 share the last row / column).
"""
import numpy as np

from ..errors import ConfigError

# RULA Table A, indexed [upper_arm-1, lower_arm-1, wrist-1, wrist_twist-1]; upper arm 1-6, lower arm 1-3,
# wrist 1-4, twist 1-2. Rows typed as in the paper: per (UA, LA) row, wrist 1..4 each with twist 1 | 2.
_RULA_A_ROWS = [
    # W1     W2      W3      W4
    [[1, 2], [2, 2], [2, 3], [3, 3]],  # UA1 LA1
    [[2, 2], [2, 2], [3, 3], [3, 3]],  # UA1 LA2
    [[2, 3], [3, 3], [3, 3], [4, 4]],  # UA1 LA3
    [[2, 3], [3, 3], [3, 4], [4, 4]],  # UA2 LA1
    [[3, 3], [3, 3], [3, 4], [4, 4]],  # UA2 LA2
    [[3, 4], [4, 4], [4, 4], [5, 5]],  # UA2 LA3
    [[3, 3], [4, 4], [4, 4], [5, 5]],  # UA3 LA1
    [[3, 4], [4, 4], [4, 4], [5, 5]],  # UA3 LA2
    [[4, 4], [4, 4], [4, 5], [5, 5]],  # UA3 LA3
    [[4, 4], [4, 4], [4, 5], [5, 5]],  # UA4 LA1
    [[4, 4], [4, 4], [4, 5], [5, 5]],  # UA4 LA2
    [[4, 4], [4, 5], [5, 5], [6, 6]],  # UA4 LA3
    [[5, 5], [5, 5], [5, 6], [6, 7]],  # UA5 LA1
    [[5, 6], [6, 6], [6, 7], [7, 7]],  # UA5 LA2
    [[6, 6], [6, 7], [7, 7], [7, 8]],  # UA5 LA3
    [[7, 7], [7, 7], [7, 8], [8, 9]],  # UA6 LA1
    [[8, 8], [8, 8], [8, 9], [9, 9]],  # UA6 LA2
    [[9, 9], [9, 9], [9, 9], [9, 9]],  # UA6 LA3
]
RULA_TABLE_A = np.array(_RULA_A_ROWS, dtype=np.int64).reshape(6, 3, 4, 2)
RULA_TABLE_A.flags.writeable = False

# RULA Table B, indexed [neck-1, trunk-1, legs-1]; neck 1-6, trunk 1-6, legs 1-2.
RULA_TABLE_B = np.array([
    # T1      T2      T3      T4      T5      T6
    [[1, 3], [2, 3], [3, 4], [5, 5], [6, 6], [7, 7]],  # neck 1
    [[2, 3], [2, 3], [4, 5], [5, 5], [6, 7], [7, 7]],  # neck 2
    [[3, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 7]],  # neck 3
    [[5, 5], [5, 6], [6, 7], [7, 7], [7, 7], [8, 8]],  # neck 4
    [[7, 7], [7, 7], [7, 8], [8, 8], [8, 8], [8, 8]],  # neck 5
    [[8, 8], [8, 8], [8, 8], [8, 9], [9, 9], [9, 9]],  # neck 6
], dtype=np.int64)
RULA_TABLE_B.flags.writeable = False

# RULA Table C, indexed [min(C, 8)-1, min(D, 7)-1]. Row 6 is the majority/worksheet version 4 4 5 6 6 7 7
# (one online implementation prints 4 4 4 5 6 7 7).
RULA_TABLE_C = np.array([
    [1, 2, 3, 3, 4, 5, 5],
    [2, 2, 3, 4, 4, 5, 5],
    [3, 3, 3, 4, 4, 5, 6],
    [3, 3, 3, 4, 5, 6, 6],
    [4, 4, 4, 5, 6, 7, 7],
    [4, 4, 5, 6, 6, 7, 7],
    [5, 5, 6, 6, 7, 7, 7],
    [5, 5, 6, 7, 7, 7, 7],
], dtype=np.int64)
RULA_TABLE_C.flags.writeable = False

# REBA Table A, indexed [trunk-1, neck-1, legs-1]; trunk 1-5, neck 1-3, legs 1-4.
REBA_TABLE_A = np.array([
    # neck 1        neck 2        neck 3
    [[1, 2, 3, 4], [1, 2, 3, 4], [3, 3, 5, 6]],  # trunk 1
    [[2, 3, 4, 5], [3, 4, 5, 6], [4, 5, 6, 7]],  # trunk 2
    [[2, 4, 5, 6], [4, 5, 6, 7], [5, 6, 7, 8]],  # trunk 3
    [[3, 5, 6, 7], [5, 6, 7, 8], [6, 7, 8, 9]],  # trunk 4
    [[4, 6, 7, 8], [6, 7, 8, 9], [7, 8, 9, 9]],  # trunk 5
], dtype=np.int64)
REBA_TABLE_A.flags.writeable = False

# REBA Table B, indexed [upper_arm-1, lower_arm-1, wrist-1]; upper arm 1-6, lower arm 1-2, wrist 1-3.
REBA_TABLE_B = np.array([
    # LA1        LA2
    [[1, 2, 2], [1, 2, 3]],  # UA1
    [[1, 2, 3], [2, 3, 4]],  # UA2
    [[3, 4, 5], [4, 5, 5]],  # UA3
    [[4, 5, 5], [5, 6, 7]],  # UA4
    [[6, 7, 8], [7, 8, 8]],  # UA5
    [[7, 8, 8], [8, 9, 9]],  # UA6
], dtype=np.int64)
REBA_TABLE_B.flags.writeable = False

# REBA Table C, indexed [score_A-1, score_B-1]; both 1-12.
REBA_TABLE_C = np.array([
    [1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7],
    [1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8],
    [2, 3, 3, 3, 4, 5, 6, 7, 7, 8, 8, 8],
    [3, 4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9],
    [4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9],
    [6, 6, 6, 7, 8, 8, 9, 9, 10, 10, 10, 10],
    [7, 7, 7, 8, 9, 9, 9, 10, 10, 11, 11, 11],
    [8, 8, 8, 9, 10, 10, 10, 10, 10, 11, 11, 11],
    [9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12],
    [10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12],
    [11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12],
    [12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12],
], dtype=np.int64)
REBA_TABLE_C.flags.writeable = False

# Action levels: (first score, last score, level, published wording).
RULA_ACTION_LEVELS = (
    (1, 2, 1, 'acceptable if not maintained or repeated for long periods'),
    (3, 4, 2, 'further investigation needed; changes may be required'),
    (5, 6, 3, 'investigation and changes required soon'),
    (7, 7, 4, 'investigation and changes required immediately'),
)
# REBA action levels 0-4 as numbered in Hignett & McAtamney (2000), Table 5.
REBA_ACTION_LEVELS = (
    (1, 1, 0, 'negligible risk; action not necessary'),
    (2, 3, 1, 'low risk; action may be necessary'),
    (4, 7, 2, 'medium risk; action necessary'),
    (8, 10, 3, 'high risk; action necessary soon'),
    (11, 15, 4, 'very high risk; action necessary now'),
)


def _check(name: str, value, lo: int, hi: int) -> int:
    """Return `value` as int, or raise ValueError naming it when it is not an integer in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f'{name} must be an integer in [{lo}, {hi}], got {value!r}')
    return int(value)


def rula_table_a(upper_arm: int, lower_arm: int, wrist: int, wrist_twist: int) -> int:
    """RULA posture score A from Table A (1-based scores: 1-6, 1-3, 1-4, 1-2)."""
    return int(RULA_TABLE_A[_check('upper_arm', upper_arm, 1, 6) - 1, _check('lower_arm', lower_arm, 1, 3) - 1,
                            _check('wrist', wrist, 1, 4) - 1, _check('wrist_twist', wrist_twist, 1, 2) - 1])


def rula_table_b(neck: int, trunk: int, legs: int) -> int:
    """RULA posture score B from Table B (neck 1-6, trunk 1-6, legs 1-2)."""
    return int(RULA_TABLE_B[_check('neck', neck, 1, 6) - 1, _check('trunk', trunk, 1, 6) - 1,
                            _check('legs', legs, 1, 2) - 1])


def rula_table_c(score_c: int, score_d: int) -> int:
    """RULA grand score = Table C[min(C, 8)][min(D, 7)] (C, D >= 1; the caps are published)."""
    c = _check('score_c', score_c, 1, 99)
    d = _check('score_d', score_d, 1, 99)
    return int(RULA_TABLE_C[min(c, 8) - 1, min(d, 7) - 1])


def reba_table_a(trunk: int, neck: int, legs: int) -> int:
    """REBA Table A (trunk 1-5, neck 1-3, legs 1-4)."""
    return int(REBA_TABLE_A[_check('trunk', trunk, 1, 5) - 1, _check('neck', neck, 1, 3) - 1,
                            _check('legs', legs, 1, 4) - 1])


def reba_table_b(upper_arm: int, lower_arm: int, wrist: int) -> int:
    """REBA Table B (upper arm 1-6, lower arm 1-2, wrist 1-3)."""
    return int(REBA_TABLE_B[_check('upper_arm', upper_arm, 1, 6) - 1, _check('lower_arm', lower_arm, 1, 2) - 1,
                            _check('wrist', wrist, 1, 3) - 1])


def reba_table_c(score_a: int, score_b: int) -> int:
    """REBA Table C (score A = Table A + load, 1-12; score B = Table B + coupling, 1-12)."""
    return int(REBA_TABLE_C[_check('score_a', score_a, 1, 12) - 1, _check('score_b', score_b, 1, 12) - 1])


def _level(levels, score: int, method: str) -> tuple[int, str]:
    for lo, hi, level, wording in levels:
        if lo <= score <= hi:
            return level, wording
    raise ValueError(f'{method} score must be in [{levels[0][0]}, {levels[-1][1]}], got {score!r}')


def rula_action_level(score: int) -> tuple[int, str]:
    """(action level 1-4, wording) of a RULA grand score 1-7."""
    return _level(RULA_ACTION_LEVELS, score, 'RULA')


def reba_action_level(score: int) -> tuple[int, str]:
    """(action level 0-4, wording) of a REBA score 1-15."""
    return _level(REBA_ACTION_LEVELS, score, 'REBA')


# Validators shared by the input dataclasses: each raises ConfigError (a ValueError) naming the field, the value
# and what is allowed.

def check_flag(name: str, value, optional: bool = False):
    """A bool (or None when `optional`)."""
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = 'True, False or None' if optional else 'True or False'
        raise ConfigError(f'{name} must be {allowed}, got {value!r}')
    return bool(value)


def check_number(name: str, value, lo: float, hi: float, optional: bool = False):
    """A finite real number in [lo, hi] (or None when `optional`)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f'{name} must be a finite number in [{lo}, {hi}], got {value!r}')
    return float(value)


def check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    """One of `choices`."""
    if value not in choices:
        raise ConfigError(f'{name} must be one of {choices}, got {value!r}')
    return value
