"""Angles from synthetic H36M skeletons posed by known rotations and seen from arbitrary cameras; assess_*."""
import math

import numpy as np
import pytest

from nvb_perception.ergonomics import (
    Heuristics,
    RebaInputs,
    RulaInputs,
    assess_reba,
    assess_rula,
    assess_skeleton,
    measure,
)
from nvb_perception.ergonomics.angles import NECK_NEUTRAL_DEG
from nvb_perception.skeleton import H36M as J
from nvb_perception.types import ErgonomicRisk, Skeleton3D

UPPER = [J.SPINE, J.THORAX, J.NECK, J.HEAD, J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST, J.RIGHT_SHOULDER,
         J.RIGHT_ELBOW, J.RIGHT_WRIST]
# body coordinates: X = person's left, Y = up, Z = forward (metres), pelvis at the origin
BODY_TO_FACING_CAMERA = np.diag([1.0, -1.0, -1.0])   # person facing an optical-frame camera (y down, z forward)


def canonical():
    """Standing, arms hanging straight, H36M-like proportions."""
    p = np.zeros((17, 3))
    for side, x in (('LEFT', 1), ('RIGHT', -1)):
        p[J[f'{side}_HIP']] = (0.13 * x, 0, 0)
        p[J[f'{side}_KNEE']] = (0.13 * x, -0.44, 0)
        p[J[f'{side}_ANKLE']] = (0.13 * x, -0.88, 0)
        p[J[f'{side}_SHOULDER']] = (0.17 * x, 0.46, 0)
        p[J[f'{side}_ELBOW']] = (0.17 * x, 0.18, 0)
        p[J[f'{side}_WRIST']] = (0.17 * x, -0.07, 0)
    p[J.SPINE], p[J.THORAX], p[J.NECK], p[J.HEAD] = (0, 0.23, 0), (0, 0.48, 0), (0, 0.60, 0.03), neutral_head()
    return p


def neutral_head(thorax_y=0.48, length=0.24):
    """Head top of a neutral upright head: NECK_NEUTRAL_DEG ahead of the trunk axis (the H36M convention here)."""
    t = math.radians(NECK_NEUTRAL_DEG)
    return (0, thorax_y + length * math.cos(t), length * math.sin(t))


def rot(axis, deg):
    """Rotation matrix about `axis` by `deg` (right-hand rule)."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = math.radians(deg)
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def turn(p, joints, center, axis, deg):
    q = p.copy()
    c = p[center] if isinstance(center, (int, np.integer)) else np.asarray(center)
    q[joints] = (p[joints] - c) @ rot(axis, deg).T + c
    return q


X, Y, Z = (1, 0, 0), (0, 1, 0), (0, 0, 1)


def arm_joints(side):
    return [J[f'{side.upper()}_ELBOW'], J[f'{side.upper()}_WRIST']]


def to_camera(p, seed=0):
    """Pose -> an arbitrary camera frame (random rotation and offset); returns (points, up vector)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rc = q * np.sign(np.linalg.det(q))
    m = rc @ BODY_TO_FACING_CAMERA
    return p @ m.T + rng.normal(size=3) * 2, m @ np.array(Y)


def angles_of(p, seed=0, **kw):
    cam, up = to_camera(p, seed)
    return measure(cam, up=up, **kw)


@pytest.mark.parametrize('seed', range(4))
def test_canonical_is_neutral(seed):
    a, m = angles_of(canonical(), seed)
    for name in ('trunk_flexion', 'trunk_side_bend', 'trunk_twist', 'neck_flexion', 'neck_side_bend',
                 'left_upper_arm_flexion', 'right_upper_arm_abduction', 'left_elbow_flexion', 'right_knee_flexion'):
        assert a[name] == pytest.approx(0, abs=1e-6), name
    assert a['hip_trunk'] == pytest.approx(180)
    assert m['ankle_height_diff_m'] == pytest.approx(0, abs=1e-9)
    assert m['left_wrist_lateral'] == pytest.approx(1.0)
    assert m['left_shoulder_gap'] == pytest.approx((0.24 + 0.02) / 0.48)


def test_default_up_is_camera_minus_y():
    a, _ = measure(turn(canonical(), UPPER, J.PELVIS, X, 30) @ BODY_TO_FACING_CAMERA.T)
    assert a['trunk_flexion'] == pytest.approx(30)


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('deg', [-20, 10, 30, 75])
def test_trunk_flexion(deg, seed):
    a, _ = angles_of(turn(canonical(), UPPER, J.PELVIS, X, deg), seed)
    assert a['trunk_flexion'] == pytest.approx(deg, abs=1e-6)
    assert a['trunk_side_bend'] == pytest.approx(0, abs=1e-6)
    assert a['neck_flexion'] == pytest.approx(0, abs=1e-6)           # the neck moves with the trunk
    assert a['left_upper_arm_flexion'] == pytest.approx(0, abs=1e-6)  # arms relative to the trunk
    assert a['hip_trunk'] == pytest.approx(180 - abs(deg))   # unsigned


@pytest.mark.parametrize('seed', range(3))
def test_trunk_side_bend_and_twist(seed):
    a, _ = angles_of(turn(canonical(), UPPER, J.PELVIS, Z, -25), seed)   # top moves to the person's left
    assert a['trunk_side_bend'] == pytest.approx(25) and a['trunk_flexion'] == pytest.approx(0, abs=1e-6)
    a, _ = angles_of(turn(canonical(), UPPER, J.PELVIS, Y, 35), seed)    # shoulders turned to the left
    assert a['trunk_twist'] == pytest.approx(35) and a['trunk_flexion'] == pytest.approx(0, abs=1e-6)
    a, _ = angles_of(turn(canonical(), UPPER, J.PELVIS, Y, -15), seed)
    assert a['trunk_twist'] == pytest.approx(-15)


@pytest.mark.parametrize('seed', range(3))
def test_neck_relative_to_trunk(seed):
    p = turn(canonical(), [J.NECK, J.HEAD], J.THORAX, X, 25)
    a, _ = angles_of(turn(p, UPPER, J.PELVIS, X, 40), seed)
    assert a['neck_flexion'] == pytest.approx(25) and a['trunk_flexion'] == pytest.approx(40)
    a, _ = angles_of(turn(canonical(), [J.NECK, J.HEAD], J.THORAX, X, -15), seed)
    assert a['neck_flexion'] == pytest.approx(-15)
    t = math.radians(NECK_NEUTRAL_DEG)                  # about the axis across the neutral head, in the sagittal plane
    a, _ = angles_of(turn(canonical(), [J.NECK, J.HEAD], J.THORAX, (0, -math.sin(t), math.cos(t)), 20), seed)
    assert a['neck_side_bend'] == pytest.approx(-20)                   # towards the right


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('side', ['left', 'right'])
def test_upper_arm(side, seed):
    shoulder = J[f'{side.upper()}_SHOULDER']
    a, _ = angles_of(turn(canonical(), arm_joints(side), shoulder, X, -100), seed)   # raised forward 100
    assert a[f'{side}_upper_arm_flexion'] == pytest.approx(100)
    assert a[f'{side}_upper_arm_abduction'] == pytest.approx(0, abs=1e-6)
    a, _ = angles_of(turn(canonical(), arm_joints(side), shoulder, X, 30), seed)     # extended 30
    assert a[f'{side}_upper_arm_flexion'] == pytest.approx(-30)
    out = 1 if side == 'left' else -1
    a, _ = angles_of(turn(canonical(), arm_joints(side), shoulder, Z, 90 * out), seed)  # abducted 90 sideways
    assert a[f'{side}_upper_arm_flexion'] == pytest.approx(90)
    assert a[f'{side}_upper_arm_abduction'] == pytest.approx(90)
    a, _ = angles_of(turn(canonical(), arm_joints(side), shoulder, X, -170), seed)   # overhead, not extension
    assert a[f'{side}_upper_arm_flexion'] == pytest.approx(170)


def arm_towards(elevation, azimuth, side='left'):
    """Canonical pose with one straight arm `elevation` deg from hanging, in the plane `azimuth` deg from forward.

    Azimuth: 0 forward, 90 sideways out, 180 backwards.
    """
    e, az = math.radians(elevation), math.radians(azimuth)
    out = 1 if side == 'left' else -1
    d = np.array([out * math.sin(e) * math.sin(az), -math.cos(e), math.sin(e) * math.cos(az)])
    p = canonical()
    s = p[J[f'{side.upper()}_SHOULDER']]
    p[J[f'{side.upper()}_ELBOW']], p[J[f'{side.upper()}_WRIST']] = s + 0.28 * d, s + 0.53 * d
    return p


@pytest.mark.parametrize('side', ['left', 'right'])
@pytest.mark.parametrize('elevation', [10, 30, 60, 120])
def test_upper_arm_angles_are_continuous_around_the_body(elevation, side):
    """Swinging the arm's plane from forward through sideways to backwards changes the angles smoothly."""
    rows = [angles_of(arm_towards(elevation, az, side), seed=az % 3)[0] for az in range(0, 181, 2)]
    flexion = np.array([r[f'{side}_upper_arm_flexion'] for r in rows])
    abduction = np.array([r[f'{side}_upper_arm_abduction'] for r in rows])
    assert flexion[0] == pytest.approx(elevation) and flexion[45] == pytest.approx(elevation)   # forward, sideways
    assert flexion[-1] == pytest.approx(elevation if elevation > 90 else -elevation)   # behind: extension / overhead
    assert np.max(np.abs(np.diff(flexion))) < 6.0 and np.max(np.abs(np.diff(abduction))) < 3.0
    assert abduction[45] == pytest.approx(elevation if elevation <= 90 else 180 - elevation)


def test_upper_arm_back_and_out_is_between_extension_and_sideways():
    """A hanging arm a little back and a little out is near neutral, not +-elevation depending on which wins."""
    for azimuth in (130, 135, 140):
        a, _ = angles_of(arm_towards(15, azimuth))
        assert abs(a['left_upper_arm_flexion']) < 5.0


@pytest.mark.parametrize('seed', range(3))
def test_elbow_and_knee(seed):
    p = turn(canonical(), [J.LEFT_WRIST], J.LEFT_ELBOW, X, -90)
    p = turn(p, [J.RIGHT_ANKLE], J.RIGHT_KNEE, X, 45)
    a, m = angles_of(p, seed)
    assert a['left_elbow_flexion'] == pytest.approx(90) and a['right_elbow_flexion'] == pytest.approx(0, abs=1e-6)
    assert a['right_knee_flexion'] == pytest.approx(45) and a['left_knee_flexion'] == pytest.approx(0, abs=1e-6)
    assert m['ankle_height_diff_m'] == pytest.approx(0.44 * (1 - math.cos(math.radians(45))))


def test_wrist_across_midline_and_shrug():
    p = canonical()
    p[J.RIGHT_WRIST] = (0.05, 0.2, 0.3)          # right hand reaching past the midline to the left
    p[J.LEFT_SHOULDER] += (0, 0.08, 0)            # left shoulder shrugged
    a, m = measure(p @ BODY_TO_FACING_CAMERA.T)
    assert m['right_wrist_lateral'] < 0 and m['left_shoulder_gap'] < 0.45 < m['right_shoulder_gap']


def test_shoulder_raise_both_h36m_conventions_and_not_from_neck_flexion():
    _, m = angles_of(turn(canonical(), [J.NECK, J.HEAD], J.THORAX, X, 40), seed=1)
    assert m['left_shoulder_gap'] == pytest.approx((0.24 + 0.02) / 0.48)       # neck flexion changes nothing
    # blazepose_to_h36m convention: thorax = mid-shoulder, so a symmetric shrug lifts the thorax too
    q = canonical()
    q[[J.LEFT_SHOULDER, J.RIGHT_SHOULDER], 1] = 0.48
    q[J.HEAD] = (0, 0.73, 0)
    _, m = angles_of(q, seed=2)
    assert m['left_shoulder_gap'] == pytest.approx(0.25 / 0.48) and m['left_shoulder_gap'] > 0.45
    q[[J.LEFT_SHOULDER, J.RIGHT_SHOULDER, J.THORAX], 1] += 0.06
    cam, up = to_camera(q, seed=2)
    _, m = measure(cam, up=up)
    assert m['left_shoulder_gap'] == pytest.approx(0.19 / 0.54) and m['right_shoulder_gap'] < 0.45
    seg = dict(assess_rula(cam, up=up).segment_scores)
    assert seg['upper_arm_left'] == seg['upper_arm_right'] == 2                  # 1 + shoulder raised


@pytest.mark.parametrize('missing,nan_names', [
    (J.HEAD, ['neck_flexion', 'neck_side_bend']),
    (J.LEFT_ELBOW, ['left_upper_arm_flexion', 'left_upper_arm_abduction', 'left_elbow_flexion']),
    (J.THORAX, ['trunk_flexion', 'neck_flexion', 'left_upper_arm_flexion', 'hip_trunk']),
    (J.RIGHT_ANKLE, ['right_knee_flexion'])])
def test_missing_joint_gives_nan(missing, nan_names):
    p = canonical() @ BODY_TO_FACING_CAMERA.T
    conf = np.ones(17)
    conf[missing] = 0.1
    for joints, c in ((p, conf), (np.where(np.arange(17)[:, None] == missing, np.nan, p), None)):
        a, _ = measure(joints, c)
        for name in nan_names:
            assert math.isnan(a[name]), name
        assert not math.isnan(a['right_elbow_flexion'])


def test_missing_hip_falls_back_to_shoulders_for_heading():
    p = turn(canonical(), UPPER, J.PELVIS, X, 30) @ BODY_TO_FACING_CAMERA.T
    p[J.LEFT_HIP] = np.nan
    a, _ = measure(p)
    assert a['trunk_flexion'] == pytest.approx(30) and math.isnan(a['trunk_twist'])


@pytest.mark.parametrize('bad', [np.zeros((16, 3)), np.zeros((17, 2)), np.zeros(51)])
def test_bad_shapes(bad):
    with pytest.raises(ValueError, match='shape'):
        measure(bad)
    with pytest.raises(ValueError, match='shape'):
        assess_rula(bad)


@pytest.mark.parametrize('up', [(0, 0, 0), (0, np.nan, 1), (0, 1)])
def test_bad_up(up):
    with pytest.raises(ValueError, match='up'):
        measure(canonical(), up=up)


def test_bad_confidence_side_inputs_heuristics():
    p = canonical()
    with pytest.raises(ValueError, match='confidence'):
        measure(p, np.ones(16))
    with pytest.raises(ValueError, match='side'):
        assess_rula(p, side='both')
    with pytest.raises(ValueError, match='RulaInputs'):
        assess_rula(p, inputs=RebaInputs())
    with pytest.raises(ValueError, match='abduction_deg'):
        Heuristics(abduction_deg=-1)


def test_assess_rula_standing_reaching():
    # Trunk 30 flexion, right arm raised 100 forward with the elbow straight, seen by a tilted camera.
    p = turn(canonical(), arm_joints('right'), J.RIGHT_SHOULDER, X, -100)
    cam, up = to_camera(turn(p, UPPER, J.PELVIS, X, 30), seed=7)
    r = assess_rula(cam, np.ones(17), RulaInputs(), up=up, track_id=4)
    assert isinstance(r, ErgonomicRisk) and r.method == 'RULA' and r.track_id == 4 and r.side == 'worst'
    seg = dict(r.segment_scores)
    assert seg['trunk'] == 3 and seg['upper_arm_right'] == 4 and seg['lower_arm_right'] == 2
    assert seg['wrist_right'] == 0 and seg['legs'] == 1 and seg['neck'] == 1
    assert dict(r.angles_deg)['trunk_flexion'] == pytest.approx(30)
    # Table A[4][2][w][t] = 4..5; Table B[neck 1-2][3][1] = 3..4 -> Table C[4..5][3..4] = 3..5
    assert (r.score_min, r.score_max) == (3, 5) and r.score == 3
    assert 'wrist_right=unobserved(range 1-4)' in r.assumed_inputs
    assert 'neck=open(range 1-2)' in r.assumed_inputs and 'load_kg=0' in r.assumed_inputs
    assert r.action_level == 2
    right = assess_rula(cam, None, RulaInputs(), up=up, side='right')
    left = assess_rula(cam, None, RulaInputs(), up=up, side='left')
    assert right.score == r.score and left.score <= right.score and right.side == 'right'
    assert not any(k.endswith('_left') for k, _ in right.segment_scores)


def test_assess_missing_arm_gives_range_and_zero_segment():
    p = canonical() @ BODY_TO_FACING_CAMERA.T
    conf = np.ones(17)
    conf[[J.LEFT_ELBOW, J.LEFT_WRIST]] = 0
    known = RulaInputs(wrist_flexion_deg=0, wrist_deviated=False, wrist_twist_end_range=False, neck_twisted=False)
    r = assess_rula(p, conf, known)
    seg = dict(r.segment_scores)
    assert seg['upper_arm_left'] == 0 and seg['lower_arm_left'] == 0 and seg['upper_arm_right'] == 1
    assert r.score_min == r.score < r.score_max
    assert any(s.startswith('upper_arm_left=unobserved') for s in r.assumed_inputs)
    full = assess_rula(p, None, known)
    assert full.score_min == full.score_max == full.score


def test_assess_reba_squat_and_skeleton3d():
    p = canonical()
    for side in ('LEFT', 'RIGHT'):
        p = turn(p, [J[f'{side}_ANKLE']], J[f'{side}_KNEE'], X, 90)     # knees flexed 90 (shank horizontal)
    r = assess_reba(p @ BODY_TO_FACING_CAMERA.T, inputs=RebaInputs(load_kg=6))
    seg = dict(r.segment_scores)
    assert seg['legs'] == 3 and seg['load'] == 1 and r.method == 'REBA'
    assert 0 <= r.action_level <= 4 and r.score_min <= r.score <= r.score_max
    sk = Skeleton3D(positions=p @ BODY_TO_FACING_CAMERA.T, confidence=np.ones(17), track_id=9)
    r2 = assess_skeleton(sk, 'REBA', RebaInputs(load_kg=6))
    assert r2.track_id == 9 and r2.score == r.score
    with pytest.raises(ValueError, match='method'):
        assess_skeleton(sk, 'OWAS')
    with pytest.raises(ValueError, match='h36m17'):
        assess_skeleton(Skeleton3D(positions=np.zeros((33, 3)), confidence=np.ones(33), joint_set='blazepose33'))


def test_nothing_observed():
    r = assess_rula(np.full((17, 3), np.nan))
    assert (r.score_min, r.score_max) == (1, 7)
    assert all(v == 0 for k, v in r.segment_scores if k in ('trunk', 'neck', 'legs', 'upper_arm_left'))
    r = assess_reba(np.full((17, 3), np.nan))
    assert (r.score_min, r.score_max) == (1, 11)   # Table C[9][9]: load, coupling and activity are inputs (0)
