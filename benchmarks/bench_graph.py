"""Full-graph speed: pose + lifting + RULA/REBA + cues on real video at 640x480, 30 Hz.

    python benchmarks/bench_graph.py [--frames 300] [--out out/bench_graph]      # or: make bench-graph

The input is Debian opencv-doc's vtest.avi (pedestrians), resized to 640x480 and played at 30 Hz (3x its 10 fps).
Runs, side by side in one invocation:

* in-process: the stages called one after the other (nvb_perception.pipeline), no ROS; fps and CPU s/frame;
* offline: the same pipeline reading a 30 Hz MCAP bag of the frames (decode included): x real time;
* graph, lock-step: the node processes (nvb_perception.launcher.graph, as `nvb-perception run` starts them), fed one
  frame after the previous frame's risk and cue outputs arrived; CPU s/frame of the node processes.
  transport_overhead = graph CPU per frame / in-process CPU per frame - 1 (serialisation, DDS, executors);
* graph, live: video_publisher at 30 Hz, separate processes, then all nodes in one process (--single-process):
  fps_graph = risk outputs per second; latency = receive time - camera stamp (same clock).
The last line is RESULT {json}.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nvb_perception.netsafety import localhost_only_env  # noqa: E402

localhost_only_env(force=True)       # before any DDS participant exists

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from nvb_perception.pipeline import Pipeline, PipelineConfig  # noqa: E402
from nvb_perception.types import Stamp  # noqa: E402

SIZE, HZ = (640, 480), 30.0
# vtest's pedestrians are small: tiled detection finds them; overlays off, the in-process pipeline draws none
STAGE_PARAMS = {'pose_node': {'image_qos': 'reliable', 'detector_tile_px': 288, 'max_people': 4,
                              'publish_overlay': False},
                'cue_node': {'image_qos': 'reliable', 'publish_overlay': False}}
OUT_TOPICS = {'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray',
              'cues': 'nvb_perception_msgs/msg/CueArray'}


def load_frames(video: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA))
    cap.release()
    return frames


def write_video(frames, path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), HZ, SIZE)
    for bgr in frames:
        writer.write(bgr)
    writer.release()


def cpu_seconds(pids) -> float:
    """CPU seconds (user + system) of processes (and their threads) from /proc."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0
    for pid in pids:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def run_inprocess(frames) -> dict:
    pipeline = Pipeline.from_config(PipelineConfig(detector_tile_px=288))
    pipeline(frames[0], Stamp(0, 'cam'))                               # warm-up, not timed
    pipeline.pose.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    for i, bgr in enumerate(frames):
        pipeline(bgr, Stamp(int((i + 1) * 1e9 / HZ), 'cam'))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pipeline.close()
    return {'fps': len(frames) / wall, 'cpu_s_per_frame': cpu / len(frames)}


def run_offline(frames, bag: Path) -> dict:
    """Write the frames to a 30 Hz MCAP bag, then time reading + decoding + the pipeline over it."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from nvb_perception.imaging import numpy_to_image_fields
    from nvb_perception.io.bag import BagReader, BagWriter
    from nvb_perception.ros.convert import time_to_msg
    from nvb_perception.ros.images import image_msg_to_bgr8
    writer = BagWriter(bag)
    writer.add_topic('/image', 'sensor_msgs/msg/Image')
    for i, bgr in enumerate(frames):
        msg = Image(**numpy_to_image_fields(bgr, 'bgr8'))
        msg.header.stamp = time_to_msg(int(i * 1e9 / HZ))
        writer.write('/image', int(i * 1e9 / HZ), serialize_message(msg))
    writer.close()
    pipeline = Pipeline.from_config(PipelineConfig(detector_tile_px=288))
    t0, n = time.perf_counter(), 0
    for record in BagReader(bag).messages(['/image']):
        msg = deserialize_message(record.raw, Image)
        pipeline(image_msg_to_bgr8(msg), Stamp(record.stamp_ns, 'cam'))
        n += 1
    wall = time.perf_counter() - t0
    pipeline.close()
    return {'frames': n, 'fps': n / wall, 'x_realtime': (n / HZ) / wall}


def run_lockstep(frames, log_dir: Path) -> dict:
    """Feed the node processes one frame at a time; CPU of the nodes per frame."""
    from sensor_msgs.msg import Image

    from nvb_perception.imaging import numpy_to_image_fields
    from nvb_perception.launcher.graph import Camera, config_file, graph_nodes
    from nvb_perception.launcher.processes import ProcessGraph, TopicListener
    from nvb_perception.ros.convert import time_to_msg
    from nvb_perception.ros.video_publisher import camera_info
    nodes = graph_nodes([Camera()], params_file=str(config_file('perception.yaml')), overrides=STAGE_PARAMS)
    msgs = []
    for i, bgr in enumerate(frames):
        msgs.append(Image(**numpy_to_image_fields(bgr, 'bgr8')))
        msgs[-1].header.stamp, msgs[-1].header.frame_id = time_to_msg(int((i + 1) * 1e9 / HZ)), 'camera_optical_frame'
    info = camera_info(SIZE[0], SIZE[1], 60.0, 'camera_optical_frame')
    with TopicListener(OUT_TOPICS) as io, ProcessGraph(nodes, log_dir) as graph:
        images, infos = io.publisher('image', 'sensor_msgs/msg/Image'), io.publisher('camera_info',
                                                                                    'sensor_msgs/msg/CameraInfo')
        if not io.wait_for_subscribers(images, 2, timeout=60):
            raise RuntimeError('graph did not start:\n' + graph.logs())
        time.sleep(2.0)                                                # let every subscription match
        pids = [n.process.pid for n in nodes]

        def step(i, msg):
            info.header = msg.header
            infos.publish(info)
            images.publish(msg)
            ok = io.wait_for('ergonomic_risk', i + 1, 30) and io.wait_for('cues', i + 1, 30)
            if not ok:
                raise RuntimeError(f'no output for frame {i}:\n' + graph.logs())
        step(0, msgs[0])                                               # warm-up
        t0, c0 = time.perf_counter(), cpu_seconds(pids)
        for i, msg in enumerate(msgs[1:], start=1):
            step(i, msg)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - c0
    n = len(msgs) - 1
    return {'fps': n / wall, 'cpu_s_per_frame': cpu / n}


def run_live(video: Path, frames: int, log_dir: Path, single_process: bool) -> dict:
    """video_publisher at 30 Hz through the graph (nvb-perception run); risk outputs/s and camera-to-risk latency."""
    import subprocess

    from nvb_perception.launcher.processes import TopicListener
    sets = [f'{node}.{k}={v}' for node, params in STAGE_PARAMS.items() for k, v in params.items()]
    sets += ['video_publisher.rate=1.0', f'video_publisher.max_frames={frames}',
             'video_publisher.wait_for_subscribers=2']
    cmd = [sys.executable, '-m', 'nvb_perception.launcher.cli', 'run', '--video', str(video), '--status', '0',
           '--log-dir', str(log_dir)] + [a for s in sets for a in ('--set', s)]
    if single_process:
        cmd.append('--single-process')
    with TopicListener(OUT_TOPICS, depth=500) as io:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=frames / HZ + 180)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
        risk = io.messages['ergonomic_risk']
    if len(risk) < 2:
        raise RuntimeError(f'live graph produced {len(risk)} risk messages; see {log_dir}')
    stamps = [m.header.stamp.sec * 1e9 + m.header.stamp.nanosec for _, m in risk]
    latency = np.array([(t_rx - s) / 1e6 for (t_rx, _), s in zip(risk, stamps)])
    span = (max(stamps) - min(stamps)) / 1e9
    return {'frames_in': frames, 'risk_msgs': len(risk), 'fps': (len(risk) - 1) / span,
            'p50_ms': float(np.percentile(latency, 50)), 'p95_ms': float(np.percentile(latency, 95)),
            'cues_msgs': len(io.messages['cues'])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    assets = Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets'))
    parser.add_argument('--video', type=Path, default=assets / 'data' / 'opencv' / 'vtest.avi')
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--out', type=Path, default=Path('out/bench_graph'))
    args = parser.parse_args(argv)
    if not args.video.exists():
        print(f'bench_graph: {args.video} not found; run `make setup`', file=sys.stderr)
        return 2
    import shutil
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    frames = load_frames(args.video, args.frames)
    video = args.out / 'vtest_640x480_30hz.avi'
    write_video(frames, video)
    print(f'{len(frames)} frames of {args.video.name} at {SIZE[0]}x{SIZE[1]}, {HZ:.0f} Hz; load average '
          f'{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores', flush=True)
    r = {'inprocess': run_inprocess(frames)}
    r['offline'] = run_offline(frames, args.out / 'frames_bag')
    r['lockstep'] = run_lockstep(frames, args.out / 'logs_lockstep')
    r['live'] = run_live(video, len(frames), args.out / 'logs_live', single_process=False)
    r['live_single'] = run_live(video, len(frames), args.out / 'logs_single', single_process=True)
    overhead = r['lockstep']['cpu_s_per_frame'] / r['inprocess']['cpu_s_per_frame'] - 1
    print(f"\n{'run':<28}{'FPS':>8}{'CPU ms/frame':>14}{'p50 ms':>9}{'p95 ms':>9}")
    print(f"{'in-process pipeline':<28}{r['inprocess']['fps']:>8.1f}{r['inprocess']['cpu_s_per_frame'] * 1e3:>14.1f}")
    print(f"{'offline bag (decode incl.)':<28}{r['offline']['fps']:>8.1f}")
    print(f"{'graph lock-step (procs)':<28}{r['lockstep']['fps']:>8.1f}{r['lockstep']['cpu_s_per_frame'] * 1e3:>14.1f}")
    for key, name in (('live', 'graph live 30 Hz (procs)'), ('live_single', 'graph live 30 Hz (1 proc)')):
        x = r[key]
        print(f"{name:<28}{x['fps']:>8.1f}{'':>14}{x['p50_ms']:>9.1f}{x['p95_ms']:>9.1f}")
    print(f"\noffline x real time {r['offline']['x_realtime']:.2f}; transport overhead (graph CPU / in-process CPU "
          f"- 1) {overhead:+.1%}; one process / processes FPS {r['live_single']['fps'] / r['live']['fps']:.2f}")
    result = {'fps_graph': round(r['live']['fps'], 2), 'p95_ms_camera_to_risk': round(r['live']['p95_ms'], 1),
              'offline_x_realtime': round(r['offline']['x_realtime'], 3), 'transport_overhead': round(overhead, 4),
              'fps_inprocess': round(r['inprocess']['fps'], 2), 'fps_graph_single_process':
              round(r['live_single']['fps'], 2), 'p95_ms_single_process': round(r['live_single']['p95_ms'], 1),
              'fps_lockstep': round(r['lockstep']['fps'], 2), 'frames': len(frames),
              'load_avg': round(os.getloadavg()[0], 2)}
    (args.out / 'result.json').write_text(json.dumps(r, indent=2))
    print('RESULT ' + json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
