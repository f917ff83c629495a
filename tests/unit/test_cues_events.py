"""Cue events, definitions/config, baselines and the time-series detectors (pure, no models)."""
import math

import numpy as np
import pytest

from nvb_perception.cues.baseline import Baseline, BaselineConfig
from nvb_perception.cues.definitions import DEFINITIONS, CueConfig, Hysteresis
from nvb_perception.cues.events import CompositeRule, CueEvents, Evidence
from nvb_perception.cues.signals import BandMotion, BlinkCounter, Oscillation
from nvb_perception.errors import ConfigError

FPS = 30
NS = 1_000_000_000


def run(events, values, onset=None):
    out = []
    for i, v in enumerate(values):
        c = events.update(int(i * NS / FPS), Evidence(v, 1.0, (('feat.x', v),), f'x={v}', onset))
        if c is not None:
            out.append((i, c))
    return out


def test_event_starts_after_min_duration_dated_back_and_ends_after_gap():
    ev = CueEvents('smile', 7, Hysteresis(on=0.5, off=0.3, min_duration_s=0.3, min_gap_s=0.2))
    values = [0.0] * 30 + [0.8] * 60 + [0.4] * 5 + [0.8] * 10 + [0.0] * 30   # a short dip between on/off
    out = run(ev, values)
    first_i, first = out[0]
    assert first.active and first_i == 30 + 9 and first.start_ns == 30 * NS // FPS   # 0.3 s later, dated back
    ended = [c for _, c in out if not c.active]
    assert len(ended) == 1                                   # the dip did not split the event
    e = ended[0]
    assert e.start_ns == first.start_ns and e.end_ns == int(105 * NS / FPS)   # the first frame past `off`
    assert 0.5 <= e.confidence <= 1.0 and e.track_id == 7 and e.name == 'smile'
    names = dict(e.evidence)
    assert names['thr.on'] == 0.5 and names['thr.off'] == 0.3 and names['event.duration_s'] > 2.0
    assert 'smile' in e.explanation and 'ended after' in e.explanation


def test_short_blips_and_falling_hysteresis():
    ev = CueEvents('self_touch_face', 0, Hysteresis(on=1.0, off=1.5, min_duration_s=0.3, min_gap_s=0.3))
    assert not run(ev, [2.0] * 10 + [0.5] * 5 + [2.0] * 40)            # 0.17 s below `on`: no event
    out = run(CueEvents('self_touch_face', 0, Hysteresis(1.0, 1.5, 0.3, 0.3)), [2.0] * 10 + [0.5] * 30 + [2.0] * 30)
    assert out and out[0][1].active and not out[-1][1].active


def test_detector_onset_and_missing_inputs():
    ev = CueEvents('head_nod', 0, Hysteresis(1.0, 0.5, 0.0, 0.3, max_missing_s=0.5))
    out = run(ev, [0.0] * 10 + [1.0] * 10 + [math.nan] * 30, onset=int(5 * NS / FPS))
    assert out[0][1].start_ns == int(5 * NS / FPS)                       # the detector's own onset
    ended = [c for _, c in out if not c.active]
    assert len(ended) == 1 and ended[0].end_ns == int(19 * NS / FPS)    # last observed frame
    assert 'no longer observed' in ended[0].explanation
    active_while_missing = [i for i, c in out if c.active and i >= 20]
    assert active_while_missing and max(active_while_missing) <= 20 + 16   # held up to max_missing_s


def test_margin_and_confidence():
    h = Hysteresis(0.4, 0.2)
    assert h.margin(0.4) == pytest.approx(0.5) and h.margin(0.6) == pytest.approx(1.0) and h.margin(0.2) == 0.0
    falling = Hysteresis(1.0, 1.5)
    assert falling.margin(1.0) == pytest.approx(0.5) and falling.margin(0.5) == 1.0 and not falling.rising


def test_composite_rule_cites_its_parts():
    rule = CompositeRule('touch_and_avert', ('self_touch_face|self_touch_hands', 'gaze_aversion'))
    assert rule.evaluate({'self_touch_face': 0.8}).value == 0.0
    ev = rule.evaluate({'self_touch_hands': 0.6, 'self_touch_face': 0.9, 'gaze_aversion': 0.7})
    assert ev.value == 1.0 and ev.reliability == pytest.approx(0.7)
    assert dict(ev.items) == {'cue.self_touch_face': 0.9, 'cue.gaze_aversion': 0.7}


def test_config_from_dict_and_validation():
    cfg = CueConfig.from_dict({'smile': {'on': 0.5, 'off': 0.25}, 'face_gap_torso': 0.2,
                               'composites': [{'name': 'x', 'all': ['smile', 'gaze_aversion']}]})
    assert cfg.smile.on == 0.5 and cfg.smile.min_duration_s == CueConfig().smile.min_duration_s
    assert cfg.face_gap_torso == 0.2 and cfg.composites == (('x', ('smile', 'gaze_aversion')),)
    with pytest.raises(ConfigError, match='unknown cue config keys'):
        CueConfig.from_dict({'smiel': {'on': 1}})
    with pytest.raises(ConfigError, match='unknown hysteresis keys'):
        CueConfig.from_dict({'smile': {'start': 1}})
    with pytest.raises(ConfigError, match='unknown cues'):
        CueConfig(composites=(('x', ('smile', 'frown')),))
    with pytest.raises(ConfigError):
        Hysteresis(0.5, 0.5)
    with pytest.raises(ConfigError):
        BaselineConfig(mode='median')


def test_every_cue_has_a_definition_and_thresholds():
    cfg = CueConfig()
    for name, d in DEFINITIONS.items():
        assert len(d.text) > 40 and d.unit and isinstance(cfg.hysteresis(name), Hysteresis), name


def test_cues_yaml_matches_the_node_parameters():
    from pathlib import Path

    import yaml
    params = yaml.safe_load((Path(__file__).parents[2] / 'config' / 'cues.yaml').read_text())['/**/cue_node'][
        'ros__parameters']
    values = {}
    for key, value in params.items():
        if key.startswith('cues.') and key.count('.') == 2:
            _, cue, field = key.split('.')
            values.setdefault(cue, {})[field] = value
    cfg = CueConfig.from_dict(values)                       # every cue threshold key is a real one
    assert cfg.smile.on == params['cues.smile.on'] and params['baseline.mode'] in ('running_median', 'first_n')


def test_baseline_running_median_excludes_active_frames_after_calibration():
    b = Baseline(BaselineConfig(mode='running_median', window_s=10.0, sample_every_s=0.0, min_samples=5))
    assert math.isnan(b.value('x', math.nan)) and not b.ready('x')
    for i in range(300):                                    # 10 s of 1.0 (calibration), then 0.0 while "active"
        b.update('x', int(i * NS / FPS), 1.0)
    for i in range(300, 600):
        b.update('x', int(i * NS / FPS), 0.0, include=False)
    assert b.value('x', 5.0) == 1.0
    first = Baseline(BaselineConfig(mode='first_n', window_s=2.0, sample_every_s=0.0, min_samples=5))
    for i in range(200):
        first.update('x', int(i * NS / FPS), 1.0 if i < 60 else 3.0)
    assert first.value('x', 0.0) == 1.0                      # frozen after the first 2 s
    fixed = Baseline(BaselineConfig(mode='fixed'))
    fixed.update('x', 0, 3.0)
    assert fixed.value('x', 0.25) == 0.25


def test_oscillation_counts_swings_and_dates_the_onset():
    osc = Oscillation(4.0, (0.08, 0.8))
    t = np.arange(0, 5, 1 / FPS)
    sig = np.where((t > 2) & (t < 2.8), -5 * (1 - np.cos(2 * np.pi * 2.5 * (t - 2))), 0.0)
    out = [osc.update(int(ti * NS), v) for ti, v in zip(t, sig)]
    peak = max(o[0] for o in out)
    onsets = {o[1] for o in out if o[0] >= 2}
    assert peak >= 3 and len(onsets) == 1 and abs(onsets.pop() / NS - 2.0) < 0.05
    assert out[-1][0] == 0                                   # over once the head is still
    slow = Oscillation(4.0, (0.08, 0.8))
    ramp = [slow.update(int(ti * NS), 20 * min(ti, 2.0)) for ti in t]       # one slow turn: not a nod
    assert max(o[0] for o in ramp) <= 1


def test_blink_counter_and_rate():
    bc = BlinkCounter(0.5, 0.35, 0.5, 30.0)
    t = np.arange(0, 40, 1 / FPS)
    closure = np.zeros_like(t)
    for b in np.arange(1, 40, 3.0):                          # 20 blinks/min of 0.15 s
        closure[(t >= b) & (t < b + 0.15)] = 0.9
    closure[(t >= 20.5) & (t < 22.0)] = 0.9                  # a 1.5 s closure: not a blink
    found = [bc.update(int(ti * NS), v) for ti, v in zip(t, closure)]
    blinks = [f for f in found if f is not None]
    assert len(blinks) == 12                                 # the blink at 22 s merges into the closure
    assert bc.rate_per_min(int(40 * NS)) == pytest.approx(20, rel=0.15)


def test_band_motion_finds_a_periodic_component_above_white_noise():
    rng = np.random.default_rng(0)
    t = np.arange(0, 3, 1 / FPS)
    noise = BandMotion(3.0, (1.5, 5.0))
    fidget = BandMotion(3.0, (1.5, 5.0))
    for ti in t:
        jitter = rng.normal(0, 0.02, 2)
        a = noise.update(int(ti * NS), jitter)
        b = fidget.update(int(ti * NS), jitter + (0.08 * np.sin(2 * np.pi * 3 * ti), 0))
    assert b[1] > 5 > a[1] and b[2] == pytest.approx(3.0, abs=0.4) and b[0] == pytest.approx(0.08, rel=0.3)
