"""Train the action adapters + head (or a baseline) on cached frozen-backbone features; safetensors + JSON out.

    # your own data: a video and Charades/TSU-style annotations (video,label,start_s,end_s[,track_id])
    python -m nvb_perception.training.train_actions --video clinic.mp4 --annotations clinic.csv \
        --kind flow --epochs 20 --out runs/actions
    # whole-frame labels (track_id -1) on the whole image instead of per-person crops
    python -m nvb_perception.training.train_actions --video clinic.mp4 --annotations clinic.csv --whole-frame
    # the motion labels derived from the tracks (what eval_actions uses on vtest.avi), forward + reversed clips,
    # exported for the action node as <assets>/models/actions_flow.onnx (+ .json)
    python -m nvb_perception.training.train_actions --video .assets/data/opencv/vtest.avi --motion-labels --export

Pipeline: person tracks (pose2d, cached in --cache-dir), the frozen ViT on every track crop once (cached:
attention maps + tokens, features.extract_backbone_cache), attention-map flow per frame, then training touches
only the adapters and the head (the backbone is not even loaded by the optimiser). Per model it writes
<out>/actions_<kind>.safetensors (weights, including the feature standardisation) and .json (ActionModelConfig,
FeatureConfig, classes, flow method, command, training record). No pickle anywhere. Deterministic for a given
seed and thread count.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nvb_perception.actions.features import FeatureConfig
from nvb_perception.datasets.action_features import BackboneCache, SequenceFeatures, sequence_features
from nvb_perception.evaluation.action_metrics import frame_map
from nvb_perception.training.action_checkpoint import save_checkpoint
from nvb_perception.training.action_model import (
    KINDS,
    ActionModel,
    ActionModelConfig,
    build_action_model,
    trainable_parameters,
)


@dataclass(frozen=True, eq=False)
class Samples:
    """Training or test samples: (view, row) pairs over views that share the per-row backbone tokens.

    A view is one playback of the observations (e.g. forward, reversed) with its own flow and windows.
    """

    tokens: np.ndarray     # (N, K, token_dim) float32
    motion: np.ndarray     # (V, N, F + 1) float32, last column = has-previous flag
    window: np.ndarray     # (V, N, T) int64 rows (-1 = padding)
    labels: np.ndarray     # (V, N, C) bool
    index: np.ndarray      # (S, 2) int64 (view, row) of each sample

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, which: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens (B, T, K, token_dim), motion (B, T, F+1), mask (B, T), labels (B, C) for samples `which`."""
        view, row = self.index[which, 0], self.index[which, 1]
        win = self.window[view, row]                                       # (B, T)
        mask = win >= 0
        safe = np.where(mask, win, 0)
        tokens = self.tokens[safe] * mask[..., None, None]
        motion = self.motion[view[:, None], safe] * mask[..., None]
        return (torch.from_numpy(tokens), torch.from_numpy(motion.astype(np.float32)),
                torch.from_numpy(mask.astype(np.float32)), torch.from_numpy(self.labels[view, row].astype(np.float32)))

    def batch_indexed(self, which: np.ndarray) -> dict[str, torch.Tensor]:
        """The inputs of ActionModel.forward_indexed (each distinct frame once) and the labels."""
        view, row = self.index[which, 0], self.index[which, 1]
        win = self.window[view, row]                                       # (B, T)
        mask = win >= 0
        safe = np.where(mask, win, 0)
        rows, token_index = np.unique(safe, return_inverse=True)
        pairs, motion_index = np.unique(view[:, None] * len(self.tokens) + safe, return_inverse=True)
        motion = self.motion[pairs // len(self.tokens), pairs % len(self.tokens)]
        return {'tokens': torch.from_numpy(self.tokens[rows]),
                'token_index': torch.from_numpy(token_index.reshape(win.shape)),
                'motion': torch.from_numpy(motion.astype(np.float32)),
                'motion_index': torch.from_numpy(motion_index.reshape(win.shape)),
                'mask': torch.from_numpy(mask.astype(np.float32)),
                'labels': torch.from_numpy(self.labels[view, row].astype(np.float32))}


def view_arrays(seq: SequenceFeatures) -> tuple[np.ndarray, np.ndarray]:
    """(motion with the has-previous column (N, F + 1), window (N, T)) of one view."""
    return np.concatenate([seq.motion, seq.has_prev[:, None].astype(np.float32)], axis=1), seq.window


def make_samples(cache: BackboneCache, config: FeatureConfig, labels: dict[str, np.ndarray], method: str,
                 valid: np.ndarray | None = None, pixels: np.ndarray | None = None) -> Samples:
    """Samples of the views in `labels` ('forward' and/or 'reversed': (N, C) bool labels of each row).

    Args:
        cache: backbone outputs of the observations.
        config: feature settings.
        labels: direction -> (N, C) labels.
        method: flow method (flow.FLOW_METHODS).
        valid: (N,) bool rows that become samples (e.g. rows with a known label); default all.
        pixels: optional grey crops: the flow of the pixels instead of the attention maps (a control).
    """
    motions, windows, tokens = [], [], None
    for direction in labels:
        seq = sequence_features(cache, config, method, direction, pixels)
        motion, window = view_arrays(seq)
        motions.append(motion)
        windows.append(window)
        tokens = seq.tokens
    n = len(cache.tracks)
    rows = np.flatnonzero(np.ones(n, bool) if valid is None else valid)
    index = np.concatenate([np.stack([np.full(len(rows), v), rows], 1) for v in range(len(labels))])
    return Samples(tokens, np.stack(motions), np.stack(windows), np.stack(list(labels.values())), index)


def normalization(samples: Samples) -> tuple[np.ndarray, ...]:
    """Train-set mean/std of the tokens (K, token_dim) and of the motion features of frames with a flow."""
    rows = np.unique(samples.index[:, 1])
    tokens = samples.tokens[rows]
    motion = samples.motion[:, rows].reshape(-1, samples.motion.shape[-1])
    with_flow = motion[motion[:, -1] > 0]
    if len(with_flow) == 0:
        with_flow = motion
    return tokens.mean(0), tokens.std(0), with_flow.mean(0), with_flow.std(0)


def fit(model: ActionModel, train: Samples, epochs: int = 40, batch_size: int = 128, lr: float = 1e-3,
        weight_decay: float = 0.05, seed: int = 0, log=None) -> list[float]:
    """Train adapters + head with AdamW and a cosine schedule on BCE; returns the mean loss of each epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.set_normalization(*normalization(train))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    steps = epochs * int(np.ceil(len(train) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    history = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(train))
        total = 0.0
        for start in range(0, len(order), batch_size):
            b = train.batch_indexed(order[start:start + batch_size])
            logits = model.forward_indexed(b['tokens'], b['token_index'], b['motion'], b['motion_index'], b['mask'])
            loss = loss_fn(logits, b['labels'])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(logits)
        history.append(total / len(order))
        if log:
            log(f'epoch {epoch + 1}/{epochs} loss {history[-1]:.4f}')
    return history


@torch.no_grad()
def predict(model: ActionModel, samples: Samples, batch_size: int = 512) -> np.ndarray:
    """(S, C) probabilities of every sample."""
    model.eval()
    out = []
    for start in range(0, len(samples), batch_size):
        b = samples.batch_indexed(np.arange(start, min(start + batch_size, len(samples))))
        logits = model.forward_indexed(b['tokens'], b['token_index'], b['motion'], b['motion_index'], b['mask'])
        out.append(torch.sigmoid(logits).numpy())
    return np.concatenate(out) if out else np.zeros((0, samples.labels.shape[-1]), np.float32)


def evaluate(model: ActionModel, samples: Samples, view_names: tuple[str, ...]) -> dict:
    """Frame-mAP (and per-class AP) of each view."""
    probs = predict(model, samples)
    result = {}
    for v, name in enumerate(view_names):
        sel = samples.index[:, 0] == v
        labels = samples.labels[v, samples.index[sel, 1]]
        m, ap = frame_map(probs[sel], labels)
        result[name] = {'map': m, 'ap': [None if np.isnan(a) else float(a) for a in ap], 'frames': int(sel.sum())}
    return result


def model_config(kind: str, samples: Samples, config: FeatureConfig, num_classes: int, **overrides
                 ) -> ActionModelConfig:
    """ActionModelConfig matching the feature shapes."""
    return ActionModelConfig(kind=kind, num_classes=num_classes, token_layers=samples.tokens.shape[1],
                             token_dim=samples.tokens.shape[2], motion_dim=samples.motion.shape[-1] - 1,
                             window=config.window_frames, **overrides)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--video', type=Path, required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--annotations', type=Path, help='CSV video,label,start_s,end_s[,track_id]')
    src.add_argument('--motion-labels', action='store_true', help='labels derived from the tracks (labels.py), '
                     'trained on the forward and the reversed clip')
    p.add_argument('--classes', default='', help='comma-separated class names (default: those annotated)')
    p.add_argument('--whole-frame', action='store_true', help='one crop = the whole frame (track -1)')
    p.add_argument('--kind', choices=KINDS + ('all',), default='flow')
    p.add_argument('--flow', choices=('dis', 'farneback', 'diff'), default='dis')
    p.add_argument('--crop-px', type=int, default=FeatureConfig.crop_px)
    p.add_argument('--flow-layers', default='9,10,11,12')
    p.add_argument('--epochs', type=int, default=20)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1, help='torch threads (training)')
    p.add_argument('--backbone-threads', type=int, default=2, help='ONNX Runtime threads (feature cache)')
    p.add_argument('--cache-dir', type=Path, default=Path('out/actions'))
    p.add_argument('--out', type=Path, default=Path('runs/actions'))
    p.add_argument('--export', action='store_true', help='also export <assets>/models/actions_<kind>.onnx (+ .json, '
                   'parity-checked) for the recognizer and the action node')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from nvb_perception.datasets import action_labels as lab
    from nvb_perception.datasets.action_features import ensure_cache
    from nvb_perception.datasets.action_labels import ensure_tracks
    from nvb_perception.errors import PerceptionError
    torch.set_num_threads(args.threads)
    config = FeatureConfig(crop_px=args.crop_px, flow_layers=tuple(int(v) for v in args.flow_layers.split(',')),
                           context=1.0 if args.whole_frame else FeatureConfig.context)
    try:
        annotations, classes = None, lab.MOTION_CLASSES
        if not args.motion_labels:       # check the annotations before the long tracking and caching
            name = args.video.name
            # the CSV may name the video by file name, stem or path
            annotations = [lab.Annotation(name, a.label, a.start_s, a.end_s, a.track_id)
                           if a.video in (args.video.stem, str(args.video)) else a
                           for a in lab.read_annotations(args.annotations)]
            classes = tuple(args.classes.split(',')) if args.classes else tuple(sorted(
                {a.label for a in annotations if a.video == name}))
            if not classes:
                raise PerceptionError(f'no annotation in {args.annotations} names video {name}')
        tracks = (lab.frame_tracks(args.video) if args.whole_frame
                  else ensure_tracks(args.video, args.cache_dir, log=print))
        cache = ensure_cache(args.video, tracks, config, args.cache_dir, threads=args.backbone_threads, log=print)
    except (PerceptionError, OSError) as error:
        print(f'train_actions: {error}', file=sys.stderr)
        return 2
    if args.motion_labels:
        forward = lab.motion_labels(tracks)
        labels = {'forward': forward, 'reversed': lab.reversed_labels(forward)}
        valid = lab.labelled(tracks)
    else:
        # whole-frame annotations (track_id -1) label every observation of their frames
        labels = {'forward': lab.annotation_labels(annotations, args.video.name, classes, tracks.frame,
                                                   tracks.track_id, tracks.fps)}
        valid = None
    samples = make_samples(cache, config, labels, args.flow, valid)
    kinds = KINDS if args.kind == 'all' else (args.kind,)
    for kind in kinds:
        torch.manual_seed(args.seed)
        model = build_action_model(model_config(kind, samples, config, len(classes)))
        start = time.time()
        history = fit(model, samples, args.epochs, args.batch_size, args.lr, seed=args.seed, log=print)
        record = {'classes': list(classes), 'features': config.to_json(), 'flow': args.flow, 'fps': tracks.fps,
                  'whole_frame': args.whole_frame,
                  'trainable_parameters': trainable_parameters(model), 'loss': history,
                  'train_s': round(time.time() - start, 1), 'command': ' '.join(sys.argv),
                  'train_map': evaluate(model, samples, tuple(labels))}
        save_checkpoint(args.out / f'actions_{kind}', model, record)
        print(f'{kind}: {record["trainable_parameters"]} trainable parameters, train mAP '
              + ', '.join(f'{k} {v["map"]:.3f}' for k, v in record['train_map'].items())
              + f' -> {args.out / f"actions_{kind}.safetensors"}')
        if args.export:
            from nvb_perception.assets import model_dir
            from nvb_perception.export.action_head import PARITY_TOLERANCE, write_head
            onnx_path = model_dir() / f'actions_{kind}.onnx'
            diff = write_head(model.eval(), record, onnx_path)
            if diff > PARITY_TOLERANCE:
                print(f'train_actions: ONNX parity {diff:.2e} > {PARITY_TOLERANCE}: not exported', file=sys.stderr)
                return 1
            print(f'{kind}: exported {onnx_path} (ONNX Runtime vs PyTorch {diff:.1e})')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
