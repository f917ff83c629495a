"""Summary and text tables of nvb-eval-ergonomics (the numbers behind its RESULT line)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from nvb_perception.evaluation.agreement import agreement, kappa_ci, weighted_kappa

METHODS = ('RULA', 'REBA')
TARGET_KAPPA, TARGET_LEVEL_PCT = 0.87, 90.0
SOURCES = ('test', 'val')     # the held-out file(s) whole, the held-out time segments of the others
# Segments compared one by one (wrists are never observed: identical ranges on both sides).
SEGMENTS = ('trunk', 'neck', 'legs', 'upper_arm_left', 'upper_arm_right', 'lower_arm_left', 'lower_arm_right')
# Angle / measure groups for the "if this group were exact" analysis (angles.measure names).
GROUPS = {
    'trunk': (('trunk_flexion', 'trunk_side_bend', 'trunk_twist', 'hip_trunk'), ()),
    'neck': (('neck_flexion', 'neck_side_bend'), ()),
    'upper_arms': (('left_upper_arm_flexion', 'left_upper_arm_abduction', 'right_upper_arm_flexion',
                    'right_upper_arm_abduction'), ('left_shoulder_gap', 'right_shoulder_gap')),
    'lower_arms': (('left_elbow_flexion', 'right_elbow_flexion'), ('left_wrist_lateral', 'right_wrist_lateral')),
    'legs': (('left_knee_flexion', 'right_knee_flexion'), ('ankle_height_diff_m',)),
}


def summarise(col, band_names: list[str]) -> dict:
    """Every number of the report from the collected records (an eval_ergonomics.Collector)."""
    out = {'per_band': {}, 'overall': {}, 'per_source': {}, 'segments': {}, 'if_exact': {}, 'trusted': {},
           'low_conf': {}}
    for m in METHODS:
        r = col.arrays(m)
        key = m.lower()
        masks = {b: r['band'] == i for i, b in enumerate(band_names)}
        masks['overall'] = np.ones(len(r['band']), bool)
        for b, mask in masks.items():
            ag = agreement(r['truth'][mask], r['lifted'][mask], r['truth_level'][mask], r['lifted_level'][mask])
            (out['overall'] if b == 'overall' else out['per_band'].setdefault(b, {}))[key] = ag
            gains = {g: weighted_kappa(r['truth'][mask], r[f'exact_{g}'][mask]) for g in GROUPS}
            out['if_exact'].setdefault(b, {})[key] = gains
            out['trusted'].setdefault(b, {})[key] = weighted_kappa(r['truth'][mask], r['trusted'][mask])
        out['overall'][key]['kappa_ci95'] = kappa_ci(r['truth'], r['lifted'], r['view'])
        for i, src in enumerate(SOURCES):
            mask = r['source'] == i
            if mask.any():
                out['per_source'].setdefault(src, {})[key] = agreement(
                    r['truth'][mask], r['lifted'][mask], r['truth_level'][mask], r['lifted_level'][mask])
        out['segments'][key] = {
            s: {'agreement': 100.0 * float(np.mean(r[f'seg_truth_{s}'] == r[f'seg_lifted_{s}'])),
                'mean_diff': float(np.mean(r[f'seg_lifted_{s}'][r[f'seg_lifted_{s}'] > 0]
                                           - r[f'seg_truth_{s}'][r[f'seg_lifted_{s}'] > 0]))
                if np.any(r[f'seg_lifted_{s}'] > 0) else float('nan'),
                'unobserved': 100.0 * float(np.mean(r[f'seg_lifted_{s}'] == 0)),
                'per_band_agreement': {b: 100.0 * float(np.mean((r[f'seg_truth_{s}'] == r[f'seg_lifted_{s}'])[
                    r['band'] == i])) for i, b in enumerate(band_names)}}
            for s in SEGMENTS}
        low = r['low_conf']
        out['low_conf'][key] = {
            'share': 100.0 * float(low.mean()),
            'kappa_all_joints_seen': weighted_kappa(r['truth'][~low], r['lifted'][~low]),
            'kappa_some_joint_lost': weighted_kappa(r['truth'][low], r['lifted'][low]),
            'level_agreement_all_seen': 100.0 * float(np.mean((r['truth_level'] == r['lifted_level'])[~low]))
            if (~low).any() else float('nan')}
    gt, li = np.asarray(col.angles_truth), np.asarray(col.angles_lifted)
    band = np.asarray(col.angle_band)
    d = (li - gt + 180.0) % 360.0 - 180.0
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        out['angles'] = {name: {'rmse': float(np.sqrt(np.nanmean(d[:, k] ** 2))), 'bias': float(np.nanmean(d[:, k])),
                                'per_band_rmse': {b: float(np.sqrt(np.nanmean(d[band == i, k] ** 2)))
                                                  for i, b in enumerate(band_names)}}
                         for k, name in enumerate(col.angle_names or [])}
    out['ms_in_run'] = {m.lower(): 1000.0 * col.seconds[m] / max(col.calls[m], 1) for m in METHODS}
    out['ms'] = col.timing()
    out['noise_sensitivity'] = col.noise_sensitivity()
    return out


# ---------------------------------------------------------------- report

def fmt_num(x, nd=2):
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.{nd}f}'


def tables(s: dict, band_names: list[str]) -> str:
    lines = [f'{"rows":<30} {"method":<6} {"n":>6} {"kappa_w":>8} {"level%":>7} {"exact%":>7} {"within1%":>8} '
             f'{"mean truth":>10} {"mean lifted":>11}']
    for b in (*band_names, 'overall'):
        for m in METHODS:
            a = (s['overall'] if b == 'overall' else s['per_band'][b])[m.lower()]
            label = 'overall (3 bands pooled)' if b == 'overall' else f'band {b} deg'
            lines.append(f'{label:<30} {m:<6} {a["n"]:>6} {fmt_num(a["kappa"], 3):>8} '
                         f'{fmt_num(a["level_agreement"], 1):>7} {fmt_num(a["exact_agreement"], 1):>7} '
                         f'{fmt_num(a["within_one"], 1):>8} {fmt_num(a["mean_truth"]):>10} '
                         f'{fmt_num(a["mean_lifted"]):>11}')
    labels = {'test': 'held-out file, all bands', 'val': 'held-out segments, all bands'}
    for src, per in s['per_source'].items():
        for m in METHODS:
            a = per[m.lower()]
            lines.append(f'{labels[src]:<30} {m:<6} {a["n"]:>6} {fmt_num(a["kappa"], 3):>8} '
                         f'{fmt_num(a["level_agreement"], 1):>7} {fmt_num(a["exact_agreement"], 1):>7} '
                         f'{fmt_num(a["within_one"], 1):>8} {fmt_num(a["mean_truth"]):>10} '
                         f'{fmt_num(a["mean_lifted"]):>11}')
    lines.append(f'targets: kappa_w >= {TARGET_KAPPA}, action-level agreement >= {TARGET_LEVEL_PCT:.0f} %; '
                 'overall kappa_w 95 % CI (bootstrap over camera views): ' + ', '.join(
                     f'{m} {fmt_num(s["overall"][m.lower()]["kappa_ci95"][0], 3)}..'
                     f'{fmt_num(s["overall"][m.lower()]["kappa_ci95"][1], 3)}' for m in METHODS))
    lines += ['', 'Per-segment score agreement % (mean lifted - truth where observed; % unobserved in the lifted):',
              f'{"segment":<16} ' + ' '.join(f'{m + " agree%":>12} {m + " diff":>10} {m + " unobs%":>11}'
                                            for m in METHODS)]
    for seg in SEGMENTS:
        cells = []
        for m in METHODS:
            g = s['segments'][m.lower()].get(seg)
            cells.append(f'{fmt_num(g["agreement"], 1):>12} {fmt_num(g["mean_diff"], 2):>10} '
                         f'{fmt_num(g["unobserved"], 1):>11}' if g else f'{"-":>12} {"-":>10} {"-":>11}')
        lines.append(f'{seg:<16} ' + ' '.join(cells))
    lines += ['', 'Angle error of the lifted pose (every joint used), degrees:',
              f'{"angle":<26} {"RMSE":>6} {"bias":>6} ' + ' '.join(f'{"RMSE " + b:>12}' for b in band_names)]
    for name, a in s['angles'].items():
        lines.append(f'{name:<26} {fmt_num(a["rmse"], 1):>6} {fmt_num(a["bias"], 1):>6} '
                     + ' '.join(f'{fmt_num(a["per_band_rmse"][b], 1):>12}' for b in band_names))
    lines += ['', 'kappa_w if one angle group were exact (truth substituted into the lifted angles), overall and per '
              'band:', f'{"group":<14} ' + ' '.join(f'{m + " " + b:>14}' for m in METHODS
                                                   for b in ('overall', *band_names))]
    rows = [('(as measured)', {m: {b: (s['overall'] if b == 'overall' else s['per_band'][b])[m.lower()]['kappa']
                                   for b in ('overall', *band_names)} for m in METHODS})]
    rows += [(g, {m: {b: s['if_exact'][b][m.lower()][g] for b in ('overall', *band_names)} for m in METHODS})
             for g in GROUPS]
    rows.append(('lost joints kept', {m: {b: s['trusted'][b][m.lower()] for b in ('overall', *band_names)}
                                      for m in METHODS}))
    for label, vals in rows:
        lines.append(f'{label:<14} ' + ' '.join(f'{fmt_num(vals[m][b], 3):>14}' for m in METHODS
                                                for b in ('overall', *band_names)))
    for m in METHODS:
        lc = s['low_conf'][m.lower()]
        lines.append(f'{m}: {lc["share"]:.1f} % of person-frames have a joint below the confidence threshold; kappa '
                     f'{fmt_num(lc["kappa_all_joints_seen"], 3)} where every joint is seen, '
                     f'{fmt_num(lc["kappa_some_joint_lost"], 3)} where one is lost')
    lines += ['', 'Truth vs truth + i.i.d. Gaussian joint noise (per axis; every 6th frame), what the scoring needs:',
              f'{"sigma mm":>8} {"RULA kappa":>11} {"RULA level%":>12} {"REBA kappa":>11} {"REBA level%":>12}']
    for sigma, row in s['noise_sensitivity'].items():
        lines.append(f'{sigma:>8} {fmt_num(row["kappa_rula"], 3):>11} {fmt_num(row["level_agreement_rula"], 1):>12} '
                     f'{fmt_num(row["kappa_reba"], 3):>11} {fmt_num(row["level_agreement_reba"], 1):>12}')
    return '\n'.join(lines)
