"""2D pose speed, side by side on the same real frames:

  (a) MediaPipe's own mp.solutions.pose (separate venv, scripts/setup_mediapipe_ref.sh)
  (b) our pipeline in-process on ONNX Runtime (same BlazePose models, no MediaPipe graph)
  (c) our pose_node end to end over DDS (video_publisher -> pose_node -> skeleton received)

    make bench-pose          # or: python benchmarks/bench_pose.py --frames 300

Clips (640x480): 'vtest' = 300 frames of Debian opencv-doc's vtest.avi (several pedestrians), 'single' = a
single-person clip made from messi5.jpg panned by a few pixels per frame. Prints a table, then `RESULT {json}`.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nvb_perception.netsafety import localhost_only_env  # noqa: E402

localhost_only_env(force=True)     # before any DDS participant exists

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from nvb_perception.assets import assets_dir  # noqa: E402

MP_PYTHON = ROOT / '.venv-mediapipe' / 'bin' / 'python'
SIZE = (640, 480)


def make_clips(out: Path, n: int) -> dict:
    """Write the two clips as PNG folders; returns {name: folder}."""
    data = assets_dir() / 'data' / 'opencv'
    clips = {'vtest': out / 'vtest', 'single': out / 'single'}
    for folder in clips.values():
        folder.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(data / 'vtest.avi'))
    for i in range(n):
        ok, bgr = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = cap.read()
        cv2.imwrite(str(clips['vtest'] / f'{i:05d}.png'), cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA))
    cap.release()
    messi = cv2.imread(str(data / 'messi5.jpg'))                       # 548x342: pad to 640x480, then pan
    canvas = cv2.copyMakeBorder(messi, 80, 80, 60, 60, cv2.BORDER_REFLECT)
    for i in range(n):
        dx = int(round(20 * np.sin(i / 15)))
        cv2.imwrite(str(clips['single'] / f'{i:05d}.png'), canvas[:SIZE[1], 30 + dx:30 + dx + SIZE[0]])
    return clips


def ours(frames_dir: Path, max_people: int) -> dict:
    """(b) In this process: per-frame time, landmarks of the first person, people per frame."""
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    estimator = PoseEstimator.from_config(PoseConfig(model_dir=str(assets_dir() / 'models'), max_people=max_people))
    frames = [cv2.imread(str(f)) for f in sorted(frames_dir.glob('*.png'))]
    estimator(frames[0], 0)
    estimator.reset()
    times, people, first = [], [], np.full((len(frames), 33, 2), np.nan, np.float32)
    for i, bgr in enumerate(frames):
        start = time.perf_counter()
        result = estimator(bgr, i * 33_333_333)
        times.append(time.perf_counter() - start)
        active = [p for p in result.people if p.skeleton.track_state <= 1]
        people.append(len(active))
        if active:
            first[i] = active[0].skeleton.keypoints
    landmark_ms = _landmark_call_ms(estimator)
    ms = np.asarray(times) * 1e3
    return {'fps': len(ms) / (ms.sum() / 1e3), 'p50_ms': float(np.percentile(ms, 50)),
            'p95_ms': float(np.percentile(ms, 95)),
            'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            'people': people, 'ms': ms.tolist(), 'landmarks': first.tolist(), 'landmark_ms': landmark_ms}


def _landmark_call_ms(estimator) -> float:
    """Median time of one landmark-model call on one ROI (batch of 1)."""
    backend = estimator.landmarks.backend
    x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    backend({'input_1': x})
    t = []
    for _ in range(20):
        start = time.perf_counter()
        backend({'input_1': x})
        t.append(time.perf_counter() - start)
    return float(np.median(t) * 1e3)


def node(frames_dir: Path, max_people: int, input_fps: float, log_dir: Path) -> dict:
    """(c) video_publisher -> pose_node over DDS; latency = receive time - source stamp (set at publish)."""
    from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
    n = len(list(frames_dir.glob('*.png')))
    pose = NodeProcess('pose_node', {'max_people': max_people, 'image_qos': 'reliable'})
    player = NodeProcess('video_publisher', {'source': str(frames_dir), 'rate': input_fps / 30.0,
                                             'wait_for_subscribers': 2})
    topics = {'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray'}
    with TopicListener(topics) as listener, ProcessGraph([pose], log_dir) as graph:
        deadline = time.monotonic() + 60
        while listener.node.count_publishers('skeletons_2d') == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        player.start(graph.env, log_dir)
        if player.wait(n / input_fps + 60) != 0:
            raise RuntimeError('video_publisher failed:\n' + graph.logs())
        time.sleep(1.0)
        rss = _peak_rss_mb(pose.process.pid)
    records = listener.messages['skeletons_2d']
    if len(records) < 2:
        raise RuntimeError('pose_node published nothing:\n' + graph.logs())
    latency = np.asarray([(t - (m.header.stamp.sec * 10**9 + m.header.stamp.nanosec)) / 1e6 for t, m in records])
    span = (records[-1][0] - records[0][0]) / 1e9
    return {'fps': (len(records) - 1) / span, 'p50_ms': float(np.percentile(latency, 50)),
            'p95_ms': float(np.percentile(latency, 95)), 'peak_rss_mb': rss, 'received': len(records), 'sent': n}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def mediapipe(frames_dir: Path, out: Path) -> dict | None:
    """(a) in the reference venv; None (with a note) when it is missing."""
    if not MP_PYTHON.exists():
        print('note: no .venv-mediapipe (run scripts/setup_mediapipe_ref.sh); skipping (a)', file=sys.stderr)
        return None
    proc = subprocess.run([str(MP_PYTHON), str(ROOT / 'mediapipe_reference' / 'pose_frames.py'), str(frames_dir),
                           str(out)], capture_output=True, text=True, timeout=900, env={**os.environ, 'PYTHONPATH': ''})
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result['landmarks'] = np.load(out)['landmarks']
    return result


def in_subprocess(mode: str, *args) -> dict:
    """Run `ours` in a fresh process so its peak RSS is its own."""
    proc = subprocess.run([sys.executable, __file__, '--child', mode, *map(str, args)], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(ours(Path(args.child[1]), int(args.child[2]))))
        return 0
    work = Path(tempfile.mkdtemp(prefix='bench_pose_'))
    clips = make_clips(work, args.frames)
    rows, result = [], {}
    for clip, max_people in (('single', 1), ('vtest', 4)):
        a = mediapipe(clips[clip], work / f'mp_{clip}.npz')
        b = in_subprocess('ours', clips[clip], max_people)
        c = node(clips[clip], max_people, input_fps=min(2 * b['fps'], 120.0), log_dir=work / f'logs_{clip}')
        for name, r in (('(a) mp.solutions.pose', a), ('(b) ours in-process (ORT)', b), ('(c) pose_node over DDS', c)):
            if r:
                rows.append((clip, name, r['fps'], r['p50_ms'], r['p95_ms'], r['peak_rss_mb']))
        result[clip] = {'a': a, 'b': b, 'c': c}
        print(f'{clip}: a {a and round(a["fps"], 1)} FPS, b {b["fps"]:.1f} FPS, c {c["fps"]:.1f} FPS', flush=True)
    single, multi = result['single'], result['vtest']
    people = np.asarray(multi['b']['people'])
    slope = float(np.polyfit(people, np.asarray(multi['b']['ms']), 1)[0]) if np.ptp(people) > 0 else float('nan')
    summary = {
        'fps_mediapipe': single['a']['fps'] if single['a'] else None,
        'fps_ours': single['b']['fps'], 'fps_node': single['c']['fps'],
        'p50_ms_node': single['c']['p50_ms'], 'p95_ms_node': single['c']['p95_ms'],
        'fps_ours_multi': multi['b']['fps'], 'fps_node_multi': multi['c']['fps'],
        'p95_ms_node_multi': multi['c']['p95_ms'], 'mean_people_multi': float(people.mean()),
        'ms_per_extra_person': slope, 'landmark_ms': multi['b']['landmark_ms'],
        'extra_person_over_landmark': slope / multi['b']['landmark_ms'],
        'ratio_b_over_a': single['b']['fps'] / single['a']['fps'] if single['a'] else None,
        'ratio_c_over_b': single['c']['fps'] / single['b']['fps'],
        'ratio_c_over_b_multi': multi['c']['fps'] / multi['b']['fps'],
    }
    if single['a']:
        ref, mine = single['a']['landmarks'], np.asarray(single['b']['landmarks'])
        err = np.linalg.norm(ref - mine, axis=-1)
        summary['median_px_vs_mediapipe'] = float(np.nanmedian(err))
    print(f'{"clip":8} {"pipeline":28} {"FPS":>8} {"p50 ms":>8} {"p95 ms":>8} {"peak RSS MB":>12}')
    for clip, name, fps, p50, p95, rss in rows:
        print(f'{clip:8} {name:28} {fps:8.1f} {p50:8.1f} {p95:8.1f} {rss:12.0f}')
    print(f'multi-person: {summary["mean_people_multi"]:.2f} people/frame, {slope:.2f} ms per extra person = '
          f'{summary["extra_person_over_landmark"]:.2f} x one landmark call ({summary["landmark_ms"]:.2f} ms)')
    print('RESULT ' + json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
