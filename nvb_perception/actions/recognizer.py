"""Streaming action recognition: per-track crops -> frozen ViT (ONNX) -> attention-map flow -> adapters + head (ONNX).

    recognizer = ActionRecognizer.from_paths(model_dir() / 'vit_s14_attn.onnx', model_dir() / 'actions_flow.onnx')
    result = recognizer(bgr, stamp_ns, [(track_id, bbox_xyxy_px), ...])      # every person of one frame
    result.frame                # types.ActionFrame: per-track multi-label probabilities + evidence
    result.heatmaps[track_id]   # (gh, gw) attention-flow heatmap of the crop, result.windows[track_id] its window

One backbone call per frame for every person (batched crops), one flow pass per person, one head call for every
person. Per track the recognizer keeps the crop window (features.CropWindows), the previous attention maps and a
ring buffer of the last T frames' features, exactly as features.sequence_features computes them offline, so the
streaming output equals the offline evaluation's. The flow is scaled to the training frame period
(`train_period_s`, from the model's JSON) when frames come at another rate, and a gap longer than
`max_gap_s` restarts the track's window. With `whole_frame=True` the crop is the whole image (track -1).

Evidence of each Action: the (layer, head) map with the largest attention-weighted flow, and the TOP_REGIONS
patches of the heatmap with their image coordinates (px) and scores (fraction of the heatmap). The heatmap is
the attention-weighted flow magnitude (|A_t - A_t-1| for the 'diff' option); on a track's first frame, which
has no flow, it is the mean attention of the selected maps ('heatmap_is_flow' 0).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nvb_perception.actions.backbone import AttentionBackbone
from nvb_perception.actions.features import CropWindows, FeatureConfig, crop_window
from nvb_perception.actions.flow import attention_flow, difference_features, flow_features, select_maps, warp_maps
from nvb_perception.errors import ConfigError
from nvb_perception.types import Action, ActionFrame, Stamp

TOP_REGIONS = 3
DEFAULT_HEAD = 'actions_flow.onnx'


@dataclass
class TrackState:
    """What the recognizer remembers of one person."""

    windows: CropWindows
    window: tuple | None = None
    maps: np.ndarray | None = None         # (M, g, g) selected maps of the last frame
    stamp_ns: int = 0
    tokens: list = field(default_factory=list)    # last T (K, token_dim) arrays
    motion: list = field(default_factory=list)    # last T (F + 1,) arrays


@dataclass(frozen=True, eq=False)
class RecognitionResult:
    """Output of one frame."""

    frame: ActionFrame
    heatmaps: dict[int, np.ndarray]        # track id -> (gh, gw) float32 explanation map of the crop
    windows: dict[int, tuple]              # track id -> crop window (x0, y0, w, h) px
    timings_ms: dict[str, float]           # backbone, flow, head, total


def read_head_meta(path: str | Path) -> dict:
    """The JSON written next to the head ONNX by export_actions (classes, features, flow method)."""
    from nvb_perception.assets import read_json
    return read_json(Path(str(path) + '.json'), 'action head metadata',
                     'Export the head with python -m nvb_perception.export.action_head (or `make action-model`)')


class ActionRecognizer:
    """Per-track streaming action probabilities from attention-map flow."""

    def __init__(self, backbone: AttentionBackbone, head, meta: dict, whole_frame: bool = False,
                 max_gap_s: float | None = None, forget_s: float = 5.0):
        self.backbone = backbone
        self.head = head
        self.meta = meta
        self.classes = tuple(meta['classes'])
        self.config = FeatureConfig.from_json(meta['features'])
        if whole_frame:
            self.config = FeatureConfig.from_json({**meta['features'], 'context': 1.0})
        self.method = meta.get('flow', 'dis')
        self.kind = meta['model']['kind']
        self.train_period_s = 1.0 / float(meta.get('fps', 10.0))
        self.max_gap_s = max_gap_s if max_gap_s is not None else (self.config.max_gap_frames + 0.5) * \
            self.train_period_s
        self.forget_s = forget_s
        self.whole_frame = whole_frame
        self.tracks: dict[int, TrackState] = {}
        if len(self.classes) != meta['model']['num_classes']:
            raise ConfigError(f'{len(self.classes)} class names for a {meta["model"]["num_classes"]}-class head')

    @classmethod
    def from_paths(cls, backbone_path: str | Path, head_path: str | Path, prefer=('onnxruntime',),
                   threads: int | None = None, **kwargs) -> ActionRecognizer:
        """Open both ONNX models (the head's JSON sidecar must be next to it)."""
        from nvb_perception.assets import require_file
        head_path = require_file(head_path, 'action head (nvb_perception.export.action_head)')
        meta = read_head_meta(head_path)
        if prefer and prefer[0] == 'onnxruntime':      # the small head first: a bad one fails before the ViT loads
            from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
            head = OnnxRuntimeBackend(head_path, threads=1)
        else:
            from nvb_perception.backends import load_backend
            head = load_backend(head_path, prefer=prefer)
        backbone = AttentionBackbone.from_path(backbone_path, prefer=prefer, threads=threads)
        return cls(backbone, head, meta, **kwargs)

    @property
    def backend_name(self) -> str:
        return self.backbone.name

    def reset(self) -> None:
        """Forget every track."""
        self.tracks.clear()

    def _motion(self, state: TrackState, maps: np.ndarray, window, stamp_ns: int):
        """(F + 1,) motion features from the track's previous frame, plus the flow heatmap (g, g)."""
        m = maps.shape[0]
        dt = (stamp_ns - state.stamp_ns) * 1e-9
        if state.maps is None or not 0 < dt <= self.max_gap_s:
            # no previous frame: no motion; the explanation falls back to where the maps attend
            return np.zeros(m * 8 + 1, np.float32), maps.mean(axis=0).astype(np.float32)
        prev = warp_maps(state.maps, state.window, window)
        scale = float(np.clip(self.train_period_s / dt, 0.25, 4.0))   # flow per training frame period
        if self.method == 'diff':
            feats = difference_features(prev, maps)
            heat = np.abs(maps - prev).sum(0)
        else:
            f = attention_flow(prev, maps, self.method, self.config.upsample)
            feats = flow_features(f, maps)
            heat = (np.maximum(maps, 0) * np.hypot(f[:, 0], f[:, 1])).sum(0)
        return np.concatenate([feats.reshape(-1) * scale, [1.0]]).astype(np.float32), heat.astype(np.float32)

    def _evidence(self, maps, heat, window, motion) -> tuple[tuple[str, float], ...]:
        g_h, g_w = heat.shape
        x0, y0, w, h = window
        evidence = []
        if motion[-1] > 0 and self.kind == 'flow':
            per_map = np.abs(motion[:-1].reshape(-1, 8)[:, 2])       # attention-weighted |flow| (or sum |D|)
            best = int(np.argmax(per_map))
            layer = self.config.flow_layers[best // len(self.config.flow_heads)]
            head = self.config.flow_heads[best % len(self.config.flow_heads)]
            evidence += [('top_map_layer', float(layer)), ('top_map_head', float(head)),
                         ('top_map_flow_patches', float(per_map[best]))]
        evidence.append(('heatmap_is_flow', float(motion[-1] > 0)))
        total = float(heat.sum())
        if total > 0:
            for rank, idx in enumerate(np.argsort(-heat.reshape(-1))[:TOP_REGIONS]):
                r, c = divmod(int(idx), g_w)
                evidence += [(f'region{rank}_x_px', x0 + (c + 0.5) * w / g_w),
                             (f'region{rank}_y_px', y0 + (r + 0.5) * h / g_h),
                             (f'region{rank}_score', float(heat.reshape(-1)[idx]) / total)]
        return tuple(evidence)

    def __call__(self, bgr: np.ndarray, stamp_ns: int, people, frame_id: str = '') -> RecognitionResult:
        """Update every person's state with this frame and return their action probabilities.

        Args:
            bgr: (H, W, 3) uint8 image.
            stamp_ns: source image time.
            people: iterable of (track_id, bbox (4,) x0, y0, x1, y1 px) of the people to recognise; ignored
                with whole_frame=True.
            frame_id: copied into the ActionFrame stamp.

        Raises:
            ValueError: a bad image or box.
            BackendError: a runtime failed.
        """
        start = time.perf_counter()
        if not isinstance(bgr, np.ndarray) or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
            raise ValueError(f'bgr must be (H, W, 3) uint8, got {getattr(bgr, "shape", None)}')
        if self.whole_frame:
            hgt, wid = bgr.shape[:2]
            side = max(hgt, wid)
            people = [(-1, np.array([(wid - side) / 2, (hgt - side) / 2, (wid + side) / 2, (hgt + side) / 2]))]
        people = [(int(t), np.asarray(b, np.float64).reshape(4)) for t, b in people]
        people = [(t, b) for t, b in people if np.isfinite(b).all() and b[2] > b[0] and b[3] > b[1]]
        # forget tracks not seen for a while (and reset ones whose time went backwards)
        for tid in [t for t, s in self.tracks.items()
                    if not 0 <= (stamp_ns - s.stamp_ns) * 1e-9 <= self.forget_s]:
            del self.tracks[tid]
        timings = {'backbone': 0.0, 'flow': 0.0, 'head': 0.0}
        actions, heatmaps, windows = [], {}, {}
        if people:
            crops, wins = [], []
            for tid, box in people:
                state = self.tracks.get(tid)
                if state is None or not 0 < (stamp_ns - state.stamp_ns) * 1e-9 <= self.max_gap_s:
                    # new track, or a gap: a new sequence with fresh windows, as features.sequence_features
                    state = self.tracks[tid] = TrackState(CropWindows(self.config))
                window = state.windows.update(box)[0]
                wins.append(window)
                crops.append(crop_window(bgr, window, self.config.crop_px))
            t0 = time.perf_counter()
            out = self.backbone(np.stack(crops))
            t1 = time.perf_counter()
            idx = [v - 1 for v in self.config.token_layers]
            tokens = np.concatenate([out.layer_cls[:, idx], out.layer_mean[:, idx]], axis=-1)   # (B, K, 2D)
            maps_all = select_maps(out.attention, self.config.flow_layers, self.config.flow_heads)
            batch_tokens, batch_motion, batch_mask, evidence = [], [], [], []
            for i, (tid, _) in enumerate(people):
                state = self.tracks[tid]
                motion, heat = self._motion(state, maps_all[i], wins[i], stamp_ns)
                state.tokens = (state.tokens + [tokens[i]])[-self.config.window_frames:]
                state.motion = (state.motion + [motion])[-self.config.window_frames:]
                state.maps, state.window, state.stamp_ns = maps_all[i], wins[i], stamp_ns
                n, t = len(state.tokens), self.config.window_frames
                tok = np.zeros((t, *tokens.shape[1:]), np.float32)
                mot = np.zeros((t, motion.shape[0]), np.float32)
                tok[t - n:], mot[t - n:] = np.stack(state.tokens), np.stack(state.motion)
                mask = (np.arange(t) >= t - n).astype(np.float32)
                batch_tokens.append(tok)
                batch_motion.append(mot)
                batch_mask.append(mask)
                heatmaps[tid], windows[tid] = heat, wins[i]
                evidence.append(self._evidence(maps_all[i], heat, wins[i], motion))
            t2 = time.perf_counter()
            feed = {'tokens': np.stack(batch_tokens), 'motion': np.stack(batch_motion), 'mask': np.stack(batch_mask)}
            probs = self.head({k: v for k, v in feed.items() if k in self.head.inputs})['probabilities']
            t3 = time.perf_counter()
            for i, (tid, _) in enumerate(people):
                actions.append(Action(self.classes, probs[i], tid, evidence[i]))
            timings = {'backbone': (t1 - t0) * 1e3, 'flow': (t2 - t1) * 1e3, 'head': (t3 - t2) * 1e3}
        timings['total'] = (time.perf_counter() - start) * 1e3
        return RecognitionResult(ActionFrame(Stamp(stamp_ns, frame_id), tuple(actions)), heatmaps, windows, timings)

    def close(self) -> None:
        self.backbone.close()
        self.head.close()
