"""Per-person crop windows, cached backbone outputs and the per-frame feature vectors of the action models.

    config = FeatureConfig(crop_px=168)
    cache = extract_backbone_cache(video, tracks, backbone, config)          # runs the frozen ViT once
    save_cache(path, cache); cache = load_cache(path)
    seq = sequence_features(cache, method='dis', direction='reversed')       # flow of the reversed clip
    seq.motion (N, M * 8), seq.tokens (N, K, 384), seq.window (N, T) row indices (-1 = padding)

Crop windows (`CropWindows`): a square window of side `context` x the person's box height, centred on the box,
that stays where it is while the person stays inside its central part, and re-centres (and re-scales) only when
the box centre moves more than `recenter` of the side away from the window centre or its height changes by more
than `rescale`. Between re-centrings consecutive attention maps share their coordinates, so their flow is the
motion of the person; at a re-centring the previous maps are warped into the new window (flow.warp_maps), so the
flow stays the motion in the image, not of the window. The windows are causal (they depend on the past only).

The cache keeps, per observation (frame, track), the CLS-attention maps of every layer and head and the CLS and
mean-patch tokens of every layer (float16), so that any flow option, layer/head selection and both time
directions are computed without running the backbone again. A reversed clip uses exactly the same crops (the
same frames); only the order, hence the flow, changes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from nvb_perception.actions.flow import FLOW_METHODS, motion_features, select_maps, warp_maps
from nvb_perception.actions.labels import Tracks

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


@dataclass(frozen=True, eq=False)
class BackboneCache:
    """Backbone outputs of every observation of a Tracks table (same row order)."""

    attention: np.ndarray     # (N, L, nh, g, g) float16 CLS -> patch attention
    layer_cls: np.ndarray     # (N, L, D) float16
    layer_mean: np.ndarray    # (N, L, D) float16
    window: np.ndarray        # (N, 4) float32 x0, y0, w, h px
    tracks: Tracks
    meta: dict = field(default_factory=dict)

    def select(self, rows: np.ndarray) -> BackboneCache:
        """The cache of a subset of the observations (e.g. one time range)."""
        return BackboneCache(self.attention[rows], self.layer_cls[rows], self.layer_mean[rows], self.window[rows],
                             self.tracks.select(rows), self.meta)


def track_windows(tracks: Tracks, config: FeatureConfig) -> np.ndarray:
    """(N, 4) causal crop window of every observation (CropWindows per track, restarted after gaps)."""
    windows = np.zeros((len(tracks), 4), np.float32)
    for rows in tracks.segments():
        state, last = CropWindows(config), None
        for r in rows:
            if last is not None and tracks.frame[r] - last > config.max_gap_frames:
                state = CropWindows(config)
            windows[r] = state.update(tracks.bbox[r])[0]
            last = tracks.frame[r]
    return windows


def extract_backbone_cache(video: str | Path, tracks: Tracks, backbone, config: FeatureConfig,
                           batch: int = 8, progress=None) -> BackboneCache:
    """Run the backbone on every observation's crop (frames decoded once, crops batched).

    Args:
        video: the video the tracks come from.
        tracks: observations to encode.
        backbone: actions.backbone.AttentionBackbone (or anything with the same call).
        config: crop settings.
        batch: crops per backbone call.
        progress: optional callable(done, total).
    """
    from nvb_perception.io.video import iter_video_frames
    windows = track_windows(tracks, config)
    by_frame: dict[int, list[int]] = {}
    for r, f in enumerate(tracks.frame):
        by_frame.setdefault(int(f), []).append(r)
    n = len(tracks)
    att = layer_cls = layer_mean = None
    pending_rows, pending_crops, done = [], [], 0

    def flush():
        nonlocal att, layer_cls, layer_mean, done
        out = backbone(np.stack(pending_crops))
        if att is None:
            att = np.zeros((n, *out.attention.shape[1:]), np.float16)
            layer_cls = np.zeros((n, *out.layer_cls.shape[1:]), np.float16)
            layer_mean = np.zeros((n, *out.layer_mean.shape[1:]), np.float16)
        att[pending_rows] = out.attention
        layer_cls[pending_rows] = out.layer_cls
        layer_mean[pending_rows] = out.layer_mean
        done += len(pending_rows)
        pending_rows.clear()
        pending_crops.clear()
        if progress:
            progress(done, n)

    last_frame = max(by_frame) if by_frame else -1
    for vf in iter_video_frames(video, max_frames=last_frame + 1):
        for r in by_frame.get(vf.index, ()):
            pending_rows.append(r)
            pending_crops.append(crop_window(vf.bgr, windows[r], config.crop_px))
            if len(pending_rows) >= batch:
                flush()
    if pending_rows:
        flush()
    if done != n:
        raise ValueError(f'{n - done} observations are in frames the video does not have')
    return BackboneCache(att, layer_cls, layer_mean, windows, tracks,
                         meta={'crop': config.crop_key(), 'video': str(video)})


def save_cache(path: str | Path, cache: BackboneCache) -> None:
    """Write a BackboneCache (npz, no pickle; meta as JSON text)."""
    from nvb_perception.actions.labels import save_tracks
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tracks_path = path.with_name(path.stem + '_tracks.npz')
    save_tracks(tracks_path, cache.tracks)
    np.savez(path, attention=cache.attention, layer_cls=cache.layer_cls, layer_mean=cache.layer_mean,
             window=cache.window, meta=np.array(json.dumps(cache.meta)))


def load_cache(path: str | Path) -> BackboneCache:
    """Read a cache written by save_cache."""
    from nvb_perception.actions.labels import load_tracks
    path = Path(path)
    tracks = load_tracks(path.with_name(path.stem + '_tracks.npz'))
    from nvb_perception.assets import read_npz
    z = read_npz(path, 'backbone cache', 'The next run computes it again')
    return BackboneCache(z['attention'], z['layer_cls'], z['layer_mean'], z['window'], tracks,
                         json.loads(str(z['meta'])))


def cache_key(tracks: Tracks, config: FeatureConfig, backbone_sha: str) -> str:
    """Short hash of what a cache depends on (tracks, crop settings, backbone file)."""
    h = hashlib.sha256()
    for a in (tracks.frame, tracks.track_id, tracks.bbox):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps(config.crop_key(), sort_keys=True).encode())
    h.update(backbone_sha.encode())
    return h.hexdigest()[:16]


def ensure_cache(video: str | Path, tracks: Tracks, config: FeatureConfig, cache_dir: str | Path,
                 backbone_path: str | Path | None = None, threads: int | None = None, log=None) -> BackboneCache:
    """The backbone cache of these tracks, computed once and kept in cache_dir/backbone_<cache_key>.npz."""
    import time

    from nvb_perception.actions.backbone import BACKBONE_FILE, AttentionBackbone
    from nvb_perception.assets import model_dir, read_json, require_file
    backbone_path = require_file(backbone_path or model_dir() / BACKBONE_FILE,
                                 'ViT backbone (python -m nvb_perception.tools.extract_vit)')
    sidecar = Path(str(backbone_path) + '.json')
    if sidecar.is_file():
        sha = read_json(sidecar, 'backbone metadata').get('onnx_sha256', '')
    else:
        sha = hashlib.sha256(Path(backbone_path).read_bytes()).hexdigest()
    path = Path(cache_dir) / f'backbone_{cache_key(tracks, config, sha)}.npz'
    if path.is_file():
        return load_cache(path)
    backbone = AttentionBackbone.from_path(backbone_path, threads=threads)
    start = time.time()

    def progress(done, total):
        if log and (done == total or done % 400 < 8):
            log(f'backbone: {done}/{total} crops, {time.time() - start:.0f} s')
    if log:
        log(f'running the backbone on {len(tracks)} crops of {config.crop_px} px (once; cached in {path})')
    cache = extract_backbone_cache(video, tracks, backbone, config, progress=progress)
    save_cache(path, cache)
    return cache


def pixel_maps(video: str | Path, cache: BackboneCache, size: int) -> np.ndarray:
    """(N, size, size) uint8: every observation's crop (the cached windows), grey, area-resized to size x size."""
    from nvb_perception.io.video import iter_video_frames
    out = np.zeros((len(cache.tracks), size, size), np.uint8)
    by_frame: dict[int, list[int]] = {}
    for r, f in enumerate(cache.tracks.frame):
        by_frame.setdefault(int(f), []).append(r)
    for vf in iter_video_frames(video, max_frames=max(by_frame) + 1 if by_frame else 0):
        for r in by_frame.get(vf.index, ()):
            grey = cv2.cvtColor(crop_window(vf.bgr, cache.window[r], 4 * size), cv2.COLOR_BGR2GRAY)
            out[r] = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
    return out


@dataclass(frozen=True, eq=False)
class SequenceFeatures:
    """Per-observation inputs of the action models for one time direction."""

    motion: np.ndarray      # (N, M * 8) float32 flow (or difference) features from the previous observation
    has_prev: np.ndarray    # (N,) bool: a previous observation of the same sequence exists
    tokens: np.ndarray      # (N, K, 2 * D) float32 CLS and mean tokens of config.token_layers
    window: np.ndarray      # (N, T) int64 rows of the causal window ending at each row (-1 = before the start)


def sequence_order(tracks: Tracks, direction: str, max_gap: int = 1) -> list[np.ndarray]:
    """Rows of each continuous sequence in playback order ('forward' or 'reversed')."""
    if direction not in ('forward', 'reversed'):
        raise ValueError(f"direction must be 'forward' or 'reversed', got {direction!r}")
    out = []
    for rows in tracks.segments():
        cuts = np.flatnonzero(np.diff(tracks.frame[rows]) > max_gap) + 1
        for seq in np.split(rows, cuts):
            out.append(seq if direction == 'forward' else seq[::-1])
    return out


def sequence_features(cache: BackboneCache, config: FeatureConfig, method: str = 'dis',
                      direction: str = 'forward', pixels: np.ndarray | None = None) -> SequenceFeatures:
    """Motion features (flow of the selected maps between consecutive observations), tokens and windows.

    Args:
        cache: backbone outputs.
        config: map selection, token layers, window length.
        method: one of flow.FLOW_METHODS.
        direction: 'forward' or 'reversed' playback.
        pixels: (N, S, S) uint8 grey crops (`pixel_maps`): the evaluation's control, whose "maps" are the
            pixels themselves (flow at S x S, uniform weights) instead of the attention maps.
    """
    if method not in FLOW_METHODS:
        raise ValueError(f'method must be one of {FLOW_METHODS}, got {method!r}')
    n = len(cache.tracks)
    if pixels is None:
        maps = select_maps(cache.attention, config.flow_layers, config.flow_heads)      # (N, M, g, g)
        upsample, weights = config.upsample, None
    else:
        maps, upsample = pixels[:, None].astype(np.float32), 1
        weights = np.ones(maps.shape[1:], np.float32)
    motion = np.zeros((n, maps.shape[1] * 8), np.float32)
    has_prev = np.zeros(n, bool)
    window = np.full((n, config.window_frames), -1, np.int64)
    for seq in sequence_order(cache.tracks, direction, config.max_gap_frames):
        for i, r in enumerate(seq):
            start = max(0, i - config.window_frames + 1)
            window[r, config.window_frames - (i - start + 1):] = seq[start:i + 1]
            if i == 0:
                continue
            p = seq[i - 1]
            prev = warp_maps(maps[p].astype(np.float32), cache.window[p], cache.window[r])
            motion[r] = motion_features(prev, maps[r].astype(np.float32), method, upsample, weights)
            has_prev[r] = True
    idx = [v - 1 for v in config.token_layers]
    tokens = np.concatenate([cache.layer_cls[:, idx], cache.layer_mean[:, idx]], axis=-1).astype(np.float32)
    return SequenceFeatures(motion, has_prev, tokens, window)
