"""Error model for simulated 2D detections: what a pose estimator gets wrong, applied to exact projections.

    keypoints, confidence = corrupt(pixels, in_front, image_size, rng, CorruptionConfig())   # (N, T, 17, ...)

Effects, in this order: per-joint Gaussian jitter (std = SIGMA_FRACTION x the person's height in pixels, or a
sigma vector you pass to `jitter`), left/right swaps, outliers, occluded limbs and randomly dropped joints
(confidence 0), joints behind the camera or outside the image (truncation: confidence 0) and whole-frame
detection gaps (every confidence 0). Confidences fall with the jitter actually drawn, outliers get middling
confidences (detectors are often sure of wrong answers) and swaps keep theirs. The same Generator state gives
the same output.

SIGMA_FRACTION is measured on our BlazePose by `datasets/calibrate_jitter.py` (see the table's comment); pass another
vector through `CorruptionConfig.sigma_fraction`.
"""
from dataclasses import dataclass, field

import numpy as np

from nvb_perception.skeleton import H36M

# Jitter std per H36M joint (per axis) as a fraction of the person's height in pixels, measured on our BlazePose
# (raw video-mode landmarks, smoothing off) by datasets/calibrate_jitter.py (seed 0, --frames 400 --repeats 16):
# per joint the root-sum-square of the test-retest std on still images under small shifts/scales/rotations and
# the mirror-image inconsistency, capped by the robust frame-to-frame (second-difference) std on the tracked
# pedestrians of vtest.avi; left/right pooled. About 1 % of the height (2.5 px for a 250 px person), most at the
# knees/ankles/elbows, least at the neck. Not included: the constant offset between BlazePose's keypoints and a
# mocap skeleton's joint centres (needs labelled data). The previous guess (COCO-OKS-like) averaged 0.0108.
SIGMA_FRACTION = np.array([
    0.0101,                    # pelvis (mean of two hips)
    0.0115, 0.0139, 0.0139,    # right hip, knee, ankle
    0.0115, 0.0139, 0.0139,    # left hip, knee, ankle
    0.0078, 0.0070, 0.0059,    # spine, thorax, neck
    0.0079,                    # head top (extrapolated from the ears)
    0.0113, 0.0122, 0.0103,    # left shoulder, elbow, wrist
    0.0113, 0.0122, 0.0103])   # right shoulder, elbow, wrist
# Joint swapped with its mirror joint in a left/right swap (identity for the midline joints).
MIRROR = np.array([H36M[n.replace('LEFT', 'TMP').replace('RIGHT', 'LEFT').replace('TMP', 'RIGHT')] for n in
                   H36M.__members__])
LEFT_JOINTS = np.array([j for j in H36M if 'LEFT' in j.name])
# Limbs an occluder hides together (a joint and the ones further out).
LIMBS = tuple(np.array([H36M[n] for n in names]) for names in (
    ('LEFT_ELBOW', 'LEFT_WRIST'), ('RIGHT_ELBOW', 'RIGHT_WRIST'), ('LEFT_WRIST',), ('RIGHT_WRIST',),
    ('LEFT_KNEE', 'LEFT_ANKLE'), ('RIGHT_KNEE', 'RIGHT_ANKLE'), ('LEFT_ANKLE', 'RIGHT_ANKLE'),
    ('RIGHT_HIP', 'RIGHT_KNEE', 'RIGHT_ANKLE', 'PELVIS', 'LEFT_HIP', 'LEFT_KNEE', 'LEFT_ANKLE')))


@dataclass(frozen=True)
class CorruptionConfig:
    """Rates of each error. Probabilities are per frame (per joint or per pair where said)."""

    sigma_fraction: np.ndarray = field(default_factory=lambda: SIGMA_FRACTION.copy())  # (17,) of person height
    sigma_scale: float = 1.0        # multiplies sigma_fraction (noise level sweeps)
    drop_prob: float = 0.02         # per joint: confidence 0
    occlusion_prob: float = 0.3     # per window: one limb hidden for a random run of frames
    swap_prob: float = 0.01         # per left/right pair: a run of 1-5 swapped frames starts
    outlier_prob: float = 0.01      # per joint: displaced by N(0, outlier_fraction x height)
    outlier_fraction: float = 0.25
    gap_prob: float = 0.01          # per frame: a run of 1..gap_max_frames missing detections starts
    gap_max_frames: int = 3
    fraction_corrupted: float = 0.0  # evaluation: this fraction of joints per frame dropped/outlier/swapped

    def __post_init__(self):
        probs = ('drop_prob', 'occlusion_prob', 'swap_prob', 'outlier_prob', 'gap_prob', 'fraction_corrupted')
        for name in probs:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if np.shape(self.sigma_fraction) != (len(H36M),):
            raise ValueError(f'sigma_fraction must have shape (17,), got {np.shape(self.sigma_fraction)}')


CLEAN = CorruptionConfig(sigma_scale=0.0, drop_prob=0.0, occlusion_prob=0.0, swap_prob=0.0, outlier_prob=0.0,
                         gap_prob=0.0)


def person_height_px(keypoints_px: np.ndarray) -> np.ndarray:
    """(..., 17, 2) -> (...) the longer side of the joints' bounding box, pixels (a lying person counts too)."""
    extent = keypoints_px.max(axis=-2) - keypoints_px.min(axis=-2)
    return np.maximum(extent.max(axis=-1), 1.0)


def jitter(keypoints_px: np.ndarray, sigma_px: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, sigma) pixel noise independently to x and y. sigma_px broadcasts to (..., 17)."""
    sigma = np.broadcast_to(sigma_px, keypoints_px.shape[:-1])
    return keypoints_px + rng.normal(size=keypoints_px.shape) * sigma[..., None]


def _runs(rng: np.random.Generator, shape: tuple, prob: float, max_len: int) -> np.ndarray:
    """(N, T, ...) bool: runs of 1..max_len True frames that start with probability `prob` per frame."""
    starts = rng.random(shape) < prob
    lengths = rng.integers(1, max_len + 1, shape)
    out = np.zeros(shape, bool)
    for k in range(min(max_len, shape[1])):   # a run may be longer than the window
        shifted = starts & (lengths > k)
        out[:, k:] |= shifted[:, :shape[1] - k]
    return out


def _swap(values: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Swap each left joint with its mirror where pairs (N, T, 6) is set. values: (N, T, 17, ...)."""
    out = values.copy()
    for i, j in enumerate(LEFT_JOINTS):
        m = pairs[..., i]
        out[m, j], out[m, MIRROR[j]] = values[m, MIRROR[j]], values[m, j]
    return out


def _occlusions(rng: np.random.Generator, n: int, frames: int, prob: float) -> np.ndarray:
    """(n, frames, 17) bool: in a `prob` share of windows one limb is hidden for a random run of frames."""
    hidden = np.zeros((n, frames, len(H36M)), bool)
    for i in np.flatnonzero(rng.random(n) < prob):
        limb = LIMBS[rng.integers(len(LIMBS))]
        start = rng.integers(frames)
        hidden[i, start:start + rng.integers(1, frames + 1), limb[:, None]] = True
    return hidden


def corrupt(keypoints_px: np.ndarray, in_front: np.ndarray, image_size: np.ndarray, rng: np.random.Generator,
            config: CorruptionConfig = CorruptionConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Turn exact projections into plausible detections.

    Args:
        keypoints_px: (N, T, 17, 2) exact H36M-17 pixels.
        in_front: (N, T, 17) bool, the joint is in front of the camera (camera.project).
        image_size: (N, 2) width, height pixels.
        rng: the only source of randomness.
        config: error rates.

    Returns:
        keypoints (N, T, 17, 2) float32 pixels and confidence (N, T, 17) float32 in [0, 1]; 0 = not detected.
        The last frame of a window is never a detection gap (the lifter is only asked about detected people).

    """
    n, frames, joints, _ = keypoints_px.shape
    height = person_height_px(keypoints_px)                               # (N, T)
    sigma = config.sigma_scale * config.sigma_fraction * height[..., None]  # (N, T, 17) px
    noisy = jitter(keypoints_px, sigma, rng)
    err = np.linalg.norm(noisy - keypoints_px, axis=-1) / np.maximum(3 * sigma, 1e-6)
    confidence = np.clip(rng.normal(0.9, 0.05, (n, frames, joints)), 0.05, 1.0) * np.exp(-0.5 * err ** 2)

    pairs = _runs(rng, (n, frames, len(LEFT_JOINTS)), config.swap_prob, 5)    # per left/right pair
    outliers = rng.random((n, frames, joints)) < config.outlier_prob
    dropped = (rng.random((n, frames, joints)) < config.drop_prob) | _occlusions(rng, n, frames,
                                                                                config.occlusion_prob)
    if config.fraction_corrupted > 0:
        # exactly round(f x 17) joints per frame, each dropped, displaced or swapped (a third each)
        chosen = np.argsort(rng.random((n, frames, joints)), axis=-1)[..., :round(config.fraction_corrupted * joints)]
        kind = rng.integers(3, size=chosen.shape)
        picked = [np.zeros_like(dropped) for _ in range(3)]
        for code, mask in enumerate(picked):
            np.put_along_axis(mask, chosen, kind == code, axis=-1)
        swapped = picked[2]
        midline = MIRROR == np.arange(joints)
        dropped |= picked[0]
        outliers |= picked[1] | (swapped & midline)      # a midline joint has no mirror: displace it instead
        pairs |= swapped[..., LEFT_JOINTS] | swapped[..., MIRROR[LEFT_JOINTS]]
    noisy, confidence = _swap(noisy, pairs), _swap(confidence, pairs)
    noisy = np.where(outliers[..., None], noisy + rng.normal(size=noisy.shape) * config.outlier_fraction
                     * height[..., None, None], noisy)
    confidence = np.where(outliers, rng.uniform(0.1, 0.8, outliers.shape), confidence)

    size = image_size.reshape(n, 1, 1, 2)
    inside = np.all((noisy >= 0) & (noisy < size), axis=-1) & in_front
    gaps = _runs(rng, (n, frames), config.gap_prob, config.gap_max_frames)
    gaps[:, -1] = False
    confidence = np.where(dropped | ~inside | gaps[..., None], 0.0, confidence)
    return noisy.astype(np.float32), confidence.astype(np.float32)
