"""Per-person baselines, so cues are relative to the individual.

    base = Baseline(BaselineConfig(mode='first_n', window_s=10.0))
    base.update('smile', t_ns, 0.08)              # feed every frame (NaN = not observed: ignored)
    base.value('smile', default=0.05)             # the baseline, or the default until it is ready

Modes ('fixed': never learn, always the defaults):
* 'first_n': the median of the first `window_s` seconds of observed values, then frozen (a calibration
  period at the start of an interaction);
* 'running_median': the median of the last `window_s` seconds, where samples taken while the matching cue
  was active are left out (`update(..., include=False)`), so a long smile does not become the baseline.
  During the first `window_s` seconds every sample counts (calibration): a baseline that starts atypical
  would otherwise keep its own cue on and never learn.
Samples are kept at most every `sample_every_s` seconds (a median of <= window / sample_every values).
A baseline is ready after `min_samples` samples; until then `value` returns the default.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from nvb_perception.errors import ConfigError
from nvb_perception.params import param, validate

MODES = ('first_n', 'running_median', 'fixed')
RECOMPUTE = 5                      # samples between recomputations of a baseline (1 s at the default rate)


@dataclass(frozen=True)
class BaselineConfig:
    """How a person's baseline is estimated."""

    mode: str = param('running_median', "Per-person baseline: running_median, first_n or fixed (population "
                                        "defaults); a track keeps the mode it started with", choices=MODES,
                      read_only=True)
    window_s: float = param(60.0, 'First-N period or running window (s); also the calibration period at a '
                                  "track's start", low=0.1, high=86400.0)
    sample_every_s: float = param(0.2, 'Keep at most one baseline sample per this many seconds', low=0.0,
                                  high=3600.0)
    min_samples: int = param(10, 'Samples needed before the baseline replaces the default', low=1, high=100000)

    def __post_init__(self):
        validate(self)
        if self.sample_every_s > self.window_s:
            raise ConfigError(f'baseline sample_every_s must be at most window_s, got {self.sample_every_s} > '
                              f'{self.window_s}')


class _Series:
    __slots__ = ('times', 'values', 'start_ns', 'last_ns', 'frozen', 'cached', 'stale')

    def __init__(self):
        self.times: deque[int] = deque()
        self.values: deque[float] = deque()
        self.start_ns: int | None = None
        self.last_ns: int | None = None
        self.frozen = False
        self.cached: tuple[float, float] | None = None
        self.stale = 0                 # samples added since the cached quantile


class Baseline:
    """Baselines of many features of one person."""

    def __init__(self, config: BaselineConfig | None = None):
        self.config = config or BaselineConfig()
        self.series: dict[str, _Series] = {}

    def update(self, name: str, t_ns: int, value: float, include: bool = True) -> None:
        """Offer one observation of feature `name` at time t_ns (ignored if NaN, excluded or subsampled)."""
        cfg = self.config
        if cfg.mode == 'fixed' or value is None or not np.isfinite(value):
            return
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = _Series()
        if s.start_ns is None:
            s.start_ns = t_ns
        window_ns = int(cfg.window_s * 1e9)
        calibrating = t_ns - s.start_ns <= window_ns
        if cfg.mode == 'first_n' and not calibrating:
            s.frozen = True
        if s.frozen or not (include or calibrating):
            return
        if s.last_ns is not None and 0 <= t_ns - s.last_ns < cfg.sample_every_s * 1e9:
            return
        s.last_ns = t_ns
        s.times.append(t_ns)
        s.values.append(float(value))
        if cfg.mode == 'running_median':
            while s.times and t_ns - s.times[0] > window_ns:
                s.times.popleft()
                s.values.popleft()
        s.stale += 1

    def ready(self, name: str) -> bool:
        """True once `name` has min_samples samples."""
        s = self.series.get(name)
        return s is not None and len(s.values) >= self.config.min_samples

    def value(self, name: str, default: float, quantile: float = 0.5) -> float:
        """The baseline of `name` (the median, or another quantile of its samples), or `default` until ready."""
        if not self.ready(name):
            return float(default)
        s = self.series[name]
        # a median of up to window / sample_every values moves little per sample: refresh every RECOMPUTE
        if s.cached is None or s.cached[0] != quantile or s.stale >= RECOMPUTE:
            values = sorted(s.values)
            s.cached, s.stale = (quantile, values[min(len(values) - 1, int(quantile * len(values)))]), 0
        return s.cached[1]
