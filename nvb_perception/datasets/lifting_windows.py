"""Simulated 2D/3D training windows from mocap: splits, augmentation, virtual cameras and 2D errors.

    clips = [resample(load_h36m(p)) for p in paths]                 # MocapClip at FPS
    splits = split_clips(clips, held_out=('test2',))               # {'train', 'val', 'test'}: lists of (F, 17, 3)
    inputs, targets, info = make_windows(splits['train'], 4096, frames=27, rng=rng, config=SimulationConfig())

Splits never mix random frames: held-out files form 'test' whole; the other clips are cut into time segments,
every `val_every`-th of which goes to 'val', with `guard_s` seconds dropped at each train/val border so that no
window overlaps both. Windows never cross a segment border.

inputs (N, T, 17, 3) float32: camera.normalize_keypoints of corrupted 2D detections [x, y, confidence].
targets (N, T, 17, 3) float32: joints minus pelvis, metres, in the root-ray frame of each frame (camera module:
the optical frame turned to look at the pelvis). The lifter is trained on the last frame of each window.
"""
from dataclasses import dataclass, field

import numpy as np

from nvb_perception.datasets.bvh import MocapClip
from nvb_perception.datasets.corruption import MIRROR, CorruptionConfig, corrupt
from nvb_perception.lifting import camera
from nvb_perception.skeleton import H36M

FPS = 30.0   # every clip is resampled to this rate
# Parent of each H36M joint (bones for bone-length scaling); the pelvis is the root.
PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15])
# Bone groups scaled together (the child joint of each bone), left and right alike.
BONE_GROUPS = (
    (H36M.RIGHT_KNEE, H36M.LEFT_KNEE), (H36M.RIGHT_ANKLE, H36M.LEFT_ANKLE),
    (H36M.LEFT_ELBOW, H36M.RIGHT_ELBOW), (H36M.LEFT_WRIST, H36M.RIGHT_WRIST),
    (H36M.SPINE, H36M.THORAX), (H36M.NECK, H36M.HEAD), (H36M.LEFT_SHOULDER, H36M.RIGHT_SHOULDER),
    (H36M.LEFT_HIP, H36M.RIGHT_HIP))


@dataclass(frozen=True)
class SimulationConfig:
    """How windows are made: augmentation ranges, cameras and 2D errors."""

    camera_kind: camera.CameraKind = camera.LAB
    elevation_deg: tuple[float, float] | None = None   # override the kind's elevations (evaluation bands)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    height_scale: tuple[float, float] = (0.85, 1.15)   # whole-body size factor
    bone_scale: float = 0.08          # each bone group's factor ~ U(1 -/+ bone_scale)
    mirror_prob: float = 0.5          # reflect and relabel left/right
    speed: tuple[float, float] = (0.7, 1.4)   # playback speed factor (1 = as recorded)
    static_prob: float = 0.05         # the last frame repeated T times: the lifter's single-frame mode
    start_pad_prob: float = 0.1       # the first k frames repeat frame k: a track that just started


def resample(clip: MocapClip, fps: float = FPS) -> MocapClip:
    """Linearly interpolate a clip to `fps` frames per second."""
    n = len(clip.positions)
    times = np.arange(0.0, (n - 1) / clip.fps + 1e-9, 1.0 / fps) * clip.fps
    return MocapClip(clip.name, _interpolate(clip.positions, times), fps)


def _interpolate(positions: np.ndarray, frame_idx: np.ndarray) -> np.ndarray:
    """Interpolate positions (F, J, 3) at fractional frame indices (...) -> (..., J, 3)."""
    lo = np.clip(np.floor(frame_idx).astype(int), 0, len(positions) - 1)
    hi = np.minimum(lo + 1, len(positions) - 1)
    w = (frame_idx - lo)[..., None, None]
    return ((1 - w) * positions[lo] + w * positions[hi]).astype(np.float32)


def split_clips(clips: list[MocapClip], held_out: tuple[str, ...] = ('test2',), segment_s: float = 20.0,
                val_every: int = 5, guard_s: float = 3.0) -> dict[str, list[np.ndarray]]:
    """Split clips by file and by time segment (never by random frame).

    Args:
        clips: clips at a common frame rate.
        held_out: clip names that go whole to 'test'.
        segment_s: length of the time segments the other clips are cut into.
        val_every: every val_every-th segment (starting with the middle of the first group) goes to 'val'.
        guard_s: dropped at every border between a 'train' and a 'val' segment.

    Returns:
        {'train': [...], 'val': [...], 'test': [...]} lists of (F, 17, 3) contiguous pieces.

    """
    out = {'train': [], 'val': [], 'test': []}
    for clip in clips:
        if clip.name in held_out:
            out['test'].append(clip.positions)
            continue
        seg, guard = int(segment_s * clip.fps), int(guard_s * clip.fps)
        n_seg = max(1, int(np.ceil(len(clip.positions) / seg)))
        labels = ['val' if i % val_every == val_every // 2 else 'train' for i in range(n_seg)]
        start = 0
        for i, label in enumerate(labels):
            end = min(len(clip.positions), (i + 1) * seg)
            if i + 1 < n_seg and labels[i + 1] == label:
                continue   # merge with the next segment of the same split
            lo = start + (guard if start > 0 else 0)
            hi = end - (guard if end < len(clip.positions) else 0)
            if hi > lo:
                out[label].append(clip.positions[lo:hi])
            start = end
    return out


def scale_bones(positions: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Rescale bones and rebuild the skeleton outward from the pelvis.

    Args:
        positions: (N, T, 17, 3) metres.
        factors: (N, 17) length factor of the bone ending at each joint (the pelvis entry is ignored).

    Returns:
        (N, T, 17, 3) with the same pelvis trajectory.

    """
    out = positions.copy()
    for j in range(1, len(PARENTS)):   # parents come before children in H36M order
        p = PARENTS[j]
        out[..., j, :] = out[..., p, :] + factors[:, None, j, None] * (positions[..., j, :] - positions[..., p, :])
    return out


def mirror(positions: np.ndarray) -> np.ndarray:
    """Reflect (..., 17, 3) world positions in the x = 0 plane and relabel left and right."""
    return positions[..., MIRROR, :] * np.array([-1.0, 1.0, 1.0], np.float32)


def rotate_vertical(positions: np.ndarray, yaw_rad: np.ndarray) -> np.ndarray:
    """Rotate (N, ..., 3) world positions about the world z axis by yaw_rad (N,)."""
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    r = np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)
    r_t = np.swapaxes(r, -1, -2).reshape((len(r),) + (1,) * (positions.ndim - 3) + (3, 3))
    return (positions @ r_t).astype(np.float32)


def draw_windows(segments: list[np.ndarray], n: int, frames: int, rng: np.random.Generator,
                 speed: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """(n, frames, 17, 3) windows at random places in random segments, played at a random speed.

    Segments are picked in proportion to their length; a window at speed s covers s x frames source frames.
    """
    lengths = np.array([len(s) for s in segments], float)
    usable = np.maximum(lengths - speed[1] * (frames - 1) - 1, 0)
    if usable.sum() <= 0:
        raise ValueError(f'no segment is long enough for {frames} frames at speed {speed[1]}')
    which = rng.choice(len(segments), size=n, p=usable / usable.sum())
    rate = rng.uniform(*speed, n)
    start = rng.random(n) * usable[which]
    out = np.empty((n, frames, len(H36M), 3), np.float32)
    for i in range(len(segments)):
        m = which == i
        if m.any():
            out[m] = _interpolate(segments[i], start[m, None] + rate[m, None] * np.arange(frames))
    return out


def augment(windows: np.ndarray, rng: np.random.Generator, config: SimulationConfig) -> np.ndarray:
    """Body proportions, mirroring and a random yaw for (N, T, 17, 3) world windows."""
    n = len(windows)
    factors = np.ones((n, len(H36M)), np.float32)
    for group in BONE_GROUPS:
        factors[:, list(group)] = rng.uniform(1 - config.bone_scale, 1 + config.bone_scale, (n, 1))
    factors *= rng.uniform(*config.height_scale, (n, 1))
    out = scale_bones(windows, factors)
    flip = rng.random(n) < config.mirror_prob
    out[flip] = mirror(out[flip])
    return rotate_vertical(out, rng.uniform(0, 2 * np.pi, n))


def make_windows(segments: list[np.ndarray], n: int, frames: int, rng: np.random.Generator,
                 config: SimulationConfig = SimulationConfig(), augmentation: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Simulate n lifter training pairs.

    Args:
        segments: (F, 17, 3) world metres, from split_clips.
        n: number of windows.
        frames: window length T (the lifter's receptive field).
        rng: the only source of randomness.
        config: cameras, errors and augmentation.
        augmentation: False for evaluation (no speed change, bone scaling, mirroring, static or padded windows).

    Returns:
        inputs (n, T, 17, 3), targets (n, T, 17, 3) (see module docstring) and info with 'elevation_deg' (n,).

    """
    world = draw_windows(segments, n, frames, rng, config.speed if augmentation else (1.0, 1.0))
    if augmentation:
        world = augment(world, rng, config)
    cams = camera.sample_cameras(rng, n, world[:, -1, H36M.PELVIS], config.camera_kind, frames,
                                 config.elevation_deg)
    cam_points = camera.world_to_camera(world, cams.rotation, cams.position)        # (n, T, 17, 3)
    pixels, in_front = camera.project(cam_points, cams.intrinsics)
    keypoints, confidence = corrupt(pixels, in_front, cams.image_size, rng, config.corruption)
    inputs = camera.normalize_keypoints(keypoints, confidence)
    root = cam_points[..., H36M.PELVIS, :]
    targets = (cam_points - root[..., None, :]) @ np.swapaxes(camera.ray_rotation(root), -1, -2)
    if augmentation:
        static = rng.random(n) < config.static_prob
        inputs[static], targets[static] = inputs[static, -1:], targets[static, -1:]
        pad = (rng.random(n) < config.start_pad_prob) & ~static
        first = rng.integers(1, frames, n)
        for i in np.flatnonzero(pad):
            inputs[i, :first[i]], targets[i, :first[i]] = inputs[i, first[i]], targets[i, first[i]]
    return inputs, targets.astype(np.float32), {'elevation_deg': cams.elevation_deg}
