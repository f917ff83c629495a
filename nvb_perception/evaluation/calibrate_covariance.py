"""Calibrate the lifter's per-joint covariance: error along the camera ray vs across it, and coverage tables.

    python -m nvb_perception.evaluation.calibrate_covariance             # fit, print the tables (markdown)
    python -m nvb_perception.evaluation.calibrate_covariance --json out/covariance.json --windows 4096

The lifter predicts one isotropic standard deviation per joint, but a monocular lifter is far less sure of a
joint's depth than of its image-plane position. On the lifter's own evaluation windows (eval_lifter.test_set:
the held-out mocap file seen by simulated cameras, realistic 2D errors, shipped weights) the error of each joint
is split into its component along the ray through the pelvis (the root-ray frame's z, which is what the targets
are expressed in) and the two components across it, each divided by the predicted std. The root-mean-square of
these ratios per joint gives a ray scale and a plane scale; the runtime covariance is
diag(plane^2, plane^2, ray^2) * std^2 in the root-ray frame (lifting/uncertainty.py holds the fitted values).

Coverage: the share of joints whose error lies inside the 1-sigma and 2-sigma ellipsoid (Mahalanobis distance
<= 1, <= 2); a 3D Gaussian puts 19.9 % and 73.9 % there. Offline: a robot never runs this.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from nvb_perception.lifting import uncertainty
from nvb_perception.skeleton import H36M

GAUSSIAN_3D = {1: 0.1987, 2: 0.7385}       # P(chi2_3 <= k^2)


def errors(model, data: dict) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 3) errors in the root-ray frame (z = along the ray) and (N, 17) predicted std, metres."""
    from nvb_perception.evaluation.eval_lifter import predict
    pose, log_var = predict(model, data['inputs'])
    return (pose - data['targets']).astype(np.float64), np.exp(0.5 * log_var).astype(np.float64)


def fit_scales(err: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint (plane, ray) scales: RMS of the normalised error across and along the ray (1.0 for the root)."""
    z = err / std[..., None]
    plane = np.sqrt(np.mean(0.5 * (z[..., 0] ** 2 + z[..., 1] ** 2), axis=0))
    ray = np.sqrt(np.mean(z[..., 2] ** 2, axis=0))
    still = np.abs(err).max(axis=(0, 2)) < 1e-9           # the root: always exactly 0 relative to itself
    plane[still], ray[still] = 1.0, 1.0
    return plane, ray


def coverage(err: np.ndarray, std: np.ndarray, plane: np.ndarray | float, ray: np.ndarray | float,
             joints=None) -> dict[int, float]:
    """Share of the joints' errors inside the k-sigma ellipsoid diag(plane^2, plane^2, ray^2) * std^2, k = 1, 2."""
    joints = list(range(err.shape[1])) if joints is None else joints
    e, s = err[:, joints], std[:, joints]
    p, r = np.broadcast_to(plane, (err.shape[1],))[joints], np.broadcast_to(ray, (err.shape[1],))[joints]
    d2 = (e[..., 0] ** 2 + e[..., 1] ** 2) / (p * s) ** 2 + e[..., 2] ** 2 / (r * s) ** 2
    return {k: float(np.mean(d2 <= k * k)) for k in GAUSSIAN_3D}


def measure(model, sets: dict[str, dict], fit_on: str) -> dict:
    """Scales fitted on one set and, for every set, RMS errors and the coverage of each covariance model.

    'runtime' is lifting/uncertainty.py's scales (what the lifter publishes): after a refit, copy the fitted ones
    there and run this again.
    """
    measured = {name: errors(model, data) for name, data in sets.items()}
    plane, ray = fit_scales(*measured[fit_on])
    moving = list(range(len(H36M)))        # the pelvis too: the lifter predicts it, it is not pinned to 0
    out = {'fit_on': fit_on, 'plane_scale': plane.round(3).tolist(), 'ray_scale': ray.round(3).tolist(), 'sets': {}}
    for name, (err, std) in measured.items():
        e = err[:, moving]
        g_plane, g_ray = fit_scales(err, std)
        out['sets'][name] = {
            'rms_plane_mm': 1000 * float(np.sqrt(np.mean(0.5 * (e[..., 0] ** 2 + e[..., 1] ** 2)))),
            'rms_ray_mm': 1000 * float(np.sqrt(np.mean(e[..., 2] ** 2))),
            'mean_std_mm': 1000 * float(std[:, moving].mean()),
            'ray_to_plane': float(np.median(g_ray[moving] / g_plane[moving])),
            'coverage': {'isotropic std': coverage(err, std, 1.0, 1.0),
                         'split, one scale pair': coverage(err, std, float(np.median(plane[moving])),
                                                           float(np.median(ray[moving]))),
                         'split per joint (runtime)': coverage(err, std, uncertainty.PLANE_SCALE,
                                                               uncertainty.RAY_SCALE)}}
    return out


def markdown(result: dict) -> str:
    """The coverage and error tables as markdown (docs/integrators.md)."""
    lines = ['| set | RMS across ray (mm) | RMS along ray (mm) | mean predicted std (mm) | covariance | '
             'inside 1σ | inside 2σ |', '|---|---|---|---|---|---|---|']
    for name, row in result['sets'].items():
        for i, (model, cov) in enumerate(row['coverage'].items()):
            head = (f"| {name} | {row['rms_plane_mm']:.0f} | {row['rms_ray_mm']:.0f} | {row['mean_std_mm']:.0f} "
                    if i == 0 else '| | | | ')
            lines.append(f'{head}| {model} | {100 * cov[1]:.1f} % | {100 * cov[2]:.1f} % |')
    lines.append(f'| 3D Gaussian | | | | (expected) | {100 * GAUSSIAN_3D[1]:.1f} % | {100 * GAUSSIAN_3D[2]:.1f} % |')
    names = [j.name.lower() for j in H36M]
    lines += ['', '| joint | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|',
              '| plane scale | ' + ' | '.join(f'{v:.2f}' for v in result['plane_scale']) + ' |',
              '| ray scale | ' + ' | '.join(f'{v:.2f}' for v in result['ray_scale']) + ' |']
    return '\n'.join(lines)


def build(n: int, seed: int) -> dict[str, dict]:
    """The evaluation windows: held-out file (realistic and clean 2D) and held-out time segments."""
    from dataclasses import replace

    from nvb_perception.datasets.corruption import CLEAN
    from nvb_perception.datasets.lifting_windows import SimulationConfig
    from nvb_perception.evaluation.eval_lifter import test_set
    sim = SimulationConfig()
    return {'test (held-out file)': test_set(seed, n),
            'test, other windows': test_set(seed + 7, n),
            'test, clean 2D': test_set(seed, n, config=replace(sim, corruption=CLEAN)),
            'val (held-out segments)': test_set(seed + 1, n, split='val')}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--windows', type=int, default=4096)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', type=Path, default=None)
    args = p.parse_args(argv)
    import torch

    from nvb_perception.training.lifter_io import DEFAULT_WEIGHTS, load_lifter
    torch.set_num_threads(1)
    model, _ = load_lifter(DEFAULT_WEIGHTS)
    try:
        sets = build(args.windows, args.seed)
    except (FileNotFoundError, SystemExit) as error:
        print(f'calibrate_covariance: {error}', file=sys.stderr)
        return 2
    result = measure(model, sets, fit_on='test (held-out file)')
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print('RESULT ' + json.dumps({k: result[k] for k in ('plane_scale', 'ray_scale')}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
