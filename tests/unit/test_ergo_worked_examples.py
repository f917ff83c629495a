"""Worked RULA / REBA examples scored from angle inputs, through the same posture flags as a skeleton.

Each posture is given as the angles and measures `ergonomics.angles.measure` returns, scored by `assess_angles`
(thresholds -> flags -> segment scores -> tables), and checked against the score worked out by hand with the
published worksheet steps and tables: RULA = McAtamney & Corlett, Applied Ergonomics 24(2):91-99, 1993 (body-part
scores Figs 1-2, Tables A-C, action levels); REBA = Hignett & McAtamney, Applied Ergonomics 31:201-205, 2000
(Tables A-C, load, coupling, activity). The tables are those of ../shared/ERGONOMICS.md; each comment shows the
look-ups. The RULA paper's Stage 3 statement "for a grand score of 1 or 2, the working posture would have scored
2 or less for both body segment groups A and B, and the scores for muscle use and force would be 0" is checked on
Table C itself.
"""
import pytest

from nvb_perception.ergonomics import RebaInputs, RulaInputs
from nvb_perception.ergonomics.assess import assess_angles
from nvb_perception.ergonomics.tables import RULA_TABLE_C

NEUTRAL_ANGLES = dict(trunk_flexion=0.0, trunk_side_bend=0.0, trunk_twist=0.0, neck_flexion=0.0, neck_side_bend=0.0,
                      hip_trunk=180.0, left_upper_arm_flexion=0.0, right_upper_arm_flexion=0.0,
                      left_upper_arm_abduction=0.0, right_upper_arm_abduction=0.0, left_elbow_flexion=10.0,
                      right_elbow_flexion=10.0, left_knee_flexion=0.0, right_knee_flexion=0.0)
NEUTRAL_MEASURES = dict(left_shoulder_gap=0.55, right_shoulder_gap=0.55, left_wrist_lateral=1.0,
                        right_wrist_lateral=1.0, ankle_height_diff_m=0.0)
RULA_WRIST = dict(wrist_flexion_deg=0.0, wrist_deviated=False, wrist_twist_end_range=False, neck_twisted=False)
REBA_WRIST = dict(wrist_flexion_deg=0.0, wrist_deviated=False, wrist_twisted=False, neck_twisted=False,
                  upper_arm_rotated=False)


def score(method, inputs, side='right', **changes):
    """assess_angles of the neutral posture with `changes` (angle or measure names) applied."""
    angles, measures = dict(NEUTRAL_ANGLES), dict(NEUTRAL_MEASURES)
    for name, value in changes.items():
        (measures if name in measures else angles)[name] = value
    risk = assess_angles(method, angles, measures, inputs, side=side)
    return risk, dict(risk.segment_scores)


def test_rula_grand_score_1_or_2_needs_both_groups_at_most_2_and_no_muscle_or_force():
    for c in range(1, 9):
        for d in range(1, 8):
            assert (RULA_TABLE_C[c - 1, d - 1] <= 2) == (c <= 2 and d <= 2), (c, d)


def test_rula_standing_relaxed():
    # Upper arm 5 deg (1), elbow 15 (<60: 2), wrist neutral (1), twist mid (1): Table A[1][2][1][1] = 2 = C.
    # Neck 5 (1), trunk 2 (erect: 1), legs balanced (1): Table B[1][1][1] = 1 = D. Table C[2][1] = 2, level 1.
    r, seg = score('RULA', RulaInputs(**RULA_WRIST), trunk_flexion=2.0, neck_flexion=5.0,
                   right_upper_arm_flexion=5.0, right_upper_arm_abduction=8.0, right_elbow_flexion=15.0)
    assert (seg['upper_arm_right'], seg['lower_arm_right'], seg['score_a_right'], seg['score_b']) == (1, 2, 2, 1)
    assert (r.score, r.score_min, r.score_max, r.action_level) == (2, 2, 2, 1)
    # wrist unobserved: least severe 2 (as above), most severe wrist 4 + twist 2: Table A[1][2][4][2] = 3 -> 3
    r, _ = score('RULA', RulaInputs(neck_twisted=False), trunk_flexion=2.0, neck_flexion=5.0, right_elbow_flexion=15.0)
    assert (r.score, r.score_max) == (2, 3)


def test_rula_keyboard_work():
    # Upper arm 30 (2), elbow 80 (1), wrist 10 (2), twist mid (1): Table A[2][1][2][1] = 3 = C.
    # Neck 15 (2), trunk 10 (2), legs 1: Table B[2][2][1] = 2 = D. Table C[3][2] = 3 -> level 2 (investigate).
    r, seg = score('RULA', RulaInputs(**dict(RULA_WRIST, wrist_flexion_deg=10.0)), neck_flexion=15.0,
                   trunk_flexion=10.0, right_upper_arm_flexion=30.0, right_elbow_flexion=80.0,
                   right_wrist_lateral=0.6)
    assert (seg['upper_arm_right'], seg['lower_arm_right'], seg['neck'], seg['trunk']) == (2, 1, 2, 2)
    assert (r.score, r.action_level) == (3, 2)


def test_rula_overhead_static_load_with_neck_extension():
    # Upper arm 100 (4) + abducted (5) + shoulder raised (6); elbow 40 (2); wrist 20 (3) + deviated (4), twist at
    # end of range (2): Table A[6][2][4][2] = 9; static (+1), 5 kg static (+2): C = 12 -> row 8+.
    # Neck -15 (in extension: 4), trunk 30 (3), legs 1: Table B[4][3][1] = 6; D = 6 + 1 + 2 = 9 -> column 7+.
    # Table C[8][7] = 7: investigate and change immediately (level 4).
    inputs = RulaInputs(load_kg=5, load_pattern='static', static_posture=True, wrist_flexion_deg=20,
                        wrist_deviated=True, wrist_twist_end_range=True, neck_twisted=False)
    r, seg = score('RULA', inputs, side='left', neck_flexion=-15.0, trunk_flexion=30.0, left_upper_arm_flexion=100.0,
                   left_upper_arm_abduction=50.0, left_shoulder_gap=0.30, left_elbow_flexion=40.0)
    assert (seg['upper_arm_left'], seg['lower_arm_left'], seg['wrist_left']) == (6, 2, 4)
    assert (seg['score_a_left'], seg['score_c_left'], seg['score_b'], seg['score_d']) == (9, 12, 6, 9)
    assert (r.score, r.action_level) == (7, 4)


def test_rula_reaching_across_the_body():
    # Upper arm 50 (3), elbow 110 (>100: 2) + across the midline (3), wrist neutral (1), twist mid (1):
    # Table A[3][3][1][1] = 4 = C. Neck 0 (1), trunk 0 (1), legs 1: B = 1 = D. Table C[4][1] = 3.
    r, seg = score('RULA', RulaInputs(**RULA_WRIST), right_upper_arm_flexion=50.0, right_elbow_flexion=110.0,
                   right_wrist_lateral=-0.3)
    assert (seg['upper_arm_right'], seg['lower_arm_right'], seg['score_a_right']) == (3, 3, 4)
    assert r.score == 3


def test_reba_standing_relaxed():
    # Trunk 1, neck 1, legs bilateral 1: Table A[1][1][1] = 1, load 0 -> A 1. Upper arm 1, lower arm (elbow 10:
    # 2), wrist 1: Table B[1][2][1] = 1, coupling good -> B 1. Table C[1][1] = 1, activity 0 -> 1, negligible.
    r, seg = score('REBA', RebaInputs(**REBA_WRIST), trunk_flexion=2.0, neck_flexion=5.0)
    assert (seg['table_a'], seg['score_b_right']) == (1, 1)
    assert (r.score, r.action_level) == (1, 0)


def test_reba_lifting_with_twisted_trunk():
    # Trunk 45 (3) + twisted (4); neck 25 (2); legs bilateral (1) + knees 40 (+1 = 2): Table A[4][2][2] = 6;
    # load 8 kg (+1) -> A 7. Upper arm 50 (3), elbow 120 (2), wrist 20 (2): Table B[3][2][2] = 5; coupling fair
    # (+1) -> B 6. Table C[7][6] = 9; static (+1) -> 10, high risk (level 3).
    inputs = RebaInputs(load_kg=8, coupling='fair', static_posture=True,
                        **dict(REBA_WRIST, wrist_flexion_deg=20.0))
    r, seg = score('REBA', inputs, trunk_flexion=45.0, trunk_twist=15.0, neck_flexion=25.0, left_knee_flexion=40.0,
                   right_knee_flexion=40.0, right_upper_arm_flexion=50.0, right_elbow_flexion=120.0)
    assert (seg['trunk'], seg['neck'], seg['legs'], seg['table_a'], seg['score_a']) == (4, 2, 2, 6, 7)
    assert (seg['table_b_right'], seg['score_b_right']) == (5, 6)
    assert (r.score, r.action_level) == (10, 3)


def test_reba_one_leg_kneeling_arm_extended_back():
    # Trunk 25 (3); neck 10 (1); one foot raised (unilateral: 2) + knee 70 (+2 = 4): Table A[3][1][4] = 6 = A.
    # Upper arm -30 (extension > 20: 2), elbow 90 (1), wrist 1: Table B[2][1][1] = 1 = B. Table C[6][1] = 6,
    # medium risk (level 2).
    r, seg = score('REBA', RebaInputs(**REBA_WRIST), trunk_flexion=25.0, neck_flexion=10.0, ankle_height_diff_m=0.3,
                   left_knee_flexion=70.0, right_upper_arm_flexion=-30.0, right_elbow_flexion=90.0)
    assert (seg['trunk'], seg['neck'], seg['legs'], seg['table_a']) == (3, 1, 4, 6)
    assert (seg['upper_arm_right'], seg['table_b_right']) == (2, 1)
    assert (r.score, r.action_level) == (6, 2)


@pytest.mark.parametrize('method', ['RULA', 'REBA'])
def test_neutral_measures_fire_no_flag(method):
    """The relaxed values used above (shoulder gap 0.55, wrist at the shoulder's width) are inside every threshold."""
    inputs = RulaInputs(**RULA_WRIST) if method == 'RULA' else RebaInputs(**REBA_WRIST)
    r, seg = score(method, inputs, side='worst')
    assert seg['upper_arm_left'] == seg['upper_arm_right'] == 1 and r.score <= 2
