"""The demo: play the real pedestrian video through the node graph over DDS and record what comes out.

    make demo                       # or: python -m nvb_perception.tools.demo --frames 150 --out out/demo

Starts `video_publisher` (Debian's opencv-doc vtest.avi, 768x576 at 10 fps), the perception nodes that are
installed, and `recorder` as separate processes in an isolated localhost-only DDS domain, writes an MCAP
bag, and prints a summary read back from that bag.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

from nvb_perception.netsafety import localhost_only_env


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    assets = Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets'))
    parser.add_argument('--video', type=Path, default=assets / 'data' / 'opencv' / 'vtest.avi')
    parser.add_argument('--frames', type=int, default=150, help='frames to play (default 150 = 15 s)')
    parser.add_argument('--rate', type=float, default=1.0, help='playback speed (1.0 = real time)')
    parser.add_argument('--out', type=Path, default=Path('out/demo'), help='output folder (replaced)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    localhost_only_env(force=True)      # before any DDS participant exists
    from nvb_perception.io.bag import BagReader
    from nvb_perception.ros.processes import NodeProcess, ProcessGraph
    if not args.video.exists():
        print(f'demo: {args.video} not found; run `make setup` first', file=sys.stderr)
        return 2
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    bag = args.out / 'demo_bag'
    topics = ['image', 'camera_info']
    recorder = NodeProcess('recorder', {'output': str(bag), 'topics': topics})
    player = NodeProcess('video_publisher', {'source': str(args.video), 'max_frames': args.frames,
                                             'rate': args.rate, 'wait_for_subscribers': 1})
    print(f'demo: playing {args.frames} frames of {args.video.name} over DDS (domain '
          f'{os.environ["ROS_DOMAIN_ID"]}, localhost only) -> {bag}')
    with ProcessGraph([recorder, player], args.out / 'logs') as graph:
        code = player.wait(args.frames / max(args.rate, 0.1) + 60)
        if code != 0:
            print(graph.logs(), file=sys.stderr)
            return 1
    counts = {}
    for record in BagReader(bag).messages():
        counts[record.topic] = counts.get(record.topic, 0) + 1
    size_mb = sum(f.stat().st_size for f in bag.iterdir()) / 1e6
    print(f'demo: bag {bag} ({size_mb:.1f} MB): ' + ', '.join(f'{t}: {n}' for t, n in sorted(counts.items())))
    return 0 if counts.get('/image', 0) == args.frames else 1


if __name__ == '__main__':
    sys.exit(main())
