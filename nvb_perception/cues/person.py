"""The cue logic of one person: per-frame measures -> baselines -> hysteresis events -> types.Cue.

    person = PersonCues(track_id=3, config=CueConfig(), baseline=BaselineConfig())
    cues = person.update(t_ns, PersonInput(skeleton=sk2d, skeleton3d=sk3d, face=face_obs, hands=hand_obs))
    cues += person.finish(t_ns)            # when the track ends: close every open event

Pure and model-free: inputs are the data classes the models produce (or synthetic ones in tests and
evaluation). Each published Cue names its evidence; see events.py for the state machine and
definitions.py for what each cue means.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from nvb_perception.cues import body_cues, face_cues
from nvb_perception.cues.baseline import Baseline, BaselineConfig
from nvb_perception.cues.body import Body, Body3D
from nvb_perception.cues.definitions import DEFINITIONS, CueConfig
from nvb_perception.cues.events import CompositeRule, CueEvents, Evidence
from nvb_perception.cues.face_cues import EXPRESSIONS, PSPI_TERMS
from nvb_perception.cues.signals import BandMotion, BlinkCounter, Oscillation
from nvb_perception.types import Cue

DEFAULT_BASELINES = {'arm_opening_deg': 10.0, 'lean_deg': 0.0, 'gaze_yaw_deg': 0.0, 'gaze_pitch_deg': 0.0,
                     'blink_rate': 17.0}      # used with baseline mode 'fixed' (population values)
BASELINE_BLENDSHAPES = sorted({n for names in (*EXPRESSIONS.values(), *PSPI_TERMS.values()) for n in names})
RELEASE_S = 60.0                   # an event this old stops keeping its features out of the baseline
OWNERS = {  # feature -> the cues whose activity keeps it out of the baseline
    'arm_opening_deg': ('posture_open', 'posture_closed', 'arm_crossing'), 'lean_deg': ('lean_forward', 'lean_back'),
    'gaze_yaw_deg': ('gaze_aversion',), 'gaze_pitch_deg': ('gaze_aversion',), 'blink_rate': ('blink_rate_high',),
    **{f'bs.{n}': tuple(c for c, names in EXPRESSIONS.items() if n in names)
       + (('pain_expression',) if any(n in names for names in PSPI_TERMS.values()) else ())
       for n in BASELINE_BLENDSHAPES}}


@dataclass(frozen=True, eq=False)
class PersonInput:
    """Everything observed of one person in one frame (any part may be missing)."""

    skeleton: object | None = None                 # types.Skeleton2D
    skeleton3d: object | None = None               # types.Skeleton3D (h36m17, camera frame)
    face: object | None = None                     # face.FaceObservation
    hands: dict = field(default_factory=dict)      # 'left'/'right' -> hands.HandObservation


class PersonCues:
    """Temporal state and events of one person (one track)."""

    def __init__(self, track_id: int, config: CueConfig | None = None, baseline: BaselineConfig | None = None):
        self.track_id, self.config = int(track_id), config or CueConfig()
        cfg = self.config
        self.baseline = Baseline(baseline)
        self.events = {name: CueEvents(name, track_id, cfg.hysteresis(name)) for name in DEFINITIONS}
        self.rules = [CompositeRule(name, parts) for name, parts in cfg.composites]
        self.composite_events = {r.name: CueEvents(r.name, track_id, cfg.composite, 'constituent cues active')
                                 for r in self.rules}
        self.osc = {axis: Oscillation(cfg.nod_min_amplitude_deg, cfg.nod_half_period_s) for axis in ('pitch', 'yaw')}
        self.head: deque[tuple[int, float, float]] = deque()
        self.blinks = BlinkCounter(cfg.blink_closed, cfg.blink_open, cfg.blink_max_s, cfg.blink_window_s)
        self.bands = {limb: BandMotion(cfg.fidget_window_s, cfg.fidget_band_hz)
                      for limb in ('left_hand', 'right_hand', 'left_foot', 'right_foot')}
        self.hip = BandMotion(cfg.fidget_window_s, cfg.fidget_band_hz)
        self.last_gaze = Evidence(math.nan)
        self.features: dict[str, float] = {}

    def base(self, name: str) -> float:
        """The person's baseline of a feature; NaN while it is still being learned (mode 'fixed': the default).

        Blink rate uses the lower quartile, not the median: fast-blinking runs are transient, and one in the
        calibration period would otherwise raise the resting rate.
        """
        default = DEFAULT_BASELINES.get(name.split('.')[0], 0.0)
        if self.baseline.config.mode != 'fixed' and not self.baseline.ready(name):
            return math.nan
        return self.baseline.value(name, default, 0.1 if name == 'blink_rate' else 0.5)

    # --- per frame -----------------------------------------------------------------------------------
    def update(self, t_ns: int, inp: PersonInput) -> list[Cue]:
        """Measure, run every cue's state machine and the composites; returns the cues to publish."""
        self.features = {}
        evidence = self.measure(t_ns, inp)
        cues = [c for name, ev in evidence.items() if (c := self.events[name].update(t_ns, ev)) is not None]
        active = {c.name: c.confidence for c in cues if c.active}
        for rule in self.rules:
            c = self.composite_events[rule.name].update(t_ns, rule.evaluate(active))
            if c is not None:
                cues.append(c)
        self._learn(t_ns)
        return cues

    def finish(self, t_ns: int) -> list[Cue]:
        """End every open event (the track is gone); returns the final messages."""
        out = []
        for ev in (*self.events.values(), *self.composite_events.values()):
            if ev.active:
                out.append(ev._end(ev.last_seen_ns or t_ns, 'the person is no longer tracked'))
            ev.reset()
        return out

    def measure(self, t_ns: int, inp: PersonInput) -> dict[str, Evidence]:
        """Evidence of every cue this frame (NaN values where the inputs are missing)."""
        out = dict.fromkeys(DEFINITIONS, body_cues.NAN)
        body = Body.from_inputs(inp.skeleton, inp.hands, inp.face) if inp.skeleton is not None else None
        b3 = None
        if inp.skeleton3d is not None and inp.skeleton3d.joint_set == 'h36m17':
            b3 = Body3D(inp.skeleton3d)
        if body is not None:
            self._body(t_ns, body, b3, out)
        self._face(t_ns, inp.face, out)
        return out

    def _body(self, t_ns: int, body: Body, b3, out: dict) -> None:
        cfg = self.config
        out['self_touch_face'] = body_cues.self_touch_face(body, b3, cfg)
        out['self_touch_body'] = body_cues.self_touch_body(body, b3, cfg)
        out['self_touch_hands'] = body_cues.self_touch_hands(body, b3, cfg)
        out['arm_crossing'] = body_cues.arm_crossing(body)
        opening, *_ = body_cues.arm_opening(body, b3)
        self.features['arm_opening_deg'] = opening
        out['posture_open'] = out['posture_closed'] = body_cues.posture(body, b3, self.base('arm_opening_deg'))
        deg, *_ = body_cues.lean_angle(body, b3)
        self.features['lean_deg'] = deg
        out['lean_forward'] = out['lean_back'] = body_cues.lean(body, b3, self.base('lean_deg'))
        out['fidgeting'] = self._fidget(t_ns, body)

    def _fidget(self, t_ns: int, body: Body) -> Evidence:
        """Periodic limb motion: peak/noise-floor ratio of the strongest 1-5 Hz component (see signals)."""
        cfg = self.config
        limbs = body_cues.limb_points(body)
        hip = body.mid('l_hip', 'r_hip')
        self.hip.update(t_ns, hip / body.torso if hip is not None and body.torso > 0 else None, compute=False)
        moved = self.hip.displacement()
        best = None
        for limb, band in self.bands.items():
            point, rel, joint = limbs.get(limb, (None, 0.0, ''))
            amp, ratio, hz = band.update(t_ns, point)
            if not math.isfinite(ratio):
                continue
            self.features[f'fidget.{limb}'] = amp
            ok = cfg.fidget_min_torso <= amp <= cfg.fidget_max_torso and not moved > cfg.fidget_max_body_torso
            value = ratio if ok else 0.0
            if best is None or value > best.value:
                items = (*body_cues.joint_items(body, joint), (f'feat.{limb}_periodic_torso', amp),
                         (f'feat.{limb}_peak_to_floor', ratio), (f'feat.{limb}_hz', hz),
                         ('feat.body_displacement_torso', moved if math.isfinite(moved) else -1.0))
                text = (f'{limb.replace("_", " ")} oscillates at {hz:.1f} Hz, {amp:.3f} torso lengths, '
                        f'{ratio:.1f} x the noise floor' + ('' if ok else ' (outside the fidgeting range)'))
                best = Evidence(value, rel, items, text, t_ns - int(cfg.fidget_window_s * 0.5e9))
        return best or body_cues.NAN

    def _face(self, t_ns: int, face, out: dict) -> None:
        cfg = self.config
        bases = {n: self.base(f'bs.{n}') for n in BASELINE_BLENDSHAPES} if face is not None else {}
        for cue in EXPRESSIONS:
            out[cue] = face_cues.expression(cue, face, bases.__getitem__)
        out['pain_expression'] = face_cues.pain_proxy(face, bases.__getitem__, cfg)
        if face is None:
            return
        closed = face_cues.face_closed(face, cfg)
        if not closed:
            self.features['gaze_yaw_deg'], self.features['gaze_pitch_deg'] = face.gaze_yaw_deg, face.gaze_pitch_deg
            self.last_gaze = face_cues.gaze(face, self.base('gaze_yaw_deg'), self.base('gaze_pitch_deg'))
        out['gaze_aversion'] = self.last_gaze             # held over blinks
        for n in BASELINE_BLENDSHAPES:
            self.features[f'bs.{n}'] = face.blendshape(n)
        out['head_nod'], out['head_shake'] = self._oscillations(t_ns, face)
        out['blink_rate_high'] = self._blink_rate(t_ns, face)

    def _oscillations(self, t_ns: int, face) -> tuple[Evidence, Evidence]:
        cfg = self.config
        self.head.append((t_ns, face.yaw_deg, face.pitch_deg))
        while self.head and t_ns - self.head[0][0] > 3e9:
            self.head.popleft()
        result = []
        for axis, other, k in (('pitch', 'yaw', 1), ('yaw', 'pitch', 2)):      # head_nod, head_shake
            # k: index of the *other* axis in self.head samples (t, yaw, pitch)
            swings, onset, amp = self.osc[axis].update(t_ns, face.pitch_deg if axis == 'pitch' else face.yaw_deg)
            span = [s[k] for s in self.head if onset is not None and s[0] >= onset]
            cross = (max(span) - min(span)) / amp if span and amp > 0 else 0.0
            ok = swings >= 1 and cross <= cfg.nod_cross_ratio
            value = swings / cfg.nod_min_swings if ok else 0.0
            items = (('face.presence', face.presence), (f'head.{axis}_deg', s_now(face, axis)),
                     (f'feat.{axis}_swings', swings), (f'feat.{axis}_swing_deg', amp),
                     (f'feat.{other}_vs_{axis}_ratio', cross))
            text = (f'{swings} head {axis} swings of {amp:.1f} deg mean (>= {cfg.nod_min_amplitude_deg:g}), '
                    f'{other} moving {cross:.2f} as much')
            result.append(Evidence(value, face.presence, items, text, onset if ok else None))
        return result[0], result[1]

    def _blink_rate(self, t_ns: int, face) -> Evidence:
        cfg = self.config
        closure = (face.blendshape('eyeBlinkLeft') + face.blendshape('eyeBlinkRight')) / 2
        self.blinks.update(t_ns, closure)
        rate = self.blinks.rate_per_min(t_ns)
        if not math.isfinite(rate):
            return body_cues.NAN
        self.features['blink_rate'] = rate
        base = self.base('blink_rate')
        onset = self.blinks.run_start(t_ns, base)
        items = (('face.presence', face.presence),
                 ('bs.eyeBlinkLeft', face.blendshape('eyeBlinkLeft')),
                 ('bs.eyeBlinkRight', face.blendshape('eyeBlinkRight')),
                 ('feat.blinks_per_min', rate), ('base.blinks_per_min', base))
        return Evidence(rate - base, face.presence, items,
                        f'{rate:.0f} blinks/min over the last {cfg.blink_window_s:g} s (baseline {base:.0f})', onset)

    def _learn(self, t_ns: int) -> None:
        """Feed this frame's features to the baselines, leaving out frames where their cue is on.

        An event older than RELEASE_S no longer holds its features back: a state that lasts becomes the
        person's new normal (and a baseline can never lock itself out).
        """
        busy = {name for name, ev in self.events.items()
                if ev.state != 'idle' and t_ns - ev.start_ns < RELEASE_S * 1e9}
        for name, value in self.features.items():
            if name in OWNERS:
                self.baseline.update(name, t_ns, value, include=not busy.intersection(OWNERS[name]))


def s_now(face, axis: str) -> float:
    return face.pitch_deg if axis == 'pitch' else face.yaw_deg
