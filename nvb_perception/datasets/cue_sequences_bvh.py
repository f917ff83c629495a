"""Body-cue sequences with known ground truth from real motion capture (BVH) rendered to a camera.

    seqs = bvh_sequences(['.assets/data/bvh/test.bvh'], rng, cameras=2)

Clips where the actor stands still (90% of pelvis speeds < 0.2 m/s: test3.bvh) get fidgeting injected:
2-4 Hz wrist or ankle oscillations of 4-8 cm for 4-8 s at random calm times (one per 20 s); only those
sequences score fidgeting (the others hold walking and gestures whose fidgeting status is unknown).
It is seen by virtual cameras 3.5 m away at 1.2 m height (azimuths 0 and 40 deg from the clip's mean
facing direction, 1280x720, fx 1000 px): the detector gets the projected 2D skeleton (joint set h36m17)
with the 2D jitter measured on our BlazePose (lifting.corruption.SIGMA_FRACTION x person height),
One-Euro-smoothed as the pose stage does, and the camera-frame 3D skeleton with 1.5 cm noise.
Ground truth from the clean world-frame mocap, by each cue's definition (same thresholds): wrist within
head_dist_m of the head centre (self_touch_face), wrists within hands_dist_m (self_touch_hands), trunk
pitch from the true vertical (lean_forward/back), arm opening in the trunk's
frontal plane (posture_open/closed), both against the person's running baseline exactly as the cue defines
it (sequences.relative_intervals), and the injected fidgeting windows.
"""
from __future__ import annotations

import math

import numpy as np

from nvb_perception.cues.definitions import CueConfig
from nvb_perception.cues.person import PersonInput
from nvb_perception.datasets.cue_sequences import Sequence, intervals, relative_intervals
from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton2D, Skeleton3D, TrackState

IMAGE = (1280, 720)
FIDGET_AMPLITUDE_M = (0.04, 0.08)   # injected fidget amplitude range (smaller ones drown in 2D keypoint jitter)
FIDGET_SECONDS = (4.0, 8.0)
FOCAL_PX = 1000.0


def inject_fidgeting(rng, pos: np.ndarray, fps: float, n: int = 4) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Add n oscillations of a wrist or ankle in calm stretches; returns positions and the windows (s)."""
    out = pos.copy()
    speed = np.linalg.norm(np.diff(pos[:, H36M.PELVIS], axis=0), axis=1) * fps
    calm = np.convolve(speed < 0.3, np.ones(int(4 * fps)) / int(4 * fps), mode='same') > 0.8
    candidates = np.flatnonzero(calm)
    windows, used = [], np.zeros(len(pos), bool)
    for _ in range(50):
        if len(windows) >= n or not len(candidates):
            break
        start = int(rng.choice(candidates))
        dur = int(rng.uniform(*FIDGET_SECONDS) * fps)
        if start + dur >= len(pos) or used[max(0, start - int(4 * fps)):start + dur + int(4 * fps)].any():
            continue
        joint = H36M[str(rng.choice(['LEFT_WRIST', 'RIGHT_WRIST', 'LEFT_ANKLE', 'RIGHT_ANKLE']))]
        freq, amp = rng.uniform(2.0, 4.0), rng.uniform(*FIDGET_AMPLITUDE_M)
        direction = np.array([*rng.normal(size=2), 0.3 * rng.normal()])
        direction /= np.linalg.norm(direction)
        k = np.arange(dur)
        ramp = np.clip(np.minimum(k, dur - k) / (0.2 * fps), 0, 1)
        out[start:start + dur, joint] += (amp * ramp * np.sin(2 * np.pi * freq * k / fps))[:, None] * direction
        used[start:start + dur] = True
        windows.append((start / fps, (start + dur) / fps))
    return out, sorted(windows)


def trunk_pitch_deg(pos: np.ndarray) -> np.ndarray:
    """Trunk pitch towards the person's front from the true vertical (world z up), degrees, per frame."""
    trunk = pos[:, H36M.THORAX] - pos[:, H36M.PELVIS]
    lateral = pos[:, H36M.LEFT_HIP] - pos[:, H36M.RIGHT_HIP]
    up = np.array([0.0, 0.0, 1.0])
    forward = np.cross(lateral, up)                     # z-up world: left x up = forward
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-9)
    return np.degrees(np.arctan2((trunk * forward).sum(1), trunk @ up))


def arm_opening_deg(pos: np.ndarray) -> np.ndarray:
    """Mean signed arm opening in the trunk's frontal plane (as Body3D.arm_angle_deg), degrees, per frame."""
    down = pos[:, H36M.PELVIS] - pos[:, H36M.THORAX]
    down /= np.linalg.norm(down, axis=1, keepdims=True)
    lateral = pos[:, H36M.LEFT_SHOULDER] - pos[:, H36M.RIGHT_SHOULDER]
    lateral -= (lateral * down).sum(1, keepdims=True) * down
    lateral /= np.linalg.norm(lateral, axis=1, keepdims=True)
    angles = []
    for side, sign in (('LEFT', 1.0), ('RIGHT', -1.0)):
        arm = pos[:, H36M[f'{side}_WRIST']] - pos[:, H36M[f'{side}_SHOULDER']]
        a, d = (arm * lateral).sum(1) * sign, (arm * down).sum(1)
        ang = np.degrees(np.arctan2(a, d))
        angles.append(np.where(np.hypot(a, d) < 0.3 * np.linalg.norm(arm, axis=1), 0.0, ang))
    return np.mean(angles, axis=0)


def ground_truth(pos: np.ndarray, fps: float, fidget: list, config: CueConfig) -> dict:
    """Truth intervals (s) of the body cues on clean world-frame mocap (see the module docstring)."""
    t = np.arange(len(pos)) / fps
    head = (pos[:, H36M.HEAD] + pos[:, H36M.NECK]) / 2
    face_d = np.min([np.linalg.norm(pos[:, H36M[f'{s}_WRIST']] - head, axis=1) for s in ('LEFT', 'RIGHT')], axis=0)
    hands_d = np.linalg.norm(pos[:, H36M.LEFT_WRIST] - pos[:, H36M.RIGHT_WRIST], axis=1)
    truth = {'self_touch_face': intervals(t, face_d / config.head_dist_m, config.self_touch_face),
             'self_touch_hands': intervals(t, hands_d / config.hands_dist_m, config.self_touch_hands),
             **({'fidgeting': list(fidget)} if fidget is not None else {})}
    truth['lean_forward'], truth['lean_back'] = relative_intervals(
        t, trunk_pitch_deg(pos), [config.lean_forward, config.lean_back])
    truth['posture_open'], truth['posture_closed'] = relative_intervals(
        t, arm_opening_deg(pos), [config.posture_open, config.posture_closed])
    return truth


def camera(pos: np.ndarray, azimuth_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(world->optical rotation, position) of a camera 3.5 m from the clip's mean pelvis, 1.2 m high."""
    from nvb_perception.lifting.camera import look_at
    centre = pos[:, H36M.PELVIS].mean(0)
    lateral = (pos[:, H36M.LEFT_HIP] - pos[:, H36M.RIGHT_HIP]).mean(0)
    facing = math.atan2(-lateral[0], lateral[1])        # forward = lateral x up = (ly, -lx, 0)
    a = facing + math.radians(azimuth_deg)
    position = np.array([centre[0] + 3.5 * math.cos(a), centre[1] + 3.5 * math.sin(a), 1.2])
    target = np.array([centre[0], centre[1], 1.0])
    return look_at(position, target), position


def render(rng, pos: np.ndarray, fps: float, azimuth_deg: float) -> list[PersonInput]:
    """Per-frame PersonInputs (2D h36m17 + camera-frame 3D) of a clip seen from one camera."""
    from nvb_perception.datasets.corruption import SIGMA_FRACTION, person_height_px
    from nvb_perception.lifting.camera import project, world_to_camera
    from nvb_perception.pose2d.smoothing import LANDMARKS, OneEuroFilter
    rot, cam_pos = camera(pos, azimuth_deg)
    cam = world_to_camera(pos[None], rot[None], cam_pos[None])[0]          # (F, 17, 3)
    k = np.array([[FOCAL_PX, FOCAL_PX, IMAGE[0] / 2, IMAGE[1] / 2]])
    px, in_front = project(cam[None], k)
    px, in_front = px[0], in_front[0]
    height = person_height_px(px)
    noisy = px + rng.normal(size=px.shape) * (SIGMA_FRACTION[None, :, None] * height[:, None, None])
    smoother = OneEuroFilter(**LANDMARKS)
    inputs = []
    for i in range(len(pos)):
        stamp = int(i * 1e9 / fps)
        kp = smoother(noisy[i], stamp, value_scale=1.0 / max(float(height[i]), 1.0))
        conf = in_front[i].astype(np.float32) * 0.95
        box = np.concatenate([kp.min(0), kp.max(0)])
        sk2 = Skeleton2D(kp, conf, 'h36m17', 0, TrackState.TRACKED, 1.0, box)
        sk3 = Skeleton3D(cam[i] + rng.normal(0, 0.015, cam[i].shape), conf, 'h36m17', 0, TrackState.TRACKED,
                         root_relative=False)
        inputs.append(PersonInput(skeleton=sk2, skeleton3d=sk3))
    return inputs


def bvh_sequences(paths, rng, azimuths=(0.0, 40.0), config: CueConfig | None = None,
                  max_seconds: float | None = None) -> list[Sequence]:
    """One sequence per clip and camera (see the module docstring)."""
    from nvb_perception.datasets.bvh import load_h36m
    config = config or CueConfig()
    out = []
    for path in paths:
        clip = load_h36m(path)
        pos = clip.positions.astype(np.float64)
        if max_seconds:
            pos = pos[:int(max_seconds * clip.fps)]
        calm = np.percentile(np.linalg.norm(np.diff(pos[:, H36M.PELVIS], axis=0), axis=1) * clip.fps, 90) < 0.2
        fidget = None
        if calm:                     # fidgeting is injected (and scored) only where the actor stands still
            pos, fidget = inject_fidgeting(rng, pos, clip.fps, n=max(2, int(len(pos) / clip.fps / 20)))
        truth = ground_truth(pos, clip.fps, fidget, config)
        for az in azimuths:
            out.append(Sequence(f'{clip.name}_az{az:g}', clip.fps, render(rng, pos, clip.fps, az), truth))
    return out
