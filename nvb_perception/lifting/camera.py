"""Virtual cameras for simulating 2D keypoints from mocap, pinhole projection and the lifter's 2D normalisation.

    cams = sample_cameras(rng, n=4, target=pelvis_world, kind=PHONE)          # CameraBatch of 4
    cam_points = world_to_camera(points_world, cams.rotation, cams.position)    # (4, J, 3) optical frame
    pixels = project(cam_points, cams.intrinsics)                               # (4, J, 2)

Frames: world is right-handed, z up, metres (lifting.bvh). The camera optical frame is x right, y down, z forward
(ROS `*_optical_frame`). Elevation is the angle of the camera above the horizontal as seen from the aimed-at
point (positive = looking down at the person); azimuth is about the world z axis.

Normalisation (`normalize_keypoints`): root-relative and scale-normalised, not VideoPose3D's image-width scaling,
so that the lifter needs no intrinsics and is invariant to the image size, focal length, distance and where the
person is in the image. The price is that an off-centre person is seen from a slightly different direction than
the optical axis; the lifter therefore predicts the pose in the *root-ray frame* (the optical frame turned so
that z passes through the pelvis, `ray_rotation`), which equals the optical frame for a centred person. With
intrinsics, `ray_rotation_from_pixel(...).T` turns a prediction back into the optical frame exactly.
"""
from dataclasses import dataclass

import numpy as np

from nvb_perception.skeleton import H36M

MIN_DEPTH_M = 0.1   # points nearer than this (or behind the camera) are not visible


@dataclass(frozen=True)
class CameraKind:
    """Ranges a kind of camera set-up is sampled from (uniform unless said otherwise)."""

    distance_m: tuple[float, float]           # camera to aimed-at point
    elevation_deg: tuple[float, float]
    height_m: tuple[float, float]             # camera height above the floor (z = 0); rejection-sampled
    focal_per_width: tuple[float, float]      # fx / image width (0.75 ~ 26 mm-equivalent phone lens)
    image_sizes: tuple[tuple[int, int], ...]  # (width, height) pixels, chosen uniformly
    roll_deg: float                           # roll ~ U(-roll, roll)
    aim_offset_m: float                       # std of the aimed-at point around the pelvis (person off-centre)
    shake_deg: float = 0.0                    # hand-held: per-frame random-walk std of the camera rotation
    person_fraction: tuple[float, float] = (0.25, 1.0)   # 1.7 m person's height / image height, rejection


PHONE = CameraKind(distance_m=(2.0, 5.0), elevation_deg=(-30.0, 45.0), height_m=(0.8, 1.9),
                   focal_per_width=(0.75, 1.1), image_sizes=((1920, 1080), (1080, 1920), (1280, 720)),
                   roll_deg=10.0, aim_offset_m=0.15, shake_deg=0.15)
LAB = CameraKind(distance_m=(2.0, 8.0), elevation_deg=(-30.0, 70.0), height_m=(0.5, 2.5),
                 focal_per_width=(0.6, 1.6), image_sizes=((1920, 1080), (1280, 720), (640, 480)),
                 roll_deg=3.0, aim_offset_m=0.3)
# Any viewpoint, including ceiling and drone cameras: for elevation bands the heights above do not allow.
ANY = CameraKind(distance_m=(2.0, 8.0), elevation_deg=(-30.0, 70.0), height_m=(0.1, 10.0),
                 focal_per_width=(0.6, 1.6), image_sizes=((1920, 1080), (1280, 720), (640, 480)),
                 roll_deg=10.0, aim_offset_m=0.3)
CAMERA_KINDS = {'phone': PHONE, 'lab': LAB, 'any': ANY}


@dataclass(frozen=True, eq=False)
class CameraBatch:
    """N cameras. rotation maps world to optical frame: p_cam = rotation @ (p_world - position)."""

    rotation: np.ndarray     # (N, 3, 3) or (N, T, 3, 3) with hand-held shake
    position: np.ndarray     # (N, 3) world metres
    intrinsics: np.ndarray   # (N, 4) fx, fy, cx, cy in pixels
    image_size: np.ndarray   # (N, 2) int width, height in pixels
    elevation_deg: np.ndarray  # (N,) as sampled (for evaluation by band)


def look_at(position: np.ndarray, target: np.ndarray, roll_rad: np.ndarray | float = 0.0) -> np.ndarray:
    """World-to-optical rotations of cameras at `position` (..., 3) looking at `target` (..., 3), world z up.

    Returns (..., 3, 3) with rows = the camera x (right), y (down) and z (forward) axes in world coordinates,
    then rolled by `roll_rad` about the optical axis (positive turns the image clockwise).
    """
    z = target - position
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(z, [0.0, 0.0, 1.0])        # right = forward x up; degenerate only looking straight up/down
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    r = np.stack([x, y, z], axis=-2)
    c, s = np.cos(roll_rad), np.sin(roll_rad)
    roll = np.zeros(np.shape(c) + (3, 3))
    roll[..., 0, 0], roll[..., 0, 1], roll[..., 1, 0], roll[..., 1, 1], roll[..., 2, 2] = c, s, -s, c, 1.0
    return roll @ r


def world_to_camera(points: np.ndarray, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Points (N, ..., J, 3) world -> optical frame, rotation (N, 3, 3) or (N, T, 3, 3), position (N, 3)."""
    pos = position.reshape((len(points),) + (1,) * (points.ndim - 2) + (3,))
    rot_t = np.swapaxes(rotation, -1, -2).reshape(rotation.shape[:-2] + (1,) * (points.ndim - rotation.ndim)
                                                  + (3, 3))
    return (points - pos) @ rot_t        # row vectors: (R p)^T = p^T R^T; matmul is much faster than einsum


def project(points_cam: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection without distortion.

    Args:
        points_cam: (N, ..., 3) optical frame, metres.
        intrinsics: (N, 4) fx, fy, cx, cy pixels.

    Returns:
        pixels (N, ..., 2) and in_front (N, ...) bool (depth >= MIN_DEPTH_M; other pixels are meaningless).
    """
    k = intrinsics.reshape((len(intrinsics),) + (1,) * (points_cam.ndim - 2) + (4,))
    depth = points_cam[..., 2]
    z = np.maximum(depth, MIN_DEPTH_M)
    u = k[..., 0] * points_cam[..., 0] / z + k[..., 2]
    v = k[..., 1] * points_cam[..., 1] / z + k[..., 3]
    return np.stack([u, v], axis=-1), depth >= MIN_DEPTH_M


def _rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) unit axes and (...) angles in radians -> (..., 3, 3)."""
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    a = angle[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def handheld_shake(rng: np.random.Generator, n: int, frames: int, std_deg: float) -> np.ndarray:
    """(n, frames, 3, 3) small rotations: a random walk of the camera orientation, zero at the last frame."""
    steps = rng.normal(0.0, np.deg2rad(std_deg), (n, frames, 3)) if std_deg > 0 else np.zeros((n, frames, 3))
    walk = np.cumsum(steps[:, ::-1], axis=1)[:, ::-1] - steps   # rotation vector relative to the last frame
    angle = np.linalg.norm(walk, axis=-1)
    axis = walk / np.maximum(angle, 1e-12)[..., None]
    return _rotation_about(axis, angle)


def sample_cameras(rng: np.random.Generator, n: int, target: np.ndarray, kind: CameraKind = LAB,
                   frames: int = 1, elevation_deg: tuple[float, float] | None = None) -> CameraBatch:
    """Sample `n` cameras aimed near `target` (n, 3) world metres (usually the pelvis), any azimuth.

    Distance, elevation, focal length and image size are rejection-sampled until the camera height is in
    `kind.height_m` and a 1.7 m person fills `kind.person_fraction` of the image height.

    Args:
        rng: the only source of randomness.
        n: number of cameras.
        target: (n, 3) world points the cameras look at, up to `kind.aim_offset_m`.
        kind: ranges (PHONE, LAB, ANY or your own).
        frames: with `kind.shake_deg` > 0, rotations get a per-frame axis: (n, frames, 3, 3).
        elevation_deg: override `kind.elevation_deg` (evaluation by elevation band).

    """
    lo_e, hi_e = elevation_deg or kind.elevation_deg
    dist, elev, focal, size = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros((n, 2), int)
    aim = target + rng.normal(0.0, kind.aim_offset_m, (n, 3))
    todo = np.ones(n, bool)
    for _ in range(1000):
        m = int(todo.sum())
        if m == 0:
            break
        dist[todo] = rng.uniform(*kind.distance_m, m)
        elev[todo] = rng.uniform(lo_e, hi_e, m)
        size[todo] = np.asarray(kind.image_sizes)[rng.integers(len(kind.image_sizes), size=m)]
        focal[todo] = rng.uniform(*kind.focal_per_width, m) * size[todo, 0]
        height = aim[:, 2] + dist * np.sin(np.deg2rad(elev))
        fraction = focal * 1.7 / dist / size[:, 1]
        todo = ~((height >= kind.height_m[0]) & (height <= kind.height_m[1])
                 & (fraction >= kind.person_fraction[0]) & (fraction <= kind.person_fraction[1]))
    if todo.any():
        raise ValueError(f'no camera of {kind} fits elevations {lo_e}..{hi_e} deg; widen the ranges')
    azimuth = rng.uniform(0.0, 2 * np.pi, n)
    e = np.deg2rad(elev)
    position = aim + dist[:, None] * np.stack([np.cos(e) * np.cos(azimuth), np.cos(e) * np.sin(azimuth),
                                               np.sin(e)], axis=-1)
    rotation = look_at(position, aim, np.deg2rad(rng.uniform(-kind.roll_deg, kind.roll_deg, n)))
    if kind.shake_deg > 0 and frames > 1:
        rotation = handheld_shake(rng, n, frames, kind.shake_deg) @ rotation[:, None]
    intrinsics = np.stack([focal, focal, size[:, 0] / 2, size[:, 1] / 2], axis=-1)
    return CameraBatch(rotation, position, intrinsics, size, elev)


def ray_rotation(root_cam: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation from the optical frame to the root-ray frame, for roots (..., 3) in the optical frame.

    The ray frame's z axis points at the root and its x axis stays perpendicular to the camera's y axis, so it is
    the identity for a root on the optical axis.
    """
    z = root_cam / np.linalg.norm(root_cam, axis=-1, keepdims=True)
    x = np.cross([0.0, 1.0, 0.0], z)
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return np.stack([x, np.cross(z, x), z], axis=-2)


def ray_rotation_from_pixel(root_px: np.ndarray, camera_matrix: np.ndarray) -> np.ndarray:
    """ray_rotation for a root seen at pixel (..., 2) by a camera with 3x3 matrix K (CameraInfo.k)."""
    rays = np.concatenate([root_px, np.ones(root_px.shape[:-1] + (1,))], axis=-1) @ np.linalg.inv(camera_matrix).T
    return ray_rotation(rays)


def root_pixel(keypoints_px: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(..., 2) centre of a person: the pelvis if seen, else the confidence-weighted mean of the seen joints.

    keypoints_px (..., 17, 2) H36M-17 pixels, confidence (..., 17). All zeros where nothing is seen.
    """
    w = np.clip(confidence, 0.0, 1.0).astype(np.float64)
    mean = (w[..., None] * keypoints_px).sum(axis=-2) / np.maximum(w.sum(axis=-1), 1e-9)[..., None]
    return np.where(w[..., H36M.PELVIS, None] > 0, keypoints_px[..., H36M.PELVIS, :], mean)


def normalize_keypoints(keypoints_px: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """The lifter's input: root-relative, scale-normalised 2D with confidence.

    Centre: root_pixel. Scale: the confidence-weighted RMS distance of the joints from the centre (about 0.4 x
    the person's height when all are seen), per frame. Joints with confidence 0 get (0, 0), so the input never
    carries their (meaningless) positions.

    Args:
        keypoints_px: (..., 17, 2) H36M-17 pixels.
        confidence: (..., 17) in [0, 1]; 0 = not observed.

    Returns:
        (..., 17, 3) float32 [x, y, confidence]; all zeros for a frame with no seen joint.

    Raises:
        ValueError: the shapes are not (..., 17, 2) and (..., 17).
    """
    if keypoints_px.shape[-2:] != (len(H36M), 2) or confidence.shape != keypoints_px.shape[:-1]:
        raise ValueError(f'expected (..., 17, 2) keypoints and (..., 17) confidence, got '
                         f'{keypoints_px.shape} and {confidence.shape}')
    w = np.clip(confidence, 0.0, 1.0).astype(np.float64)
    rel = keypoints_px - root_pixel(keypoints_px, confidence)[..., None, :]
    total = np.maximum(w.sum(axis=-1, keepdims=True), 1e-9)
    scale = np.sqrt((w * np.sum(rel ** 2, axis=-1)).sum(axis=-1, keepdims=True) / total)
    rel = np.where(w[..., None] > 0, rel / np.maximum(scale, 1e-6)[..., None], 0.0)
    return np.concatenate([rel, w[..., None]], axis=-1).astype(np.float32)
