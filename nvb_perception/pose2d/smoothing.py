"""Temporal smoothing of one person's landmarks, as MediaPipe's `pose_landmark_filtering` graph.

    smoother = PoseSmoother()
    landmarks, aux, world, visibility = smoother(stamp_ns, landmarks, aux, world, visibility)

MediaPipe (0.10.18) filters, per person:
* image landmarks (x, y, z in pixels): One-Euro, min_cutoff 0.05, beta 80, derivate_cutoff 1, with the
  velocity scaled by 1 / object scale; the object scale is the side of the square spanned by auxiliary
  landmarks 33 and 34 (2 * their distance, px: the OBJECT_SCALE_ROI rect's (width + height) / 2);
* auxiliary landmarks (33, 34; they make the next ROI): One-Euro, min_cutoff 0.01, beta 10, derivate 1,
  same object scale;
* world landmarks (metres): One-Euro, min_cutoff 0.1, beta 40, derivate 1, disable_value_scaling;
* visibility: low-pass, alpha 0.1 (new = 0.1 * raw + 0.9 * previous).
The One-Euro filter (MediaPipe util/filtering/one_euro_filter.cc): the sampling frequency comes from the
time between samples (30 Hz until two stamps are known); the first sample passes through unchanged;
a sample whose stamp is not after the last one is returned unfiltered. Time going backwards is handled
by the caller (estimator), which resets every smoother.
"""
from __future__ import annotations

import math

import numpy as np

DEFAULT_FREQUENCY_HZ = 30.0
MIN_OBJECT_SCALE = 1e-6            # px; below it MediaPipe returns landmarks unfiltered
LANDMARKS = dict(min_cutoff=0.05, beta=80.0, derivate_cutoff=1.0)
AUXILIARY = dict(min_cutoff=0.01, beta=10.0, derivate_cutoff=1.0)
WORLD = dict(min_cutoff=0.1, beta=40.0, derivate_cutoff=1.0)
VISIBILITY_ALPHA = 0.1


class LowPass:
    """Exponential smoothing of an array, MediaPipe LowPassFilter (the first value passes through)."""

    def __init__(self, alpha: float | None = None):
        self.alpha = alpha
        self.raw: np.ndarray | None = None       # last raw value
        self.value: np.ndarray | None = None     # last smoothed value

    def __call__(self, value: np.ndarray, alpha: float | None = None) -> np.ndarray:
        a = self.alpha if alpha is None else alpha
        value = np.asarray(value, np.float64)
        self.value = value.copy() if self.value is None else a * value + (1.0 - a) * self.value
        self.raw = value.copy()
        return self.value

    def reset(self) -> None:
        self.raw = self.value = None


class OneEuroFilter:
    """One-Euro filter over an array of values that share one clock (MediaPipe's OneEuroFilter, vectorised).

    Args:
        min_cutoff: Hz, cutoff at zero speed (lower = smoother when still).
        beta: speed coefficient (higher = less lag when moving).
        derivate_cutoff: Hz, cutoff of the speed estimate.
        frequency: Hz, assumed rate until two stamps are known.
    """

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float,
                 frequency: float = DEFAULT_FREQUENCY_HZ):
        self.min_cutoff, self.beta, self.derivate_cutoff = min_cutoff, beta, derivate_cutoff
        self.default_frequency = frequency
        self.reset()

    def reset(self) -> None:
        self.frequency = self.default_frequency
        self.last_ns: int | None = None
        self.x, self.dx = LowPass(), LowPass()

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        te = 1.0 / self.frequency
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / te)

    def __call__(self, value: np.ndarray, stamp_ns: int, value_scale: float = 1.0) -> np.ndarray:
        """Filter one sample.

        Args:
            value: array (any shape, the same every call), e.g. (J, 3) pixels.
            stamp_ns: sample time, ns.
            value_scale: multiplies the speed before it sets the cutoff (1 / object size for pixels).

        Returns:
            Filtered array, float64, same shape.
        """
        value = np.asarray(value, np.float64)
        if self.last_ns is not None and stamp_ns <= self.last_ns:
            return value                          # as MediaPipe: not after the last sample -> unfiltered
        if self.last_ns is not None:
            self.frequency = 1e9 / (stamp_ns - self.last_ns)
        self.last_ns = stamp_ns
        speed = (value - self.x.raw) * value_scale * self.frequency if self.x.raw is not None else np.zeros_like(value)
        speed = self.dx(speed, self._alpha(self.derivate_cutoff))
        cutoff = self.min_cutoff + self.beta * np.abs(speed)
        return self.x(value, self._alpha(cutoff))


def object_scale(aux_px: np.ndarray) -> float:
    """Side (px) of the square that aux landmarks 33 (hip centre) and 34 (scale point) span: 2 * distance."""
    d = np.asarray(aux_px, np.float64)[1, :2] - np.asarray(aux_px, np.float64)[0, :2]
    return 2.0 * float(np.hypot(*d))


class PoseSmoother:
    """All of one person's filters; call once per frame with that frame's raw values."""

    def __init__(self, frequency: float = DEFAULT_FREQUENCY_HZ):
        self.landmarks = OneEuroFilter(**LANDMARKS, frequency=frequency)
        self.aux = OneEuroFilter(**AUXILIARY, frequency=frequency)
        self.world = OneEuroFilter(**WORLD, frequency=frequency)
        self.visibility = LowPass(VISIBILITY_ALPHA)

    def reset(self) -> None:
        """Forget the history (after a lost track or when time went backwards)."""
        for f in (self.landmarks, self.aux, self.world, self.visibility):
            f.reset()

    def __call__(self, stamp_ns: int, landmarks: np.ndarray, aux: np.ndarray, world: np.ndarray,
                 visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Smooth one frame.

        Args:
            stamp_ns: frame time, ns.
            landmarks: (33, 3) px x, y, z.
            aux: (2, 3) px auxiliary landmarks 33, 34 (unfiltered: they also give the object scale).
            world: (33, 3) metres.
            visibility: (33,) [0, 1].

        Returns:
            The same four arrays, smoothed (float64).
        """
        scale = object_scale(aux)
        if scale < MIN_OBJECT_SCALE:             # degenerate person: MediaPipe passes pixels through
            lm, ax = np.asarray(landmarks, np.float64), np.asarray(aux, np.float64)
        else:
            lm = self.landmarks(landmarks, stamp_ns, 1.0 / scale)
            ax = self.aux(aux, stamp_ns, 1.0 / scale)
        return lm, ax, self.world(world, stamp_ns), self.visibility(visibility)
