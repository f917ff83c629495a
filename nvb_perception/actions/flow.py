"""Attention-map flow: the motion of the ViT's attention maps between consecutive frames, at patch resolution.

    flow = attention_flow(prev_maps, maps, method='dis')      # (M, gh, gw) each -> (M, 2, gh, gw) patches/frame
    feats = flow_features(flow, maps)                         # (M, FLOW_FEATURES) attention-weighted statistics
    diff = difference_features(prev_maps, maps)               # (M, DIFF_FEATURES) the temporal-difference option

Two options, compared in the evaluation:
- optical flow computed on the maps themselves: OpenCV DIS ('dis') or Farneback ('farneback'); each pair of maps
  is square-root compressed (CLS attention is heavy-tailed), scaled jointly to 8 bits and upsampled UPSAMPLE
  times (bilinear, half-pixel centres, so the flow is still a patch-resolution quantity) before the flow; the
  flow is returned in patches per frame;
- the temporal difference A_t - A_{t-1} ('diff') and its signed spatial moments, which move with the attention
  mass (no optical flow at all).
Maps of the previous frame are first brought into the current crop's coordinates (`warp_maps`) when the crop
window moved, so the flow is the motion of the attention in the image, not of the window.
Selection of layers and heads: `select_maps(attention, layers, heads)` (1-based layers, 0-based heads).
"""
from __future__ import annotations

import cv2
import numpy as np

FLOW_METHODS = ('dis', 'farneback', 'diff')
UPSAMPLE = 2                 # flow resolution: this many pixels per patch side
FLOW_FEATURES = 8            # per map: mean dx, dy, |flow|, divergence, upper/lower-half dx, dy... (see below)
DIFF_FEATURES = 8


def select_maps(attention: np.ndarray, layers=None, heads=None) -> np.ndarray:
    """Pick layers (1-based) and heads (0-based) and flatten them into maps.

    Args:
        attention: (L, nh, gh, gw) or (B, L, nh, gh, gw) attention maps.
        layers: iterable of 1-based layer numbers, None = all.
        heads: iterable of 0-based head indices, None = all.

    Returns:
        (M, gh, gw) or (B, M, gh, gw) with M = len(layers) * len(heads), layer-major.
    """
    if attention.ndim not in (4, 5):
        raise ValueError(f'attention must be (L, nh, gh, gw) or (B, L, nh, gh, gw), got {attention.shape}')
    n_layers, n_heads = attention.shape[-4], attention.shape[-3]
    layers = list(range(1, n_layers + 1)) if layers is None else list(layers)
    heads = list(range(n_heads)) if heads is None else list(heads)
    if not all(1 <= v <= n_layers for v in layers) or not all(0 <= h < n_heads for h in heads):
        raise ValueError(f'layers must be in [1, {n_layers}] and heads in [0, {n_heads}), got {layers}, {heads}')
    picked = attention[..., [v - 1 for v in layers], :, :, :][..., heads, :, :]
    return picked.reshape(*attention.shape[:-4], len(layers) * len(heads), *attention.shape[-2:])


def window_affine(prev_window, window, grid_hw: tuple[int, int], upsample: int = UPSAMPLE) -> np.ndarray:
    """2x3 affine taking upsampled-map pixels of the previous crop window to those of the current one.

    Windows are (x0, y0, width, height) in image pixels; the maps cover them with grid_hw = (gh, gw) patches,
    each `upsample` pixels wide (half-pixel centres, as cv2.resize).
    """
    gh, gw = grid_hw
    x0p, y0p, wp, hp = (float(v) for v in prev_window)
    x0c, y0c, wc, hc = (float(v) for v in window)
    sx, sy = wp / wc, hp / hc
    tx = (x0p - x0c) * gw * upsample / wc + 0.5 * (sx - 1)
    ty = (y0p - y0c) * gh * upsample / hc + 0.5 * (sy - 1)
    return np.array([[sx, 0, tx], [0, sy, ty]], np.float64)


def upsample_maps(maps: np.ndarray, upsample: int = UPSAMPLE) -> np.ndarray:
    """(M, gh, gw) -> (M, gh*upsample, gw*upsample) float32, bilinear with half-pixel centres."""
    m, gh, gw = maps.shape
    size = (gw * upsample, gh * upsample)
    return np.stack([cv2.resize(a, size, interpolation=cv2.INTER_LINEAR) for a in maps.astype(np.float32)]) \
        if m else np.zeros((0, gh * upsample, gw * upsample), np.float32)


def warp_maps(prev_maps: np.ndarray, prev_window, window, upsample: int = UPSAMPLE) -> np.ndarray:
    """Previous maps (M, gh, gw) resampled into the current window's patch grid (zeros where not seen)."""
    if prev_window is None or np.allclose(np.asarray(prev_window, float), np.asarray(window, float)):
        return prev_maps.astype(np.float32)
    gh, gw = prev_maps.shape[-2:]
    affine = window_affine(prev_window, window, (gh, gw), upsample=1)
    return np.stack([cv2.warpAffine(a, affine, (gw, gh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=0.0) for a in prev_maps.astype(np.float32)])


def _to_u8_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.sqrt(np.maximum(a, 0)), np.sqrt(np.maximum(b, 0))
    scale = 255.0 / max(float(a.max()), float(b.max()), 1e-12)
    return (np.clip(a * scale, 0, 255).astype(np.uint8), np.clip(b * scale, 0, 255).astype(np.uint8))


_DIS = {}


def _dis():
    # DIS keeps no state between calc() calls that matters here; building one costs more than a call
    if not _DIS:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        dis.setFinestScale(0)          # full resolution: the maps are tiny
        _DIS['dis'] = dis
    return _DIS['dis']


def attention_flow(prev_maps: np.ndarray, maps: np.ndarray, method: str = 'dis', upsample: int = UPSAMPLE
                   ) -> np.ndarray:
    """Optical flow from each previous map to the current one (one OpenCV call per map, ~0.05-0.1 ms each).

    Args:
        prev_maps, maps: (M, gh, gw) attention maps in the same (current) crop coordinates.
        method: 'dis' or 'farneback'.
        upsample: flow computed on maps upsampled this many times.

    Returns:
        (M, 2, gh, gw) float32 flow (dx, dy) in patches per frame, averaged back to the patch grid.
    """
    if method not in ('dis', 'farneback'):
        raise ValueError(f"method must be 'dis' or 'farneback', got {method!r}")
    if prev_maps.shape != maps.shape or maps.ndim != 3:
        raise ValueError(f'maps must be two (M, gh, gw) arrays of one shape, got {prev_maps.shape}, {maps.shape}')
    m, gh, gw = maps.shape
    up_prev, up_cur = upsample_maps(prev_maps, upsample), upsample_maps(maps, upsample)
    out = np.empty((m, 2, gh, gw), np.float32)
    for i in range(m):
        a, b = _to_u8_pair(up_prev[i], up_cur[i])
        if method == 'dis':
            f = _dis().calc(a, b, None)
        else:
            f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 2 * upsample + 1, 3, 5, 1.1, 0)
        # area-average to the patch grid, pixels -> patches
        out[i] = (f.reshape(gh, upsample, gw, upsample, 2).mean(axis=(1, 3)) / upsample).transpose(2, 0, 1)
    return out


def _grid(gh: int, gw: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised patch-centre coordinates in [-1, 1] (x right, y down)."""
    ys = (np.arange(gh) + 0.5) / gh * 2 - 1
    xs = (np.arange(gw) + 0.5) / gw * 2 - 1
    return np.meshgrid(xs, ys)


def flow_features(flow: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Attention-weighted statistics of each map's flow.

    Args:
        flow: (M, 2, gh, gw) patches per frame.
        maps: (M, gh, gw) current attention maps (the weights).

    Returns:
        (M, FLOW_FEATURES) float32: weighted mean dx, dy; weighted mean |flow|; weighted divergence
        (patches per frame per patch; > 0 = expanding); dx, dy of the upper half and of the lower half of the
        crop (upper body / legs).
    """
    m, _, gh, gw = flow.shape
    w = np.maximum(maps, 0).astype(np.float64)
    w = w / np.maximum(w.sum(axis=(1, 2), keepdims=True), 1e-12)
    dx, dy = flow[:, 0].astype(np.float64), flow[:, 1].astype(np.float64)
    div = np.gradient(dx, axis=2) + np.gradient(dy, axis=1)
    upper = np.zeros((gh, gw))
    upper[: gh // 2] = 1
    wu, wl = w * upper, w * (1 - upper)
    su, sl = np.maximum(wu.sum(axis=(1, 2)), 1e-12), np.maximum(wl.sum(axis=(1, 2)), 1e-12)
    feats = np.stack([(w * dx).sum((1, 2)), (w * dy).sum((1, 2)), (w * np.hypot(dx, dy)).sum((1, 2)),
                      (w * div).sum((1, 2)), (wu * dx).sum((1, 2)) / su, (wu * dy).sum((1, 2)) / su,
                      (wl * dx).sum((1, 2)) / sl, (wl * dy).sum((1, 2)) / sl], axis=1)
    return feats.astype(np.float32)


def difference_features(prev_maps: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Signed moments of the temporal difference D = A_t - A_{t-1} of each map.

    Returns:
        (M, DIFF_FEATURES) float32: sum D*x, sum D*y (the shift of the attention mass, x/y in [-1, 1] over the
        crop); sum |D|; sum D; sum D*x and D*y over the upper half and over the lower half. Scaled by the
        number of patches so the values do not depend on the crop size.
    """
    if prev_maps.shape != maps.shape or maps.ndim != 3:
        raise ValueError(f'maps must be two (M, gh, gw) arrays of one shape, got {prev_maps.shape}, {maps.shape}')
    m, gh, gw = maps.shape
    d = (maps.astype(np.float64) - prev_maps.astype(np.float64))
    # maps sum to ~1 over gh*gw patches: scale so a one-patch shift of all the mass is O(1)
    d = d * (gh * gw) ** 0.5
    x, y = _grid(gh, gw)
    upper = (np.arange(gh) < gh // 2)[:, None] * np.ones((1, gw))
    feats = np.stack([(d * x).sum((1, 2)), (d * y).sum((1, 2)), np.abs(d).sum((1, 2)), d.sum((1, 2)),
                      (d * x * upper).sum((1, 2)), (d * y * upper).sum((1, 2)),
                      (d * x * (1 - upper)).sum((1, 2)), (d * y * (1 - upper)).sum((1, 2))], axis=1)
    return feats.astype(np.float32)


def motion_features(prev_maps: np.ndarray | None, maps: np.ndarray, method: str = 'dis',
                    upsample: int = UPSAMPLE, weights: np.ndarray | None = None) -> np.ndarray:
    """(M * 8,) flow or difference features of one crop; zeros when there is no previous map (track start).

    `weights` (M, gh, gw) replaces the maps as the weights of the flow statistics (e.g. uniform for the pixel
    control of the evaluation).
    """
    if method not in FLOW_METHODS:
        raise ValueError(f'method must be one of {FLOW_METHODS}, got {method!r}')
    if prev_maps is None:
        return np.zeros(maps.shape[0] * FLOW_FEATURES, np.float32)
    if method == 'diff':
        return difference_features(prev_maps, maps).reshape(-1)
    return flow_features(attention_flow(prev_maps, maps, method, upsample),
                         maps if weights is None else weights).reshape(-1)


def flow_heatmap(flow: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """(gh, gw) float32 explanation map: attention-weighted flow magnitude summed over the maps."""
    return (np.maximum(maps, 0) * np.hypot(flow[:, 0], flow[:, 1])).sum(axis=0).astype(np.float32)
