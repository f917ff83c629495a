"""Drawing shared by the nodes and the offline tools: skeleton overlays, and where 3D markers go."""
from dataclasses import dataclass

import cv2
import numpy as np

from nvb_perception.params import param, validate
from nvb_perception.skeleton import CONNECTIONS
from nvb_perception.types import Skeleton2D, TrackState

MIN_DRAW_CONFIDENCE = 0.5


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per track id (golden-angle hue steps)."""
    hue = int((track_id * 137.508) % 180)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_skeletons(bgr: np.ndarray, skeletons, fps: float | None = None) -> np.ndarray:
    """Draw bones, joints, boxes and track ids on a copy of `bgr` (H, W, 3) uint8."""
    out = bgr.copy()
    scale = max(1, round(max(out.shape[:2]) / 640))
    for s in skeletons:
        if s.track_state in (TrackState.LOST, TrackState.TERMINATED) or not len(s.keypoints):
            continue
        _draw_one(out, s, track_color(s.track_id), scale)
    if fps is not None:
        cv2.putText(out, f'{fps:.1f} FPS', (8, 24 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (0, 255, 0),
                    2 * scale, cv2.LINE_AA)
    return out


def _draw_one(img, s: Skeleton2D, color, scale):
    pts = np.nan_to_num(s.keypoints).round().astype(np.int32)
    ok = s.confidence >= MIN_DRAW_CONFIDENCE
    for a, b in CONNECTIONS.get(s.joint_set, ()):
        if ok[a] and ok[b]:
            cv2.line(img, tuple(pts[a]), tuple(pts[b]), color, 2 * scale, cv2.LINE_AA)
    for p in pts[ok]:
        cv2.circle(img, tuple(p), 3 * scale, (255, 255, 255), -1, cv2.LINE_AA)
    x0, y0, x1, y1 = np.nan_to_num(s.bbox).round().astype(int)
    if x1 > x0 and y1 > y0:
        cv2.rectangle(img, (x0, y0), (x1, y1), color, scale)
    cv2.putText(img, f'#{s.track_id}', (x0, max(y0 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, color,
                2 * scale, cv2.LINE_AA)


@dataclass(frozen=True)
class MarkerConfig:
    """Where RViz markers of root-relative skeletons go (lifting_node and risk_node)."""

    marker_depth_m: float = param(3.0, 'Depth at which root-relative skeletons and their labels are drawn in RViz',
                                  low=0.1, high=100.0)

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class OverlayConfig:
    """Whether a node draws its results on the camera image for RViz (costs nothing without a subscriber)."""

    publish_overlay: bool = param(False, 'Publish an overlay image for RViz')

    def __post_init__(self):
        validate(self)
