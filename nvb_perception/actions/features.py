"""Per-person crop windows and the feature settings of the action models (the runtime half).

The offline half (backbone caches, per-sequence features for training and evaluation) is
`nvb_perception.datasets.action_features`.

Crop windows (`CropWindows`): a square window of side `context` x the person's box height, centred on the box,
that stays where it is while the person stays inside its central part, and re-centres (and re-scales) only when
the box centre moves more than `recenter` of the side away from the window centre or its height changes by more
than `rescale`. Between re-centrings consecutive attention maps share their coordinates, so their flow is the
motion of the person; at a re-centring the previous maps are warped into the new window (flow.warp_maps), so the
flow stays the motion in the image, not of the window. The windows are causal (they depend on the past only).

"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

PATCH_PX = 14


@dataclass(frozen=True)
class FeatureConfig:
    """How crops are made and which backbone outputs feed the action models."""

    crop_px: int = 168                 # crop side fed to the ViT, a multiple of 14
    context: float = 1.6               # window side / person box height
    recenter: float = 0.2              # re-centre when the box centre is this far (fraction of the side) off
    rescale: float = 0.25              # re-size when the box height changes by this fraction
    min_side_px: float = 48.0          # smallest window side in image pixels
    flow_layers: tuple[int, ...] = (9, 10, 11, 12)     # 1-based layers whose maps give the flow
    flow_heads: tuple[int, ...] = (0, 1, 2, 3, 4, 5)   # 0-based heads
    token_layers: tuple[int, ...] = (4, 8, 12)          # 1-based layers whose CLS/mean tokens feed the adapters
    upsample: int = 2                  # flow computed at this many pixels per patch
    max_gap_frames: int = 1            # a longer gap in a track starts a new sequence (no flow across it)
    window_frames: int = 16            # causal window of the temporal head

    def __post_init__(self):
        if self.crop_px <= 0 or self.crop_px % PATCH_PX:
            raise ValueError(f'crop_px must be a positive multiple of {PATCH_PX}, got {self.crop_px}')
        if not 1.0 <= self.context <= 10.0 or not 0.0 < self.recenter < 1.0 or not 0.0 < self.rescale < 1.0:
            raise ValueError(f'context in [1, 10], recenter and rescale in (0, 1) required: {self}')
        if self.window_frames < 1 or self.upsample < 1 or self.max_gap_frames < 1:
            raise ValueError(f'window_frames, upsample and max_gap_frames must be >= 1: {self}')
        object.__setattr__(self, 'flow_layers', tuple(int(v) for v in self.flow_layers))
        object.__setattr__(self, 'flow_heads', tuple(int(v) for v in self.flow_heads))
        object.__setattr__(self, 'token_layers', tuple(int(v) for v in self.token_layers))

    @property
    def num_maps(self) -> int:
        return len(self.flow_layers) * len(self.flow_heads)

    def crop_key(self) -> dict:
        """The settings that change the crops (hence the cached backbone outputs)."""
        return {k: v for k, v in asdict(self).items() if k in ('crop_px', 'context', 'recenter', 'rescale',
                                                                  'min_side_px')}

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> FeatureConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f'unknown FeatureConfig keys {sorted(unknown)}')
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass
class CropWindows:
    """Causal crop windows of one track with hysteresis (see the module doc)."""

    config: FeatureConfig
    window: tuple[float, float, float, float] | None = None    # x0, y0, side, side in image px
    height: float = 0.0                                          # box height when the window was placed

    def update(self, bbox) -> tuple[tuple[float, float, float, float], bool]:
        """The window for this box (x0, y0, x1, y1 px) and whether it moved."""
        x0, y0, x1, y1 = (float(v) for v in bbox)
        cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, max(y1 - y0, 1.0)
        if self.window is not None:
            wx, wy, side, _ = self.window
            off = max(abs(cx - (wx + side / 2)), abs(cy - (wy + side / 2))) / side
            if off <= self.config.recenter and abs(h / self.height - 1) <= self.config.rescale:
                return self.window, False
        side = max(self.config.context * h, self.config.min_side_px)
        self.window, self.height = (cx - side / 2, cy - side / 2, side, side), h
        return self.window, True


def crop_window(bgr: np.ndarray, window, crop_px: int) -> np.ndarray:
    """(crop_px, crop_px, 3) uint8: the image inside `window` (x0, y0, w, h px), borders replicated."""
    x0, y0, w, h = (float(v) for v in window)
    sx, sy = crop_px / w, crop_px / h
    # half-pixel centres: output pixel j samples image x0 + (j + 0.5) / sx - 0.5
    affine = np.array([[sx, 0, -x0 * sx + 0.5 * sx - 0.5], [0, sy, -y0 * sy + 0.5 * sy - 0.5]], np.float64)
    interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:   # warpAffine has no area filter: pre-shrink by resizing the region
        xa, ya = int(np.floor(x0)), int(np.floor(y0))
        xb, yb = int(np.ceil(x0 + w)), int(np.ceil(y0 + h))
        pad = cv2.copyMakeBorder(bgr, max(0, -ya), max(0, yb - bgr.shape[0]), max(0, -xa),
                                 max(0, xb - bgr.shape[1]), cv2.BORDER_REPLICATE)
        region = pad[ya + max(0, -ya): yb + max(0, -ya), xa + max(0, -xa): xb + max(0, -xa)]
        return cv2.resize(region, (crop_px, crop_px), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(bgr, affine, (crop_px, crop_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
