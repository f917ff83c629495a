"""BlazePose landmark model on rotated ROIs: crop -> model (all ROIs in one batch) -> landmarks in pixels.

    model = LandmarkModel(load_backend('.assets/models/pose_landmark_full.onnx'))
    out = model(bgr, [roi_a, roi_b])        # LandmarkBatch: (N, 39, 3) px, visibility, world metres, ...
    next_roi = roi_from_landmarks(out.points[0, AUX_CENTER:AUX_SCALE + 1, :2])

As MediaPipe's `pose_landmark_by_roi_cpu` graph (mediapipe 0.10.18):
* ImageToTensorCalculator 256x256, keep_aspect_ratio (a no-op: ROIs are square), range [0, 1], border
  mode BORDER_REPLICATE (the default); the uint8 image is warped (bilinear), then scaled.
* TensorsToLandmarksCalculator: 39 landmarks x (x, y, z, visibility, presence); x, y, z / 256;
  visibility and presence through a sigmoid.
* RefineLandmarksFromHeatmapCalculator, min_confidence_to_refine 0.5 (the default): for each landmark,
  the sigmoid of the 64x64 heatmap in the KxK window around it (clipped at the borders) gives a
  confidence-weighted mean cell, which replaces x, y if the window's max confidence >= 0.5.
  K = 9, not the 7 the graph's options say: mediapipe 0.10.18 runs with the proto default 9. Measured by
  exposing the graph's internal streams: on its own heatmaps, K = 9 reproduces its refined landmarks to
  1e-4 crop px, K = 7 misses by up to 1.8 crop px (up to 4 image px on full-body photos).
  MediaPipe's quirks are kept: cell index by truncation, column checked twice instead of the row, cell
  index / 64 with no half-cell offset.
* LandmarkProjectionCalculator: rotate by the ROI rotation, scale by the ROI size, shift to its centre;
  z scales like x. WorldLandmarkProjectionCalculator: world x, y rotated by the ROI rotation, z kept.
* Pose flag (`Identity_1`, sigmoid already in the model) is the person score; MediaPipe drops the pose when
  it is <= min_tracking_confidence.
Landmarks 0-32 are BlazePose's; 33 (hip centre) and 34 (full-body scale point) are the auxiliary points
the next frame's ROI is built from (`roi_from_landmarks`); 35-38 are unused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nvb_perception.pose2d.roi import Roi, roi_from_alignment, warp

CROP_SIZE = 256                    # px, landmark model input side
NUM_LANDMARKS = 39                 # 33 BlazePose + 6 auxiliary
NUM_BODY = 33
AUX_CENTER, AUX_SCALE = 33, 34     # auxiliary landmarks used for the tracking ROI
HEATMAP_KERNEL = 9                 # cells (what MediaPipe runs; see the module docstring)
HEATMAP_MIN_CONFIDENCE = 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings (float32 in, float32 out)."""
    x = np.asarray(x, np.float32)
    return (1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))).astype(np.float32)


@dataclass(frozen=True, eq=False)
class LandmarkBatch:
    """Landmark model results for N ROIs (row i belongs to rois[i])."""

    points: np.ndarray             # (N, 39, 3) float64: x, y image px; z px, same scale as x (relative depth)
    visibility: np.ndarray         # (N, 39) float32 [0, 1]
    presence: np.ndarray           # (N, 39) float32 [0, 1]
    world: np.ndarray              # (N, 33, 3) float32 metres, hip-centred, rotated back like the image
    pose_flag: np.ndarray          # (N,) float32 [0, 1] person presence score
    valid: np.ndarray              # (N,) bool: every output of that ROI is finite


def crop(bgr: np.ndarray, roi: Roi, size: int = CROP_SIZE) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (size, size, 3) float32 RGB in [0, 1], the ROI warped upright."""
    patch = warp(bgr, roi, size, replicate=True)
    return patch[..., ::-1].astype(np.float32) * np.float32(1.0 / 255.0)


def refine_from_heatmap(xy: np.ndarray, heatmaps: np.ndarray, kernel: int = HEATMAP_KERNEL,
                        min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap, vectorised.

    Args:
        xy: (N, J, 2) landmark x, y in [0, 1] of the crop.
        heatmaps: (N, Hh, Wh, J) heatmap logits (HWC, one channel per landmark).

    Returns:
        (N, J, 2) refined x, y in [0, 1] of the crop (unchanged where not refined).
    """
    n, hh, hw, j = heatmaps.shape
    safe = np.nan_to_num(np.clip(xy, -1e6, 1e6))            # int conversion of NaN/huge is undefined
    col = np.trunc(safe[..., 0] * hw).astype(np.int64)      # C++ float -> int truncates toward zero
    row = np.trunc(safe[..., 1] * hh).astype(np.int64)
    inside = (col >= 0) & (col < hw) & (row >= 0) & (col < hh)   # sic: MediaPipe tests col twice
    d = np.arange(kernel) - (kernel - 1) // 2
    rows, cols = row[..., None] + d, col[..., None] + d      # (N, J, K)
    mask = ((rows >= 0) & (rows < hh))[..., :, None] & ((cols >= 0) & (cols < hw))[..., None, :]
    vals = heatmaps[np.arange(n)[:, None, None, None], np.clip(rows, 0, hh - 1)[..., :, None],
                    np.clip(cols, 0, hw - 1)[..., None, :], np.arange(j)[None, :, None, None]]
    conf = sigmoid(vals) * mask                               # (N, J, K, K); outside the map counts 0
    total = conf.sum((-2, -1))
    ok = inside & (conf.max((-2, -1)) >= min_confidence) & (total > 0)
    denom = np.where(total > 0, total, 1.0)
    x_new = (conf * cols[..., None, :]).sum((-2, -1)) / hw / denom
    y_new = (conf * rows[..., :, None]).sum((-2, -1)) / hh / denom
    return np.where(ok[..., None], np.stack([x_new, y_new], axis=-1), xy)


def roi_from_landmarks(aux_px: np.ndarray) -> Roi:
    """Next frame's ROI from auxiliary landmarks 33 (hip centre) and 34 (scale point), (2, 2+) px."""
    aux_px = np.asarray(aux_px)
    return roi_from_alignment(aux_px[0, :2], aux_px[1, :2])


class LandmarkModel:
    """Run the BlazePose landmark model on ROIs of one image."""

    def __init__(self, backend):
        """Wrap a backend of pose_landmark_{lite,full,heavy}.onnx.

        A backend whose input batch is dynamic (None) gets all ROIs in one call; batch 1 gets one call per ROI.
        """
        self.backend = backend
        spec = backend.inputs['input_1'].shape
        self.batched = spec[0] is None

    def infer(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 256, 256, 3) float32 crops -> raw model outputs with batch N."""
        if self.batched:
            return {k: np.array(v) for k, v in self.backend({'input_1': crops}).items()}
        runs = [self.backend({'input_1': crops[i:i + 1]}) for i in range(len(crops))]
        return {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}

    def __call__(self, bgr: np.ndarray, rois: list[Roi]) -> LandmarkBatch:
        """Landmarks of every ROI (N >= 1) in image pixels; see LandmarkBatch."""
        crops = np.stack([crop(bgr, r) for r in rois])
        return self.decode(self.infer(crops), rois)

    @staticmethod
    def decode(out: dict[str, np.ndarray], rois: list[Roi]) -> LandmarkBatch:
        """Raw outputs (batch N) + their ROIs -> LandmarkBatch."""
        n = len(rois)
        raw = np.asarray(out['Identity'], np.float32).reshape(n, NUM_LANDMARKS, 5)
        xy = refine_from_heatmap(raw[..., :2] / CROP_SIZE, np.asarray(out['Identity_3'], np.float32))
        world_roi = np.asarray(out['Identity_4'], np.float32).reshape(n, NUM_LANDMARKS, 3)[:, :NUM_BODY]
        points = np.empty((n, NUM_LANDMARKS, 3))
        world = world_roi.copy()
        for i, roi in enumerate(rois):
            points[i, :, :2] = roi.to_image(xy[i])
            points[i, :, 2] = raw[i, :, 2] / CROP_SIZE * roi.size
            c, s = np.cos(roi.rotation), np.sin(roi.rotation)
            world[i, :, 0] = c * world_roi[i, :, 0] - s * world_roi[i, :, 1]
            world[i, :, 1] = s * world_roi[i, :, 0] + c * world_roi[i, :, 1]
        flag = np.asarray(out['Identity_1'], np.float32).reshape(n)
        vis, pres = sigmoid(raw[..., 3]), sigmoid(raw[..., 4])
        valid = (np.isfinite(raw).all((1, 2)) & np.isfinite(world_roi).all((1, 2)) & np.isfinite(flag)
                 & np.isfinite(points).all((1, 2)))
        return LandmarkBatch(points, vis, pres, world, flag, valid)
