"""Incremental learning of the lifter: fine-tune on a new domain with replay of the old one, measure forgetting.

    nvb-train-lifter --resume runs/base/lifter_temporal.safetensors --new-data test3 --replay-fraction 0.5
        --epochs 6 --windows 8192 --lr 5e-4 --compare naive,joint --out runs/incremental

New domain: the clips named by --new-data (files of --bvh-dir), split into time segments like any clip
(lifting.dataset.split_clips): their 'train' segments are the new examples, their 'val' segments the new-domain
score. Old domain: the clips the resumed model was trained on (every file but its --held-out list and the new
ones): their 'val' segments give the old-domain score, and a replay buffer keeps `--replay-buffer-s` seconds of
their 'train' segments (random whole pieces, seeded). Every epoch simulates fresh windows: (1 - f) x windows from
the new clips and f x windows from the buffer through the same simulator (new cameras, bodies and 2D errors each
time: generative replay from stored mocap, no stored 2D); f = --replay-fraction, 0 = naive fine-tuning.
Test: the resumed model's held-out files that are not new (test2), never trained on.

Reported per method (all from the same starting weights, data and seed): old-domain MPJPE before/after
(forgetting = after - before; backward transfer = -forgetting), new-domain MPJPE before/after (gain), test MPJPE.
--compare naive adds naive fine-tuning, --compare joint retraining from scratch on old + new training segments
(--joint-epochs, the reference an incremental method should approach). Writes <out>/lifter_<kind>.safetensors
(the replay-fine-tuned model) and a JSON with the config and the 'incremental' record.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from nvb_perception.datasets.bvh import load_h36m
from nvb_perception.datasets.lifting_windows import SimulationConfig, make_windows, resample, split_clips
from nvb_perception.training.lifter_fit import fit
from nvb_perception.training.lifter_io import load_lifter, predict
from nvb_perception.training.lifter_model import LifterConfig, build_model


def clip_splits(bvh_dir: Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """Map each clip name to {'train': [...], 'val': [...]} time-segment split of every BVH file (30 fps, H36M-17)."""
    paths = sorted(Path(bvh_dir).glob('*.bvh'))
    if not paths:
        raise FileNotFoundError(f'no .bvh files in {bvh_dir}; run `make setup` to fetch them')
    out = {}
    for p in paths:
        s = split_clips([resample(load_h36m(p))], held_out=())
        out[p.stem] = {'train': s['train'], 'val': s['val']}
    return out


def replay_buffer(segments: list[np.ndarray], seconds: float, rng: np.random.Generator, fps: float = 30.0,
                  piece_s: float = 5.0) -> list[np.ndarray]:
    """Keep `seconds` of old training mocap as random contiguous pieces of `piece_s` seconds (all if shorter)."""
    piece = int(piece_s * fps)
    pieces = [s[i:i + piece] for s in segments for i in range(0, len(s) - piece + 1, piece)]
    keep = min(len(pieces), max(1, int(round(seconds / piece_s))))
    return [pieces[i] for i in sorted(rng.choice(len(pieces), keep, replace=False))]


def _mpjpe_mm(model: torch.nn.Module, data: tuple[np.ndarray, np.ndarray]) -> float:
    pose, _ = predict(model, data[0])
    return 1000 * float(np.linalg.norm(pose - data[1], axis=-1).mean())


def run(model: torch.nn.Module, old_train: list[np.ndarray], old_val: list[np.ndarray],
        new_train: list[np.ndarray], new_val: list[np.ndarray], test: list[np.ndarray], *, epochs: int,
        windows: int, replay_fraction: float, replay_buffer_s: float = 60.0, lr: float = 5e-4,
        batch_size: int = 256, seed: int = 0, eval_windows: int = 2048, compare: tuple[str, ...] = (),
        joint_epochs: int | None = None, joint_lr: float = 2e-3, sim: SimulationConfig = SimulationConfig(),
        log=print) -> tuple[torch.nn.Module, dict]:
    """Fine-tune a copy of `model` on the new segments with replay; the same for each compared method.

    Returns:
        (the replay-fine-tuned model, record): record['methods'][name] = old/new/test MPJPE before and after,
        forgetting_mm, new_gain_mm, seconds; record['forgetting_mm'] etc. for the replay method.

    """
    if not 0.0 <= replay_fraction < 1.0:
        raise ValueError(f'replay_fraction must be in [0, 1), got {replay_fraction}')
    frames = model.config.receptive_field

    def windows_of(segments, n, key, augmentation=True):
        x, y, _ = make_windows(segments, n, frames, np.random.default_rng(key), sim, augmentation)
        return x, y[:, -1]

    evals = {'old': windows_of(old_val, eval_windows, [seed, 30_001], False),
             'new': windows_of(new_val, eval_windows, [seed, 30_002], False),
             'test': windows_of(test, eval_windows, [seed, 30_003], False)}
    buffer = replay_buffer(old_train, replay_buffer_s, np.random.default_rng([seed, 30_004]))
    before = {k: _mpjpe_mm(model, v) for k, v in evals.items()}
    log(f'before: old {before["old"]:.1f} mm, new {before["new"]:.1f} mm, test {before["test"]:.1f} mm; '
        f'replay buffer {sum(len(b) for b in buffer) / 30:.0f} s of {sum(len(s) for s in old_train) / 30:.0f} s')

    def method(name, fraction, start, train_segments, n_epochs):
        n_new = int(round(windows * (1 - fraction)))
        m = copy.deepcopy(start)
        torch.manual_seed(seed)

        def data(epoch):
            return windows_of(train_segments, n_new, [seed, 31_000, epoch])

        replay = None
        if fraction > 0:
            def replay(epoch):
                return windows_of(buffer, windows - n_new, [seed, 32_000, epoch])
        t0 = time.perf_counter()
        log(f'== {name}: {n_epochs} epochs x ({n_new} new + {windows - n_new} replayed) windows')
        fit(m, data, n_epochs, batch_size, lr if start is model else joint_lr, seed, replay=replay)
        after = {k: _mpjpe_mm(m, v) for k, v in evals.items()}
        row = {'replay_fraction': fraction, 'epochs': n_epochs,
               'before': before if start is model else None, 'after': after,
               'forgetting_mm': after['old'] - before['old'], 'new_gain_mm': before['new'] - after['new'],
               'seconds': time.perf_counter() - t0}
        log(f'{name}: old {after["old"]:.1f} mm (forgetting {row["forgetting_mm"]:+.1f}), new {after["new"]:.1f} mm '
            f'(gain {row["new_gain_mm"]:+.1f}), test {after["test"]:.1f} mm')
        return m, row

    methods = {}
    tuned, methods['replay'] = method('replay', replay_fraction, model, new_train, epochs)
    if 'naive' in compare:
        methods['naive'] = method('naive', 0.0, model, new_train, epochs)[1]
    if 'joint' in compare:
        fresh = build_model(LifterConfig(**model.config.to_dict()))
        methods['joint'] = method('joint', 0.0, fresh, old_train + new_train, joint_epochs or epochs)[1]
    main = methods['replay']
    record = {'method': f'generative replay from a {replay_buffer_s:g} s mocap buffer, fraction {replay_fraction}',
              'windows_per_epoch': windows, 'lr': lr, 'seed': seed, 'eval_windows': eval_windows,
              'before': before, 'methods': methods, 'forgetting_mm': main['forgetting_mm'],
              'new_gain_mm': main['new_gain_mm']}
    if 'joint' in methods:
        record['new_vs_joint'] = main['after']['new'] / methods['joint']['after']['new']
        record['old_vs_joint'] = main['after']['old'] / methods['joint']['after']['old']
    return tuned, record


def main(args) -> int:
    """nvb-train-lifter --resume ...: see the module docstring (args from train_lifter.parse_args)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    model, meta = load_lifter(args.resume)
    old_held = set(meta.get('split', {}).get('held_out') or meta.get('args', {}).get('held_out', 'test2').split(','))
    new = set(args.new_data.split(','))
    clips = clip_splits(args.bvh_dir)
    missing = new - set(clips)
    if missing:
        raise SystemExit(f'--new-data {sorted(missing)} not in {args.bvh_dir} ({sorted(clips)})')
    old = [c for c in clips if c not in old_held and c not in new]
    test_names = [c for c in clips if c in old_held and c not in new]
    if not old or not test_names:
        raise SystemExit(f'need old training clips and a held-out test clip; old {old}, test {test_names}')
    test = [seg for c in test_names for part in ('train', 'val') for seg in clips[c][part]]
    print(f'old domain {old}, new {sorted(new)}, test {test_names}', flush=True)
    compare = tuple(c for c in args.compare.split(',') if c)
    tuned, record = run(
        model, [s for c in old for s in clips[c]['train']], [s for c in old for s in clips[c]['val']],
        [s for c in sorted(new) for s in clips[c]['train']], [s for c in sorted(new) for s in clips[c]['val']],
        test, epochs=args.epochs, windows=args.windows, replay_fraction=args.replay_fraction,
        replay_buffer_s=args.replay_buffer_s, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        eval_windows=args.eval_windows, compare=compare, joint_epochs=args.joint_epochs, joint_lr=args.joint_lr)
    record.update({'resumed': str(args.resume), 'old_clips': old, 'new_clips': sorted(new), 'test_clips': test_names})
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f'lifter_{model.config.kind}'
    save_file({k: v.contiguous() for k, v in tuned.state_dict().items()}, f'{stem}.safetensors')
    out_meta = {'config': model.config.to_dict(), 'command': args.command, 'incremental': record,
                'args': {k: str(v) for k, v in vars(args).items()}}
    Path(f'{stem}.json').write_text(json.dumps(out_meta, indent=1))
    print('RESULT ' + json.dumps({'forgetting_mm': record['forgetting_mm'], 'new_gain_mm': record['new_gain_mm'],
                                  **{f'{k}_{m}_mm': v['after'][k] for m, v in record['methods'].items()
                                     for k in ('old', 'new', 'test')}}))
    return 0
