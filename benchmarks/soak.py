"""Soak: the full graph at 30 Hz on looped real video; memory (RSS) and latency must stay flat.

    python benchmarks/soak.py [--minutes 10] [--warmup-s 60] [--out out/soak]      # or: make soak

Plays vtest.avi resized to 640x480 at 30 Hz in a loop through `nvb-perception run` (pose, lifting, risk, cues as
separate processes), samples every node's RSS from /proc every 5 s and listens to the risk outputs. After the
warm-up, rss_drift = max over nodes of (mean RSS in the last minute / RSS at the end of the warm-up - 1); the
camera-to-risk latency of the first and last minutes shows whether queues grow. The RSS series is written to
OUT/rss.csv. Last line: RESULT {json}.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nvb_perception.netsafety import localhost_only_env  # noqa: E402

localhost_only_env(force=True)       # before any DDS participant exists

import numpy as np  # noqa: E402
from bench_graph import STAGE_PARAMS, load_frames, write_video  # noqa: E402

SAMPLE_S = 5.0


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    assets = Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets'))
    parser.add_argument('--video', type=Path, default=assets / 'data' / 'opencv' / 'vtest.avi')
    parser.add_argument('--minutes', type=float, default=10.0)
    parser.add_argument('--warmup-s', type=float, default=60.0, help='RSS reference taken at the end of this')
    parser.add_argument('--out', type=Path, default=Path('out/soak'))
    args = parser.parse_args(argv)
    if not args.video.exists():
        print(f'soak: {args.video} not found; run `make setup`', file=sys.stderr)
        return 2
    duration = args.minutes * 60
    if args.warmup_s + 2 * SAMPLE_S >= duration:
        print('soak: --minutes must leave time after --warmup-s', file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    video = args.out / 'vtest_640x480_30hz.avi'
    write_video(load_frames(args.video, 10**6), video)
    sets = [f'{node}.{k}={v}' for node, params in STAGE_PARAMS.items() for k, v in params.items()]
    sets += ['video_publisher.loop=true', 'video_publisher.wait_for_subscribers=2']
    cmd = [sys.executable, '-m', 'nvb_perception.launcher.cli', 'run', '--video', str(video), '--status', '60',
           '--duration', str(duration + 30), '--log-dir', str(args.out / 'logs')] + \
        [a for s in sets for a in ('--set', s)]
    from nvb_perception.launcher.processes import TopicListener, child_processes
    samples: dict[str, list] = {}
    print(f'soak: {args.minutes:g} min at 30 Hz, 640x480, looped {args.video.name}; RSS every {SAMPLE_S:g} s',
          flush=True)
    with TopicListener({'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray'}, depth=100) as io, \
            open(args.out / 'run.log', 'w') as log:
        runner = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            start = time.monotonic()
            while time.monotonic() - start < duration and runner.poll() is None:
                time.sleep(SAMPLE_S)
                t = time.monotonic() - start
                for pid, name in child_processes(runner.pid).items():
                    mb = rss_mb(pid)
                    if mb is not None:
                        samples.setdefault(name, []).append((t, mb))
        finally:
            if runner.poll() is None:
                runner.send_signal(signal.SIGINT)
                runner.wait(timeout=60)
        latency = [(t_rx / 1e9, (t_rx - (m.header.stamp.sec * 10**9 + m.header.stamp.nanosec)) / 1e6)
                   for t_rx, m in io.messages['ergonomic_risk']]
    if runner.returncode not in (0, None) or not samples or len(latency) < 10:
        print(f'soak: the graph failed (exit {runner.returncode}, {len(latency)} risk messages); see '
              f'{args.out / "run.log"}', file=sys.stderr)
        return 1
    with open(args.out / 'rss.csv', 'w') as csv:          # the whole series, to look at the shape of any growth
        csv.write('t_s,node,rss_mb\n')
        csv.writelines(f'{t:.1f},{name},{mb:.1f}\n' for name, series in samples.items() for t, mb in series)
    print(f"\n{'node':<18}{'RSS warm MB':>12}{'RSS end MB':>12}{'drift':>8}")
    drifts = {}
    for name, series in sorted(samples.items()):
        t, mb = np.array(series).T
        ref = mb[t <= args.warmup_s][-1] if (t <= args.warmup_s).any() else mb[0]
        end = mb[t >= t[-1] - 60].mean()
        drifts[name] = end / ref - 1
        print(f'{name:<18}{ref:>12.1f}{end:>12.1f}{drifts[name]:>+8.1%}')
    t_rx = np.array([x[0] for x in latency])
    ms = np.array([x[1] for x in latency])
    first, last = ms[t_rx <= t_rx[0] + 60], ms[t_rx >= t_rx[-1] - 60]
    p95_first, p95_last = float(np.percentile(first, 95)), float(np.percentile(last, 95))
    fps = (len(ms) - 1) / (t_rx[-1] - t_rx[0])
    print(f'\nrisk outputs {len(ms)} ({fps:.1f}/s); camera-to-risk p95 first minute {p95_first:.0f} ms, last '
          f'minute {p95_last:.0f} ms')
    result = {'rss_drift': round(max(drifts.values()), 4), 'rss_drift_by_node': {k: round(v, 4) for k, v in
                                                                                  drifts.items()},
              'minutes': args.minutes, 'risk_fps': round(fps, 2), 'p95_ms_first_minute': round(p95_first, 1),
              'p95_ms_last_minute': round(p95_last, 1), 'load_avg': round(os.getloadavg()[0], 2)}
    (args.out / 'result.json').write_text(json.dumps(result, indent=2))
    print('RESULT ' + json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
