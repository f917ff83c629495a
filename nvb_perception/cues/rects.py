"""MediaPipe's rotated rectangles and SSD detectors for the face and hand models, in image pixels.

    rect = rect_from_points(pts_px, start=33, end=263, target_deg=0)   # DetectionsToRects (bounding box)
    roi = transform(rect, scale=1.5, square_long=True)                  # RectTransformationCalculator
    crop = warp(bgr, roi, 256, replicate=True)                          # pose2d.roi.warp works on any Rect
    points_px = roi.to_image(uv)                                        # crop [0, 1] -> image px

    detector = SsdDetector(backend, SsdSpec(128, (8, 16, 16, 16), 6, value_range=(-1, 1)))
    detections = detector(bgr)                 # whole image letterboxed, or detector(bgr, roi) inside a ROI

The graphs these follow (mediapipe 0.10.18 and its tasks): DetectionsToRectsCalculator (box of the
detection -- or of its keypoints with USE_KEYPOINTS -- and rotation from a start to an end keypoint),
RectTransformationCalculator (shift along the rotated axes by a fraction of the pre-scaling size,
square_long, scale), AlignmentPointsRectsCalculator (centre = start point, side = 2 |end - start|),
TensorsToDetectionsCalculator + WEIGHTED NonMaxSuppression (shared with the pose detector).
MediaPipe works in coordinates normalised by image width and height; in pixels every step is the same,
and square_long makes rects square in pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nvb_perception.pose2d.anchors import ssd_anchors
from nvb_perception.pose2d.detector import SCORE_CLIPPING, weighted_nms
from nvb_perception.pose2d.roi import box_matrix, normalize_radians, warp


@dataclass(frozen=True)
class Rect:
    """A rotated rectangle in image pixels (crop u along (cos r, sin r), v along (-sin r, cos r))."""

    center_x: float                # px
    center_y: float                # px
    width: float                   # px, along crop u
    height: float                  # px, along crop v
    rotation: float = 0.0          # rad, clockwise on screen

    @property
    def size(self) -> float:
        """Long side, px."""
        return max(self.width, self.height)

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Crop coordinates in [0, 1] (..., 2) -> image pixels (..., 2) (LandmarkProjectionCalculator)."""
        uv = (np.asarray(uv, np.float64) - 0.5) * (self.width, self.height)
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return uv @ np.array([[c, s], [-s, c]]) + (self.center_x, self.center_y)

    def matrix(self, out_size: int) -> np.ndarray:
        """(3, 3) image px -> crop px perspective matrix, built as ImageToTensorCalculator does."""
        return box_matrix(self.center_x, self.center_y, self.width, self.height, self.rotation, out_size)

    def corners(self) -> np.ndarray:
        """(4, 2) px corners (crop top-left, top-right, bottom-right, bottom-left)."""
        return self.to_image(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64))

    def bbox(self) -> np.ndarray:
        """(4,) px x0, y0, x1, y1 enclosing the rotated rectangle."""
        c = self.corners()
        return np.concatenate([c.min(0), c.max(0)])

    def usable(self) -> bool:
        """Finite and at least 2 px wide: a model can run on it."""
        values = [self.center_x, self.center_y, self.width, self.height, self.rotation]
        return bool(np.isfinite(values).all() and min(self.width, self.height) >= 2.0)


def rotation_between(start_px, end_px, target_deg: float) -> float:
    """MediaPipe ComputeRotation: the rotation turning start->end to `target_deg` (0 = right, 90 = up)."""
    (x0, y0), (x1, y1) = (np.asarray(p, np.float64)[:2] for p in (start_px, end_px))
    return normalize_radians(math.radians(target_deg) - math.atan2(-(y1 - y0), x1 - x0))


def rect_from_points(points_px: np.ndarray, start: int | None = None, end: int | None = None,
                     target_deg: float = 0.0) -> Rect:
    """Axis-aligned box of `points_px` (N, 2+) px, rotated by the start->end keypoint vector if given.

    LandmarksToDetection + DetectionsToRects (the box is axis-aligned; only its rotation changes).
    """
    pts = np.asarray(points_px, np.float64)[:, :2]
    lo, hi = pts.min(0), pts.max(0)
    rotation = 0.0 if start is None else rotation_between(pts[start], pts[end], target_deg)
    return Rect(*(lo + hi) / 2, *(hi - lo), rotation)


def rect_from_box(box_px, keypoints_px=None, start: int | None = None, end: int | None = None,
                  target_deg: float = 0.0) -> Rect:
    """A detection's box (4,) x0, y0, x1, y1 px -> Rect, rotated by two of its keypoints if given."""
    x0, y0, x1, y1 = (float(v) for v in box_px)
    rotation = 0.0 if start is None else rotation_between(keypoints_px[start], keypoints_px[end], target_deg)
    return Rect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rotation)


def rect_from_alignment(center_px, scale_px, target_deg: float) -> Rect:
    """AlignmentPointsRectsCalculator: centre at the start point, side 2 |end - start| (square)."""
    (x0, y0), (x1, y1) = (np.asarray(p, np.float64)[:2] for p in (center_px, scale_px))
    side = 2.0 * math.hypot(x1 - x0, y1 - y0)
    return Rect(x0, y0, side, side, rotation_between((x0, y0), (x1, y1), target_deg))


def transform(rect: Rect, scale: float = 1.0, shift_x: float = 0.0, shift_y: float = 0.0,
              square_long: bool = True) -> Rect:
    """RectTransformationCalculator: shift (fractions of width/height, rotated), square_long, scale."""
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    dx = rect.width * shift_x * c - rect.height * shift_y * s
    dy = rect.width * shift_x * s + rect.height * shift_y * c
    w, h = (rect.size, rect.size) if square_long else (rect.width, rect.height)
    return Rect(rect.center_x + dx, rect.center_y + dy, w * scale, h * scale, rect.rotation)


def letterbox_rect(width: int, height: int) -> Rect:
    """The square MediaPipe maps a whole image onto for a square detector input (keep_aspect_ratio)."""
    side = float(max(width, height))
    return Rect(width / 2.0, height / 2.0, side, side)


@dataclass(frozen=True)
class SsdSpec:
    """TensorsToDetections + anchors of a BlazeFace/BlazePalm-style detector (fixed-size anchors)."""

    input_size: int                              # px, square input
    strides: tuple[int, ...]                     # SsdAnchorsCalculator strides
    num_keypoints: int
    value_range: tuple[float, float] = (0.0, 1.0)   # input float range
    min_score: float = 0.5
    min_suppression_threshold: float = 0.3


@dataclass(frozen=True, eq=False)
class SsdDetection:
    """One detection in image pixels."""

    score: float                   # [0, 1]
    box: np.ndarray                # (4,) px x0, y0, x1, y1 (axis-aligned in the crop's frame, as MediaPipe)
    keypoints: np.ndarray          # (K, 2) px


class SsdDetector:
    """Run an SSD detector on a whole image (letterboxed) or on a rotated ROI of it."""

    def __init__(self, backend, spec: SsdSpec):
        """Wrap a backend with one (1, S, S, 3) input and outputs (1, A, 4 + 2K) regressors, (1, A, 1) logits."""
        self.backend, self.spec = backend, spec
        self.anchors = ssd_anchors(spec.input_size, spec.strides).astype(np.float32)
        self.input_name = next(iter(backend.inputs))

    def preprocess(self, bgr: np.ndarray, rect: Rect) -> np.ndarray:
        """(1, S, S, 3) float32 RGB in value_range, the rect warped upright (BORDER_ZERO)."""
        lo, hi = self.spec.value_range
        crop = warp(bgr, rect, self.spec.input_size, replicate=False)
        return (crop[..., ::-1].astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo))[None]

    def __call__(self, bgr: np.ndarray, rect: Rect | None = None) -> list[SsdDetection]:
        """Detections (score >= min_score, after weighted NMS), best first, in image px."""
        rect = rect or letterbox_rect(bgr.shape[1], bgr.shape[0])
        out = self.backend({self.input_name: self.preprocess(bgr, rect)})
        raw, logits = sorted(out.values(), key=lambda a: -a.shape[-1])     # regressors have more columns
        return self.decode(np.asarray(raw, np.float32).reshape(len(self.anchors), -1),
                           np.asarray(logits, np.float32).reshape(-1), rect)

    def decode(self, raw: np.ndarray, logits: np.ndarray, rect: Rect) -> list[SsdDetection]:
        """Raw (A, 4 + 2K) regressors and (A,) logits of a crop of `rect` -> detections in image px."""
        s, k = self.spec.input_size, self.spec.num_keypoints
        with np.errstate(over='ignore'):
            scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -SCORE_CLIPPING, SCORE_CLIPPING)))
        centre = raw[:, 0:2] / s + self.anchors
        half = raw[:, 2:4] / s / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = raw[:, 4:4 + 2 * k].reshape(-1, k, 2) / s + self.anchors[:, None, :]
        keep = (scores >= self.spec.min_score) & np.isfinite(raw).all(1) & (boxes[:, 2] >= boxes[:, 0]) \
            & (boxes[:, 3] >= boxes[:, 1])
        merged = weighted_nms(scores[keep], boxes[keep], kps[keep], self.spec.min_suppression_threshold)
        out = []
        for score, box, kp in merged:
            # DetectionProjectionCalculator: the axis-aligned box of the projected corners
            corners = rect.to_image(np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]]))
            out.append(SsdDetection(score, np.concatenate([corners.min(0), corners.max(0)]), rect.to_image(kp)))
        return out
