"""Rotated square regions of interest (ROIs) for the landmark model, as MediaPipe builds them.

    roi = roi_from_alignment(hip_center_px, full_body_px)    # from a detection or the previous landmarks
    patch = warp(bgr, roi, 256, replicate=True)              # (256, 256, 3) uint8, the ROI upright
    points_px = roi.to_image(points_in_crop_0_1)             # (..., 2) crop [0, 1] -> image px

Constants from MediaPipe's `pose_detection_to_roi` / `pose_landmarks_to_roi` graphs (mediapipe 0.10.18):
AlignmentPointsRectsCalculator with rotation_vector_start_keypoint_index 0 (hip centre: detection keypoint
0, or auxiliary landmark 33), end index 1 (a point on the circle enclosing the body: detection keypoint 1,
or auxiliary landmark 34), rotation_vector_target_angle_degrees 90; then RectTransformationCalculator with
scale_x = scale_y = 1.25 and square_long. The box side is twice the centre-to-scale-point distance in
pixels; the rotation turns the hip->scale-point vector to point up in the crop.

`warp` reproduces OpenCV 4's warpPerspective(INTER_LINEAR) bit for bit (what MediaPipe runs), on any
OpenCV: OpenCV 5 changed warpAffine/warpPerspective's arithmetic (up to 4 grey levels apart on 2-7% of
the pixels of real crops); with it, the golden photos' landmarks were 0.3-2.3 px (median) and up to
6.8 px off MediaPipe's and world points up to 24 mm, against <= 0.02 px / 1.4 mm exact. The
fixed-point source coordinates are computed here as OpenCV 4 does (double, rounded to 1/32 px) and
cv2.remap does the table-driven bilinear interpolation, which is unchanged across versions.

Everything here works in image pixels (MediaPipe works in coordinates normalised by the image width and
height; for a rect that is square in pixels, as all of these are, the two are the same mapping).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET_ANGLE_RAD = math.pi / 2     # rotation_vector_target_angle_degrees: 90
ROI_SCALE = 1.25                   # RectTransformationCalculator scale_x, scale_y


def normalize_radians(angle: float) -> float:
    """Wrap to [-pi, pi) exactly as MediaPipe's NormalizeRadians."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


class RotatedBox:
    """Corners and enclosing box of a rotated crop region; the class supplies `to_image` (crop [0, 1] -> px)."""

    def corners(self) -> np.ndarray:
        """(4, 2) image px corners: top-left, top-right, bottom-right, bottom-left in crop terms."""
        return self.to_image(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64))

    def bbox(self) -> np.ndarray:
        """(4,) axis-aligned box x0, y0, x1, y1 (px) enclosing the rotated region."""
        c = self.corners()
        return np.concatenate([c.min(0), c.max(0)])


@dataclass(frozen=True)
class Roi(RotatedBox):
    """A square, rotated region of the image.

    Crop coordinate u (right in the crop) points along (cos r, sin r) in the image (y down), v along
    (-sin r, cos r); r > 0 turns clockwise on screen, like cv2.RotatedRect's angle.
    """

    center_x: float                # px
    center_y: float                # px
    size: float                    # px, side of the square
    rotation: float = 0.0          # rad

    def _axes(self) -> np.ndarray:
        """(2, 2): columns are the image-space directions of crop u and v, one crop side long."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.array([[c, -s], [s, c]]) * self.size

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Crop coordinates in [0, 1] (..., 2) -> image pixels (..., 2) (MediaPipe LandmarkProjection)."""
        uv = np.asarray(uv, np.float64) - 0.5
        return uv @ self._axes().T + (self.center_x, self.center_y)

    def matrix(self, out_size: int) -> np.ndarray:
        """(3, 3) float64 perspective matrix image px -> crop px, built exactly as MediaPipe does.

        ImageToTensorCalculator: cv::boxPoints of the float RotatedRect (angle in degrees) ->
        getPerspectiveTransform onto the crop corners (0, S), (0, 0), (S, 0), (S, S): the ROI's edges map to
        crop 0 and S (not pixel centres).
        """
        return box_matrix(self.center_x, self.center_y, self.size, self.size, self.rotation, out_size)


def box_matrix(center_x: float, center_y: float, width: float, height: float, rotation: float,
               out_size: int) -> np.ndarray:
    """(3, 3) image px -> crop px matrix of a rotated box (rad), as MediaPipe's ImageToTensorCalculator builds it.

    cv::boxPoints of the float32 RotatedRect (angle in degrees) -> getPerspectiveTransform onto the crop corners
    (0, S), (0, 0), (S, 0), (S, S). Shared by the pose ROIs and the face/hand rectangles of the cue stage.
    """
    import cv2
    box = ((np.float32(center_x), np.float32(center_y)), (np.float32(width), np.float32(height)),
           np.float32(rotation * 180.0 / math.pi))
    src = cv2.boxPoints(box).astype(np.float32)
    dst = np.array([[0, out_size], [0, 0], [out_size, 0], [out_size, out_size]], np.float32)
    return cv2.getPerspectiveTransform(src, dst)


def roi_from_alignment(center_px, scale_px, scale: float = ROI_SCALE,
                       target_angle: float = TARGET_ANGLE_RAD) -> Roi:
    """ROI from two alignment points, as AlignmentPointsRectsCalculator + RectTransformationCalculator.

    Args:
        center_px: (2,) px, the hip centre (detection keypoint 0 / auxiliary landmark 33).
        scale_px: (2,) px, the full-body scale point (detection keypoint 1 / auxiliary landmark 34).
        scale: side multiplier (1.25 in MediaPipe's pose graphs).
        target_angle: rad; the centre->scale-point direction ends up at this angle (90 deg: up).

    Returns:
        Roi centred on `center_px`, side 2 * |scale - center| * scale, rotation normalised to [-pi, pi).
    """
    x0, y0 = (float(v) for v in center_px)
    x1, y1 = (float(v) for v in scale_px)
    box = 2.0 * math.hypot(x1 - x0, y1 - y0)
    rotation = normalize_radians(target_angle - math.atan2(-(y1 - y0), x1 - x0))
    # square_long: the box is already square in pixels, so only the scale changes its size.
    return Roi(x0, y0, box * scale, rotation)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of axis-aligned boxes. a: (N, 4), b: (M, 4) x0, y0, x1, y1 -> (N, M) in [0, 1]."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


INTER_BITS = 5                     # OpenCV: sub-pixel precision of warps, 1/32 px
_AXES: dict[int, np.ndarray] = {}


def _axis(size: int) -> np.ndarray:
    if size not in _AXES:          # destination pixel coordinates 0..size-1, reused every frame
        _AXES[size] = np.arange(size, dtype=np.float64)
    return _AXES[size]


def warp(image: np.ndarray, roi: Roi, size: int, replicate: bool) -> np.ndarray:
    """Warp the ROI of `image` upright into a size x size crop, exactly as MediaPipe's OpenCV 4 converter.

    Args:
        image: (H, W, C) uint8.
        roi: region to crop.
        size: output side, px.
        replicate: BORDER_REPLICATE (landmark crops) if True, else BORDER_CONSTANT 0 (detector letterbox).

    Returns:
        (size, size, C) uint8.
    """
    import cv2
    _, inv = cv2.invert(roi.matrix(size), flags=cv2.DECOMP_LU)   # warpPerspective inverts the same way
    m = inv.reshape(-1)
    xs, ys = _axis(size)[None, :], _axis(size)[:, None]           # broadcast: same values, less work
    w = (m[7] * ys + m[8]) + m[6] * xs                            # OpenCV's evaluation order
    w = np.where(w != 0, (1 << INTER_BITS) / np.where(w != 0, w, 1), 0.0)
    limit = 2.0 ** 31 - 1
    fx = np.clip(((m[1] * ys + m[2]) + m[0] * xs) * w, -limit, limit)
    fy = np.clip(((m[4] * ys + m[5]) + m[3] * xs) * w, -limit, limit)
    x, y = np.rint(fx).astype(np.int32), np.rint(fy).astype(np.int32)    # cvRound: half to even
    mask = (1 << INTER_BITS) - 1
    xy = np.empty((size, size, 2), np.int16)
    np.clip(x >> INTER_BITS, -32768, 32767, out=xy[..., 0], casting='unsafe')
    np.clip(y >> INTER_BITS, -32768, 32767, out=xy[..., 1], casting='unsafe')
    table = ((y & mask) << INTER_BITS | (x & mask)).astype(np.uint16)     # which 1/32 x 1/32 bilinear weights
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    out = cv2.remap(image, xy, table, cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0, 0))
    return out.reshape(size, size, -1) if image.ndim == 3 else out
