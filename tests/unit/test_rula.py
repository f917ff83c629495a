"""RULA: every table cell, every threshold at and around its boundary, every adjustment, ranges and validation.

The tables below are typed again, row by row, in the layout of the published worksheet (McAtamney & Corlett 1993,
as in ERGONOMICS.md) and compared with the implementation's arrays; they do not read any file.
Boundary convention: a score rises only when an angle is strictly beyond the published threshold.
"""
import math
from itertools import product

import numpy as np
import pytest

from nvb_perception.ergonomics import ArmPosture, BodyPosture, RulaInputs, rula_score_range, score_rula
from nvb_perception.ergonomics import rula as R
from nvb_perception.ergonomics import tables as T

NAN = math.nan

# UA LA | W1 t1 t2 | W2 t1 t2 | W3 t1 t2 | W4 t1 t2
TABLE_A_TEXT = """
1 1 | 1 2 | 2 2 | 2 3 | 3 3
1 2 | 2 2 | 2 2 | 3 3 | 3 3
1 3 | 2 3 | 3 3 | 3 3 | 4 4
2 1 | 2 3 | 3 3 | 3 4 | 4 4
2 2 | 3 3 | 3 3 | 3 4 | 4 4
2 3 | 3 4 | 4 4 | 4 4 | 5 5
3 1 | 3 3 | 4 4 | 4 4 | 5 5
3 2 | 3 4 | 4 4 | 4 4 | 5 5
3 3 | 4 4 | 4 4 | 4 5 | 5 5
4 1 | 4 4 | 4 4 | 4 5 | 5 5
4 2 | 4 4 | 4 4 | 4 5 | 5 5
4 3 | 4 4 | 4 5 | 5 5 | 6 6
5 1 | 5 5 | 5 5 | 5 6 | 6 7
5 2 | 5 6 | 6 6 | 6 7 | 7 7
5 3 | 6 6 | 6 7 | 7 7 | 7 8
6 1 | 7 7 | 7 7 | 7 8 | 8 9
6 2 | 8 8 | 8 8 | 8 9 | 9 9
6 3 | 9 9 | 9 9 | 9 9 | 9 9
"""
# Neck | T1 legs 1 2 | T2 | T3 | T4 | T5 | T6
TABLE_B_TEXT = """
1 | 1 3 | 2 3 | 3 4 | 5 5 | 6 6 | 7 7
2 | 2 3 | 2 3 | 4 5 | 5 5 | 6 7 | 7 7
3 | 3 3 | 3 4 | 4 5 | 5 6 | 6 7 | 7 7
4 | 5 5 | 5 6 | 6 7 | 7 7 | 7 7 | 8 8
5 | 7 7 | 7 7 | 7 8 | 8 8 | 8 8 | 8 8
6 | 8 8 | 8 8 | 8 8 | 8 9 | 9 9 | 9 9
"""
# C \ D 1..7+ (row 6 = majority / worksheet version, not the 4 4 4 5 6 7 7 variant)
TABLE_C_TEXT = """
1 | 1 2 3 3 4 5 5
2 | 2 2 3 4 4 5 5
3 | 3 3 3 4 4 5 6
4 | 3 3 3 4 5 6 6
5 | 4 4 4 5 6 7 7
6 | 4 4 5 6 6 7 7
7 | 5 5 6 6 7 7 7
8 | 5 5 6 7 7 7 7
"""


def _rows(text):
    for line in text.strip().splitlines():
        head, *cells = line.split('|')
        yield [int(x) for x in head.split()], [[int(x) for x in c.split()] for c in cells]


def test_table_a_every_cell():
    n = 0
    for (ua, la), cells in _rows(TABLE_A_TEXT):
        for w, twists in enumerate(cells, start=1):
            for t, expected in enumerate(twists, start=1):
                assert T.rula_table_a(ua, la, w, t) == expected, (ua, la, w, t)
                n += 1
    assert n == T.RULA_TABLE_A.size == 144


def test_table_b_every_cell():
    n = 0
    for (neck,), cells in _rows(TABLE_B_TEXT):
        for trunk, legs in enumerate(cells, start=1):
            for leg, expected in enumerate(legs, start=1):
                assert T.rula_table_b(neck, trunk, leg) == expected
                n += 1
    assert n == T.RULA_TABLE_B.size == 72


def test_table_c_every_cell_and_caps():
    for (c,), (row,) in _rows(TABLE_C_TEXT):
        for d, expected in enumerate(row, start=1):
            assert T.rula_table_c(c, d) == expected
            assert T.rula_table_c(c + (8 if c == 8 else 0), d + (5 if d == 7 else 0)) == expected  # C>=8, D>=7 capped
    assert T.RULA_TABLE_C.shape == (8, 7)
    assert list(T.RULA_TABLE_C[5]) == [4, 4, 5, 6, 6, 7, 7]


@pytest.mark.parametrize('table', [T.RULA_TABLE_A, T.RULA_TABLE_B, T.RULA_TABLE_C])
def test_tables_monotone_and_read_only(table):
    for axis in range(table.ndim):
        assert np.all(np.diff(table, axis=axis) >= 0), axis
    with pytest.raises(ValueError):
        table[(0,) * table.ndim] = 9


@pytest.mark.parametrize('args', [(0, 1, 1, 1), (7, 1, 1, 1), (1, 4, 1, 1), (1, 1, 5, 1), (1, 1, 1, 3),
                                  (1.0, 1, 1, 1), (True, 1, 1, 1)])
def test_table_a_rejects_out_of_range(args):
    with pytest.raises(ValueError, match='must be an integer'):
        T.rula_table_a(*args)


def test_table_lookups_reject_bad_scores():
    with pytest.raises(ValueError, match='neck'):
        T.rula_table_b(7, 1, 1)
    with pytest.raises(ValueError, match='score_d'):
        T.rula_table_c(1, 0)


@pytest.mark.parametrize('score,level', [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4)])
def test_action_levels(score, level):
    got, wording = T.rula_action_level(score)
    assert got == level and wording


@pytest.mark.parametrize('score', [0, 8])
def test_action_level_out_of_range(score):
    with pytest.raises(ValueError):
        T.rula_action_level(score)


@pytest.mark.parametrize('angle,expected', [(-60, 2), (-20.1, 2), (-20.0, 1), (0, 1), (20.0, 1), (20.1, 2),
                                            (45.0, 2), (45.1, 3), (90.0, 3), (90.1, 4), (170, 4)])
def test_upper_arm_bands(angle, expected):
    assert R.upper_arm_base(angle) == expected


@pytest.mark.parametrize('angle,expected', [(0, 2), (59.9, 2), (60.0, 1), (80, 1), (100.0, 1), (100.1, 2), (150, 2)])
def test_lower_arm_bands(angle, expected):
    assert R.lower_arm_base(angle) == expected


@pytest.mark.parametrize('angle,expected', [(0, 1), (5.0, 1), (5.1, 2), (-5.1, 2), (15.0, 2), (-15.0, 2),
                                            (15.1, 3), (-15.1, 3)])
def test_wrist_bands(angle, expected):
    assert R.wrist_base(angle, neutral_tol_deg=5.0) == expected


@pytest.mark.parametrize('angle,expected', [(-5.1, 4), (-30, 4), (-5.0, 1), (0, 1), (10.0, 1), (10.1, 2),
                                            (20.0, 2), (20.1, 3), (60, 3)])
def test_neck_bands(angle, expected):
    assert R.neck_base(angle, neutral_tol_deg=5.0) == expected


@pytest.mark.parametrize('angle,expected', [(0, 1), (5.0, 1), (-5.0, 1), (5.1, 2), (20.0, 2), (20.1, 3), (60.0, 3),
                                            (60.1, 4), (-5.1, 2), (-40, 2)])
def test_trunk_bands(angle, expected):
    assert R.trunk_base(angle, neutral_tol_deg=5.0) == expected


def test_zero_tolerance_is_literal():
    assert R.trunk_base(0.0, 0.0) == 1 and R.trunk_base(0.1, 0.0) == 2
    assert R.neck_base(-0.1, 0.0) == 4 and R.wrist_base(0.1, 0.0) == 2


def _arm(flex=0.0, raised=False, abducted=False, elbow=80.0, across=False):
    return ArmPosture(flex, abducted, raised, elbow, across)


def _body(neck=0.0, neck_side=False, trunk=0.0, twist=False, side=False, legs=True, hip_trunk=180.0):
    return BodyPosture(neck, neck_side, trunk, twist, side, hip_trunk, legs, 0.0, 0.0)


def test_upper_arm_adjustments():
    assert R.upper_arm_options(_arm(30), False) == (2,)
    assert R.upper_arm_options(_arm(30, raised=True), False) == (3,)
    assert R.upper_arm_options(_arm(30, abducted=True), False) == (3,)
    assert R.upper_arm_options(_arm(30, raised=True, abducted=True), False) == (4,)
    assert R.upper_arm_options(_arm(30), True) == (1,)
    assert R.upper_arm_options(_arm(0), True) == (1,)                     # floored at 1
    assert R.upper_arm_options(_arm(120, raised=True, abducted=True), False) == (6,)
    assert R.upper_arm_options(_arm(30, raised=None), False) == (2, 3)   # open shoulder raise
    assert R.upper_arm_options(_arm(NAN, None, None), False) == (1, 2, 3, 4, 5, 6)


def test_lower_arm_adjustment():
    assert R.lower_arm_options(_arm(elbow=80)) == (1,)
    assert R.lower_arm_options(_arm(elbow=80, across=True)) == (2,)
    assert R.lower_arm_options(_arm(elbow=120, across=True)) == (3,)
    assert R.lower_arm_options(_arm(elbow=NAN, across=None)) == (1, 2, 3)


def test_wrist_and_twist():
    assert R.wrist_options(RulaInputs()) == (1, 2, 3, 4)
    assert R.wrist_options(RulaInputs(wrist_flexion_deg=0, wrist_deviated=False)) == (1,)
    assert R.wrist_options(RulaInputs(wrist_flexion_deg=10, wrist_deviated=True)) == (3,)
    assert R.wrist_options(RulaInputs(wrist_flexion_deg=-30, wrist_deviated=True)) == (4,)
    assert R.wrist_options(RulaInputs(wrist_flexion_deg=-30)) == (3, 4)
    assert R.wrist_twist_options(RulaInputs()) == (1, 2)
    assert R.wrist_twist_options(RulaInputs(wrist_twist_end_range=False)) == (1,)
    assert R.wrist_twist_options(RulaInputs(wrist_twist_end_range=True)) == (2,)


def test_neck_trunk_legs_adjustments():
    known = RulaInputs(neck_twisted=False)
    assert R.neck_options(_body(neck=15), known) == (2,)
    assert R.neck_options(_body(neck=15, neck_side=True), RulaInputs(neck_twisted=True)) == (4,)
    assert R.neck_options(_body(neck=-20, neck_side=True), RulaInputs(neck_twisted=True)) == (6,)
    assert R.neck_options(_body(neck=15), RulaInputs()) == (2, 3)       # neck twist unobserved by default
    assert R.trunk_options(_body(trunk=30), known) == (3,)
    assert R.trunk_options(_body(trunk=30, twist=True, side=True), known) == (5,)
    assert R.trunk_options(_body(trunk=70, twist=True, side=True), known) == (6,)
    seated = RulaInputs(seated=True, trunk_supported=True)
    assert R.trunk_options(_body(trunk=30, hip_trunk=95), seated) == (1,)
    assert R.trunk_options(_body(trunk=30, hip_trunk=90.0), seated) == (1,)
    assert R.trunk_options(_body(trunk=30, hip_trunk=80), seated) == (3,)   # hip-trunk < 90: not 'supported'
    assert R.legs_options(_body(legs=True), known) == (1,)
    assert R.legs_options(_body(legs=False), known) == (2,)
    assert R.legs_options(_body(legs=False), RulaInputs(seated=True)) == (1,)
    assert R.legs_options(_body(legs=None), known) == (1, 2)


@pytest.mark.parametrize('kw,expected', [
    ({}, 0), ({'load_kg': 1.99, 'load_pattern': 'static'}, 0), ({'load_kg': 2.0}, 1), ({'load_kg': 10.0}, 1),
    ({'load_kg': 2.0, 'load_pattern': 'static'}, 2), ({'load_kg': 10.0, 'load_pattern': 'repeated'}, 2),
    ({'load_kg': 10.01}, 2), ({'load_kg': 10.01, 'load_pattern': 'static'}, 3),
    ({'load_kg': 10.01, 'load_pattern': 'repeated'}, 3), ({'shock': True}, 3), ({'load_kg': 5, 'shock': True}, 3)])
def test_force_score(kw, expected):
    assert R.force_score(RulaInputs(**kw)) == expected


def test_muscle_use():
    assert R.muscle_use_score(RulaInputs()) == 0
    assert R.muscle_use_score(RulaInputs(static_posture=True)) == 1
    assert R.muscle_use_score(RulaInputs(repeated=True)) == 1
    assert R.muscle_use_score(RulaInputs(static_posture=True, repeated=True)) == 1


KNOWN = dict(wrist_flexion_deg=10.0, wrist_deviated=False, wrist_twist_end_range=False, neck_twisted=False)


def test_worked_example_office_typing():
    # Upper arm 30 deg flexion (2), elbow 80 (1), wrist 10 deg (2), twist mid (1) -> Table A 3.
    # Neck 15 (2), trunk 10 (2), legs balanced (1) -> Table B 2. No muscle/force -> C 3, D 2 -> grand 3.
    s = score_rula(_body(neck=15, trunk=10), {'right': _arm(30)}, RulaInputs(**KNOWN))
    assert s.segments['score_a_right'] == (3,) and s.segments['score_b'] == (2,)
    assert (s.score, s.score_min, s.score_max) == (3, 3, 3)
    assert T.rula_action_level(s.score)[0] == 2


def test_worked_example_overhead_static_load():
    # Upper arm 100 (4) + raised (5) + abducted (6); elbow 40 (2); wrist 20 deviated (4), twist end (2): A = 9.
    # Static 5 kg: muscle 1, force 2 -> C = 12 -> row 8. Neck -10 extension (4), trunk 30 (3), legs 1:
    # B = 6, D = 9 -> column 7. Table C[8][7] = 7.
    inputs = RulaInputs(load_kg=5, load_pattern='static', static_posture=True, wrist_flexion_deg=20,
                        wrist_deviated=True, wrist_twist_end_range=True, neck_twisted=False)
    s = score_rula(_body(neck=-10, trunk=30), {'left': _arm(100, True, True, 40)}, inputs)
    assert s.segments['score_a_left'] == (9,) and s.segments['score_c_left'] == (12,)
    assert s.segments['score_b'] == (6,) and s.segments['score_d'] == (9,)
    assert s.score == 7 and T.rula_action_level(7)[0] == 4


def test_range_over_open_wrist_and_neck_twist():
    body, arms = _body(neck=15, trunk=10), {'right': _arm(30)}
    s = score_rula(body, arms, RulaInputs())
    # every combination of the open inputs, brute force
    grands = set()
    for wf, wd, wt, nt in product((0.0, 10.0, 30.0), (False, True), (False, True), (False, True)):
        inp = RulaInputs(wrist_flexion_deg=wf, wrist_deviated=wd, wrist_twist_end_range=wt, neck_twisted=nt)
        grands.add(score_rula(body, arms, inp).score)
    assert (s.score_min, s.score_max) == (min(grands), max(grands))
    assert s.score == s.score_min < s.score_max
    assert rula_score_range(body, arms) == (s.score_min, s.score_max)


def test_worst_side_and_missing_arm():
    body = _body(neck=5, trunk=0)
    left, right = _arm(100, True, True, 30), _arm(0)
    s = score_rula(body, {'left': left, 'right': right}, RulaInputs(**KNOWN))
    assert s.side == 'left'
    assert s.score == score_rula(body, {'left': left}, RulaInputs(**KNOWN)).score
    missing = score_rula(body, {'left': ArmPosture(), 'right': right}, RulaInputs(**KNOWN))
    assert missing.score_min == score_rula(body, {'right': right}, RulaInputs(**KNOWN)).score
    assert missing.score_max > missing.score_min
    assert {'upper_arm_left', 'lower_arm_left'} <= missing.unobserved
    with pytest.raises(ValueError, match='arms'):
        score_rula(body, {}, RulaInputs())


def test_everything_unobserved_spans_the_table():
    s = score_rula(BodyPosture(), {'left': ArmPosture(), 'right': ArmPosture()})
    assert (s.score_min, s.score_max) == (1, 7)


@pytest.mark.parametrize('kw,match', [
    ({'load_kg': -1}, 'load_kg'), ({'load_kg': math.nan}, 'load_kg'), ({'load_kg': '3'}, 'load_kg'),
    ({'load_pattern': 'sometimes'}, 'load_pattern'), ({'shock': 1}, 'shock'), ({'seated': None}, 'seated'),
    ({'wrist_deviated': 'no'}, 'wrist_deviated'), ({'wrist_flexion_deg': 200}, 'wrist_flexion_deg'),
    ({'neutral_tol_deg': 25}, 'neutral_tol_deg'), ({'trunk_supported': True}, 'seated')])
def test_inputs_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        RulaInputs(**kw)


def test_assumed_lists_every_input():
    assumed = RulaInputs(load_kg=3).assumed()
    assert 'load_kg=3' in assumed and 'wrist_flexion_deg=unobserved(range)' in assumed
    assert 'neck_twisted=unobserved(range)' in assumed and 'seated=False' in assumed
    assert 'wrist_deviated=True' in RulaInputs(wrist_deviated=True).assumed()


def test_posture_validation():
    with pytest.raises(ValueError, match='upper_arm_flexion_deg'):
        ArmPosture(upper_arm_flexion_deg=1000)
    with pytest.raises(ValueError, match='legs_bilateral'):
        BodyPosture(legs_bilateral='yes')
