"""nvb-perception: run the whole perception graph with one command.

    nvb-perception run                                     # one camera publishing `image` + `camera_info`
    nvb-perception run --camera cam0=/cam0/image_raw --camera cam1=/cam1/image_raw
    nvb-perception run --video vtest.avi --record out/run1_bag --duration 60
    nvb-perception run --stages pose,lifting,risk --set pose_node.max_people=2 --single-process

Each camera gets its own namespace with pose_node, lifting_node, risk_node and cue_node (and action_node with
--stages ...,actions), parameters from the params file (default: the shipped config/perception.yaml, plus
config/cues.yaml for cue_node). Nodes run as separate processes (a crashed one is restarted with --respawn), or
all in this process with --single-process. A status table from /diagnostics is printed every --status seconds.
DDS discovery stays on this machine unless --network is given (then the environment's ROS settings apply).
Ctrl-C stops everything.
"""
import argparse
import os
import signal
import sys
import time
from pathlib import Path

from nvb_perception.errors import ConfigError, PerceptionError
from nvb_perception.netsafety import localhost_only_env
from nvb_perception.nodes import DEFAULT_STAGES, STAGES


def _value(text: str):
    """A --set value: bool, int, float, list or string, like ros2 param syntax."""
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(items: list[str]) -> dict:
    """['pose_node.max_people=2', ...] -> {'pose_node': {'max_people': 2}}."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition('=')
        node, dot, param = key.partition('.')
        if not sep or not dot or not node or not param:
            raise ConfigError(f'--set {item!r}: expected NODE.PARAM=VALUE, e.g. pose_node.max_people=2')
        out.setdefault(node, {})[param] = _value(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='nvb-perception', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help='start the graph', description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument('--camera', action='append', default=[], metavar='NS[=IMAGE_TOPIC]',
                     help='a camera: its namespace and image topic (default: one camera, no namespace, `image`)')
    run.add_argument('--video', action='append', default=[], metavar='FILE',
                     help='play a video file, image folder or bag as the camera (one per --camera, or one for all)')
    run.add_argument('--stages', default=','.join(DEFAULT_STAGES),
                     help=f'comma-separated, from {", ".join(STAGES)} (default: %(default)s)')
    run.add_argument('--params', default='', help='params file (default: the shipped config/perception.yaml)')
    run.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE', dest='overrides',
                     help='override one parameter, e.g. pose_node.max_people=2 (repeatable)')
    run.add_argument('--use-sim-time', action='store_true', help='every node uses /clock (bag replay); with --video '
                     'the player publishes /clock from the frames\' times')
    run.add_argument('--record', default='', metavar='BAG', help='record every output topic to this MCAP bag')
    run.add_argument('--record-images', action='store_true', help='also record the input images')
    run.add_argument('--single-process', action='store_true', help='all nodes in this process (one executor)')
    run.add_argument('--respawn', action='store_true', help='restart a node process that dies')
    run.add_argument('--duration', type=float, default=0.0, help='stop after this many seconds (0 = until Ctrl-C '
                     'or the end of the video)')
    run.add_argument('--status', type=float, default=5.0, help='print a status table every N s (0 = never)')
    run.add_argument('--log-dir', type=Path, default=None, help='node logs (default: log/nvb-perception/<time>)')
    run.add_argument('--network', action='store_true', help="use the environment's DDS discovery settings "
                     '(needed for cameras or consumers on other hosts); default: this machine only')
    return parser


def make_graph(args):
    """The graph's NodeProcess list from the command line."""
    from nvb_perception.launcher.graph import Camera, config_file, graph_nodes
    texts = args.camera or ['']
    videos = args.video
    if videos and len(videos) not in (1, len(texts)):
        raise ConfigError(f'{len(videos)} --video for {len(texts)} cameras: give one per camera, or one for all')
    for video in videos:
        if not Path(video).exists():
            raise ConfigError(f'--video {video}: no such file or folder')
    cameras = [Camera.parse(t, videos[min(i, len(videos) - 1)] if videos else '') for i, t in enumerate(texts)]
    params = args.params or str(config_file('perception.yaml'))
    if not Path(params).is_file():
        raise ConfigError(f'--params {params}: no such file')
    if args.record and Path(args.record).exists():
        raise ConfigError(f'--record {args.record} exists; choose a new bag folder')
    stages = tuple(s.strip() for s in args.stages.split(',') if s.strip())
    return graph_nodes(cameras, stages, params, args.use_sim_time, parse_overrides(args.overrides),
                       record=args.record, record_images=args.record_images)


def _stop(*_):
    raise KeyboardInterrupt     # SIGTERM stops the graph like Ctrl-C


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.network:
        localhost_only_env(force=True)       # before any DDS participant exists
    try:
        nodes = make_graph(args)
    except ConfigError as error:
        print(f'nvb-perception: {error}', file=sys.stderr)
        return 2
    log_dir = args.log_dir or Path('log') / 'nvb-perception' / time.strftime('%Y%m%d-%H%M%S')
    mode = 'one process' if args.single_process else 'separate processes'
    print(f'nvb-perception: {len(nodes)} nodes ({mode}): {", ".join(n.title for n in nodes)}; ROS_DOMAIN_ID='
          f'{os.environ.get("ROS_DOMAIN_ID", "0")}, '
          f'{"network discovery from the environment" if args.network else "localhost only"}; logs in {log_dir}',
          flush=True)
    signal.signal(signal.SIGTERM, _stop)
    from nvb_perception.launcher.runner import run_composed, run_processes
    try:
        if args.single_process:
            return run_composed(nodes, args)
        return run_processes(nodes, log_dir, args)
    except ConfigError as error:
        print(f'nvb-perception: {error}', file=sys.stderr)
        return 2
    except PerceptionError as error:
        print(f'nvb-perception: error: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
