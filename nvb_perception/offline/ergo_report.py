"""Write an ergonomics report (HTML page, PNG figures, CSV) from a rosbag2 bag of 3D skeletons or risk results.

    nvb-ergo-report run1_bag --out out/ergo [--methods RULA,REBA] [--load-kg 5] [--topic /skeletons_3d]

Skeleton3DArray messages (default: /skeletons_3d, else the bag's first Skeleton3DArray topic) are scored here with
RULA and/or REBA over time (filtering, static/repetition detection), using the options below for what a camera cannot
see. A bag without skeletons but with ErgonomicRiskArray messages (the risk node's output) is reported as recorded;
the scoring options then do not apply. Open out/ergo/index.html in a browser.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from nvb_perception.errors import PerceptionError

SKELETONS = 'nvb_perception_msgs/msg/Skeleton3DArray'
RISKS = 'nvb_perception_msgs/msg/ErgonomicRiskArray'
DEFAULT_TOPIC = '/skeletons_3d'
LOST, TERMINATED = 2, 3            # Skeleton2D.TRACK_* values
MIN_CONFIDENCE = 0.3               # Heuristics().min_confidence: joints the scoring treats as missing


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def choose_topic(topics: dict, wanted: str | None, path: Path) -> tuple[str, str]:
    """(topic, type) to read: the requested one, else skeletons (DEFAULT_TOPIC first), else risk results."""
    usable = {t: ty for t, ty in topics.items() if ty in (SKELETONS, RISKS)}
    if wanted is not None:
        if wanted not in topics:
            raise PerceptionError(f'bag {path} has no topic {wanted}; usable topics: {sorted(usable) or "none"}')
        if wanted not in usable:
            raise PerceptionError(f'topic {wanted} is {topics[wanted]}, expected Skeleton3DArray or '
                                  'ErgonomicRiskArray')
        return wanted, usable[wanted]
    ranked = sorted(usable, key=lambda t: (usable[t] != SKELETONS, t != DEFAULT_TOPIC, t))
    if not ranked:
        raise PerceptionError(f'bag {path} has no Skeleton3DArray or ErgonomicRiskArray topic '
                              f'(topics: {sorted(topics) or "none"})')
    return ranked[0], usable[ranked[0]]


def make_trackers(args) -> dict:
    """One ExposureTracker per method from the command-line inputs (ConfigError -> PerceptionError)."""
    from nvb_perception.ergonomics import ExposureTracker, RebaInputs, RulaInputs
    common = dict(load_kg=args.load_kg, shock=args.shock, arm_supported=args.arm_supported, seated=args.seated)
    try:
        inputs = {'RULA': lambda: RulaInputs(load_pattern=args.load_pattern, **common),
                  'REBA': lambda: RebaInputs(coupling=args.coupling, **common)}
        return {m: ExposureTracker(m, inputs[m](), up=args.up, side=args.side) for m in args.methods}
    except ValueError as error:
        raise PerceptionError(f'bad scoring option: {error}') from None


def score_skeletons(records, trackers: dict):
    """Series {(track, method): [(stamp_ns, risk)]} and key-frame skeletons {(track, stamp_ns): joints} from a bag."""
    from nvb_perception.io.bag import deserialize
    series, joints, skipped = {}, {}, 0
    for record in records:
        msg = deserialize(record)
        stamp = _stamp_ns(msg)
        for s in msg.skeletons:
            if s.track_state == TERMINATED:
                for tracker in trackers.values():
                    tracker.drop(s.track_id)
                continue
            if s.track_state == LOST:          # predicted, not seen: the risk node skips these too
                continue
            positions = np.stack([np.asarray(s.x), np.asarray(s.y), np.asarray(s.z)], axis=-1)
            if s.joint_set != 'h36m17' or positions.shape != (17, 3):
                skipped += 1
                continue
            confidence = np.asarray(s.confidence) if len(s.confidence) == 17 else None
            for method, tracker in trackers.items():
                risk = tracker.update(s.track_id, stamp, positions, confidence)
                series.setdefault((s.track_id, method), []).append((stamp, risk))
            # drawn as scored: joints below the scoring confidence threshold are left out of the key frames
            joints[(s.track_id, stamp)] = positions if confidence is None else \
                np.where(confidence[:, None] >= MIN_CONFIDENCE, positions, np.nan)
    return series, joints, skipped


def read_risks(records, methods):
    """Series {(track, method): [(stamp_ns, risk)]} from recorded ErgonomicRiskArray messages."""
    from nvb_perception.io.bag import deserialize
    from nvb_perception.types import ErgonomicRisk
    series = {}
    for record in records:
        msg = deserialize(record)
        for m in msg.risks:
            if m.method not in methods:
                continue
            risk = ErgonomicRisk(
                method=m.method, track_id=int(m.track_id), score=int(m.score), score_min=int(m.score_min),
                score_max=int(m.score_max), action_level=int(m.action_level), action=m.action, side=m.side,
                segment_scores=tuple(zip(m.segment_names, (int(v) for v in m.segment_scores))),
                angles_deg=tuple(zip(m.angle_names, (float(v) for v in m.angles_deg))),
                assumed_inputs=tuple(m.assumed_inputs))
            series.setdefault((risk.track_id, risk.method), []).append((_stamp_ns(msg), risk))
    return series


def _methods(text: str) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip().upper() for m in text.split(',') if m.strip()))
    if not methods or any(m not in ('RULA', 'REBA') for m in methods):
        raise argparse.ArgumentTypeError(f'{text!r}: give RULA, REBA or RULA,REBA')
    return methods


def _up(text: str) -> tuple[float, float, float]:
    try:
        up = tuple(float(v) for v in text.split(','))
    except ValueError:
        up = ()
    if len(up) != 3 or not np.all(np.isfinite(up)) or np.linalg.norm(up) < 1e-9:
        raise argparse.ArgumentTypeError(f'{text!r}: give a non-zero vector as x,y,z, e.g. 0,-1,0')
    return up


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='nvb-ergo-report', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (MCAP or sqlite3)')
    parser.add_argument('--out', type=Path, required=True, help='report folder (created; files in it are replaced)')
    parser.add_argument('--topic', default=None, help=f'topic to read (default: {DEFAULT_TOPIC} or the first '
                        'Skeleton3DArray topic, else the first ErgonomicRiskArray topic)')
    parser.add_argument('--methods', type=_methods, default=('RULA', 'REBA'), help='RULA, REBA or RULA,REBA')
    parser.add_argument('--load-kg', type=float, default=0.0, help='load or force handled, kg (default 0)')
    parser.add_argument('--load-pattern', default='intermittent', choices=('intermittent', 'static', 'repeated'),
                        help='RULA: how the load is handled')
    parser.add_argument('--coupling', default='good', choices=('good', 'fair', 'poor', 'unacceptable'),
                        help='REBA: grip / handle quality')
    parser.add_argument('--shock', action='store_true', help='shocks or rapid build-up of force')
    parser.add_argument('--arm-supported', action='store_true', help='arm supported or person leaning')
    parser.add_argument('--seated', action='store_true', help='the person works seated')
    parser.add_argument('--side', default='worst', choices=('worst', 'left', 'right'), help='arm side to report')
    parser.add_argument('--up', type=_up, default=(0.0, -1.0, 0.0),
                        help='world up in the skeleton frame, x,y,z (default 0,-1,0: level camera)')
    parser.add_argument('--key-frames', type=int, default=3, help='key moments drawn per person (default 3)')
    parser.add_argument('--title', default='Ergonomic risk report')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from nvb_perception.io.bag import BagReader
        from nvb_perception.offline.ergonomics_report import KeyFrame, write_report
        if not args.bag.exists():
            raise PerceptionError(f'bag {args.bag} does not exist')
        reader = BagReader(args.bag)
        topic, msgtype = choose_topic(reader.topics(), args.topic, args.bag)
        records = reader.messages([topic])
        if msgtype == SKELETONS:
            series, joints, skipped = score_skeletons(records, make_trackers(args))
            frames = {k: KeyFrame(joints3d=v, up=args.up) for k, v in joints.items()}
            notes = [f'Scored here from {topic}.'] + ([f'{skipped} skeleton(s) skipped (not H36M-17).']
                                                       if skipped else [])
        else:
            series, frames = read_risks(records, args.methods), None
            notes = [f'Results as recorded on {topic} (scoring options of this tool not applied).']
        if not series:
            raise PerceptionError(f'topic {topic} in {args.bag} holds no usable '
                                  f'{"skeletons" if msgtype == SKELETONS else "results for " + ",".join(args.methods)}')
        index = write_report(args.out, series, frames, title=args.title, source=f'Bag {args.bag.name}.',
                             n_key_frames=args.key_frames, notes=tuple(notes))
    except (PerceptionError, OSError) as error:
        print(f'nvb-ergo-report: {error}', file=sys.stderr)
        return 2
    except Exception as error:          # rosbags raises its own types for unreadable or corrupt bags
        if type(error).__module__.startswith('rosbags'):
            print(f'nvb-ergo-report: cannot read bag {args.bag}: {error}', file=sys.stderr)
            return 2
        raise
    people = len({k[0] for k in series})
    print(f'{args.bag.name}: {people} person(s), {sum(len(v) for v in series.values())} results; wrote {index}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
