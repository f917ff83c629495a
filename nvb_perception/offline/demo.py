"""The demo: the real pedestrian video through the node graph over DDS, recorded and summarised.

    make demo            # or: python -m nvb_perception.offline.demo --frames 200 --out out/demo

Starts `video_publisher` (Debian opencv-doc's vtest.avi, 768x576 at 10 fps), `pose_node`, `lifting_node`,
`risk_node` and `recorder` as separate processes in an isolated, localhost-only DDS domain. The recorder writes
the 2D and 3D skeletons, the RULA/REBA results, camera info, diagnostics and the RViz markers to an MCAP bag
(`nvb-render-markers out/demo/demo_bag --out scene.png` draws them); this script also listens to the images
and skeletons to draw an overlay video and measure the latency from the camera stamp to the received skeletons.
Outputs: out/demo/.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

from nvb_perception.netsafety import localhost_only_env

TOPICS = {'image': 'sensor_msgs/msg/Image', 'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray'}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    assets = Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets'))
    parser.add_argument('--video', type=Path, default=assets / 'data' / 'opencv' / 'vtest.avi')
    parser.add_argument('--frames', type=int, default=200, help='frames to play (default 200 = 20 s)')
    parser.add_argument('--rate', type=float, default=1.0, help='playback speed (1.0 = real time)')
    parser.add_argument('--max-people', type=int, default=6)
    parser.add_argument('--out', type=Path, default=Path('out/demo'), help='output folder (replaced)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    localhost_only_env(force=True)      # before any DDS participant exists
    from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
    if not args.video.exists():
        print(f'demo: {args.video} not found; run `make setup` first', file=sys.stderr)
        return 2
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    bag = args.out / 'demo_bag'
    recorder = NodeProcess('recorder', {'output': str(bag),
                                        'topics': ['skeletons_2d', 'skeletons_3d', 'ergonomic_risk', 'camera_info',
                                                   '/diagnostics', 'skeleton_markers', 'risk_markers']})
    # reliable images: with Fast DDS default transports best-effort ~1 MB frames lose fragments
    # vtest's pedestrians are small: tiled detection finds them (the whole-frame detector keys on large faces)
    pose = NodeProcess('pose_node', {'max_people': args.max_people, 'image_qos': 'reliable',
                                     'detector_tile_px': 288})
    lifting, risk = NodeProcess('lifting_node'), NodeProcess('risk_node')
    player = NodeProcess('video_publisher', {'source': str(args.video), 'max_frames': args.frames,
                                             'rate': args.rate, 'wait_for_subscribers': 2})
    print(f'demo: {args.video.name}: {args.frames} frames -> video_publisher -> pose_node -> lifting_node -> '
          f'risk_node -> recorder '
          f'(DDS domain {os.environ["ROS_DOMAIN_ID"]}, localhost only)', flush=True)
    nodes = [recorder, pose, lifting, risk, player]
    with TopicListener(TOPICS) as listener, ProcessGraph(nodes, args.out / 'logs') as graph:
        code = player.wait(args.frames / max(args.rate, 0.1) + 120)
        listener.wait_for('skeletons_2d', listener.count('image'), timeout=10)
        if code != 0:
            print(graph.logs(), file=sys.stderr)
            return 1
    from nvb_perception.offline.demo_summary import summarise
    return summarise(listener.messages, bag, args.out)


if __name__ == '__main__':
    sys.exit(main())
