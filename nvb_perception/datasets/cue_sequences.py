"""Cue sequences with known ground truth, built from real faces (head-pose and blendshape tracks).

    real = RealFace(landmarks_px, blendshapes, image_size)          # e.g. our Face Landmarker on a photo
    seqs = head_pose_sequences(real, geometry, rng)                  # nods, shakes, gaze aversion + distractors
    seqs += blendshape_sequences(neutral, smile, rng)                # expressions, pain proxy, blinks

Head-pose tracks: the photo's 478 real landmarks are rotated in 3D about the head centre by a yaw/pitch
trajectory (slow drift + scheduled nods, shakes, look-aways, and distractors: single slow turns and
look-downs that are not nods), projected back (weak perspective, as the landmark model's own z), jittered
with the landmark model's measured noise, and turned into FaceObservations by the same geometry code as
live frames. Blendshape tracks: a person's real neutral blendshape vector (with the model's measured
per-channel noise) with injected expression onsets: a real smile vector (another photo), brow lowering,
eye closure, jaw opening, a pain-like combination (AU4 + AU6/7 + AU9/10), blinks at 15/min with runs at
40/min. Ground truth: the injected schedule; where a cue has a threshold, its interval is where the clean
(noise-free) track meets the cue's definition (hysteresis and minimum duration as in CueConfig).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nvb_perception.cues.definitions import CueConfig, Hysteresis
from nvb_perception.cues.face import BLENDSHAPE_INDEX, FaceObservation, make_observation
from nvb_perception.cues.person import PersonInput


@dataclass(frozen=True, eq=False)
class RealFace:
    """One real face: landmarks (478, 3) px, blendshapes (52,), the image size it came from."""

    landmarks: np.ndarray
    blendshapes: np.ndarray
    image_size: tuple[int, int]
    landmark_noise_px: float = 0.3      # per-coordinate std of the model's landmark jitter
    blendshape_noise: np.ndarray | None = None   # (52,) per-channel std of the model's jitter


@dataclass(eq=False)
class Sequence:
    """Per-frame inputs of one person and the ground-truth intervals (seconds) of the cues it evaluates."""

    name: str
    fps: float
    inputs: list[PersonInput]
    truth: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def stamps_ns(self) -> np.ndarray:
        return (np.arange(len(self.inputs)) * 1e9 / self.fps).astype(np.int64)


class _Hyst:
    """The events.CueEvents state machine on a clean series (no missing values), for ground truth."""

    def __init__(self, h: Hysteresis):
        self.h, self.state, self.start, self.off_since, self.out = h, 'idle', 0.0, None, []

    def update(self, ti: float, v: float) -> None:
        h = self.h
        on = v >= h.on if h.rising else v <= h.on
        off = v < h.off if h.rising else v > h.off
        if not math.isfinite(v):
            on = off = False
        if self.state == 'idle' and on:
            self.state, self.start = 'pending', ti
        if self.state == 'pending':
            if not on:
                self.state = 'idle'
            elif ti - self.start >= h.min_duration_s:
                self.state, self.off_since = 'active', None
        if self.state == 'active':
            if off:
                self.off_since = ti if self.off_since is None else self.off_since
                if ti - self.off_since >= h.min_gap_s:
                    self.out.append((self.start, self.off_since))
                    self.state = 'idle'
            else:
                self.off_since = None

    def finish(self, t_end: float) -> list[tuple[float, float]]:
        return self.out + ([(self.start, t_end)] if self.state == 'active' else [])


def intervals(t: np.ndarray, value: np.ndarray, h: Hysteresis) -> list[tuple[float, float]]:
    """Events of a clean series by a cue's hysteresis (on/off, min duration, min gap), seconds."""
    m = _Hyst(h)
    for ti, v in zip(t.tolist(), np.asarray(value, float).tolist()):
        m.update(ti, v)
    return m.finish(float(t[-1]))


def relative_intervals(t: np.ndarray, x: np.ndarray, hs: list[Hysteresis], baseline=None) -> list[list]:
    """Events of `x` minus the person's running baseline for each hysteresis in `hs` (cues sharing x).

    The baseline (baseline.py, default config) learns from the clean series, leaving out frames where any
    of these cues is pending or active, as PersonCues does; no event before it is ready.
    """
    from nvb_perception.cues.baseline import Baseline, BaselineConfig
    base = Baseline(baseline or BaselineConfig())
    machines = [_Hyst(h) for h in hs]
    for ti, xi in zip(t.tolist(), np.asarray(x, float).tolist()):
        rel = xi - base.value('x', 0.0) if base.ready('x') else math.nan
        for m in machines:
            m.update(ti, rel)
        busy = any(m.state != 'idle' for m in machines)
        base.update('x', int(ti * 1e9), xi, include=not busy)
    return [m.finish(float(t[-1])) for m in machines]


def _rotate(points: np.ndarray, centre: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Rotate (N, 3) image-space points (x right, y down, z depth) about `centre`: yaw about y, pitch about x."""
    a, b = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return (points - centre) @ (rx @ ry).T + centre


def _schedule(rng, duration_s: float, kinds: list[str], warmup_s: float = 6.0) -> list[tuple[str, float]]:
    """(kind, start s) with idle gaps of 3-7 s, after a warm-up for the baseline."""
    out, t = [], warmup_s
    for kind in kinds:
        if t > duration_s - 6:
            break
        out.append((kind, t))
        t += {'nod': 2.0, 'shake': 2.0, 'avert': 5.0}.get(kind, 3.0) + rng.uniform(3.0, 7.0)
    return out


def head_trajectory(rng, t: np.ndarray, events: list[tuple[str, float]]):
    """(yaw, pitch) degrees of the clean head, and the truth intervals of nods and shakes."""
    drift = [np.interp(t, np.arange(0, t[-1] + 2, 2.0), rng.normal(0, 1.5, int(t[-1] / 2) + 2)) for _ in range(2)]
    yaw, pitch = drift[0].copy(), drift[1].copy()
    truth = {'head_nod': [], 'head_shake': []}
    for kind, t0 in events:
        if kind in ('nod', 'shake'):
            # whole cycles (down-up or left-right-back), 2 or 4 swings of 8-16 deg at 1.5-3 Hz
            swings, freq, amp = 2 * int(rng.integers(1, 3)), rng.uniform(1.5, 3.0), rng.uniform(8.0, 16.0)
            dur = swings / (2 * freq)
            w = (t >= t0) & (t < t0 + dur)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            (pitch if kind == 'nod' else yaw)[w] += sign * amp / 2 * (1 - np.cos(2 * np.pi * freq * (t[w] - t0)))
            truth['head_nod' if kind == 'nod' else 'head_shake'].append((t0, t0 + dur))
        elif kind in ('avert', 'turn', 'look_down'):
            hold = rng.uniform(1.5, 4.0)
            size = {'avert': rng.uniform(22.0, 35.0), 'turn': rng.uniform(5.0, 8.0), 'look_down': 12.0}[kind]
            shape = np.clip(np.minimum((t - t0) / 0.3, (t0 + 0.6 + hold - t) / 0.3), 0, 1)
            angle = rng.uniform(0, 2 * np.pi) if kind == 'avert' else (0.0 if kind == 'turn' else -np.pi / 2)
            yaw += size * math.cos(angle) * shape      # look_down: one swing down and one back, not a nod
            pitch += size * math.sin(angle) * shape
    return yaw, pitch, truth


def head_pose_sequences(face: RealFace, geometry, rng, n: int = 3, duration_s: float = 60.0,
                        fps: float = 30.0, config: CueConfig | None = None) -> list[Sequence]:
    """Sequences of one real face rotated along scheduled trajectories (see the module docstring)."""
    config = config or CueConfig()
    out = []
    centre = face.landmarks.mean(0)
    for k in range(n):
        t = np.arange(0, duration_s, 1 / fps)
        kinds = list(rng.permutation(['nod', 'shake', 'avert', 'turn', 'look_down', 'nod', 'shake', 'avert']))
        yaw, pitch, truth = head_trajectory(rng, t, _schedule(rng, duration_s, kinds))
        inputs, gaze_dev = [], []
        for y, p in zip(yaw, pitch):
            clean = _rotate(face.landmarks, centre, y, p)
            noisy = clean + np.concatenate([rng.normal(0, face.landmark_noise_px, (len(clean), 2)),
                                            np.zeros((len(clean), 1))], axis=1)
            bs = face.blendshapes
            if face.blendshape_noise is not None:
                bs = np.clip(bs + rng.normal(0, 1, bs.shape) * face.blendshape_noise, 0, 1)
            obs = make_observation(noisy, 1.0, bs, geometry, face.image_size)
            inputs.append(PersonInput(face=obs))
            gaze_dev.append((y, p))
        truth['gaze_aversion'] = gaze_truth(t, np.array(gaze_dev), config.gaze_aversion)
        out.append(Sequence(f'head_pose_{k}', fps, inputs, truth))
    return out


def gaze_truth(t: np.ndarray, gaze: np.ndarray, h: Hysteresis) -> list[tuple[float, float]]:
    """Gaze aversion events of a clean (T, 2) yaw/pitch track against its running baseline (per axis)."""
    from nvb_perception.cues.baseline import Baseline
    base, m = Baseline(), _Hyst(h)
    for ti, (y, p) in zip(t.tolist(), gaze.tolist()):
        ready = base.ready('y') and base.ready('p')
        dev = math.hypot(y - base.value('y', 0), p - base.value('p', 0)) if ready else math.nan
        m.update(ti, dev)
        for k, v in (('y', y), ('p', p)):
            base.update(k, int(ti * 1e9), v, include=m.state == 'idle')
    return m.finish(float(t[-1]))


EXPRESSION_SETS = {
    'brow': {'browDownLeft': 0.5, 'browDownRight': 0.5},
    'closure': {'eyeBlinkLeft': 0.9, 'eyeBlinkRight': 0.9},
    'jaw': {'jawOpen': 0.6},
    'pain': {'browDownLeft': 0.4, 'browDownRight': 0.4, 'eyeSquintLeft': 0.45, 'eyeSquintRight': 0.45,
             'cheekSquintLeft': 0.3, 'cheekSquintRight': 0.3, 'noseSneerLeft': 0.35, 'noseSneerRight': 0.35,
             'mouthUpperUpLeft': 0.3, 'mouthUpperUpRight': 0.3},
}


def _target(neutral: np.ndarray, smile: np.ndarray, kind: str) -> np.ndarray:
    if kind == 'smile':
        return smile.copy()
    out = neutral.copy()
    for name, add in EXPRESSION_SETS[kind].items():
        i = BLENDSHAPE_INDEX[name]
        out[i] = min(1.0, out[i] + add) if kind != 'closure' else add
    return out


def blendshape_track(rng, t: np.ndarray, neutral: np.ndarray, smile: np.ndarray, kinds: list[str]):
    """(T, 52) clean blendshapes with expressions ramped in (0.2 s), held 1-3.5 s, and blinks."""
    clean = np.tile(neutral, (len(t), 1))
    for kind, t0 in _schedule(rng, t[-1], kinds):
        hold = rng.uniform(1.0, 3.5)
        w = np.clip(np.minimum((t - t0) / 0.2, (t0 + 0.4 + hold - t) / 0.2), 0, 1)[:, None]
        clean = clean * (1 - w) + _target(neutral, smile, kind)[None] * w
    half = t[-1] / 2                                     # fast-blinking runs of 20-30 s: one per half
    starts = [rng.uniform(15, half - 30), rng.uniform(half + 5, t[-1] - 35)] if half >= 50 else [rng.uniform(15, 20)]
    runs = [(s, s + rng.uniform(20, 30)) for s in starts]
    times = []
    for lo, hi, per_min in [(0.0, t[-1] - 1, 14.0)] + [(a, b, 40.0) for a, b in runs]:
        tb = lo + rng.uniform(0, 60 / per_min)
        while tb < hi:
            inside = any(a <= tb < b for a, b in runs)
            if per_min == 40.0 or not inside:        # normal blinks stop inside a run, the run's own take over
                times.append(tb)
            tb += rng.exponential(60 / per_min - 0.35) + 0.35
    closure = np.zeros(len(t))
    for tb in times:
        dur = rng.uniform(0.12, 0.3)
        closure = np.maximum(closure, np.clip(1 - np.abs(t - tb - dur / 2) / (dur / 2), 0, 1) * 0.95)
    rate_fast = np.zeros(len(t), bool)
    for a, b in runs:                                    # truth: first to last blink of each run
        inside = [tb for tb in times if a <= tb < b]
        rate_fast |= (t >= min(inside)) & (t <= max(inside))
    blink_truth = np.array(sorted(times))
    for name in ('eyeBlinkLeft', 'eyeBlinkRight'):
        i = BLENDSHAPE_INDEX[name]
        clean[:, i] = np.maximum(clean[:, i], closure)
    return clean, np.array(blink_truth), rate_fast


def blendshape_sequences(neutral_face: RealFace, smile: np.ndarray, geometry, rng, n: int = 3,
                         duration_s: float = 120.0, fps: float = 30.0,
                         config: CueConfig | None = None) -> list[Sequence]:
    """Expression / pain / blink sequences on one person's real neutral blendshapes (module docstring)."""
    config = config or CueConfig()
    base_obs = make_observation(neutral_face.landmarks, 1.0, neutral_face.blendshapes, geometry,
                                neutral_face.image_size)
    out = []
    for k in range(n):
        t = np.arange(0, duration_s, 1 / fps)
        kinds = list(rng.permutation(['smile', 'brow', 'closure', 'jaw', 'pain'] * 3))
        clean, _, rate_fast = blendshape_track(rng, t, neutral_face.blendshapes, smile, kinds)
        noise = neutral_face.blendshape_noise if neutral_face.blendshape_noise is not None else 0.01
        noisy = np.clip(clean + rng.normal(0, 1, clean.shape) * noise, 0, 1).astype(np.float32)
        inputs = [PersonInput(face=_with_blendshapes(base_obs, b)) for b in noisy]
        truth = expression_truth(t, clean, neutral_face.blendshapes, config)
        truth['blink_rate_high'] = intervals(t, rate_fast.astype(float), Hysteresis(0.5, 0.4, 0.0, 0.0))
        out.append(Sequence(f'blendshapes_{k}', fps, inputs, truth))
    return out


def expression_truth(t: np.ndarray, clean: np.ndarray, base: np.ndarray, config: CueConfig) -> dict:
    """Truth intervals of the expression cues and the pain proxy on a clean (T, 52) track, by definition."""
    from nvb_perception.cues.face_cues import EXPRESSIONS, PSPI_TERMS

    def over(names):
        idx = [BLENDSHAPE_INDEX[n] for n in names]
        return clean[:, idx].mean(1) - base[idx].mean()
    truth = {cue: intervals(t, over(names), config.hysteresis(cue)) for cue, names in EXPRESSIONS.items()}
    au = {a: np.maximum(0, over(names)) for a, names in PSPI_TERMS.items()}
    smiling = over(EXPRESSIONS['smile']) >= config.pspi_smile_suppression
    au6, au10 = np.where(smiling, 0, au['AU6']), np.where(smiling, 0, au['AU10'])
    closed = over(PSPI_TERMS['AU43']) + base[[BLENDSHAPE_INDEX['eyeBlinkLeft'],
                                              BLENDSHAPE_INDEX['eyeBlinkRight']]].mean() >= config.blink_closed
    pspi = 5 * (au['AU4'] + np.maximum(au6, au['AU7']) + np.maximum(au['AU9'], au10)) + closed
    truth['pain_expression'] = intervals(t, pspi, config.pain_expression)
    return truth


def _with_blendshapes(obs: FaceObservation, blendshapes: np.ndarray) -> FaceObservation:
    from dataclasses import replace
    return replace(obs, blendshapes=blendshapes)
