"""3D pose error metrics (VideoPose3D loss.py names), numpy.

    mpjpe(predicted, target)            # mean per-joint position error, in the unit of the inputs
    p_mpjpe(predicted, target)          # after Procrustes alignment (scale, rotation, translation) per pose
    mpjpe(predicted, target, per_joint=True)   # (J,) errors

Inputs are (..., J, 3) arrays of the same shape; every leading index is one pose.
"""
import numpy as np


def _check(predicted: np.ndarray, target: np.ndarray) -> None:
    if predicted.shape != target.shape or predicted.ndim < 2 or predicted.shape[-1] != 3:
        raise ValueError(f'expected two (..., J, 3) arrays of one shape, got {predicted.shape} and {target.shape}')


def mpjpe(predicted: np.ndarray, target: np.ndarray, per_joint: bool = False) -> float | np.ndarray:
    """Mean Euclidean distance between corresponding joints.

    Args:
        predicted: (..., J, 3).
        target: (..., J, 3), same unit.
        per_joint: return the (J,) mean per joint instead of the overall mean.

    Raises:
        ValueError: shapes differ or are not (..., J, 3).

    """
    _check(predicted, target)
    err = np.linalg.norm(predicted - target, axis=-1).reshape(-1, predicted.shape[-2])
    return err.mean(axis=0) if per_joint else float(err.mean())


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map each predicted pose (..., J, 3) onto its target by the best similarity transform.

    Scale, rotation (never a reflection) and translation minimise the squared error (Umeyama 1991).
    Returns (..., J, 3) float64.
    """
    _check(predicted, target)
    shape = predicted.shape
    x = predicted.reshape(-1, shape[-2], 3).astype(np.float64)
    y = target.reshape(-1, shape[-2], 3).astype(np.float64)
    mx, my = x.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    x0, y0 = x - mx, y - my
    u, s, vt = np.linalg.svd(np.swapaxes(x0, 1, 2) @ y0)        # (N, 3, 3) covariance x^T y
    # flip the last singular direction where the best orthogonal map would be a reflection
    d = np.sign(np.linalg.det(u @ vt))
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rotation = u @ vt                                               # x0 @ rotation ~ y0
    scale = s.sum(axis=1) / np.maximum(np.sum(x0 ** 2, axis=(1, 2)), 1e-12)
    aligned = scale[:, None, None] * x0 @ rotation + my
    return aligned.reshape(shape)


def p_mpjpe(predicted: np.ndarray, target: np.ndarray, per_joint: bool = False) -> float | np.ndarray:
    """MPJPE after Procrustes alignment of each predicted pose to its target (see mpjpe for the arguments)."""
    return mpjpe(procrustes_align(predicted, target), target.astype(np.float64), per_joint)
