"""BlazePose person detector: letterbox -> SSD model -> decode -> weighted NMS, in numpy (as MediaPipe).

    detector = PoseDetector(load_backend('.assets/models/pose_detection.onnx'))
    detections = detector(bgr)        # list[Detection], best first; boxes and keypoints in image pixels

Constants from MediaPipe's `pose_detection_cpu` graph (mediapipe 0.10.18):
* ImageToTensorCalculator 224x224, keep_aspect_ratio, float range [-1, 1], BORDER_ZERO. The letterbox is
  the exact (unrounded) square of side max(W, H) centred on the image: scale 224 / max(W, H), offset
  continuous, not rounded to whole pixels (rounding shifts detections, hence ROIs, by up to a pixel).
* TensorsToDetectionsCalculator: 2254 boxes x 12 coords, reverse_output_order (x before y), box =
  (cx, cy, w, h) then 4 keypoints (x, y), all divided by 224 and (fixed-size anchors) added to the anchor
  centre; score logit clipped to +-100 (score_clipping_thresh) then sigmoid; kept if score >= min_score_thresh
  (min_detection_confidence) and the box has non-negative width and height.
* NonMaxSuppressionCalculator: WEIGHTED, INTERSECTION_OVER_UNION, min_suppression_threshold 0.3.
* DetectionLetterboxRemovalCalculator: back to image coordinates.
Keypoint 0 is the hip centre and keypoint 1 a point on the circle enclosing the body (see roi.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nvb_perception.pose2d.anchors import INPUT_SIZE, NUM_ANCHORS, ssd_anchors
from nvb_perception.pose2d.roi import Roi, box_iou, warp

SCORE_CLIPPING = 100.0             # logits clipped to +-this before the sigmoid
MIN_SUPPRESSION_THRESHOLD = 0.3    # IoU above which boxes are merged by weighted NMS
NUM_KEYPOINTS = 4


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected person."""

    score: float                   # [0, 1]
    box: np.ndarray                # (4,) float64 x0, y0, x1, y1 in image px
    keypoints: np.ndarray          # (4, 2) float64 image px; 0 = hip centre, 1 = full-body scale point


def letterbox_roi(width: int, height: int) -> Roi:
    """The square region MediaPipe maps onto the detector input: centred, side max(width, height)."""
    return Roi(width / 2.0, height / 2.0, float(max(width, height)), 0.0)


def preprocess(bgr: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, Roi]:
    """Letterbox a BGR uint8 image into the detector input.

    Returns:
        (1, size, size, 3) float32 RGB in [-1, 1], and the letterbox Roi (tensor [0, 1] -> image px).
    """
    h, w = bgr.shape[:2]
    roi = letterbox_roi(w, h)
    # Warp the uint8 image (as MediaPipe's OpenCV converter does), then scale; channels swap after the
    # warp because interpolation is per channel (cheaper than converting a large frame first).
    crop = warp(bgr, roi, size, replicate=False)
    x = crop[..., ::-1].astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    return x[None], roi


def decode(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the raw regressors of every anchor.

    Args:
        raw: (A, 12) float32 regressors in pixels of the 224 input, relative to the anchor centre.
        logits: (A,) float32 score logits.
        anchors: (A, 2) anchor centres in [0, 1].

    Returns:
        scores (A,) in [0, 1]; boxes (A, 4) xmin, ymin, xmax, ymax in [0, 1] of the input; keypoints
        (A, 4, 2) x, y in [0, 1] of the input.
    """
    with np.errstate(over='ignore'):      # exp(100) overflows float32 to inf: score 0, as in MediaPipe
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -SCORE_CLIPPING, SCORE_CLIPPING)))
    centre = raw[:, 0:2] / INPUT_SIZE + anchors          # fixed anchor size: w = h = 1
    half = raw[:, 2:4] / INPUT_SIZE / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) / INPUT_SIZE + anchors[:, None, :]
    return scores, boxes, keypoints


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 threshold: float = MIN_SUPPRESSION_THRESHOLD) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's WEIGHTED non-max suppression.

    Repeatedly take the best remaining box; every remaining box whose IoU with it exceeds `threshold`
    (the best one included) is merged into a score-weighted mean box and keypoints, and removed. The
    merged detection keeps the best box's score.

    Args:
        scores: (N,); boxes: (N, 4) x0, y0, x1, y1; keypoints: (N, K, 2).

    Returns:
        [(score, box (4,), keypoints (K, 2))], in descending score order.
    """
    order = np.argsort(-scores, kind='stable')
    out = []
    while order.size:
        best = order[0]
        # the best box always merges with itself, even when degenerate (zero area, IoU 0); MediaPipe would
        # stop suppressing there and drop the rest, which only loses detections
        hit = (box_iou(boxes[best], boxes[order])[0] > threshold) | (order == best)
        merge, order = order[hit], order[~hit]
        w = scores[merge][:, None]
        total = w.sum()
        out.append((float(scores[best]), (boxes[merge] * w).sum(0) / total,
                    (keypoints[merge] * w[:, :, None]).sum(0) / total))
    return out


def tile_origins(width: int, height: int, tile_px: int) -> list[tuple[int, int]]:
    """Top-left corners of square tiles of side tile_px that cover the image, overlapping by about half.

    Empty when the image fits in one tile (the whole-frame pass already sees it at full scale).
    """
    if tile_px <= 0 or (width <= tile_px and height <= tile_px):
        return []

    def starts(size):
        if size <= tile_px:
            return [0]
        n = math.ceil((size - tile_px) / (tile_px / 2)) + 1
        return sorted({round(v) for v in np.linspace(0, size - tile_px, n)})
    return [(x, y) for y in starts(height) for x in starts(width)]


class PoseDetector:
    """Find people in a BGR image with the BlazePose detector."""

    def __init__(self, backend, min_confidence: float = 0.5,
                 min_suppression_threshold: float = MIN_SUPPRESSION_THRESHOLD, tile_px: int = 0):
        """Wrap a backend of pose_detection.onnx.

        Args:
            backend: runs {'input_1': (1, 224, 224, 3)} -> {'Identity': (1, 2254, 12), 'Identity_1': (1, 2254, 1)}.
            min_confidence: minimum detection score (MediaPipe min_detection_confidence), [0, 1].
            min_suppression_threshold: IoU above which detections merge.
            tile_px: 0 = one pass over the whole frame (MediaPipe). > 0: also detect in square tiles of this
                side, overlapping by half, and merge everything with the same weighted NMS in image pixels.
                The detector keys on faces and needs them at roughly >= 5% of its input: people far from
                the camera (e.g. 100 px tall pedestrians in 768x576 video) are only found in tiles.
        """
        self.backend = backend
        self.min_confidence = float(min_confidence)
        self.min_suppression_threshold = float(min_suppression_threshold)
        self.tile_px = int(tile_px)
        self.anchors = ssd_anchors().astype(np.float32)
        assert len(self.anchors) == NUM_ANCHORS
        self.runs = 0                                # detector model calls (1 + tiles per frame)

    def detect_once(self, bgr: np.ndarray) -> list[Detection]:
        """One model pass over the whole of `bgr` (MediaPipe's pose detection), best first, image px."""
        x, letterbox = preprocess(bgr)
        out = self.backend({'input_1': x})
        self.runs += 1
        raw = np.asarray(out['Identity'], np.float32).reshape(-1, 12)
        logits = np.asarray(out['Identity_1'], np.float32).reshape(-1)
        scores, boxes, keypoints = decode(raw, logits, self.anchors)
        finite = np.isfinite(scores) & np.isfinite(boxes).all(1) & np.isfinite(keypoints).all((1, 2))
        keep = finite & (scores >= self.min_confidence)
        keep &= (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])   # MediaPipe drops negative sizes
        merged = weighted_nms(scores[keep], boxes[keep], keypoints[keep], self.min_suppression_threshold)
        to_px = letterbox.to_image
        return [Detection(score, to_px(box.reshape(2, 2)).reshape(4), to_px(kps)) for score, box, kps in merged]

    def __call__(self, bgr: np.ndarray) -> list[Detection]:
        """Detect people.

        Args:
            bgr: (H, W, 3) uint8 BGR image.

        Returns:
            Detections with score >= min_confidence after NMS, best first, in image pixels. Non-finite
            model outputs are dropped.
        """
        found = self.detect_once(bgr)
        origins = tile_origins(bgr.shape[1], bgr.shape[0], self.tile_px)
        if not origins:
            return found
        for x0, y0 in origins:
            shift = np.array([x0, y0], np.float64)
            found += [Detection(d.score, d.box + np.tile(shift, 2), d.keypoints + shift)
                      for d in self.detect_once(bgr[y0:y0 + self.tile_px, x0:x0 + self.tile_px])]
        if not found:
            return []
        merged = weighted_nms(np.array([d.score for d in found]), np.stack([d.box for d in found]),
                              np.stack([d.keypoints for d in found]), self.min_suppression_threshold)
        return [Detection(score, box, kps) for score, box, kps in merged]
