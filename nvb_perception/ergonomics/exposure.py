"""RULA / REBA over time, per track: angle filtering, band hysteresis, static and repetition detection, exposure.

Per frame (`ExposureTracker.update`): angles and measures are smoothed by a first-order exponential filter
(time constant `tau_s`, dt-aware); each scored angle then goes through hysteresis: a change of band is accepted
only once the angle is more than `hysteresis_deg` past the band boundary, otherwise the previous band is kept
(so noise around 20.0 deg does not flip the score every frame). The measures behind the shoulder-raised,
across/out and feet-level flags get the same hysteresis at their `Heuristics` thresholds (`hysteresis_ratio`,
`hysteresis_m`), so a flag near its threshold does not flicker either.

Static: a monitored body part (trunk, neck, each upper arm) counts as 'static' when it has stayed within
+-static_range_deg/2 of the angle where the hold began for more than `static_s` (RULA/REBA: > 1 min) *and* is outside
its neutral band (a relaxed upright trunk or hanging arm is not static muscle work -- a documented choice).
Repetition: turning points of an angle are counted when it reverses by more than `repetition_amplitude_deg`; two
turning points make one repetition; more than `repetition_per_min` in the last `repetition_window_s` -> repeated.
Both feed the published terms: RULA muscle use (static_posture / repeated), REBA activity (static_posture /
repeated_small_range), OR-ed with what the caller's inputs already say, and are listed in assumed_inputs.

Exposure (`summary`): seconds at each action level, seconds at each score per segment (0 = not observed), and the
worst sustained score = the highest score held continuously for at least `sustained_s`. Frames further apart than
`max_gap_s` reset the filters and detectors and the gap is not counted.
"""
import bisect
import math
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace

from ..errors import ConfigError
from ..types import ErgonomicRisk
from .angles import DEFAULT_UP, measure
from .assess import assess_angles, check_method_inputs
from .postures import Heuristics
from .tables import check_number

STATIC_ANGLES = ('trunk_flexion', 'neck_flexion', 'left_upper_arm_flexion', 'right_upper_arm_flexion')
REPETITION_ANGLES = ('trunk_flexion', 'left_upper_arm_flexion', 'right_upper_arm_flexion', 'left_elbow_flexion',
                     'right_elbow_flexion')


@dataclass(frozen=True)
class ExposureConfig:
    """Temporal parameters (seconds, degrees); see the module doc."""

    tau_s: float = 0.3                 # exponential filter time constant; 0 = no filtering
    hysteresis_deg: float = 3.0        # degrees past a band boundary before the band changes
    hysteresis_ratio: float = 0.03     # the same for the ratio measures (shoulder gap, wrist lateral)
    hysteresis_m: float = 0.02         # the same for the ankle height difference (metres)
    static_s: float = 60.0             # 'static' = held longer than this (published: > 1 min)
    static_range_deg: float = 10.0     # peak-to-peak wobble allowed while held
    repetition_per_min: float = 4.0    # published: repeated > 4 times/min
    repetition_amplitude_deg: float = 15.0   # smallest reversal that counts as a turning point
    repetition_window_s: float = 60.0
    sustained_s: float = 10.0          # worst sustained score needs at least this long
    max_gap_s: float = 1.0             # longer gaps reset the state and are not counted

    def __post_init__(self):
        for name, hi in (('tau_s', 60.0), ('hysteresis_deg', 20.0), ('hysteresis_ratio', 1.0), ('hysteresis_m', 1.0),
                         ('static_s', 3600.0), ('static_range_deg', 90.0),
                         ('repetition_per_min', 600.0), ('repetition_amplitude_deg', 180.0),
                         ('repetition_window_s', 3600.0), ('sustained_s', 3600.0), ('max_gap_s', 60.0)):
            check_number(name, getattr(self, name), 0.0, hi)
        for name in ('static_s', 'repetition_window_s', 'max_gap_s'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)!r}')


@dataclass(frozen=True, eq=False)
class ExposureSummary:
    """Exposure of one track so far."""

    track_id: int
    method: str
    duration_s: float                  # time counted (gaps excluded)
    time_at_action_level_s: dict       # action level -> seconds
    time_at_segment_score_s: dict      # segment -> {score: seconds}; score 0 = not observed
    worst_sustained_score: int         # highest score held >= sustained_s (0 if none yet)
    worst_sustained_score_max: int     # the same for the upper end of the score range
    longest_at_worst_s: float          # longest continuous time at >= worst_sustained_score


def _bounds(name: str, tol: float, hz: Heuristics) -> tuple[float, ...]:
    """Band boundaries (degrees) of a scored angle, as used by rula.py / reba.py / postures.py."""
    if name == 'trunk_flexion':
        return (-20.0, -tol, tol, 20.0, 60.0)
    if name == 'neck_flexion':
        return (-tol, 10.0, 20.0)
    if name.endswith('upper_arm_flexion'):
        return (-20.0, 20.0, 45.0, 90.0)
    if name.endswith('upper_arm_abduction'):
        return (hz.abduction_deg,)
    if name.endswith('elbow_flexion'):
        return (60.0, 100.0)
    if name.endswith('knee_flexion'):
        return (30.0, 60.0)
    if name.endswith('side_bend'):
        return (-hz.side_bend_deg, hz.side_bend_deg)
    if name == 'trunk_twist':
        return (-hz.twist_deg, hz.twist_deg)
    if name == 'hip_trunk':
        return (90.0,)
    if name.endswith('shoulder_gap'):
        return (hz.shoulder_gap_ratio,)
    if name.endswith('wrist_lateral'):
        return (0.0, hz.out_to_side_ratio)
    if name == 'ankle_height_diff_m':
        return (hz.feet_level_m,)
    return ()


def hysteresis(held: float, x: float, bounds: tuple[float, ...], margin: float) -> float:
    """Value to score: x, unless x left `held`'s band by <= margin, then a value just inside the old band."""
    if math.isnan(held) or math.isnan(x) or not bounds:
        return x
    # band = number of bounds < value (bisect, not np.searchsorted: this runs ~20 times per skeleton)
    old, new = bisect.bisect_left(bounds, held), bisect.bisect_left(bounds, x)
    if old == new:
        return x
    edge = bounds[new - 1] if new > old else bounds[new]        # the boundary next to x on the old band's side
    if abs(x - edge) > margin:
        return x
    # one ulp inside the neighbouring band, so both 'strictly greater' and closed bands score it like `held`
    return math.nextafter(edge, -math.inf if new > old else math.inf)


@dataclass
class _Turns:
    direction: int = 0
    lo: float = math.nan
    hi: float = math.nan
    times: deque = field(default_factory=deque)


@dataclass
class _Track:
    last_ns: int | None = None
    filt: dict = field(default_factory=dict)
    held: dict = field(default_factory=dict)
    hold: dict = field(default_factory=dict)        # angle -> (anchor value, start seconds)
    turns: dict = field(default_factory=lambda: defaultdict(_Turns))
    duration: float = 0.0
    levels: dict = field(default_factory=lambda: defaultdict(float))
    segments: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    runs: dict = field(default_factory=lambda: defaultdict(float))   # (kind, threshold) -> current run seconds
    best: dict = field(default_factory=lambda: defaultdict(float))   # (kind, threshold) -> longest run seconds


class ExposureTracker:
    """Temporal RULA or REBA for many tracks; call `update` once per skeleton per frame, in time order."""

    def __init__(self, method: str = 'RULA', inputs=None, up=DEFAULT_UP, side: str = 'worst',
                 heuristics: Heuristics | None = None, config: ExposureConfig | None = None):
        self.inputs, self.heuristics = check_method_inputs(method, side, inputs, heuristics)
        self.method, self.up, self.side = method, up, side
        self.config = ExposureConfig() if config is None else config
        if not isinstance(self.config, ExposureConfig):
            raise ConfigError(f'config must be an ExposureConfig, got {type(self.config).__name__}')
        self._tracks: dict[int, _Track] = {}
        self._bounds: dict[str, tuple] = {}   # angle -> band boundaries (fixed per tracker; looked up per frame)

    def update(self, track_id: int, stamp_ns: int, joints3d, confidence=None) -> ErgonomicRisk:
        """Score one skeleton of `track_id` at `stamp_ns` (int nanoseconds) with temporal processing."""
        cfg, tr = self.config, self._tracks.setdefault(int(track_id), _Track())
        dt = 0.0 if tr.last_ns is None else (int(stamp_ns) - tr.last_ns) * 1e-9
        if dt > cfg.max_gap_s or dt < 0:
            tr.filt, tr.held, tr.hold, tr.runs = {}, {}, {}, defaultdict(float)
            tr.turns = defaultdict(_Turns)
            dt = 0.0
        tr.last_ns, now = int(stamp_ns), int(stamp_ns) * 1e-9
        angles, measures = measure(joints3d, confidence, self.up, self.heuristics.min_confidence)
        angles, measures = self._filter(tr, angles, dt), self._filter(tr, measures, dt)
        tol, scored, scored_m = self.inputs.neutral_tol_deg, {}, {}
        for values, out in ((angles, scored), (measures, scored_m)):
            for name, x in values.items():
                bounds = self._bounds.get(name)
                if bounds is None:
                    bounds = self._bounds[name] = _bounds(name, tol, self.heuristics)
                margin = cfg.hysteresis_deg if out is scored else \
                    cfg.hysteresis_m if name.endswith('_m') else cfg.hysteresis_ratio
                out[name] = hysteresis(tr.held.get(name, math.nan), x, bounds, margin)
                tr.held[name] = out[name]
        static = sorted(self._static(tr, angles, now))
        repeated = sorted(self._repeated(tr, angles, now))
        notes = tuple(f'static_posture=detected({n})' for n in static) + \
            tuple(f'repetition=detected({n})' for n in repeated)
        inputs = self.inputs
        if static:
            inputs = replace(inputs, static_posture=True)
        if repeated:
            inputs = replace(inputs, **{'repeated' if self.method == 'RULA' else 'repeated_small_range': True})
        risk = assess_angles(self.method, scored, scored_m, inputs, self.side, int(track_id), self.heuristics, notes,
                             reported=angles)
        self._account(tr, risk, dt)
        return risk

    def _filter(self, tr: _Track, values: dict, dt: float) -> dict:
        out = {}
        alpha = 1.0 if self.config.tau_s == 0 else 1.0 - math.exp(-dt / self.config.tau_s)
        for name, x in values.items():
            prev = tr.filt.get(name, math.nan)
            out[name] = x if math.isnan(prev) or math.isnan(x) else prev + alpha * (x - prev)
            tr.filt[name] = out[name]          # NaN restarts the filter at the next observation
        return out

    def _static(self, tr: _Track, angles: dict, now: float):
        cfg, tol = self.config, self.inputs.neutral_tol_deg
        neutral = {'trunk_flexion': (-tol, tol), 'neck_flexion': (-tol, 10.0)}
        for name in STATIC_ANGLES:
            x = angles[name]
            if math.isnan(x):
                tr.hold.pop(name, None)
                continue
            anchor, start = tr.hold.get(name, (x, now))
            if abs(x - anchor) > cfg.static_range_deg / 2:
                anchor, start = x, now
            tr.hold[name] = (anchor, start)
            lo, hi = neutral.get(name, (-20.0, 20.0))
            if now - start > cfg.static_s and not lo <= x <= hi:
                yield name

    def _repeated(self, tr: _Track, angles: dict, now: float):
        cfg = self.config
        for name in REPETITION_ANGLES:
            x, st = angles[name], tr.turns[name]
            while st.times and now - st.times[0] > cfg.repetition_window_s:
                st.times.popleft()
            if math.isnan(x):
                continue
            if st.direction == 0:              # not yet moving: wait for the first excursion
                st.lo = x if math.isnan(st.lo) else min(st.lo, x)      # NaN = nothing seen yet
                st.hi = x if math.isnan(st.hi) else max(st.hi, x)
                if x - st.lo > cfg.repetition_amplitude_deg:
                    st.direction, st.hi = 1, x
                elif st.hi - x > cfg.repetition_amplitude_deg:
                    st.direction, st.lo = -1, x
            elif st.direction > 0:
                if x > st.hi:
                    st.hi = x
                elif st.hi - x > cfg.repetition_amplitude_deg:
                    st.direction, st.lo = -1, x
                    st.times.append(now)
            else:
                if x < st.lo:
                    st.lo = x
                elif x - st.lo > cfg.repetition_amplitude_deg:
                    st.direction, st.hi = 1, x
                    st.times.append(now)
            per_min = len(st.times) / 2 * 60.0 / cfg.repetition_window_s
            if per_min > cfg.repetition_per_min:
                yield name

    def _account(self, tr: _Track, risk: ErgonomicRisk, dt: float):
        tr.duration += dt
        tr.levels[risk.action_level] += dt
        for name, score in risk.segment_scores:
            tr.segments[name][score] += dt
        runs, best = tr.runs, tr.best
        for kind, value in (('score', risk.score), ('score_max', risk.score_max)):
            for threshold in range(1, 16):
                key = (kind, threshold)
                run = runs[key] = runs[key] + dt if value >= threshold else 0.0
                if run > best[key]:
                    best[key] = run

    def summary(self, track_id: int) -> ExposureSummary:
        """Exposure of `track_id` so far; KeyError if the track was never updated."""
        tr = self._tracks[int(track_id)]

        def worst(kind):
            held = [t for t in range(1, 16) if tr.best[(kind, t)] >= self.config.sustained_s and tr.best[(kind, t)]]
            return max(held, default=0)

        w = worst('score')
        return ExposureSummary(
            track_id=int(track_id), method=self.method, duration_s=tr.duration,
            time_at_action_level_s=dict(tr.levels),
            time_at_segment_score_s={k: dict(v) for k, v in tr.segments.items()},
            worst_sustained_score=w, worst_sustained_score_max=worst('score_max'),
            longest_at_worst_s=tr.best[('score', w)] if w else 0.0)

    def drop(self, track_id: int) -> None:
        """Forget a track (e.g. when it is terminated)."""
        self._tracks.pop(int(track_id), None)

    @property
    def track_ids(self) -> tuple[int, ...]:
        return tuple(self._tracks)
