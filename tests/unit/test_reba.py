"""REBA: every table cell, every threshold at and around its boundary, every adjustment, ranges and validation.

Tables typed again row by row in the published layout (Hignett & McAtamney 2000, as in ERGONOMICS.md).
Boundary convention: a score rises only when an angle is strictly beyond the published threshold.
"""
import math
from itertools import product

import numpy as np
import pytest

from nvb_perception.ergonomics import ArmPosture, BodyPosture, RebaInputs, reba_score_range, score_reba
from nvb_perception.ergonomics import reba as R
from nvb_perception.ergonomics import tables as T

NAN = math.nan

# Trunk | Neck1: L1 L2 L3 L4 | Neck2 | Neck3
TABLE_A_TEXT = """
1 | 1 2 3 4 | 1 2 3 4 | 3 3 5 6
2 | 2 3 4 5 | 3 4 5 6 | 4 5 6 7
3 | 2 4 5 6 | 4 5 6 7 | 5 6 7 8
4 | 3 5 6 7 | 5 6 7 8 | 6 7 8 9
5 | 4 6 7 8 | 6 7 8 9 | 7 8 9 9
"""
# UA | LA1: W1 W2 W3 | LA2: W1 W2 W3
TABLE_B_TEXT = """
1 | 1 2 2 | 1 2 3
2 | 1 2 3 | 2 3 4
3 | 3 4 5 | 4 5 5
4 | 4 5 5 | 5 6 7
5 | 6 7 8 | 7 8 8
6 | 7 8 8 | 8 9 9
"""
# A \ B 1..12
TABLE_C_TEXT = """
1  | 1  1  1  2  3  3  4  5  6  7  7  7
2  | 1  2  2  3  4  4  5  6  6  7  7  8
3  | 2  3  3  3  4  5  6  7  7  8  8  8
4  | 3  4  4  4  5  6  7  8  8  9  9  9
5  | 4  4  4  5  6  7  8  8  9  9  9  9
6  | 6  6  6  7  8  8  9  9 10 10 10 10
7  | 7  7  7  8  9  9  9 10 10 11 11 11
8  | 8  8  8  9 10 10 10 10 10 11 11 11
9  | 9  9  9 10 10 10 11 11 11 12 12 12
10 | 10 10 10 11 11 11 11 12 12 12 12 12
11 | 11 11 11 11 12 12 12 12 12 12 12 12
12 | 12 12 12 12 12 12 12 12 12 12 12 12
"""


def _rows(text):
    for line in text.strip().splitlines():
        head, *cells = line.split('|')
        yield int(head), [[int(x) for x in c.split()] for c in cells]


def test_table_a_every_cell():
    n = 0
    for trunk, cells in _rows(TABLE_A_TEXT):
        for neck, legs in enumerate(cells, start=1):
            for leg, expected in enumerate(legs, start=1):
                assert T.reba_table_a(trunk, neck, leg) == expected
                n += 1
    assert n == T.REBA_TABLE_A.size == 60


def test_table_b_every_cell():
    n = 0
    for ua, cells in _rows(TABLE_B_TEXT):
        for la, wrists in enumerate(cells, start=1):
            for w, expected in enumerate(wrists, start=1):
                assert T.reba_table_b(ua, la, w) == expected
                n += 1
    assert n == T.REBA_TABLE_B.size == 36


def test_table_c_every_cell():
    n = 0
    for a, (row,) in _rows(TABLE_C_TEXT):
        for b, expected in enumerate(row, start=1):
            assert T.reba_table_c(a, b) == expected
            n += 1
    assert n == T.REBA_TABLE_C.size == 144


@pytest.mark.parametrize('table', [T.REBA_TABLE_A, T.REBA_TABLE_B, T.REBA_TABLE_C])
def test_tables_monotone(table):
    for axis in range(table.ndim):
        assert np.all(np.diff(table, axis=axis) >= 0), axis


@pytest.mark.parametrize('fn,args', [(T.reba_table_a, (6, 1, 1)), (T.reba_table_a, (1, 4, 1)),
                                     (T.reba_table_a, (1, 1, 5)), (T.reba_table_b, (1, 3, 1)),
                                     (T.reba_table_b, (1, 1, 4)), (T.reba_table_c, (13, 1)), (T.reba_table_c, (1, 0))])
def test_lookups_reject_out_of_range(fn, args):
    with pytest.raises(ValueError):
        fn(*args)


@pytest.mark.parametrize('score,level', [(1, 0), (2, 1), (3, 1), (4, 2), (7, 2), (8, 3), (10, 3), (11, 4), (15, 4)])
def test_action_levels(score, level):
    got, wording = T.reba_action_level(score)
    assert got == level and wording


@pytest.mark.parametrize('angle,expected', [(0, 1), (5.0, 1), (-5.0, 1), (5.1, 2), (20.0, 2), (20.1, 3), (60.0, 3),
                                            (60.1, 4), (-5.1, 2), (-20.0, 2), (-20.1, 3), (-45, 3)])
def test_trunk_bands(angle, expected):
    assert R.trunk_base(angle, 5.0) == expected


@pytest.mark.parametrize('angle,expected', [(0, 1), (-5.0, 1), (-5.1, 2), (20.0, 1), (20.1, 2), (45, 2)])
def test_neck_bands(angle, expected):
    assert R.neck_base(angle, 5.0) == expected


@pytest.mark.parametrize('angle,expected', [(0, 0), (30.0, 0), (30.1, 1), (60.0, 1), (60.1, 2), (120, 2)])
def test_knee_adjustment(angle, expected):
    assert R.knee_adjustment(angle) == expected


@pytest.mark.parametrize('angle,expected', [(0, 1), (15.0, 1), (-15.0, 1), (15.1, 2), (-15.1, 2)])
def test_wrist_bands(angle, expected):
    assert R.wrist_base(angle) == expected


def _body(neck=0.0, neck_side=False, trunk=0.0, twist=False, side=False, legs=True, lk=0.0, rk=0.0):
    return BodyPosture(neck, neck_side, trunk, twist, side, 180.0, legs, lk, rk)


def _arm(flex=0.0, raised=False, abducted=False, elbow=80.0):
    return ArmPosture(flex, abducted, raised, elbow, False)


KNOWN = dict(wrist_flexion_deg=0.0, wrist_deviated=False, wrist_twisted=False, neck_twisted=False,
             upper_arm_rotated=False)


def test_trunk_neck_adjustments_count_once():
    k = RebaInputs(**KNOWN)
    assert R.trunk_options(_body(trunk=30), k) == (3,)
    assert R.trunk_options(_body(trunk=30, twist=True), k) == (4,)
    assert R.trunk_options(_body(trunk=30, twist=True, side=True), k) == (4,)
    assert R.trunk_options(_body(trunk=70, twist=True), k) == (5,)
    assert R.neck_options(_body(neck=30, neck_side=True), k) == (3,)
    assert R.neck_options(_body(neck=30, neck_side=True), RebaInputs(neck_twisted=True)) == (3,)
    assert R.neck_options(_body(neck=10), RebaInputs()) == (1, 2)      # neck twist open by default


def test_legs():
    k = RebaInputs(**KNOWN)
    assert R.legs_options(_body(legs=True), k) == (1,)
    assert R.legs_options(_body(legs=False), k) == (2,)
    assert R.legs_options(_body(legs=True, lk=45, rk=10), k) == (2,)
    assert R.legs_options(_body(legs=False, lk=10, rk=90), k) == (4,)
    assert R.legs_options(_body(legs=False, lk=90, rk=90), RebaInputs(seated=True)) == (1,)   # no knee adj. seated
    assert R.legs_options(_body(legs=True, lk=45, rk=NAN), k) == (2, 3)   # the unseen knee may be > 60
    assert R.legs_options(_body(legs=None, lk=NAN, rk=NAN), k) == (1, 2, 3, 4)


@pytest.mark.parametrize('kw,expected', [({}, 0), ({'load_kg': 4.99}, 0), ({'load_kg': 5.0}, 1),
                                         ({'load_kg': 10.0}, 1), ({'load_kg': 10.01}, 2), ({'shock': True}, 1),
                                         ({'load_kg': 12, 'shock': True}, 3)])
def test_load(kw, expected):
    assert R.load_score(RebaInputs(**kw)) == expected


def test_arm_adjustments():
    k = RebaInputs(**KNOWN)
    assert R.upper_arm_options(_arm(30), k) == (2,)
    assert R.upper_arm_options(_arm(30, abducted=True), RebaInputs(upper_arm_rotated=True)) == (3,)   # once
    assert R.upper_arm_options(_arm(30, raised=True, abducted=True), k) == (4,)
    assert R.upper_arm_options(_arm(30), RebaInputs(**{**KNOWN, 'arm_supported': True})) == (1,)
    assert R.upper_arm_options(_arm(0), RebaInputs(**{**KNOWN, 'arm_supported': True})) == (1,)
    assert R.upper_arm_options(_arm(120, True, True), k) == (6,)
    assert R.upper_arm_options(_arm(30), RebaInputs()) == (2, 3)          # rotation open by default
    assert R.lower_arm_options(_arm(elbow=59.9)) == (2,) and R.lower_arm_options(_arm(elbow=60)) == (1,)
    assert R.wrist_options(RebaInputs()) == (1, 2, 3)
    assert R.wrist_options(RebaInputs(wrist_flexion_deg=20, wrist_deviated=True, wrist_twisted=True)) == (3,)
    assert R.wrist_options(RebaInputs(wrist_flexion_deg=20, wrist_deviated=False, wrist_twisted=False)) == (2,)


def test_coupling_and_activity():
    for i, name in enumerate(R.COUPLINGS):
        s = score_reba(_body(), {'right': _arm()}, RebaInputs(coupling=name, **KNOWN))
        assert s.segments['coupling'] == (i,)
    assert R.activity_score(RebaInputs()) == 0
    assert R.activity_score(RebaInputs(static_posture=True, repeated_small_range=True, rapid_large_change=True)) == 3


def test_worked_example_lifting():
    # Trunk 45 flexion (3) + twisted (4); neck 25 (2); legs bilateral, knees 40 (1 + 1 = 2) -> Table A[4][2][2] = 6;
    # load 8 kg (1) -> A = 7. Upper arm 50 (3); elbow 120 (2); wrist 20 (2) -> Table B[3][2][2] = 5; coupling fair
    # -> B = 6. Table C[7][6] = 9; + static (1) -> 10, high risk (level 3).
    inputs = RebaInputs(load_kg=8, coupling='fair', static_posture=True, wrist_flexion_deg=20, wrist_deviated=False,
                        wrist_twisted=False, neck_twisted=False, upper_arm_rotated=False)
    s = score_reba(_body(neck=25, trunk=45, twist=True, lk=40, rk=40), {'right': _arm(50, elbow=120)}, inputs)
    assert s.segments['table_a'] == (6,) and s.segments['score_a'] == (7,)
    assert s.segments['table_b_right'] == (5,) and s.segments['score_b_right'] == (6,)
    assert (s.score, s.score_min, s.score_max) == (10, 10, 10)
    assert T.reba_action_level(10) == (3, 'high risk; action necessary soon')


def test_worked_example_neutral_standing():
    s = score_reba(_body(), {'left': _arm(), 'right': _arm()}, RebaInputs(**KNOWN))
    assert s.score == 1 and T.reba_action_level(1)[0] == 0


def test_range_matches_brute_force():
    body, arms = _body(neck=10, trunk=10), {'right': _arm(30)}
    s = score_reba(body, arms, RebaInputs())
    grands = set()
    for wf, wd, wt, nt, rot in product((0.0, 30.0), *([(False, True)] * 4)):
        inp = RebaInputs(wrist_flexion_deg=wf, wrist_deviated=wd, wrist_twisted=wt, neck_twisted=nt,
                         upper_arm_rotated=rot)
        grands.add(score_reba(body, arms, inp).score)
    assert (s.score_min, s.score_max) == (min(grands), max(grands)) == reba_score_range(body, arms)
    assert s.score == s.score_min < s.score_max


def test_maximum_is_15():
    inputs = RebaInputs(load_kg=20, shock=True, coupling='unacceptable', static_posture=True,
                        repeated_small_range=True, rapid_large_change=True, **{**KNOWN, 'wrist_flexion_deg': 30})
    s = score_reba(_body(neck=40, neck_side=True, trunk=80, twist=True, legs=False, lk=90, rk=90),
                   {'left': _arm(120, True, True, elbow=10)}, inputs)
    assert s.score == 15 and T.reba_action_level(15)[0] == 4


@pytest.mark.parametrize('kw,match', [({'coupling': 'bad'}, 'coupling'), ({'load_kg': -0.1}, 'load_kg'),
                                      ({'shock': 'yes'}, 'shock'), ({'upper_arm_rotated': 1}, 'upper_arm_rotated'),
                                      ({'neutral_tol_deg': -1}, 'neutral_tol_deg'),
                                      ({'wrist_flexion_deg': math.inf}, 'wrist_flexion_deg')])
def test_inputs_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        RebaInputs(**kw)


def test_assumed():
    a = RebaInputs().assumed()
    assert 'load_kg=0' in a and 'coupling=good' in a and 'upper_arm_rotated=unobserved(range)' in a
