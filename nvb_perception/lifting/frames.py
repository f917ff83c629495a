"""Body and joint TF frames from a 3D skeleton: the pelvis pose and quaternions, pure numpy (no ROS).

Body frame convention (REP-103 for bodies: x forward, y left, z up), expressed in the skeleton's own frame (the
camera optical frame of the image the skeleton came from):

    origin  the pelvis (H36M PELVIS)
    z       up the torso: pelvis -> thorax
    y       the person's left: right hip -> left hip, made orthogonal to z (shoulders when the hips coincide)
    x       y × z: forward, out of the person's chest

Joint frames are children of the body frame: the joint's position in body axes and no rotation of their own
(the lifter estimates where a joint is, not how it is turned), so they move with the body in any TF tree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton3D

JOINT_NAMES: tuple[str, ...] = tuple(j.name.lower() for j in H36M)      # 'pelvis', 'right_hip', ...
IDENTITY_QUATERNION = np.array([0.0, 0.0, 0.0, 1.0])                   # (x, y, z, w)
_TORSO = (H36M.PELVIS, H36M.THORAX, H36M.LEFT_HIP, H36M.RIGHT_HIP)
_EPS = 1e-6


@dataclass(frozen=True, eq=False)
class BodyPose:
    """Where a body frame is in its parent frame."""

    translation: np.ndarray        # (3,) metres, the pelvis in the parent (optical) frame
    rotation: np.ndarray           # (3, 3) columns: the body's x, y, z axes in the parent frame

    @property
    def quaternion(self) -> np.ndarray:
        """The rotation as (x, y, z, w), as geometry_msgs/Quaternion orders it."""
        return quaternion_from_matrix(self.rotation)


def quaternion_from_matrix(r: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion of a rotation matrix, w >= 0 (Shepperd's method: stable near 180°)."""
    r = np.asarray(r, np.float64)
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
    elif r[1, 1] > r[2, 2]:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s, (r[1, 0] - r[0, 1]) / s]
    q = np.asarray(q) / np.linalg.norm(q)
    return -q if q[3] < 0 else q


def matrix_from_quaternion(q) -> np.ndarray:
    """The rotation matrix of an (x, y, z, w) quaternion (normalised first)."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _unit(v: np.ndarray) -> np.ndarray | None:
    norm = float(np.linalg.norm(v))
    return v / norm if np.isfinite(norm) and norm > _EPS else None


def body_axes(positions: np.ndarray) -> np.ndarray | None:
    """(3, 3) body axes (columns x, y, z) from H36M-17 positions; None when the torso is degenerate."""
    p = np.asarray(positions, np.float64)
    z = _unit(p[H36M.THORAX] - p[H36M.PELVIS])
    if z is None:
        return None
    for left, right in ((H36M.LEFT_HIP, H36M.RIGHT_HIP), (H36M.LEFT_SHOULDER, H36M.RIGHT_SHOULDER)):
        across = p[left] - p[right]
        y = _unit(across - np.dot(across, z) * z)        # Gram-Schmidt: drop the part along the torso
        if y is not None:
            return np.column_stack([np.cross(y, z), y, z])
    return None


def body_pose(s: Skeleton3D, root_relative_depth_m: float = 0.0) -> BodyPose | None:
    """The body frame of one H36M-17 skeleton, or None when it has no usable pose.

    A root-relative skeleton (lifted without camera intrinsics) has no metric position: it gets a frame only when
    root_relative_depth_m > 0, placed that far along the optical axis (like the RViz markers); otherwise None,
    so no consumer mistakes a guessed position for a measured one.
    """
    if s.joint_set != 'h36m17' or len(s.positions) != len(H36M):
        return None
    torso = list(_TORSO)
    if not (np.isfinite(s.positions[torso]).all() and (s.confidence[torso] > 0).all()):
        return None
    if s.root_relative and root_relative_depth_m <= 0:
        return None
    axes = body_axes(s.positions)
    if axes is None:
        return None
    origin = s.positions[H36M.PELVIS].astype(np.float64)
    if s.root_relative:
        origin = origin + np.array([0.0, 0.0, root_relative_depth_m])
    return BodyPose(origin, axes)


def joint_offsets(s: Skeleton3D, pose: BodyPose) -> dict[str, np.ndarray]:
    """Joint name -> its position in the body frame (metres), for the observed, finite joints."""
    pelvis = s.positions[H36M.PELVIS].astype(np.float64)
    found = {}
    for joint, name in zip(H36M, JOINT_NAMES):
        p = s.positions[joint].astype(np.float64)
        if s.confidence[joint] > 0 and np.isfinite(p).all():
            found[name] = pose.rotation.T @ (p - pelvis)
    return found


def frame_name(prefix: str, body: str, joint: str = '') -> str:
    """'body_abcde' (the body frame) or 'body_abcde/left_wrist' (a joint frame)."""
    return f'{prefix}{body}' + (f'/{joint}' if joint else '')
