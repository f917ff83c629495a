"""Backbone caches of tracked videos and the per-sequence feature arrays the action models train on.

The offline half of `nvb_perception.actions.features` (crop windows and FeatureConfig live there, shared with the
live recognizer): the cache keeps, per observation (frame, track), every layer's CLS-attention maps and tokens, so
that any flow option and both time directions are computed without running the backbone again.

    cache = extract_backbone_cache(video, tracks, backbone, config)          # runs the frozen ViT once
    save_cache(path, cache); cache = load_cache(path)
    seq = sequence_features(cache, config, method='dis', direction='reversed')   # flow of the reversed clip
    seq.motion (N, M * 8), seq.tokens (N, K, 384), seq.window (N, T) row indices (-1 = padding)
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from nvb_perception.actions.features import CropWindows, FeatureConfig, crop_window
from nvb_perception.actions.flow import FLOW_METHODS, motion_features, select_maps, warp_maps
from nvb_perception.datasets.action_labels import Tracks, load_tracks, save_tracks


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tracks_path = path.with_name(path.stem + '_tracks.npz')
    save_tracks(tracks_path, cache.tracks)
    np.savez(path, attention=cache.attention, layer_cls=cache.layer_cls, layer_mean=cache.layer_mean,
             window=cache.window, meta=np.array(json.dumps(cache.meta)))


def load_cache(path: str | Path) -> BackboneCache:
    """Read a cache written by save_cache."""
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
                                 'ViT backbone (python -m nvb_perception.export.extract_vit)')
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
