"""Motion-only evaluation on real video: attention-map flow vs the two baselines, forward and reversed clips.

    python -m nvb_perception.evaluation.eval_actions              # make eval-actions (first run ~15 min on 2 cores)
    python -m nvb_perception.evaluation.eval_actions --epochs 10 --models flow_dis,noflow,framemean  # quicker
    python -m nvb_perception.evaluation.eval_actions --train-directions forward   # train on forward clips only

Data: vtest.avi (Debian opencv-doc, 795 frames at 10 fps, pedestrians). People are tracked by the project's
pose stage; motion labels come from the tracks (labels.py: walk_left/right/toward/away, standing, close_to_other,
several at once), each observation is cropped with a causal hysteresis window and encoded once by the frozen
DINOv2-initialised ViT-S/14 (both cached in --cache-dir). The reversed clip is the same frames in reversed order
with its true labels (left <-> right, toward <-> away): an appearance-only model sees identical inputs for both
directions, so it must fail where motion and facing direction disagree.

Protocol: two folds over time (first half / second half of the video, a margin of --margin frames between
them); a model is trained on one half (forward and reversed clips unless --train-directions forward) and tested
on the other; every observation is tested once; frame-mAP = mean over classes of the AP over all test
observations (one per person and frame), separately for the forward and the reversed clips. Models, trained
identically (same samples, epochs, optimiser, seed): ours with DIS flow, ours with Farneback flow, ours with the
temporal difference of the maps, the same head without flow ('noflow') and frame-averaged backbone features
('framemean'). Only adapters and heads are trained; the trainable ratio is against the ViT's parameters.

Prints the table, then `RESULT {json}` as its last line (map_flow_reversed, map_framemean_reversed,
map_noflow_reversed, trainable_ratio, ms_backbone, ...).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nvb_perception.actions.features import FeatureConfig
from nvb_perception.datasets import action_labels as lab
from nvb_perception.datasets.action_features import ensure_cache, pixel_maps
from nvb_perception.datasets.action_labels import ensure_tracks
from nvb_perception.evaluation.action_metrics import frame_map
from nvb_perception.training.action_model import build_action_model, trainable_parameters
from nvb_perception.training.train_actions import fit, make_samples, model_config, predict

VIT_PARAMETERS = 22_056_192      # DinoV2ViT() (ViT-S/14 with the 37 x 37 position grid)
# name -> (model kind, flow method); flow_dis is "ours" in the RESULT line (map_flow_*)
MODELS = {
    'flow_dis': ('flow', 'dis'),
    'flow_farneback': ('flow', 'farneback'),
    'flow_diff': ('flow', 'diff'),
    'noflow': ('noflow', 'dis'),
    'framemean': ('framemean', 'dis'),
    # a control, not run by default: the same model with the DIS flow of the grey crop's pixels (at the
    # resolution of the maps' flow, uniform weights) instead of the attention maps'
    'pixelflow': ('flow', 'pixel'),
}
DEFAULT_MODELS = ('flow_dis', 'flow_farneback', 'flow_diff', 'noflow', 'framemean')
GOAL_POINTS = 10.0               # ours >= framemean + 10 frame-mAP points on the reversed clips
GOAL_RATIO = 0.10                # trainable parameters <= 10 % of the backbone


def default_video() -> Path:
    from nvb_perception.assets import assets_dir
    return assets_dir() / 'data' / 'opencv' / 'vtest.avi'


def folds(tracks: lab.Tracks, margin: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two (train rows, test rows) splits over time: first half vs second half and the reverse."""
    mid = tracks.num_frames // 2
    first = tracks.frame < mid - margin
    second = tracks.frame >= mid + margin
    return [(np.flatnonzero(first), np.flatnonzero(second)), (np.flatnonzero(second), np.flatnonzero(first))]


def time_backbone(crop_px: int, runs: int = 10, threads: int = 2) -> tuple[float, float]:
    """(median, min) ms of one crop through the ONNX backbone (ONNX Runtime CPU, `threads` threads).

    A quick measurement at the end of the evaluation: it is only as good as the machine is quiet (the minimum
    is the less load-sensitive of the two); benchmarks/bench_actions.py measures carefully.
    """
    from nvb_perception.actions.backbone import BACKBONE_FILE, AttentionBackbone
    from nvb_perception.assets import model_dir
    backbone = AttentionBackbone.from_path(model_dir() / BACKBONE_FILE, threads=threads)
    crop = np.random.default_rng(0).integers(0, 255, (1, crop_px, crop_px, 3), dtype=np.uint8)
    backbone(crop)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backbone(crop)
        times.append((time.perf_counter() - start) * 1e3)
    backbone.close()
    return float(np.median(times)), float(np.min(times))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--video', type=Path, default=None, help='default: the assets vtest.avi')
    p.add_argument('--cache-dir', type=Path, default=Path('out/actions'))
    p.add_argument('--crop-px', type=int, default=FeatureConfig.crop_px)
    p.add_argument('--flow-layers', default=','.join(map(str, FeatureConfig.flow_layers)))
    p.add_argument('--models', default=','.join(DEFAULT_MODELS), help=f'subset of {",".join(MODELS)}')
    p.add_argument('--train-directions', choices=('both', 'forward'), default='both')
    p.add_argument('--epochs', type=int, default=20)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--margin', type=int, default=8, help='frames left out each side of the fold boundary')
    p.add_argument('--threads', type=int, default=1, help='torch threads (training)')
    p.add_argument('--backbone-threads', type=int, default=2, help='ONNX Runtime threads (cache, timing)')
    p.add_argument('--json', type=Path, default=None, help='also write the RESULT json here')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    wall = time.time()
    torch.set_num_threads(args.threads)
    from nvb_perception.errors import PerceptionError
    names = [m for m in args.models.split(',') if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        print(f'eval_actions: unknown models {unknown}; choose from {list(MODELS)}', file=sys.stderr)
        return 2
    video = args.video or default_video()
    config = FeatureConfig(crop_px=args.crop_px, flow_layers=tuple(int(v) for v in args.flow_layers.split(',')))
    log = lambda msg: print(f'[eval_actions +{time.time() - wall:.0f}s] {msg}', flush=True)   # noqa: E731
    try:
        tracks = ensure_tracks(video, args.cache_dir, log=log)
        cache = ensure_cache(video, tracks, config, args.cache_dir, threads=args.backbone_threads, log=log)
    except (PerceptionError, OSError) as error:
        print(f'eval_actions: {error}', file=sys.stderr)
        return 2
    forward = lab.motion_labels(tracks)
    reverse = lab.reversed_labels(forward)
    known = lab.labelled(tracks)
    log(f'{len(tracks)} observations of {len(tracks.segments())} tracks, {int(known.sum())} with motion labels; '
        'positives per class: ' + ', '.join(f'{c} {int(n)}' for c, n in zip(lab.MOTION_CLASSES, forward[known].sum(0))))

    pixels = None
    if any(MODELS[m][1] == 'pixel' for m in names):
        pixels = pixel_maps(video, cache, (config.crop_px // 14) * config.upsample)   # the flow resolution
    # per model: (test row, direction) -> probabilities, gathered over the folds
    scores = {m: {'forward': [], 'reversed': []} for m in names}
    truth = {'forward': [], 'reversed': []}
    params, train_s = {}, {}
    for fold, (train_rows, test_rows) in enumerate(folds(tracks, args.margin)):
        train_cache, test_cache = cache.select(train_rows), cache.select(test_rows)
        train_labels = {'forward': forward[train_rows], 'reversed': reverse[train_rows]}
        if args.train_directions == 'forward':
            train_labels.pop('reversed')
        test_labels = {'forward': forward[test_rows], 'reversed': reverse[test_rows]}
        for d in truth:
            truth[d].append(test_labels[d][known[test_rows]])
        samples = {}
        for name in names:
            kind, method = MODELS[name]
            key = method if kind == 'flow' else 'dis'
            if key not in samples:
                flow_method, px = ('dis', pixels) if key == 'pixel' else (key, None)
                samples[key] = (make_samples(train_cache, config, train_labels, flow_method, known[train_rows],
                                             None if px is None else px[train_rows]),
                                make_samples(test_cache, config, test_labels, flow_method, known[test_rows],
                                             None if px is None else px[test_rows]))
            train, test = samples[key]
            torch.manual_seed(args.seed)     # the initial weights do not depend on the models trained before
            model = build_action_model(model_config(kind, train, config, len(lab.MOTION_CLASSES)))
            params[name] = trainable_parameters(model)
            start = time.time()
            fit(model, train, args.epochs, args.batch_size, args.lr, seed=args.seed)
            train_s[name] = train_s.get(name, 0.0) + time.time() - start
            probs = predict(model, test)
            for v, d in enumerate(test_labels):
                scores[name][d].append(probs[test.index[:, 0] == v])
            log(f'fold {fold + 1}: {name} trained in {time.time() - start:.0f} s on {len(train)} samples')

    results = {}
    for name in names:
        results[name] = {}
        for d in ('forward', 'reversed'):
            m, ap = frame_map(np.concatenate(scores[name][d]), np.concatenate(truth[d]))
            results[name][d] = (m, ap)

    n_test = len(np.concatenate(truth['forward']))
    print()
    print(f'Motion-only evaluation on {video.name}: frame-mAP (%) over {n_test} person-frames per direction, '
          f'2 folds over time, trained on {args.train_directions} clips, {args.epochs} epochs, seed {args.seed}')
    header = f'{"model":<16}{"trainable":>10}{"forward":>9}{"reversed":>10}  ' + ' '.join(
        f'{c[:9]:>9}' for c in lab.MOTION_CLASSES) + '   (per-class AP %, reversed)'
    print(header)
    print('-' * len(header))
    for name in names:
        f, r = results[name]['forward'][0], results[name]['reversed'][0]
        per = ' '.join(f'{100 * a:9.1f}' for a in results[name]['reversed'][1])
        print(f'{name:<16}{params[name]:>10}{100 * f:9.1f}{100 * r:10.1f}  {per}')
    chance_f = np.concatenate(truth['forward']).mean(0)
    chance_r = np.concatenate(truth['reversed']).mean(0)
    print(f'{"chance (prior)":<16}{0:>10}{100 * chance_f.mean():9.1f}{100 * chance_r.mean():10.1f}  '
          + ' '.join(f'{100 * a:9.1f}' for a in chance_r))

    ms_backbone, ms_backbone_min = time_backbone(224, threads=args.backbone_threads)
    ms_crop = time_backbone(config.crop_px, threads=args.backbone_threads)[0] if config.crop_px != 224 else ms_backbone
    ours = 'flow_dis' if 'flow_dis' in names else names[0]
    result = {
        'video': video.name, 'observations_tested': int(n_test), 'train_directions': args.train_directions,
        'epochs': args.epochs, 'seed': args.seed, 'crop_px': config.crop_px, 'flow_layers': list(config.flow_layers),
        'ours': ours,
        'trainable_params': params[ours], 'backbone_params': VIT_PARAMETERS,
        'trainable_ratio': round(params[ours] / VIT_PARAMETERS, 5),
        'ms_backbone': round(ms_backbone, 1), 'ms_backbone_min': round(ms_backbone_min, 1),
        'ms_backbone_crop': round(ms_crop, 1), 'load_average': round(os.getloadavg()[0], 2),
        'backbone_threads': args.backbone_threads, 'cpu_count': os.cpu_count(),
        'wall_s': round(time.time() - wall, 1),
    }
    for name in names:
        for d in ('forward', 'reversed'):
            short = name.replace('flow_dis', 'flow')
            result[f'map_{short}_{d}'] = round(100 * results[name][d][0], 2)
    if 'framemean' in names:
        gap = result[f'map_{ours.replace("flow_dis", "flow")}_reversed'] - result['map_framemean_reversed']
        result['points_over_framemean_reversed'] = round(gap, 2)
        result['goal_met'] = bool(gap >= GOAL_POINTS and result['trainable_ratio'] <= GOAL_RATIO)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print('RESULT ' + json.dumps(result))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
