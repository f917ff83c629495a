"""The PNG figures of the ergonomics report (`report.py`): matplotlib, Agg canvas, no pyplot global state.

Every figure is meant to be read by someone who has never seen RULA/REBA: plain titles, labelled axes, colours that
mean the same thing everywhere (green = acceptable ... red = act now), and short captions inside the figure.
"""
import math
import textwrap

import numpy as np

from nvb_perception.skeleton import H36M, H36M_CONNECTIONS

MAX_SCORE = {'RULA': 7, 'REBA': 15}
# Action levels: (level, first score, last score, short plain label, colour). Published wording is in tables.py.
LEVELS = {
    'RULA': ((1, 1, 2, 'acceptable', '#43a047'), (2, 3, 4, 'look closer', '#fdd835'),
             (3, 5, 6, 'change soon', '#fb8c00'), (4, 7, 7, 'change now', '#e53935')),
    'REBA': ((0, 1, 1, 'negligible', '#2e7d32'), (1, 2, 3, 'low', '#9ccc65'), (2, 4, 7, 'medium', '#fdd835'),
             (3, 8, 10, 'high', '#fb8c00'), (4, 11, 15, 'very high', '#e53935')),
}
# Body segments shown in the heatmap (top to bottom) with their worst possible score per method.
SEGMENTS = {
    'RULA': (('neck', 6), ('trunk', 6), ('legs', 2), ('upper_arm_left', 6), ('upper_arm_right', 6),
             ('lower_arm_left', 3), ('lower_arm_right', 3), ('wrist_left', 4), ('wrist_right', 4)),
    'REBA': (('neck', 3), ('trunk', 5), ('legs', 4), ('upper_arm_left', 6), ('upper_arm_right', 6),
             ('lower_arm_left', 2), ('lower_arm_right', 2), ('wrist_left', 3), ('wrist_right', 3)),
}
LEFT_COLOUR, RIGHT_COLOUR, MID_COLOUR = '#1e88e5', '#d81b60', '#424242'
HEATMAP_COLUMNS = 300      # time bins: enough detail for a page width, and long recordings stay small


def segment_label(name: str) -> str:
    """'upper_arm_left' -> 'Upper arm (left)'."""
    for side in ('left', 'right'):
        if name.endswith('_' + side):
            return f'{segment_label(name[:-len(side) - 1])} ({side})'
    return name.replace('_', ' ').capitalize()


def clock(seconds: float, _pos=None) -> str:
    """Seconds -> 'm:ss' (or 'h:mm:ss'), the time format of every figure and table."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f'{h}:{m:02d}:{s % 60:02d}' if h else f'{m}:{s % 60:02d}'


def _figure(width, height):
    from matplotlib.figure import Figure  # no pyplot: no global state, works in threads and without a display
    return Figure(figsize=(width, height), dpi=100, layout='constrained')


def _time_axis(ax, t):
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(clock))
    ax.set_xlabel('time since the start of the recording (min:s)')
    if len(t):
        ax.set_xlim(t[0], max(t[-1], t[0] + 1.0))


def _broken(t, *ys, gap_s):
    """Insert NaN where frames are more than gap_s apart so lines do not bridge gaps."""
    cut = np.flatnonzero(np.diff(t) > gap_s) + 1
    return (np.insert(np.asarray(a, float), cut, np.nan) for a in (t, *ys))


def plot_timeline(path, person: str, series: dict, gap_s: float = 1.0) -> None:
    """Score over time, one panel per method. series: method -> (t_s, score, score_min, score_max) arrays."""
    from matplotlib.patches import Patch
    fig = _figure(11, 2.6 * len(series) + 0.6)
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (method, (t, score, lo, hi)) in zip(axes, series.items()):
        for _level, first, last, _label, colour in LEVELS[method]:
            ax.axhspan(first - 0.5, last + 0.5, color=colour, alpha=0.22, lw=0)
        tt, s, lo_, hi_ = _broken(t, score, lo, hi, gap_s=gap_s)
        ax.fill_between(tt, lo_ - 0.15, hi_ + 0.15, step='post', color='#546e7a', alpha=0.35, lw=0)
        ax.step(tt, s, where='post', color='black', lw=1.6 if len(t) < 300 else 0.9)   # dense: thinner
        ax.set_ylim(0.5, MAX_SCORE[method] + 0.5)
        ax.set_yticks(range(1, MAX_SCORE[method] + 1, 1 if method == 'RULA' else 2))
        ax.set_ylabel(f'{method} score')
        ax.set_title(f'{person} - {method} score over time', loc='left', fontsize=11)
        handles = [Patch(color=c, alpha=0.5, label=f'level {lv}: {lab}') for lv, _, _, lab, c in LEVELS[method]]
        handles += [ax.lines[-1], Patch(color='#546e7a', alpha=0.35)]
        labels = [h.get_label() for h in handles[:-2]] + [
            'score (parts the camera cannot see assumed fine)', 'possible range (those parts unknown)']
        ax.legend(handles, labels, loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        ax.grid(axis='x', alpha=0.3)
    _time_axis(axes[-1], t)
    fig.savefig(path)


def plot_heatmap(path, person: str, method: str, t, segments: dict) -> None:
    """Body parts x time; colour = the part's score (same colours for every part); grey = not visible.

    segments: name -> per-frame score array (0 = not observed). Frames are binned into at most HEATMAP_COLUMNS
    columns; a bin shows its worst observed score. One absolute colour scale (not relative to each part's maximum)
    so that, e.g., a straight hanging forearm (REBA lower arm 2 of 2) does not look as alarming as a trunk at 4.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm
    rows = [(n, worst) for n, worst in SEGMENTS[method] if n in segments]
    t = np.asarray(t, float)
    t0, t1 = (t[0], max(t[-1], t[0] + 1.0)) if len(t) else (0.0, 1.0)
    edges = np.linspace(t0, t1, min(HEATMAP_COLUMNS, max(len(t), 1)) + 1)
    col = np.clip(np.searchsorted(edges, t, side='right') - 1, 0, len(edges) - 2)
    seen = np.zeros(len(edges) - 1, bool)
    seen[col] = True
    grid = np.full((len(rows), len(edges) - 1), np.nan)       # NaN = no frame in this bin (white)
    for r, (name, _worst) in enumerate(rows):
        acc = np.full(len(edges) - 1, -np.inf)
        np.maximum.at(acc, col, np.asarray(segments[name], float))   # 0 = not observed -> grey (under)
        grid[r] = np.where(seen, acc, np.nan)
    fig = _figure(11, 0.42 * len(rows) + 1.7)
    ax = fig.add_subplot()
    top = max(w for _, w in rows) if rows else 6
    cmap = colormaps['RdYlGn_r'].resampled(top).with_extremes(under='#bdbdbd', bad='white')
    image = ax.imshow(np.ma.masked_invalid(grid), aspect='auto', interpolation='nearest', cmap=cmap,
                      norm=BoundaryNorm(np.arange(0.5, top + 1), top), extent=(t0, t1, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), [f'{segment_label(n)}  (1 to {w})' for n, w in rows], fontsize=9)
    ax.set_title(f'{person} - {method}: score of each body part over time (higher = worse)\n'
                 'grey = body part not visible to the camera; white = person not in view', loc='left', fontsize=10)
    bar = fig.colorbar(image, ax=ax, ticks=range(1, top + 1), pad=0.01, fraction=0.04)
    bar.set_label('body-part score', fontsize=8)
    _time_axis(ax, t)
    fig.savefig(path)


def plot_levels(path, shares: dict) -> None:
    """Share of time at each action level. shares: method -> [(person label, {level: seconds})]."""
    from matplotlib.patches import Patch
    n_rows = sum(len(v) for v in shares.values())
    fig = _figure(11, 0.55 * n_rows + 1.3 * len(shares) + 0.4)
    axes = fig.subplots(len(shares), 1, squeeze=False,
                        height_ratios=[max(len(v), 1) for v in shares.values()])[:, 0]
    for ax, (method, rows) in zip(axes, shares.items()):
        for y, (_label, seconds) in enumerate(rows):
            total, left = sum(seconds.values()) or 1.0, 0.0
            for level, _, _, _, colour in LEVELS[method]:
                share = 100.0 * seconds.get(level, 0.0) / total
                ax.barh(y, share, left=left, color=colour, edgecolor='white', height=0.7)
                if share >= 4:
                    ax.text(left + share / 2, y, f'{share:.0f}%', ha='center', va='center', fontsize=9)
                left += share
        ax.set_yticks(range(len(rows)), [label for label, _ in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel('share of the observed time (%)')
        ax.set_title(f'{method}: how much of the time each person spent at each action level', loc='left',
                     fontsize=11)
        ax.legend([Patch(color=c) for *_, c in LEVELS[method]],
                  [f'level {lv}: {lab}' for lv, _, _, lab, _ in LEVELS[method]],
                  loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.savefig(path)


def body_frame(joints, up):
    """(lateral towards the person's left, forward, up) unit vectors from the hips (or shoulders) and `up`."""
    u = np.asarray(up, float) / np.linalg.norm(up)
    for a, b in ((H36M.LEFT_HIP, H36M.RIGHT_HIP), (H36M.LEFT_SHOULDER, H36M.RIGHT_SHOULDER)):
        line = joints[a] - joints[b]
        line = line - (line @ u) * u
        if np.all(np.isfinite(line)) and np.linalg.norm(line) > 1e-6:
            lat = line / np.linalg.norm(line)
            return lat, np.cross(lat, u), u
    fallback = np.cross(u, [0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.cross(u, [1.0, 0.0, 0.0])
    lat = fallback / np.linalg.norm(fallback)
    return lat, np.cross(lat, u), u


def _bone_colour(a, b):
    names = H36M(a).name + H36M(b).name
    return LEFT_COLOUR if 'LEFT' in names and 'RIGHT' not in names else \
        RIGHT_COLOUR if 'RIGHT' in names and 'LEFT' not in names else MID_COLOUR


def _fmt(angles, name, fmt):
    v = angles.get(name, math.nan)
    return None if v is None or not math.isfinite(v) else fmt.format(round(v) + 0.0)   # + 0.0: no '-0'


# (joint to label, angle name, text format, column: -1 left of the body, +1 right) for each 3D view. Labels sit in
# a column beside the body with a thin leader line, so they never cover the skeleton or each other.
_SIDE_LABELS = (('SPINE', 'trunk_flexion', 'trunk {:+.0f}° fwd', 1), ('HEAD', 'neck_flexion', 'neck {:+.0f}° fwd', 1),
                ('LEFT_SHOULDER', 'left_upper_arm_flexion', 'L arm {:.0f}° up', -1),
                ('RIGHT_SHOULDER', 'right_upper_arm_flexion', 'R arm {:.0f}° up', 1),
                ('LEFT_ELBOW', 'left_elbow_flexion', 'L elbow {:.0f}°', -1),
                ('RIGHT_ELBOW', 'right_elbow_flexion', 'R elbow {:.0f}°', 1),
                ('LEFT_KNEE', 'left_knee_flexion', 'L knee {:.0f}°', -1),
                ('RIGHT_KNEE', 'right_knee_flexion', 'R knee {:.0f}°', 1))
_FRONT_LABELS = (('SPINE', 'trunk_side_bend', 'side-bend {:+.0f}°', -1),
                 ('THORAX', 'trunk_twist', 'twist {:+.0f}°', -1), ('HEAD', 'neck_side_bend', 'neck tilt {:+.0f}°', 1),
                 ('LEFT_SHOULDER', 'left_upper_arm_abduction', 'L arm {:.0f}° out', 1),
                 ('RIGHT_SHOULDER', 'right_upper_arm_abduction', 'R arm {:.0f}° out', -1))
_LABEL_GAP_M = 0.12        # vertical spacing of stacked labels, metres (data units)


def _spread(ys, gap):
    """Move sorted label heights apart by at least `gap`, keeping their order (top to bottom)."""
    out = []
    for y in sorted(ys, reverse=True):
        out.append(min(y, out[-1] - gap) if out else y)
    return out


def _draw_view(ax, pts2d, labels, angles, title):
    ok = np.all(np.isfinite(pts2d), axis=1)
    for a, b in H36M_CONNECTIONS:
        if ok[a] and ok[b]:
            ax.plot(*pts2d[[a, b]].T, color=_bone_colour(a, b), lw=3, solid_capstyle='round')
    ax.scatter(*pts2d[ok].T, s=14, color='black', zorder=3)
    ax.set_title(title, fontsize=9)
    ax.set_aspect('equal')
    ax.set_xticks([])
    ax.set_yticks([])
    if not ok.any():
        return
    lo, hi = pts2d[ok].min(axis=0), pts2d[ok].max(axis=0)
    for column in (-1, 1):
        items = [(pts2d[H36M[j]], _fmt(angles, name, fmt)) for j, name, fmt, c in labels
                 if c == column and ok[H36M[j]] and _fmt(angles, name, fmt)]
        items.sort(key=lambda it: -it[0][1])
        x = lo[0] - 0.15 if column < 0 else hi[0] + 0.15
        for (xy, text), y in zip(items, _spread([it[0][1] for it in items], _LABEL_GAP_M)):
            ax.annotate(text, xy=xy, xytext=(x, y), fontsize=8, va='center', ha='right' if column < 0 else 'left',
                        arrowprops=dict(arrowstyle='-', color='#9e9e9e', lw=0.6, shrinkA=0, shrinkB=3))
    ax.set_xlim(lo[0] - 0.75, hi[0] + 0.75)
    ax.set_ylim(lo[1] - 0.25, hi[1] + 0.2)


def plot_key_frame(path, title: str, caption: str, angles: dict, joints3d=None, up=(0.0, -1.0, 0.0), image=None,
                   keypoints2d=None, connections=(), confidence2d=None) -> None:
    """A key moment: the camera image with the 2D skeleton (if given) and front/side views of the 3D skeleton.

    joints3d: (17, 3) H36M metres (NaN = missing); image: BGR uint8; keypoints2d: (J, 2) pixels with `connections`.
    """
    panels = (image is not None) + 2 * (joints3d is not None)
    fig = _figure(4.0 * max(panels, 1) + 0.5, 5.0)
    axes = list(fig.subplots(1, max(panels, 1), squeeze=False)[0])
    if image is not None:
        ax = axes.pop(0)
        ax.imshow(np.asarray(image)[..., ::-1])
        if keypoints2d is not None:
            k = np.asarray(keypoints2d, float)
            ok = np.all(np.isfinite(k), axis=1) & (np.ones(len(k), bool) if confidence2d is None
                                                   else np.asarray(confidence2d) >= 0.3)
            for a, b in connections:
                if ok[a] and ok[b]:
                    ax.plot(*k[[a, b]].T, color='#00e5ff', lw=2)
        ax.set_title('camera image', fontsize=9)
        ax.axis('off')
    if joints3d is not None:
        j = np.asarray(joints3d, float)
        lat, fwd, u = body_frame(j, up)
        rel = j - j[H36M.PELVIS] if np.all(np.isfinite(j[H36M.PELVIS])) else j - np.nanmean(j, axis=0)
        _draw_view(axes[0], np.stack([rel @ lat, rel @ u], axis=1), _FRONT_LABELS, angles,
                   'front view (facing the person)')
        _draw_view(axes[1], np.stack([rel @ fwd, rel @ u], axis=1), _SIDE_LABELS, angles,
                   "side view (from the person's right; facing right)")
    if panels == 0:
        axes[0].text(0.5, 0.5, 'no skeleton available for this moment', ha='center', va='center')
        axes[0].axis('off')
    fig.suptitle(title, fontsize=10, x=0.01, ha='left')
    fig.supxlabel(textwrap.fill(caption, 40 * max(panels, 1) + 20), fontsize=8)
    fig.savefig(path)
