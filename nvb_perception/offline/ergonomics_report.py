"""Ergonomics report: per-person RULA/REBA time series -> a folder with index.html, PNG figures and a CSV.

    series = {(track_id, 'RULA'): [(stamp_ns, ErgonomicRisk), ...], ...}      # e.g. from ExposureTracker.update
    write_report('out/report', series, key_frames={(track_id, stamp_ns): KeyFrame(joints3d=...)})

The page is for people who do not know RULA/REBA or this code: it explains the action levels, what the score range
means, which inputs were assumed, and shows per person a score timeline, a body-part heatmap, the worst posture
held for a while and a few key moments (the skeleton with its main angles). Time is counted like
`ExposureTracker`: each frame counts the time since the previous one; gaps longer than `max_gap_s` count nothing.
"""
import csv
import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.ergonomics.angles import DEFAULT_UP
from nvb_perception.ergonomics.tables import (
    REBA_ACTION_LEVELS,
    RULA_ACTION_LEVELS,
    reba_action_level,
    rula_action_level,
)
from nvb_perception.offline import ergonomics_plots as plots
from nvb_perception.skeleton import CONNECTIONS

ACTION_LEVELS = {'RULA': RULA_ACTION_LEVELS, 'REBA': REBA_ACTION_LEVELS}
# Plain words for the inputs a camera cannot see (names as in RulaInputs / RebaInputs.assumed()).
INPUT_WORDS = {
    'load_kg': 'load or force handled (kg)', 'load_pattern': 'how the load is handled (intermittent/static/repeated)',
    'shock': 'shocks or sudden forces', 'coupling': 'grip or handle quality (good/fair/poor/unacceptable)',
    'static_posture': 'posture held still > 1 min (also detected automatically per body part)',
    'repeated': 'movement repeated > 4 times/min (also detected automatically)',
    'repeated_small_range': 'small movements repeated > 4 times/min (also detected automatically)',
    'rapid_large_change': 'rapid large posture changes or unstable footing',
    'arm_supported': 'arm supported or person leaning', 'seated': 'person seated',
    'trunk_supported': 'seated with the back well supported',
    'neutral_tol_deg': 'angles within this many degrees of upright count as upright',
    'wrist_flexion_deg': 'wrist bend', 'wrist_deviated': 'wrist bent sideways',
    'wrist_twist_end_range': 'wrist twisted near its limit', 'wrist_twisted': 'wrist twisted',
    'neck_twisted': 'neck twisted', 'upper_arm_rotated': 'upper arm rotated'}


@dataclass(frozen=True, eq=False)
class KeyFrame:
    """What can be drawn for one moment of one person; every field is optional."""

    joints3d: np.ndarray | None = None     # (17, 3) H36M metres, NaN = missing
    image: np.ndarray | None = None        # (H, W, 3) BGR uint8 camera image
    skeleton2d: object | None = None       # types.Skeleton2D in `image`'s pixels
    up: tuple = DEFAULT_UP                 # world up in the joints' frame


@dataclass
class _Track:
    """One (person, method) series as arrays, with the time each frame counts for."""

    track_id: int
    method: str
    stamps: np.ndarray
    t: np.ndarray            # seconds since the report's first stamp
    dt: np.ndarray           # seconds this frame counts (0 after a gap)
    risks: list

    def column(self, attr):
        return np.array([getattr(r, attr) for r in self.risks])

    def segments(self):
        names = dict.fromkeys(n for r in self.risks for n, _ in r.segment_scores)
        return {n: np.array([dict(r.segment_scores).get(n, 0) for r in self.risks]) for n in names}


def person(track_id: int) -> str:
    return f'Person {track_id}'


def frame_seconds(stamps_ns, max_gap_s: float = 1.0) -> np.ndarray:
    """Seconds each frame counts: time since the previous frame; 0 for the first frame and after a gap."""
    dt = np.diff(np.asarray(stamps_ns, np.int64), prepend=np.int64(stamps_ns[0])) * 1e-9 if len(stamps_ns) else \
        np.zeros(0)
    return np.where((dt > max_gap_s) | (dt < 0), 0.0, dt)


def worst_sustained(tr: _Track, sustained_s: float, max_gap_s: float):
    """(score, seconds, first index, last index) of the highest score held >= sustained_s without a break, else None.

    Same run rule as ExposureTracker: a run adds each frame's dt while score >= threshold and restarts after a gap.
    """
    score = tr.column('score')
    gap = np.diff(tr.stamps, prepend=tr.stamps[0]) * 1e-9 > max_gap_s
    for threshold in range(int(score.max()), 0, -1):
        ok = score >= threshold
        run_id = np.cumsum(~ok | gap)
        durations = np.bincount(run_id[ok], weights=tr.dt[ok])
        if len(durations) and durations.max() >= sustained_s:
            idx = np.flatnonzero(ok & (run_id == durations.argmax()))
            return threshold, float(durations.max()), int(idx[0]), int(idx[-1])
    return None


def key_moments(tracks, n: int, min_sep_s: float | None = None):
    """Up to n stamps of one person's worst moments (highest score, then upper range), >= min_sep_s apart.

    Default separation: a 2n-th of the person's time span (at least 3 s), so a long held posture gives one key
    frame, not n nearly identical ones.
    """
    if min_sep_s is None:
        span = max((tr.t[-1] - tr.t[0] for tr in tracks), default=0.0)
        min_sep_s = max(3.0, span / (2 * max(n, 1)))
    ranked = [sorted(range(len(tr.risks)), key=lambda i, tr=tr: (-tr.risks[i].score, -tr.risks[i].score_max,
                                                                   tr.t[i])) for tr in tracks]
    picked = []
    for rank in range(max((len(r) for r in ranked), default=0)):      # interleave methods: worst of each first
        for tr, order in zip(tracks, ranked):
            if len(picked) < n and rank < len(order) and \
                    all(abs(tr.t[order[rank]] - t) >= min_sep_s for _, t in picked):
                picked.append((int(tr.stamps[order[rank]]), float(tr.t[order[rank]])))
        if len(picked) >= n:
            break
    return sorted(picked, key=lambda p: p[0])


def write_csv(path, tracks) -> None:
    """One row per person x frame x method: time, scores, level, every segment score and angle."""
    segs = list(dict.fromkeys(n for tr in tracks for r in tr.risks[:1] for n, _ in r.segment_scores))
    angs = list(dict.fromkeys(n for tr in tracks for r in tr.risks[:1] for n, _ in r.angles_deg))
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['time_s', 'stamp_ns', 'track_id', 'method', 'score', 'score_min', 'score_max', 'action_level',
                    'action', 'side'] + [f'seg_{n}' for n in segs] + [f'{n}_deg' for n in angs] + ['detected'])
        for tr in tracks:
            for t, stamp, r in zip(tr.t, tr.stamps, tr.risks):
                s, a = dict(r.segment_scores), dict(r.angles_deg)
                w.writerow([f'{t:.3f}', int(stamp), r.track_id, r.method, r.score, r.score_min, r.score_max,
                            r.action_level, r.action, r.side] + [s.get(n, '') for n in segs]
                           + [f'{a[n]:.1f}' if n in a else '' for n in angs]
                           + [';'.join(x for x in r.assumed_inputs if '=detected(' in x)])


def _short_level(method: str, level: int) -> str:
    return next(f'level {lv} ({label})' for lv, _, _, label, _ in plots.LEVELS[method] if lv == level)


def _plain(value: str) -> str:
    if value.startswith('unobserved'):
        return 'not visible to the camera: the score range covers every possibility'
    return {'True': 'yes', 'False': 'no'}.get(value, value)


def _e(x) -> str:
    return html.escape(str(x))


def _levels_html(method: str) -> str:
    rows = ''.join(f'<tr><td style="background:{c}">{lv}</td><td>{lo}{"" if lo == hi else f"-{hi}"}</td>'
                   f'<td>{_e(lab)}</td><td>{_e(word)}</td></tr>'
                   for (lv, lo, hi, lab, c), (*_, word) in zip(plots.LEVELS[method], ACTION_LEVELS[method]))
    return (f'<table><tr><th>{method} action level</th><th>score</th><th>in short</th><th>published meaning</th>'
            f'</tr>{rows}</table>')


def _inputs_html(tracks) -> str:
    """The assumed inputs of each method in plain words, and how often each body part was not visible."""
    out = []
    for method in dict.fromkeys(tr.method for tr in tracks):
        trs = [tr for tr in tracks if tr.method == method]
        items = [x for x in trs[0].risks[0].assumed_inputs if '=' in x and not x.startswith('heuristic:')
                 and x.split('=')[0] in INPUT_WORDS]
        rows = ''.join(f'<li>{_e(INPUT_WORDS[k])}: <b>{_e(_plain(v))}</b></li>' for k, v in (x.split('=', 1)
                                                                                            for x in items))
        total = sum(float(tr.dt.sum()) for tr in trs) or 1.0
        hidden: dict = {}
        for tr in trs:
            for dt, r in zip(tr.dt, tr.risks):
                for x in r.assumed_inputs:
                    if '=unobserved(range ' in x:           # a body part, e.g. 'wrist_right=unobserved(range 1-4)'
                        hidden[x.split('=')[0]] = hidden.get(x.split('=')[0], 0.0) + dt
        vis = ', '.join(f'{plots.segment_label(k).lower()} {100 * v / total:.0f}%' for k, v in hidden.items()) or 'none'
        heur = ', '.join(x[len('heuristic:'):] for x in trs[0].risks[0].assumed_inputs if x.startswith('heuristic:'))
        out.append(f'<h3>{method}: inputs the camera cannot see (assumed)</h3><ul>{rows}</ul>'
                   f'<p>Share of the time each body part was not visible (its score is then a range): {_e(vis)}.</p>'
                   f'<details><summary>Thresholds used to decide "twisted", "side-bent", "abducted", ...</summary>'
                   f'<p><code>{_e(heur)}</code></p></details>')
    return ''.join(out)


def write_report(out_dir, series: dict, key_frames=None, title: str = 'Ergonomic risk report', source: str = '',
                 n_key_frames: int = 3, sustained_s: float = 10.0, max_gap_s: float = 1.0,
                 notes: tuple = ()) -> Path:
    """Write index.html, the PNGs and ergonomics.csv into out_dir (created); return the index.html path.

    Args:
        series: (track_id, 'RULA'|'REBA') -> [(stamp_ns, ErgonomicRisk)] in time order (empty series are skipped).
        key_frames: (track_id, stamp_ns) -> KeyFrame, a mapping or a callable returning a KeyFrame or None; the
            report picks the stamps (each person's worst moments) and draws what it gets.
        source: where the data came from (shown on the page); notes: extra lines for the page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    series = {k: sorted(v, key=lambda p: p[0]) for k, v in series.items() if len(v)}
    if not series:
        raise ValueError('no ergonomic risk results to report (every series is empty)')
    start = min(v[0][0] for v in series.values())
    tracks = []
    for (track_id, method), pairs in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] != 'RULA')):
        stamps = np.array([p[0] for p in pairs], np.int64)
        tracks.append(_Track(int(track_id), method, stamps, (stamps - start) * 1e-9,
                             frame_seconds(stamps, max_gap_s), [p[1] for p in pairs]))
    write_csv(out / 'ergonomics.csv', tracks)
    methods = list(dict.fromkeys(tr.method for tr in tracks))
    shares = {m: [(f'{person(tr.track_id)}\n{plots.clock(tr.dt.sum())} seen',
                   {lv: float(tr.dt[tr.column('action_level') == lv].sum())
                                         for lv, *_ in plots.LEVELS[m]}) for tr in tracks if tr.method == m]
              for m in methods}
    plots.plot_levels(out / 'action_levels.png', shares)
    duration = max(float(tr.t[-1]) for tr in tracks)
    body = [f'<h1>{_e(title)}</h1><p>{_e(source)} Duration {plots.clock(duration)} (min:s); '
            f'{len({tr.track_id for tr in tracks})} person(s); methods: {", ".join(methods)}.</p>',
            *(f'<p>{_e(n)}</p>' for n in notes), _HOW_TO_READ, *(_levels_html(m) for m in methods),
            _inputs_html(tracks), '<h2>Share of time at each action level</h2><img src="action_levels.png">']
    for track_id in dict.fromkeys(tr.track_id for tr in tracks):
        mine = [tr for tr in tracks if tr.track_id == track_id]
        body.append(_person_html(out, track_id, mine, key_frames, n_key_frames, sustained_s, max_gap_s))
    body.append('<h2>Data</h2><p><a href="ergonomics.csv">ergonomics.csv</a>: one row per person, frame and method '
                '(time, score, possible range, action level, every body-part score and angle in degrees).</p>')
    index = out / 'index.html'
    index.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{_e(title)}</title>'
                     f'<style>{_CSS}</style></head><body>{"".join(body)}</body></html>', encoding='utf-8')
    return index


def _person_html(out, track_id, mine, key_frames, n_key_frames, sustained_s, max_gap_s) -> str:
    name = person(track_id)
    plots.plot_timeline(out / f'timeline_{track_id}.png', name,
                        {tr.method: (tr.t, tr.column('score'), tr.column('score_min'), tr.column('score_max'))
                         for tr in mine}, gap_s=max_gap_s)
    parts = [f'<h2>{name}</h2><img src="timeline_{track_id}.png">', '<table><tr><th>method</th><th>observed</th>'
             f'<th>worst posture held &ge; {sustained_s:g} s</th><th>held for</th><th>when</th>'
             '<th>body parts then</th><th>what to do</th></tr>']
    for tr in mine:
        plots.plot_heatmap(out / f'heatmap_{track_id}_{tr.method}.png', name, tr.method, tr.t, tr.segments())
        worst = worst_sustained(tr, sustained_s, max_gap_s)
        seen = plots.clock(float(tr.dt.sum()))
        if worst is None:
            i = int(np.argmax(tr.column('score')))
            parts.append(f'<tr><td>{tr.method}</td><td>{seen}</td><td colspan="5">no score was held for '
                         f'{sustained_s:g} s; the highest momentary score was {tr.risks[i].score} at '
                         f'{plots.clock(tr.t[i])} ({_e(tr.risks[i].action)})</td></tr>')
            continue
        score, secs, i0, i1 = worst
        segs = {n: int(np.bincount(v[i0:i1 + 1]).argmax()) for n, v in tr.segments().items()}
        shown = ', '.join(f'{plots.segment_label(n).lower()} {segs[n]}' if segs[n] else
                          f'{plots.segment_label(n).lower()} not visible' for n, _ in plots.SEGMENTS[tr.method]
                          if n in segs)
        action = (rula_action_level if tr.method == 'RULA' else reba_action_level)(score)[1]
        parts.append(f'<tr><td>{tr.method}</td><td>{seen}</td><td>score &ge; {score} (possible up to '
                     f'{max(r.score_max for r in tr.risks[i0:i1 + 1])})</td><td>{secs:.0f} s</td>'
                     f'<td>{plots.clock(tr.t[i0])}-{plots.clock(tr.t[i1])}</td><td>{_e(shown)}</td>'
                     f'<td>{_e(action)}</td></tr>')
    parts.append('</table>')
    parts += [f'<img src="heatmap_{track_id}_{tr.method}.png">' for tr in mine]
    get = key_frames if callable(key_frames) else (key_frames or {}).get
    for k, (stamp, t) in enumerate(key_moments(mine, n_key_frames)):
        frame = get((track_id, stamp)) if not callable(key_frames) else get(track_id, stamp)
        at = {tr.method: tr.risks[int(np.searchsorted(tr.stamps, stamp))] for tr in mine if stamp in tr.stamps}
        if not at:
            continue
        head = '   '.join(f'{m} {r.score}{"" if r.score_max == r.score else f" (could be up to {r.score_max})"}: '
                           f'{_short_level(m, r.action_level)}' for m, r in at.items())
        frame = frame or KeyFrame()
        sk = frame.skeleton2d
        plots.plot_key_frame(
            out / f'keyframe_{track_id}_{k}.png', f'{name} at {plots.clock(t)} (min:s)\n{head}', _KEY_CAPTION,
            dict(next(iter(at.values())).angles_deg), frame.joints3d, frame.up, frame.image,
            None if sk is None else sk.keypoints, CONNECTIONS.get(getattr(sk, 'joint_set', ''), ()),
            None if sk is None else sk.confidence)
        parts.append(f'<h3>Key moment {k + 1}: {plots.clock(t)}</h3><img src="keyframe_{track_id}_{k}.png">')
    return ''.join(parts)


_KEY_CAPTION = ('Blue = left side, pink = right side. Angles in degrees: "fwd" = bent forward (negative = '
                'backward); arm "up" = raised from hanging (90 = horizontal), "out" = raised sideways; elbow/knee 0 '
                '= straight.')
_HOW_TO_READ = """<h2>How to read this report</h2>
<p>RULA and REBA are standard checklists ergonomists use to rate a work posture: each body part gets a score from
its angle (higher = further from a comfortable position), and the parts are combined into one score. The score maps
to an <b>action level</b>, from "acceptable" to "change now" (tables below). Here the angles come from the camera,
frame by frame, for each person.</p>
<p><b>Score and range.</b> A camera cannot see everything the checklists ask about (the wrist bend, a twisted neck,
the weight in the hands, the grip). The <b>score</b> assumes those unseen things were fine, so it is the lowest
score the posture could have; the <b>range</b> (grey band in the timelines) goes up to the highest score they could
lead to. The true score lies inside the range. Inputs that were assumed are listed below; change them (e.g. the
load) when you know them.</p>
<p><b>Held postures.</b> A posture matters more when it is kept: the tables show the worst score held for a while
without a break. Angles are smoothed over a fraction of a second, so single-frame jumps are ignored.</p>"""
_CSS = ('body{font-family:sans-serif;max-width:1150px;margin:auto;padding:1em;line-height:1.4}img{max-width:100%;'
        'display:block;margin:0.5em 0 1.5em}table{border-collapse:collapse;margin:0.5em 0 1em}'
        'td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:0.9em}th{background:#f0f0f0}')
