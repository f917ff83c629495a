"""Per-joint 3x3 covariance from the lifter's isotropic std: a monocular lifter is least sure along the camera ray.

    cov = joint_covariance(position_std)                     # (B, 17, 6) in the root-ray frame
    cov = joint_covariance(position_std, ray_rotations)      # (B, 17, 6) in the optical frame

In the root-ray frame (z along the ray through the pelvis, lifting.camera) the covariance of joint j is
diag(p_j^2, p_j^2, r_j^2) * std_j^2, with the plane scale p_j and ray scale r_j measured on the lifter's
evaluation windows by nvb_perception/evaluation/calibrate_covariance.py (table in docs/integrators.md). With
intrinsics the lifter rotates positions into the optical frame with M (p_opt = M^T p_ray); the covariance follows
as M^T C M. Six values per joint, upper triangle row-major: xx, xy, xz, yy, yz, zz (Skeleton3D.msg).
The error of the root itself (its estimated depth, lifting/root.py) is not part of it.
"""
import numpy as np

# Fitted on eval_lifter.test_set (held-out file, realistic 2D errors, 4096 windows, seed 0) with the shipped
# lifter_temporal weights; order H36M-17. Rerun calibrate_covariance after retraining the lifter.
PLANE_SCALE = np.array([0.42, 0.72, 0.83, 0.81, 0.72, 0.95, 0.89, 0.74, 0.67, 0.73, 0.74, 0.76, 1.03, 1.15, 0.76,
                        1.02, 1.16])
RAY_SCALE = np.array([0.38, 1.26, 1.60, 1.53, 1.25, 1.80, 1.85, 1.75, 1.81, 1.70, 1.65, 1.70, 2.32, 2.14, 1.77, 2.27,
                      2.22])
UPPER = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def ray_frame_variances(position_std: np.ndarray) -> np.ndarray:
    """(..., 17, 3) variances across, across and along the ray (m^2) from (..., 17) isotropic std (m)."""
    std = np.asarray(position_std, np.float64)
    scale = np.stack([PLANE_SCALE, PLANE_SCALE, RAY_SCALE], axis=-1)       # (17, 3)
    return (std[..., None] * scale) ** 2


def joint_covariance(position_std: np.ndarray, rotations: np.ndarray | None = None) -> np.ndarray:
    """(B, 17, 6) float32 covariance of each joint; rotations (B, 3, 3) M of p_opt = M^T p_ray, or None.

    Without rotations the covariance stays in the root-ray frame, as the positions do.
    """
    var = ray_frame_variances(np.atleast_2d(position_std))                    # (B, 17, 3)
    if rotations is None:
        full = var[..., :, None] * np.eye(3)                                  # diagonal
    else:
        m = np.asarray(rotations, np.float64).reshape(-1, 3, 3)
        full = np.einsum('bai,bja,bak->bjik', m, var, m)                      # M^T diag(var) M
    return np.stack([full[..., i, k] for i, k in UPPER], axis=-1).astype(np.float32)


def covariance_matrices(covariance: np.ndarray) -> np.ndarray:
    """(J, 3, 3) symmetric matrices from (J, 6) upper triangles (what a consumer of the message does)."""
    c = np.asarray(covariance, np.float64).reshape(-1, 6)
    out = np.empty((len(c), 3, 3))
    for n, (i, k) in enumerate(UPPER):
        out[:, i, k] = out[:, k, i] = c[:, n]
    return out
