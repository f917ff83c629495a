"""Time-series detectors behind the temporal cues: oscillations (nod/shake), blinks, band-limited motion.

    osc = Oscillation(min_amplitude=4.0, half_period_s=(0.08, 0.8))
    swings, onset_ns, amplitude = osc.update(t_ns, pitch_deg)      # per frame
    blinks = BlinkCounter(closed=0.5, open_=0.35, max_s=0.5, window_s=30.0)
    blinks.update(t_ns, eye_blink)                                 # -> blink time when one completes
    band = BandMotion(window_s=2.0, band_hz=(1.0, 5.0))
    band.update(t_ns, xy)                                          # -> (peak amplitude, peak/floor, Hz)

All three are incremental (O(window) at most per update) and keyed by nothing: the caller keeps one per
person and signal. Times are int nanoseconds; a time that goes backwards resets the detector.
"""
from __future__ import annotations

from collections import deque

import numpy as np


class Oscillation:
    """Alternating swings of at least `min_amplitude`, found with a delta-hysteresis extremum tracker.

    An extremum is confirmed once the signal has come back from it by `min_amplitude`; consecutive
    confirmed extrema therefore differ by at least that much (one *swing*). The swing in progress counts
    too once it has covered `min_amplitude`. A sequence ends when no new extremum comes within the longest
    half period; swings outside `half_period_s` end it too. `onset_ns` is when the signal first left the
    extremum the sequence started from (by 20% of the first swing): the start of the movement.
    """

    def __init__(self, min_amplitude: float, half_period_s: tuple[float, float]):
        self.amp = float(min_amplitude)
        self.min_half_ns, self.max_half_ns = (int(s * 1e9) for s in half_period_s)
        self.reset()

    def reset(self) -> None:
        self.recent: deque[tuple[int, float]] = deque()     # samples of the last max half period
        self.history: deque[tuple[int, float]] = deque()    # samples of the current sequence (for the onset)
        self.extrema: list[tuple[int, float]] = []
        self.direction = 0                                   # +1 rising towards a max, -1 falling, 0 none
        self.candidate: tuple[int, float] | None = None
        self.last_ns: int | None = None

    def _start(self, t: int, v: float) -> None:
        lo = min(self.recent, key=lambda s: s[1])
        hi = max(self.recent, key=lambda s: s[1])
        if v - lo[1] >= self.amp and lo[0] < t:
            self.extrema, self.direction, self.candidate = [lo], 1, (t, v)
        elif hi[1] - v >= self.amp and hi[0] < t:
            self.extrema, self.direction, self.candidate = [hi], -1, (t, v)
        else:
            return
        self.history = deque(s for s in self.recent if s[0] >= self.extrema[0][0])

    def _advance(self, t: int, v: float) -> None:
        ct, cv = self.candidate
        if (v - cv) * self.direction > 0:                   # the swing continues
            self.candidate = (t, v)
            return
        if abs(cv - v) < self.amp:
            return
        half = ct - self.extrema[-1][0]                      # reversal: confirm the candidate
        if self.min_half_ns <= half <= self.max_half_ns:
            self.extrema.append((ct, cv))
        else:                                                # not a nod-like swing: start over from here
            self.extrema = [(ct, cv)]
            self.history = deque(s for s in self.history if s[0] >= ct)
        self.direction, self.candidate = -self.direction, (t, v)

    def update(self, t_ns: int, value: float) -> tuple[int, int | None, float]:
        """Add a sample; returns (swings so far, onset_ns or None, mean swing amplitude)."""
        if self.last_ns is not None and t_ns < self.last_ns:
            self.reset()
        self.last_ns = t_ns
        if value is None or not np.isfinite(value):
            return self.swings()
        self.recent.append((t_ns, float(value)))
        while self.recent and t_ns - self.recent[0][0] > self.max_half_ns:
            self.recent.popleft()
        if self.direction == 0:
            self._start(t_ns, float(value))
        else:
            self.history.append((t_ns, float(value)))
            self._advance(t_ns, float(value))
            if t_ns - self.candidate[0] > self._patience_ns() or \
                    self.candidate[0] - self.extrema[-1][0] > self.max_half_ns:   # no reversal in time, or a
                self.extrema, self.direction, self.candidate = [], 0, None         # swing too slow: over
        return self.swings()

    def _patience_ns(self) -> float:
        """How long the signal may hold without reversing: 1.5 x the sequence's mean half period."""
        if len(self.extrema) < 2:
            return self.max_half_ns
        mean_half = (self.extrema[-1][0] - self.extrema[0][0]) / (len(self.extrema) - 1)
        return min(self.max_half_ns, max(1.5 * mean_half, 2 * self.min_half_ns))

    def swings(self) -> tuple[int, int | None, float]:
        """(swings, onset_ns, mean swing amplitude) of the current sequence."""
        if self.direction == 0 or not self.extrema:
            return 0, None, 0.0
        points = self.extrema + ([self.candidate] if self.candidate is not None else [])
        steps = [abs(b[1] - a[1]) for a, b in zip(points, points[1:])]
        count = len(self.extrema) - 1 + (1 if steps and steps[-1] >= self.amp else 0)
        full = [s for s in steps if s >= self.amp]
        return count, self._onset(steps[0] if steps else self.amp), float(np.mean(full)) if full else 0.0

    def _onset(self, first_swing: float) -> int:
        """The last moment before the first swing's end at which the signal was still near its start level."""
        t0, v0 = self.extrema[0]
        t1 = self.extrema[1][0] if len(self.extrema) > 1 else self.candidate[0]
        onset = t0
        for t, v in self.history:
            if t > t1:
                break
            if abs(v - v0) <= 0.2 * first_swing:
                onset = t
        return onset

    def span(self) -> tuple[int, int] | None:
        """(first extremum time, now) of the current sequence."""
        if self.direction == 0 or not self.extrema:
            return None
        return self.extrema[0][0], self.last_ns


class BlinkCounter:
    """Blinks from the eye-closure blendshape: close past `closed`, reopen past `open_` within `max_s`."""

    def __init__(self, closed: float, open_: float, max_s: float, window_s: float):
        self.closed, self.open_, self.max_ns = closed, open_, int(max_s * 1e9)
        self.window_ns = int(window_s * 1e9)
        self.closed_since: int | None = None
        self.times: deque[int] = deque()
        self.first_ns: int | None = None

    def update(self, t_ns: int, eye_blink: float) -> int | None:
        """Add a sample; returns the blink's closing time when a blink has just completed, else None."""
        if self.first_ns is None or t_ns < self.first_ns:
            self.first_ns, self.closed_since = t_ns, None
            self.times.clear()
        while self.times and t_ns - self.times[0] > self.window_ns:
            self.times.popleft()
        if eye_blink is None or not np.isfinite(eye_blink):
            return None
        if self.closed_since is None:
            if eye_blink >= self.closed:
                self.closed_since = t_ns
            return None
        if eye_blink <= self.open_:
            start, self.closed_since = self.closed_since, None
            if t_ns - start <= self.max_ns:
                self.times.append(start)
                return start
        return None

    def rate_per_min(self, t_ns: int, min_span_s: float = 10.0, last: int = 10) -> float:
        """Blinks per minute, or NaN before min_span_s of observation.

        Over the last `last` blinks up to now if the window holds that many (reacts within a few blinks and
        decays when blinking stops), else over the window (or the time observed so far).
        """
        span = min(self.window_ns, t_ns - (self.first_ns if self.first_ns is not None else t_ns))
        if span < min_span_s * 1e9:
            return float('nan')
        if len(self.times) >= last:
            return last * 60e9 / max(t_ns - self.times[-last], 1)
        return len(self.times) * 60e9 / span

    def run_start(self, t_ns: int, base_per_min: float, min_blinks: int = 3) -> int | None:
        """Where the current faster run began (a CUSUM change point), or None.

        The blink k maximising the Poisson likelihood ratio of 'the rate rose at blink k to the rate of blinks
        k..now' against 'the base rate throughout'.
        """
        times = list(self.times)
        lam0 = base_per_min / 60e9
        if not times or not lam0 > 0:
            return None
        best, start = 0.0, None
        for k, t_k in enumerate(times[:len(times) - min_blinks + 1]):
            n, span = len(times) - k, max(t_ns - t_k, 1)
            lam1 = n / span
            llr = n * np.log(lam1 / lam0) - (lam1 - lam0) * span
            if lam1 > lam0 and llr > best:
                best, start = llr, t_k
        return start


_HANN: dict[int, np.ndarray] = {}


def _hann(n: int) -> np.ndarray:
    if n not in _HANN:
        _HANN[n] = np.hanning(n)
    return _HANN[n]


class BandMotion:
    """The strongest periodic component of a 2D trajectory in `band_hz` over the last `window_s` seconds.

    update() returns (amplitude of the peak in the band, peak / median amplitude over the band and up to
    twice its top frequency (the broadband noise floor: keypoint jitter is white), peak frequency Hz), from a
    Hann-windowed spectrum of the trajectory resampled to a regular grid; NaNs until the window is 75% full.
    """

    def __init__(self, window_s: float, band_hz: tuple[float, float], min_fill: float = 0.75,
                 every_s: float = 0.2):
        self.window_ns = int(window_s * 1e9)
        self.band = band_hz
        self.min_fill = min_fill
        self.every_ns = int(every_s * 1e9)              # the spectrum is recomputed at most this often
        self.samples: deque[tuple[int, float, float]] = deque()
        self.cached: tuple[int, float] | None = None

    def update(self, t_ns: int, xy, compute: bool = True) -> tuple[float, float, float]:
        """Add a point (NaN = not observed); returns (peak amplitude, peak/floor, peak Hz) or NaNs."""
        if self.samples and t_ns < self.samples[-1][0]:
            self.samples.clear()
            self.cached = None
        if xy is not None and np.all(np.isfinite(xy)):
            self.samples.append((t_ns, float(xy[0]), float(xy[1])))
        while self.samples and t_ns - self.samples[0][0] > self.window_ns:
            self.samples.popleft()
        if not compute or len(self.samples) < 8 or \
                self.samples[-1][0] - self.samples[0][0] < self.min_fill * self.window_ns:
            return float('nan'), float('nan'), float('nan')
        if self.cached is not None and 0 <= t_ns - self.cached[0] < self.every_ns:
            return self.cached[1]
        self.cached = (t_ns, self._rms())
        return self.cached[1]

    def _rms(self) -> tuple[float, float, float]:
        a = np.array(self.samples, np.float64)
        t = (a[:, 0] - a[0, 0]) * 1e-9
        n = len(t)
        grid = np.linspace(0.0, t[-1], n)                   # resample: frame times need not be regular
        xy = np.stack([np.interp(grid, t, a[:, 1]), np.interp(grid, t, a[:, 2])])
        xy -= xy.mean(1, keepdims=True)
        window = _hann(n)
        amp = 2.0 * np.abs(np.fft.rfft(xy * window, axis=1)) / window.sum()    # sinusoid amplitude per bin
        amp = np.hypot(amp[0], amp[1])
        freq = np.fft.rfftfreq(n, grid[1] - grid[0])
        band = (freq >= self.band[0]) & (freq <= self.band[1])
        wide = (freq >= self.band[0]) & (freq <= max(2 * self.band[1], 0.8 * freq[-1]))
        if not band.any() or wide.sum() < 3:
            return float('nan'), float('nan'), float('nan')
        k = int(np.argmax(np.where(band, amp, -1.0)))
        floor = float(np.median(amp[wide]))
        return float(amp[k]), float(amp[k] / floor) if floor > 0 else float('inf'), float(freq[k])

    def displacement(self) -> float:
        """Net displacement over the window (first to last sample), units of xy; NaN if empty."""
        if len(self.samples) < 2:
            return float('nan')
        (_, x0, y0), (_, x1, y1) = self.samples[0], self.samples[-1]
        return float(np.hypot(x1 - x0, y1 - y0))
