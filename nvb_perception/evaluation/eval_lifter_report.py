"""Presentation of nvb-eval-lifter's results: the printed table and the PNG plots."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nvb_perception.skeleton import H36M

BANDS = {'-30..0': (-30.0, 0.0), '0..30': (0.0, 30.0), '30..70': (30.0, 70.0)}   # camera elevation, degrees
CORRUPTION_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
# radius / per-axis std of the sphere holding p of an isotropic 3D Gaussian: sqrt(chi2_3 quantile)
COVERAGE_RADIUS = {50: math.sqrt(2.3660), 90: math.sqrt(6.2514), 95: math.sqrt(7.8147)}


def fmt(x, nd=1):
    return '-' if x is None else f'{x:.{nd}f}'


def plot(result: dict, out_dir: Path) -> list[str]:
    """PNG plots: per joint, per band, per corruption level, uncertainty calibration."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    models = [m for m in ('temporal', 'mlp') if result['models'].get(m)]

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        written.append(str(out_dir / name))

    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(H36M))
    for i, m in enumerate(models):
        ax.bar(x + 0.4 * i, result['models'][m]['test']['per_joint_mm'], 0.4, label=m)
    ax.set_xticks(x + 0.2, [j.name.lower() for j in H36M], rotation=60, ha='right')
    ax.set_ylabel('MPJPE (mm)')
    ax.set_title('test2, realistic 2D errors: per joint')
    ax.legend()
    save(fig, 'per_joint.png')

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m in models:
        bands = result['models'][m]['bands']
        axes[0].plot(list(bands), [bands[b] for b in bands], 'o-', label=m)
        levels = result['models'][m]['corruption']
        axes[1].plot([int(k) for k in levels], [levels[k] for k in levels], 'o-', label=m)
    axes[0].set_xlabel('camera elevation band (deg)')
    axes[0].set_ylabel('MPJPE (mm)')
    axes[1].set_xlabel('joints corrupted per frame (%)')
    axes[1].set_ylabel('MPJPE (mm)')
    for a in axes:
        a.legend()
        a.grid(alpha=0.3)
    save(fig, 'bands_corruption.png')

    fig, ax = plt.subplots(figsize=(4.5, 4))
    for m in models:
        cov = result['models'][m]['test']['coverage']
        ax.plot([int(k) for k in cov], [100 * v for v in cov.values()], 'o-', label=m)
    ax.plot([40, 100], [40, 100], 'k--', lw=1, label='ideal')
    ax.set_xlabel('nominal coverage (%)')
    ax.set_ylabel('observed coverage (%)')
    ax.set_title('uncertainty calibration')
    ax.legend()
    save(fig, 'calibration.png')
    return written


def table(result: dict) -> str:
    """The printed table: one column per model."""
    models = [m for m in ('temporal', 'mlp') if result['models'].get(m)]
    rows = [('row', *models)]
    get = result['models']

    def add(label, fn, nd=1):
        rows.append((label, *[fmt(fn(get[m]), nd) if fn(get[m]) is not None else '-' for m in models]))

    add('test2 MPJPE mm (realistic 2D)', lambda r: r['test']['mpjpe_mm'])
    add('test2 P-MPJPE mm', lambda r: r['test']['p_mpjpe_mm'])
    add('test2 MPJPE mm (clean 2D)', lambda r: r['test_clean']['mpjpe_mm'])
    add('held-out segments MPJPE mm', lambda r: r['val']['mpjpe_mm'])
    add('single-frame mode MPJPE mm', lambda r: r.get('single_frame_mpjpe_mm'))
    for b in (*BANDS, 'seen', 'unseen'):
        label = {'seen': f'band -30..{result["seen_elevation_max_deg"]:.0f} (seen)',
                 'unseen': f'band {result["seen_elevation_max_deg"]:.0f}..70 (unseen)'}.get(b, f'band {b} deg')
        add(label + ' MPJPE mm', lambda r, b=b: r['bands'][b])
    for f in CORRUPTION_LEVELS:
        k = str(round(100 * f))
        add(f'{k} % joints corrupted MPJPE mm', lambda r, k=k: r['corruption'][k])
    for a in result['angle_names']:
        add(f'angle {a} RMSE deg (clean)', lambda r, a=a: r['test_clean']['angle_rmse_deg'][a])
    add('angles mean RMSE deg (clean)', lambda r: float(np.mean(list(r['test_clean']['angle_rmse_deg'].values()))))
    add('angles mean RMSE deg (realistic)', lambda r: float(np.mean(list(r['test']['angle_rmse_deg'].values()))))
    for p in COVERAGE_RADIUS:
        add(f'coverage of the {p} % sphere', lambda r, p=p: 100 * r['test']['coverage'][str(p)])
    for j in H36M:
        add(f'joint {j.name.lower()} mm', lambda r, j=j: r['test']['per_joint_mm'][j])
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{r[0]:<{width}}' + ''.join(f'{c:>10}' for c in r[1:]) for r in rows)
