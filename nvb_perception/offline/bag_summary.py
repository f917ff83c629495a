"""Summarise a bag of this package's topics: what was recorded, who was seen, cues, ergonomic risk, actions, latency.

    nvb-bag-summary run1_bag [--json summary.json]

Reads bags written by the recorder node or by nvb-process-bag / nvb-process-video. Prints the duration (record
time), frames, every topic with its message count; people (distinct track ids, person-seconds, most at once) from
the 2D skeletons (else the 3D ones); cues per type (episodes, total time) from CueArray topics; RULA/REBA time share
per action level and peak scores per person (the recorded ErgonomicRiskArray, else scored from Skeleton3DArray with
nvb-ergo-report's defaults); actions (person-seconds each label had probability >= 0.5); and the latency from the
camera stamp in each result's header to the time the message was recorded. Time is counted like the ergonomics
report: each frame counts the time since the previous one, nothing across gaps longer than 1 s.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from nvb_perception.errors import PerceptionError
from nvb_perception.offline.ergo_report import (
    RISKS,
    SKELETONS,
    build_parser,
    make_trackers,
    read_risks,
    score_skeletons,
)
from nvb_perception.offline.process_bag import IMAGE_TYPES

SKELETONS_2D = 'nvb_perception_msgs/msg/Skeleton2DArray'
CUES = 'nvb_perception_msgs/msg/CueArray'
ACTIONS = 'nvb_perception_msgs/msg/ActionArray'
RESULTS = (SKELETONS_2D, SKELETONS, RISKS, CUES, ACTIONS)
LIVE = 1                  # track_state <= TRACKED: the person is seen in this frame (not LOST/TERMINATED)
ACTION_THRESHOLD = 0.5


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _first(topics: dict, msgtype: str, preferred: str) -> str | None:
    """The topic of a type to summarise: `preferred` if it has that type, else the first by name."""
    names = sorted(t for t, ty in topics.items() if ty == msgtype)
    return preferred if preferred in names else (names[0] if names else None)


def _seconds(stamps) -> np.ndarray:
    from nvb_perception.offline.ergonomics_report import frame_seconds
    return frame_seconds(np.asarray(stamps, np.int64)) if len(stamps) else np.zeros(0)


def people_summary(frames: list) -> dict:
    """frames: [(stamp_ns, live track ids)] in time order."""
    dt = _seconds([s for s, _ in frames])
    live = np.array([len(ids) for _, ids in frames])
    return {'track_ids': sorted({i for _, ids in frames for i in ids}),
            'person_seconds': round(float((dt * live).sum()), 3), 'max_concurrent': int(live.max(initial=0))}


def cue_summary(timeline) -> dict:
    """Per cue name: episodes, total seconds, people, from a CueTimeline."""
    out = {}
    for e in timeline.rows():
        c = out.setdefault(e.name, {'episodes': 0, 'total_s': 0.0, 'track_ids': set()})
        c['episodes'] += 1
        c['total_s'] += (e.end_ns - e.start_ns) * 1e-9
        c['track_ids'].add(e.track_id)
    return {n: {**c, 'total_s': round(c['total_s'], 3), 'track_ids': sorted(c['track_ids'])} for n, c in out.items()}


def risk_summary(series: dict) -> list:
    """Per (person, method): seconds seen, share of that time per action level, peak score and peak upper range."""
    rows = []
    for (track_id, method), pairs in sorted(series.items()):
        pairs = sorted(pairs, key=lambda p: p[0])
        dt = _seconds([s for s, _ in pairs])
        levels = np.array([r.action_level for _, r in pairs])
        seen = float(dt.sum())
        share = {int(lv): round(float(dt[levels == lv].sum()) / seen, 4) if seen else 0.0
                 for lv in sorted(set(levels.tolist()))}
        rows.append({'track_id': int(track_id), 'method': method, 'frames': len(pairs), 'seen_s': round(seen, 3),
                     'action_level_share': share, 'peak_score': max(r.score for _, r in pairs),
                     'peak_score_max': max(r.score_max for _, r in pairs)})
    return rows


def action_summary(per_track: dict) -> dict:
    """Person-seconds each label had probability >= ACTION_THRESHOLD; per_track: id -> [(stamp, {label: p})]."""
    out = {}
    for samples in per_track.values():
        for dt, (_, probs) in zip(_seconds([s for s, _ in samples]), samples):
            for label, p in probs.items():
                out[label] = out.get(label, 0.0) + (float(dt) if p >= ACTION_THRESHOLD else 0.0)
    return {k: round(v, 3) for k, v in sorted(out.items())}


def latency_summary(ms: list):
    """p50/p95 of record time minus camera stamp; None when they are not comparable (offline bag, other clock)."""
    if not ms:
        return None
    ms = np.asarray(ms)
    p50, p95 = np.percentile(ms, [50, 95])
    if not ms.any() or p50 < 0 or p50 > 3.6e6:     # equal: an offline tool's bag; far apart: unrelated clocks
        return None
    return {'p50_ms': round(float(p50), 2), 'p95_ms': round(float(p95), 2), 'messages': len(ms)}


def _cue_frame(msg):
    from nvb_perception.types import Cue, CueFrame, Stamp

    def t(x):
        return int(x.sec) * 1_000_000_000 + int(x.nanosec)
    cues = tuple(Cue(name=c.name, track_id=int(c.track_id), active=bool(c.active), confidence=float(c.confidence),
                     start_ns=t(c.start), end_ns=t(c.end), explanation=c.explanation) for c in msg.cues)
    return CueFrame(stamp=Stamp(_stamp_ns(msg), msg.header.frame_id), cues=cues)


def summarise(path: Path) -> dict:
    """Read the bag once (plus once more for the risk topic) and return the summary as plain data."""
    from nvb_perception.io.bag import BagReader, deserialize
    from nvb_perception.offline.cue_timeline import CueTimeline
    if not path.exists():
        raise PerceptionError(f'bag {path} does not exist')
    if path.is_file():
        raise PerceptionError(f'{path} is a file: give the bag folder (the one with metadata.yaml)')
    reader = BagReader(path)
    topics = reader.topics()
    if not any(ty in RESULTS or ty in IMAGE_TYPES for ty in topics.values()):
        have = ', '.join(f'{t} [{ty}]' for t, ty in sorted(topics.items())) or 'no topics'
        raise PerceptionError(f'bag {path} has no images, skeletons, cues, risks or actions; it has: {have}')
    people_topic = _first(topics, SKELETONS_2D, '/skeletons_2d') or _first(topics, SKELETONS, '/skeletons_3d')
    image_topic = _first(topics, 'sensor_msgs/msg/Image', '/image') or _first(
        topics, 'sensor_msgs/msg/CompressedImage', '/image/compressed')
    counts, span, frames, latency = {}, [], [], {}
    timeline, actions = CueTimeline(), {}
    for record in reader.messages():
        counts[record.topic] = counts.get(record.topic, 0) + 1
        span = [min(span[0], record.stamp_ns), max(span[1], record.stamp_ns)] if span else [record.stamp_ns] * 2
        if record.msgtype not in RESULTS:
            continue
        msg = deserialize(record)
        stamp = _stamp_ns(msg)
        latency.setdefault(record.topic, []).append((record.stamp_ns - stamp) / 1e6)
        if record.topic == people_topic:
            frames.append((stamp, [int(s.track_id) for s in msg.skeletons if s.track_state <= LIVE]))
        elif record.msgtype == CUES:
            timeline.add(_cue_frame(msg))
        elif record.msgtype == ACTIONS:
            for a in msg.actions:
                actions.setdefault(int(a.track_id), []).append((stamp, dict(zip(a.labels, map(float,
                                                                                            a.probabilities)))))
    risk_topic = _first(topics, RISKS, '/ergonomic_risk')
    source = _first(topics, SKELETONS, '/skeletons_3d')
    if risk_topic:
        series = read_risks(reader.messages([risk_topic]), ('RULA', 'REBA'))
    elif source:   # scored here exactly as nvb-ergo-report does with its default options
        trackers = make_trackers(build_parser().parse_args([str(path), '--out', str(path)]))
        series, risk_topic = score_skeletons(reader.messages([source]), trackers)[0], f'{source} (scored here)'
    frames.sort(key=lambda f: f[0])
    return {
        'bag': str(path), 'duration_s': round((span[1] - span[0]) * 1e-9, 3) if span else 0.0,
        'frames': counts.get(image_topic, 0) if image_topic else counts.get(people_topic, 0),
        'topics': {t: {'type': topics[t], 'messages': counts.get(t, 0)} for t in sorted(topics)},
        'people': {'topic': people_topic, **people_summary(frames)} if people_topic else None,
        'cues': cue_summary(timeline) if any(ty == CUES for ty in topics.values()) else None,
        'risk': {'topic': risk_topic, 'tracks': risk_summary(series)} if risk_topic else None,
        'actions': action_summary(actions) if any(ty == ACTIONS for ty in topics.values()) else None,
        'latency': {t: latency_summary(v) for t, v in sorted(latency.items())},
    }


def text(s: dict) -> str:
    """The summary as lines for a terminal."""
    lines = [f'bag {s["bag"]}: {s["duration_s"]:.2f} s recorded, {s["frames"]} frames']
    lines += [f'  {t}  {v["messages"]}  [{v["type"]}]' for t, v in s['topics'].items()]
    if s['people']:
        p = s['people']
        lines.append(f'people ({p["topic"]}): {len(p["track_ids"])} track ids, {p["person_seconds"]:.1f} '
                     f'person-seconds, at most {p["max_concurrent"]} at once')
    if s['cues'] is not None:
        lines.append('cues: ' + ('; '.join(f'{n} {c["episodes"]} episodes, {c["total_s"]:.1f} s, '
                                           f'{len(c["track_ids"])} people' for n, c in s['cues'].items())
                                 or 'none'))
    if s['risk']:
        lines.append(f'risk exposure ({s["risk"]["topic"]}):')
        for r in s['risk']['tracks']:
            share = ', '.join(f'level {lv} {100 * v:.0f}%' for lv, v in r['action_level_share'].items())
            lines.append(f'  person {r["track_id"]} {r["method"]}: seen {r["seen_s"]:.1f} s; {share}; '
                         f'peak score {r["peak_score"]} (possible up to {r["peak_score_max"]})')
    if s['actions'] is not None:
        lines.append('actions (person-seconds with p >= 0.5): '
                     + (', '.join(f'{k} {v:.1f}' for k, v in s['actions'].items()) or 'none'))
    known = {t: v for t, v in s['latency'].items() if v}
    lines.append('latency camera stamp -> recorded: ' + ('; '.join(
        f'{t} p50 {v["p50_ms"]:.1f} ms, p95 {v["p95_ms"]:.1f} ms' for t, v in known.items())
        or 'not available (offline bag, or record times on another clock than the camera stamps)'))
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='nvb-bag-summary', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (MCAP or sqlite3)')
    parser.add_argument('--json', type=Path, default=None, help='also write the summary as JSON to this file')
    args = parser.parse_args(argv)
    try:
        summary = summarise(args.bag)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1) + '\n')
    except (PerceptionError, OSError) as error:
        print(f'nvb-bag-summary: {error}', file=sys.stderr)
        return 2
    except Exception as error:          # rosbags raises its own types for unreadable or corrupt bags
        if type(error).__module__.startswith('rosbags'):
            print(f'nvb-bag-summary: cannot read bag {args.bag}: {error}', file=sys.stderr)
            return 2
        raise
    print(text(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
