"""Train the 3D lifters on simulated 2D/3D pairs from mocap; write safetensors + JSON + ONNX with a parity check.

    python -m nvb_perception.training.train_lifter --model both --epochs 30 --seed 0 --out runs/lifter
    nvb-train-lifter --resume runs/lifter/lifter_temporal.safetensors --new-data test3 --replay-fraction 0.5 ...

Both models see identical windows (the same seed gives the same simulated data every epoch): the temporal lifter
the whole window, the MLP baseline its last frame. Data: the BVH files in --bvh-dir; --held-out files are only
evaluated on ('test'), a time-segment split of the others gives 'val' (lifting.dataset.split_clips). Each epoch
simulates fresh windows (augmentation, random cameras, 2D errors), so there is no fixed training set to overfit.
Per model it writes <out>/lifter_<kind>.safetensors (weights), .json (LifterConfig, command, metrics) and .onnx
(opset 17, input 'keypoints_2d' (B, T, 17, 3), outputs 'pose_3d' (B, 17, 3) m and 'log_var' (B, 17)) and prints
the ONNX Runtime vs PyTorch max abs difference (it fails above 1e-4). Deterministic for a given seed and threads.
With --resume it fine-tunes a trained lifter on --new-data instead (training/incremental.py).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from nvb_perception.datasets import corruption
from nvb_perception.datasets.lifting_windows import SimulationConfig, make_windows
from nvb_perception.export.lifter import INPUT, OUTPUTS, PARITY_TOLERANCE, export_onnx
from nvb_perception.lifting import camera
from nvb_perception.training import incremental
from nvb_perception.training.lifter_fit import evaluate, fit
from nvb_perception.training.lifter_io import load_splits
from nvb_perception.training.lifter_model import LifterConfig, build_model, count_parameters


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line flags (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', choices=('temporal', 'mlp', 'both'), default='both')
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', type=Path, default=Path('runs/lifter'))
    p.add_argument('--bvh-dir', type=Path,
                   default=Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets')) / 'data' / 'bvh')
    p.add_argument('--held-out', default='test2', help='comma-separated clip names kept for testing')
    p.add_argument('--windows', type=int, default=16384, help='simulated windows per epoch')
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--filter-widths', default='3,3,3', help='temporal kernel widths; product = window length')
    p.add_argument('--channels', type=int, default=LifterConfig.channels)
    p.add_argument('--dropout', type=float, default=LifterConfig.dropout)
    p.add_argument('--camera', choices=sorted(camera.CAMERA_KINDS), default='lab')
    p.add_argument('--eval-windows', type=int, default=4096)
    p.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    g = p.add_argument_group('incremental learning (training.incremental): fine-tune a trained lifter')
    g.add_argument('--resume', type=Path, default=None, help='weights (.safetensors + .json) to fine-tune')
    g.add_argument('--new-data', default='', help='comma-separated BVH clip names of the new domain')
    g.add_argument('--replay-fraction', type=float, default=0.5, help='share of each epoch replayed from the old '
                                                                      'domain (0 = naive fine-tuning)')
    g.add_argument('--replay-buffer-s', type=float, default=60.0, help='seconds of old mocap kept for replay')
    g.add_argument('--compare', default='', help="also run 'naive' and/or 'joint' (comma-separated)")
    g.add_argument('--joint-epochs', type=int, default=None, help='epochs of the joint-retraining reference')
    g.add_argument('--joint-lr', type=float, default=2e-3, help='learning rate of the joint-retraining reference')
    args = p.parse_args(argv)
    if args.resume is not None and not args.new_data:
        p.error('--resume needs --new-data')
    return args


def main(argv=None) -> int:
    """Train, evaluate, save and export; see the module docstring."""
    args = parse_args(argv)
    args.command = ' '.join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:]))
    if args.resume is not None:
        return incremental.main(args)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)

    splits = load_splits(args.bvh_dir, tuple(args.held_out.split(',')))
    split_frames = {name: sum(len(s) for s in segs) for name, segs in splits.items()}
    print(split_frames, 'frames per split', flush=True)
    widths = tuple(int(w) for w in args.filter_widths.split(','))
    frames = LifterConfig(filter_widths=widths).receptive_field
    sim = SimulationConfig(camera_kind=camera.CAMERA_KINDS[args.camera])

    def windows(segments, n, seed, config=sim, augmentation=True):
        inputs, targets, _ = make_windows(segments, n, frames, np.random.default_rng(seed), config, augmentation)
        return inputs, targets[:, -1]

    def data(epoch):
        return windows(splits['train'], args.windows, [args.seed, epoch])

    val = windows(splits['val'], args.eval_windows // 2, [args.seed, 10_001], augmentation=False)
    tests = {'test': windows(splits['test'], args.eval_windows, [args.seed, 10_002], augmentation=False),
             'test_clean': windows(splits['test'], args.eval_windows, [args.seed, 10_002],
                                   SimulationConfig(sim.camera_kind, corruption=corruption.CLEAN), False)}
    kinds = ('temporal', 'mlp') if args.model == 'both' else (args.model,)
    for kind in kinds:
        torch.manual_seed(args.seed)
        config = LifterConfig(kind=kind, filter_widths=widths, channels=args.channels, dropout=args.dropout)
        model = build_model(config)
        print(f'== {kind}: {count_parameters(model)} parameters, window {frames} frames', flush=True)
        start = time.perf_counter()
        history = fit(model, data, args.epochs, args.batch_size, args.lr, args.seed,
                      validate=lambda m: evaluate(m, *val)['mpjpe_mm'])
        train_s = time.perf_counter() - start
        results = {name: evaluate(model, *pair) for name, pair in tests.items()}
        for name, r in results.items():
            print(f'{kind} {name}: MPJPE {r["mpjpe_mm"]:.1f} mm, P-MPJPE {r["p_mpjpe_mm"]:.1f} mm, '
                  f'90% coverage {r["coverage90"]:.2f}', flush=True)
        stem = args.out / f'lifter_{kind}'
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f'{stem}.safetensors')
        diff = export_onnx(model, Path(f'{stem}.onnx'), frames, tests['test'][0][:64])
        print(f'{kind} ONNX Runtime vs PyTorch max abs diff {diff:.2e} (tolerance {PARITY_TOLERANCE:g})')
        meta = {'config': config.to_dict(), 'window_frames': frames, 'input': INPUT, 'outputs': list(OUTPUTS),
                'command': args.command,
                'args': {k: str(v) for k, v in vars(args).items()}, 'parameters': count_parameters(model),
                'split': {'held_out': args.held_out.split(','), 'frames_30fps': split_frames,
                          'time_segments': 'split_clips defaults: 20 s segments, every 5th to val, 3 s guards'},
                'train_seconds': train_s, 'onnx_max_abs_diff': diff, 'history': history,
                'val_mpjpe_mm': history[-1].get('val_mpjpe_mm') if history else None, 'results': results}
        Path(f'{stem}.json').write_text(json.dumps(meta, indent=1))
        if diff > PARITY_TOLERANCE:
            print(f'ONNX parity check failed for {kind}: {diff:.2e} > {PARITY_TOLERANCE:g}', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
