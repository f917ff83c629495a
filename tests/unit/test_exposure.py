"""Temporal RULA/REBA: filter, hysteresis at band boundaries, static and repetition detection, exposure summary."""
import math

import numpy as np
import pytest

from nvb_perception.ergonomics import ExposureConfig, ExposureTracker, Heuristics, RebaInputs, RulaInputs, assess_rula
from nvb_perception.ergonomics import rula as R
from nvb_perception.ergonomics.angles import NECK_NEUTRAL_DEG
from nvb_perception.ergonomics.exposure import hysteresis
from nvb_perception.skeleton import H36M as J

UPPER = [J.SPINE, J.THORAX, J.NECK, J.HEAD, J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST, J.RIGHT_SHOULDER,
         J.RIGHT_ELBOW, J.RIGHT_WRIST]
TO_CAMERA = np.diag([1.0, -1.0, -1.0])   # body (x left, y up, z forward) -> optical frame of a facing camera
KNOWN = dict(wrist_flexion_deg=0.0, wrist_deviated=False, wrist_twist_end_range=False, neck_twisted=False)


def _rx(deg):
    t = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])


def pose(trunk=0.0, right_arm=0.0, right_elbow=80.0):
    """Standing skeleton with trunk flexion, right-arm flexion and right-elbow flexion (degrees), camera frame."""
    p = np.zeros((17, 3))
    for side, x in (('LEFT', 1), ('RIGHT', -1)):
        p[J[f'{side}_HIP']], p[J[f'{side}_KNEE']], p[J[f'{side}_ANKLE']] = (.13 * x, 0, 0), (.13 * x, -.44, 0), \
            (.13 * x, -.88, 0)
        p[J[f'{side}_SHOULDER']], p[J[f'{side}_ELBOW']] = (.17 * x, .46, 0), (.17 * x, .18, 0)
        p[J[f'{side}_WRIST']] = p[J[f'{side}_ELBOW']] + (0, -0.25, 0)
    neutral = math.radians(NECK_NEUTRAL_DEG)                 # the head top of a neutral upright head
    p[J.SPINE], p[J.THORAX], p[J.NECK] = (0, .23, 0), (0, .48, 0), (0, .60, .03)
    p[J.HEAD] = (0, .48 + .24 * math.cos(neutral), .24 * math.sin(neutral))
    s, e = p[J.RIGHT_SHOULDER], p[J.RIGHT_ELBOW]
    fore = _rx(-right_elbow) @ (p[J.RIGHT_WRIST] - e)
    arm = _rx(-right_arm)
    p[J.RIGHT_ELBOW] = s + arm @ (e - s)
    p[J.RIGHT_WRIST] = p[J.RIGHT_ELBOW] + arm @ fore
    p[UPPER] = p[UPPER] @ _rx(trunk).T
    return p @ TO_CAMERA.T


def run(tracker, frames, fps=10.0, track=1, t0=0.0):
    out = []
    for i, p in enumerate(frames):
        out.append(tracker.update(track, int((t0 + i / fps) * 1e9), p))
    return out


def test_hysteresis_function():
    b = (20.0,)
    assert hysteresis(19.0, 21.0, b, 3.0) < 20.0                       # held below: 21 stays in the lower band
    assert hysteresis(19.0, 23.5, b, 3.0) == 23.5                      # beyond the margin: accepted
    assert hysteresis(25.0, 18.0, b, 3.0) > 20.0                       # held above: 18 stays above
    assert hysteresis(25.0, 16.0, b, 3.0) == 16.0
    assert hysteresis(math.nan, 21.0, b, 3.0) == 21.0 and math.isnan(hysteresis(19.0, math.nan, b, 3.0))
    assert hysteresis(19.0, 21.0, b, 0.0) == 21.0
    # closed band 60-100 of the lower arm: the held band's score is kept on both sides
    assert R.lower_arm_base(hysteresis(80.0, 58.0, (60.0, 100.0), 3.0)) == 1
    assert R.lower_arm_base(hysteresis(50.0, 62.0, (60.0, 100.0), 3.0)) == 2
    # jump over several bands lands next to the new band when within the margin
    assert 45.0 < hysteresis(10.0, 91.0, (20.0, 45.0, 90.0), 3.0) <= 90.0


def _trunk_scores(config, n=60):
    rng = np.random.default_rng(3)
    frames = [pose(trunk=20.0 + rng.uniform(-1.5, 1.5)) for _ in range(n)]
    tracker = ExposureTracker('RULA', RulaInputs(**KNOWN), config=config)
    return [dict(r.segment_scores)['trunk'] for r in run(tracker, frames)]


def test_hysteresis_stops_flicker_at_20_degrees():
    raw = _trunk_scores(ExposureConfig(tau_s=0.0, hysteresis_deg=0.0))
    assert set(raw) == {2, 3}                                            # noise around 20 deg flips the score
    assert len(set(_trunk_scores(ExposureConfig(tau_s=0.0, hysteresis_deg=3.0)))) == 1


def test_shoulder_raised_flag_does_not_flicker_at_its_threshold():
    """A shoulder gap wobbling +-0.01 around the threshold: per frame the flag flickers, the tracker holds it."""
    threshold = Heuristics().shoulder_gap_ratio
    frames = []
    for i in range(20):
        gap = 0.54 if i < 2 else threshold + (0.01 if i % 2 else -0.01)
        p = pose() @ TO_CAMERA                                # back to body coordinates (TO_CAMERA is its inverse)
        p[J.RIGHT_SHOULDER, 1] = .48 + .24 - gap * .48       # gap = (|thorax->head| + thorax - shoulder) / trunk
        frames.append(p @ TO_CAMERA.T)
    per_frame = [dict(assess_rula(p).segment_scores)['upper_arm_right'] for p in frames[2:]]
    assert len(set(per_frame)) == 2
    tracked = run(ExposureTracker('RULA', config=ExposureConfig(tau_s=0.0)), frames)
    assert len({dict(r.segment_scores)['upper_arm_right'] for r in tracked[3:]}) == 1


def test_filter_smooths_a_step():
    tracker = ExposureTracker('RULA', config=ExposureConfig(tau_s=0.5, hysteresis_deg=0.0))
    rs = run(tracker, [pose(trunk=0.0)] * 5 + [pose(trunk=40.0)] * 30)
    trunk = [dict(r.angles_deg)['trunk_flexion'] for r in rs]
    assert trunk[5] == pytest.approx(40 * (1 - math.exp(-0.1 / 0.5)), rel=1e-6)
    assert trunk[-1] == pytest.approx(40, abs=0.1) and all(np.diff(trunk[4:]) > 0)


def test_static_posture_after_one_minute():
    tracker = ExposureTracker('RULA', RulaInputs(**KNOWN))
    rs = run(tracker, [pose(right_arm=60.0)] * 330, fps=5.0)           # 66 s held
    early, late = dict(rs[250].segment_scores), dict(rs[-1].segment_scores)   # 50 s, 66 s
    assert early['muscle_use'] == 0 and late['muscle_use'] == 1
    assert 'static_posture=detected(right_upper_arm_flexion)' in rs[-1].assumed_inputs
    assert rs[-1].score >= rs[250].score


def test_neutral_standing_is_not_static():
    tracker = ExposureTracker('REBA', RebaInputs())
    rs = run(tracker, [pose()] * 330, fps=5.0)
    assert dict(rs[-1].segment_scores)['activity'] == 0


@pytest.mark.parametrize('period_s,repeated', [(5.0, True), (30.0, False)])
def test_repetition(period_s, repeated):
    fps = 5.0
    frames = [pose(right_elbow=70.0 + 40.0 * math.sin(2 * math.pi * i / fps / period_s)) for i in range(400)]
    tracker = ExposureTracker('RULA', RulaInputs(**KNOWN), config=ExposureConfig(tau_s=0.0))
    last = run(tracker, frames, fps=fps)[-1]
    assert (dict(last.segment_scores)['muscle_use'] == 1) is repeated
    assert any(s.startswith('repetition=detected(right_elbow') for s in last.assumed_inputs) is repeated


def test_exposure_summary_and_gaps():
    tracker = ExposureTracker('RULA', RulaInputs(**KNOWN), config=ExposureConfig(tau_s=0.0, sustained_s=5.0))
    run(tracker, [pose()] * 51)                                          # 5 s neutral
    run(tracker, [pose(trunk=70.0, right_arm=100.0)] * 81, t0=10.0)      # gap of 5 s (not counted), 8 s bent
    s = tracker.summary(1)
    assert s.duration_s == pytest.approx(13.0)
    assert sum(s.time_at_action_level_s.values()) == pytest.approx(s.duration_s)
    bent = tracker.update(1, int(18.1e9), pose(trunk=70.0, right_arm=100.0))
    assert s.worst_sustained_score == bent.score and s.longest_at_worst_s == pytest.approx(8.0)
    assert s.worst_sustained_score_max >= s.worst_sustained_score
    assert s.time_at_segment_score_s['trunk'][4] == pytest.approx(8.0)
    assert s.time_at_segment_score_s['trunk'][1] == pytest.approx(5.0)
    assert tracker.track_ids == (1,)
    tracker.drop(1)
    with pytest.raises(KeyError):
        tracker.summary(1)


def test_tracks_are_independent():
    tracker = ExposureTracker('REBA', config=ExposureConfig(tau_s=1.0))
    a = tracker.update(1, 0, pose(trunk=50.0))
    b = tracker.update(2, 0, pose())
    assert a.track_id == 1 and b.track_id == 2
    assert dict(b.angles_deg)['trunk_flexion'] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize('kw,match', [({'tau_s': -1}, 'tau_s'), ({'static_s': 0}, 'static_s'),
                                      ({'hysteresis_deg': math.nan}, 'hysteresis_deg')])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        ExposureConfig(**kw)


def test_tracker_validation():
    with pytest.raises(ValueError, match='method'):
        ExposureTracker('OWAS')
    with pytest.raises(ValueError, match='ExposureConfig'):
        ExposureTracker('RULA', config={'tau_s': 1})
    with pytest.raises(ValueError, match='RebaInputs'):
        ExposureTracker('REBA', RulaInputs())
