"""Place a root-relative 3D skeleton in the camera frame: the root (pelvis) position from 2D + intrinsics.

Scale assumption: the lifter's metric skeleton has the person's true size (it was trained on adult mocap
proportions), so depth follows from how large that skeleton appears in the image. Under a weak-perspective model
the depth is z = f * (spread of the 3D joints in x/y) / (spread of their 2D projections in pixels), and the root
lies on the ray through its pixel at that depth; a few Gauss-Newton steps on the full perspective reprojection
error then remove the weak-perspective bias for people near the camera or far off-axis. Children or unusual
proportions bias z in proportion to their size difference.
"""
import numpy as np

MIN_CONFIDENCE = 0.3
MIN_JOINTS = 6


def estimate_root(positions: np.ndarray, keypoints_px: np.ndarray, confidence: np.ndarray,
                  camera_matrix: np.ndarray) -> np.ndarray | None:
    """Root position (3,) metres in the optical frame, or None when too few joints are seen.

    Args:
        positions: (J, 3) root-relative joints in the optical frame (metres); joint 0 is the root.
        keypoints_px: (J, 2) the same joints in the image (pixels).
        confidence: (J,) 2D confidences; joints below MIN_CONFIDENCE are ignored.
        camera_matrix: (3, 3) calibrated intrinsics K.
    """
    k = np.asarray(camera_matrix, np.float64).reshape(3, 3)
    ok = (np.asarray(confidence) >= MIN_CONFIDENCE) & np.isfinite(keypoints_px).all(1) & np.isfinite(positions).all(1)
    if ok.sum() < MIN_JOINTS:
        return None
    p3, p2 = np.asarray(positions, np.float64)[ok], np.asarray(keypoints_px, np.float64)[ok]
    focal = 0.5 * (k[0, 0] + k[1, 1])
    spread3 = np.linalg.norm(p3[:, :2] - p3[:, :2].mean(0), axis=1).sum()
    spread2 = np.linalg.norm(p2 - p2.mean(0), axis=1).sum()
    if spread2 < 1e-6 or spread3 < 1e-6:
        return None
    z = focal * spread3 / spread2 - p3[:, 2].mean()    # depth of the joints' centroid minus its root offset
    # the 2D centroid is the projection of the 3D centroid: back-project it, then step back to the root
    centroid_px = p2.mean(0)
    ray = np.linalg.solve(k, np.array([centroid_px[0], centroid_px[1], 1.0]))
    centroid = ray / ray[2] * (z + p3[:, 2].mean())
    return _refine(centroid - p3.mean(0), p3, p2, k)


def _refine(root: np.ndarray, p3: np.ndarray, p2: np.ndarray, k: np.ndarray, steps: int = 5) -> np.ndarray:
    """Gauss-Newton on sum |project(p3 + root) - p2|^2 over the 3 root coordinates."""
    fx, fy = k[0, 0], k[1, 1]
    for _ in range(steps):
        q = p3 + root
        if (q[:, 2] <= 1e-3).any():
            break
        u = fx * q[:, 0] / q[:, 2] + k[0, 2]
        v = fy * q[:, 1] / q[:, 2] + k[1, 2]
        residual = np.concatenate([u - p2[:, 0], v - p2[:, 1]])
        inv_z = 1.0 / q[:, 2]
        zeros = np.zeros_like(inv_z)
        jac = np.concatenate([np.stack([fx * inv_z, zeros, -fx * q[:, 0] * inv_z ** 2], 1),
                              np.stack([zeros, fy * inv_z, -fy * q[:, 1] * inv_z ** 2], 1)])
        step = np.linalg.lstsq(jac, -residual, rcond=None)[0]
        root = root + step
        if np.linalg.norm(step) < 1e-6:
            break
    return root
