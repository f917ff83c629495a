"""Lens distortion of a calibrated camera (sensor_msgs/CameraInfo models), removed from 2D keypoints.

    camera = CameraModel.from_fields(info.k, info.d, info.distortion_model)   # None when K is not calibrated
    pixels = camera.undistort(keypoints_px)                                   # still pixels, of the ideal pinhole K

Root estimation and the root-ray rotation assume a pinhole camera; on a wide-angle lens a person near the image
edge appears pulled towards the centre and shrunk, so depth and direction come out wrong by tens of centimetres.
Undistorting with P = K keeps the keypoints in pixels of the same K, so everything downstream stays unchanged.

Models (names as in CameraInfo.distortion_model): 'plumb_bob' (k1 k2 p1 p2 k3), 'rational_polynomial'
(k1 k2 p1 p2 k3 k4 k5 k6) and 'equidistant' (fisheye k1 k2 k3 k4). Missing coefficients count as 0. '' or an
all-zero D means no distortion; any other name is not understood: `known` is False and nothing is undistorted
(the node warns once per name).
"""
from dataclasses import dataclass, field

import cv2
import numpy as np

MODELS = {'plumb_bob': 5, 'rational_polynomial': 8, 'equidistant': 4}   # name -> coefficient count
NO_DISTORTION = ('', 'none')
# enough iterations for strong wide-angle distortion (cv2's default of 5 leaves pixels of error at the edges)
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)


@dataclass(frozen=True, eq=False)
class CameraModel:
    """Calibrated intrinsics K (3x3) and the lens distortion model with its coefficients."""

    k: np.ndarray
    distortion_model: str = ''
    d: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def from_fields(cls, k, d=(), distortion_model: str = '') -> 'CameraModel | None':
        """From CameraInfo's k (9 values), d and distortion_model; None when K is not calibrated (fx, fy <= 0)."""
        k = np.asarray(k, np.float64).reshape(3, 3)
        if not (k[0, 0] > 0 and k[1, 1] > 0 and np.isfinite(k).all()):
            return None
        d = np.asarray(d, np.float64).reshape(-1)
        return cls(k, str(distortion_model).strip(), d if np.isfinite(d).all() else np.zeros(0))

    @property
    def known(self) -> bool:
        """True for a model this module can undo (or no distortion at all)."""
        return self.distortion_model in MODELS or self.distortion_model.lower() in NO_DISTORTION

    @property
    def distorted(self) -> bool:
        """True when undistort changes anything: a known model with a non-zero coefficient."""
        return self.distortion_model in MODELS and bool(np.any(self.d != 0))

    def coefficients(self) -> np.ndarray:
        """D padded with zeros (or cut) to the model's length."""
        n = MODELS.get(self.distortion_model, 0)
        out = np.zeros(n)
        out[:min(n, len(self.d))] = self.d[:n]
        return out

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """(..., 2) distorted pixels -> (..., 2) pixels of the pinhole camera K; non-finite points stay as they are."""
        pixels = np.asarray(pixels, np.float64)
        if not self.distorted or pixels.size == 0:
            return pixels.copy()
        flat = pixels.reshape(-1, 2)
        out = flat.copy()
        ok = np.isfinite(flat).all(1)
        if ok.any():
            src = np.ascontiguousarray(flat[ok].reshape(-1, 1, 2))
            if self.distortion_model == 'equidistant':
                und = cv2.fisheye.undistortPoints(src, self.k, self.coefficients(), R=np.eye(3), P=self.k,
                                                  criteria=CRITERIA)
            else:
                und = _undistort_points(src, self.k, self.coefficients())
            und = und.reshape(-1, 2)
            good = np.isfinite(und).all(1)
            out[np.flatnonzero(ok)[good]] = und[good]
        return out.reshape(pixels.shape)

    def distort(self, pixels: np.ndarray) -> np.ndarray:
        """(..., 2) pinhole pixels of K -> where the real lens images them (the inverse of undistort)."""
        pixels = np.asarray(pixels, np.float64)
        if not self.distorted:
            return pixels.copy()
        rays = (pixels.reshape(-1, 2) - self.k[:2, 2]) / np.diag(self.k)[:2]
        points = np.concatenate([rays, np.ones((len(rays), 1))], 1).reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.distortion_model == 'equidistant':
            out = cv2.fisheye.projectPoints(points, zero, zero, self.k, self.coefficients())[0]
        else:
            out = cv2.projectPoints(points, zero, zero, self.k, self.coefficients())[0]
        return out.reshape(pixels.shape)


def _undistort_points(src: np.ndarray, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """cv2's iterative undistortion with our criteria (OpenCV 4: undistortPointsIter; 5: undistortPoints)."""
    if hasattr(cv2, 'undistortPointsIter'):
        return cv2.undistortPointsIter(src, k, d, np.eye(3), k, CRITERIA)
    return cv2.undistortPoints(src, k, d, R=np.eye(3), P=k, criteria=CRITERIA)


def as_camera_model(camera) -> CameraModel | None:
    """A CameraModel from a CameraModel, a (3, 3) K (no distortion) or None."""
    if camera is None or isinstance(camera, CameraModel):
        return camera
    return CameraModel(np.asarray(camera, np.float64).reshape(3, 3))
