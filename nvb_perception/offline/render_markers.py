"""Render the RViz markers recorded in a bag to a PNG: the camera's view and a side view, side by side.

    nvb-render-markers run1_bag --out scene.png [--topics skeleton_markers,risk_markers] [--time 12.5]

Replays the bag's MarkerArray and Marker topics (or only --topics) with RViz's rules (ADD/MODIFY replaces the
marker with the same namespace and id, DELETE, DELETEALL, lifetime counted from when the bag received it) up to
--time seconds after the bag's first message (default: the end), then draws the scene through the bag's
CameraInfo intrinsics (else a --hfov pinhole of --size) in the CameraInfo's frame. --image-topic draws the camera
view over the latest image of that topic, as RViz's Camera display does.
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from nvb_perception.errors import PerceptionError
from nvb_perception.ros.marker_scene import apply_marker, apply_marker_array
from nvb_perception.scene import MarkerScene, View, render

MARKER_ARRAY = 'visualization_msgs/msg/MarkerArray'
MARKER = 'visualization_msgs/msg/Marker'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
IMAGES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def resolve(topics: dict, names, types, what: str) -> list[str]:
    """Bag topic names for `names` (with or without the leading '/'), all checked to be of one of `types`."""
    found = []
    for name in names:
        topic = name if name in topics else '/' + name.lstrip('/')
        if topic not in topics:
            raise PerceptionError(f'the bag has no topic {name}; {what} topics: '
                                  f'{sorted(t for t, ty in topics.items() if ty in types) or "none"}')
        if topics[topic] not in types:
            raise PerceptionError(f'topic {topic} is {topics[topic]}, not {" or ".join(types)}')
        found.append(topic)
    return found


def replay(bag: Path, topics=None, time_s: float | None = None, image_topic: str | None = None,
           frame: str | None = None):
    """The marker scene at time_s after the bag's first message (None: the end).

    Returns (scene, camera_info or None, latest image or None, marker messages applied, time_s used).
    """
    from nvb_perception.io.bag import BagReader, deserialize
    reader = BagReader(bag)
    all_topics = reader.topics()
    markers = resolve(all_topics, topics, (MARKER_ARRAY, MARKER), 'marker') if topics else \
        [t for t, ty in all_topics.items() if ty in (MARKER_ARRAY, MARKER)]
    if not markers:
        raise PerceptionError(f'bag {bag} has no MarkerArray or Marker topic (topics: {sorted(all_topics)})')
    images = resolve(all_topics, [image_topic], IMAGES, 'image') if image_topic else []
    infos = [t for t, ty in all_topics.items() if ty == CAMERA_INFO]
    scene, info, image, applied, start_ns, now_ns = MarkerScene(frame or ''), None, None, 0, None, None
    for record in reader.messages(markers + images + infos):
        start_ns = record.stamp_ns if start_ns is None else start_ns
        if time_s is not None and record.stamp_ns - start_ns > time_s * 1e9:
            break
        now_ns, msg = record.stamp_ns, deserialize(record)
        if record.msgtype == CAMERA_INFO:
            scene.fixed_frame = scene.fixed_frame or msg.header.frame_id
            info = msg
        elif record.topic in images:
            image = msg
        else:
            applied += 1
            if record.msgtype == MARKER_ARRAY:
                apply_marker_array(scene, msg, now_ns * 1e-9)
            else:
                apply_marker(scene, msg, now_ns * 1e-9)
    if start_ns is None:
        raise PerceptionError(f'bag {bag} holds no messages on {", ".join(markers)}')
    t = time_s if time_s is not None else (now_ns - start_ns) * 1e-9
    scene.expire(start_ns * 1e-9 + t)
    return scene, info, image, applied, t


def camera_view(info, size, hfov_deg: float) -> View:
    """The recorded camera (calibrated CameraInfo), else a pinhole with the given field of view and size."""
    if info is not None and info.k[0] > 0 and info.width > 0:
        return View.camera((info.width, info.height), K=np.asarray(info.k, np.float64).reshape(3, 3))
    return View.camera(size, hfov_deg=hfov_deg)


def draw(scene: MarkerScene, view: View, image=None, side: bool = True) -> np.ndarray:
    """Camera view (over the image when given) and, optionally, a side view of the same height."""
    background = None
    if image is not None:
        from nvb_perception.imaging import decode_compressed, image_fields_to_bgr8
        background = decode_compressed(image.format, image.data) if hasattr(image, 'format') \
            else image_fields_to_bgr8(image)
    panels = [render(scene, view, background=background, title=f'camera view ({scene.fixed_frame or "any frame"})')]
    if side:
        height = view.size[1]
        side_view = View.side(scene.points(), (max(480, height * 5 // 3), height))
        panels.append(render(scene, side_view, title=side_view.name))
    return np.hstack(panels)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: give WIDTHxHEIGHT, e.g. 960x540') from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f'{text!r}: width and height must be 16..8192')
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='nvb-render-markers', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (MCAP or sqlite3)')
    parser.add_argument('--out', type=Path, required=True, help='PNG to write')
    parser.add_argument('--topics', type=lambda s: [t for t in s.split(',') if t],
                        help='comma-separated marker topics (default: every MarkerArray/Marker topic)')
    parser.add_argument('--time', type=float, help='seconds after the first message (default: the end)')
    parser.add_argument('--image-topic', help='draw the camera view over the latest image of this topic')
    parser.add_argument('--frame', help='fixed frame (default: the CameraInfo frame, else every frame)')
    parser.add_argument('--hfov', type=float, default=60.0, help='field of view without CameraInfo (degrees)')
    parser.add_argument('--size', type=_size, default=(960, 540), help='image size without CameraInfo')
    parser.add_argument('--no-side', action='store_true', help='only the camera view')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.bag.exists():
            raise PerceptionError(f'bag {args.bag} does not exist')
        if args.time is not None and args.time < 0:
            raise PerceptionError(f'--time {args.time}: give seconds >= 0 after the first message')
        scene, info, image, applied, t = replay(args.bag, args.topics, args.time, args.image_topic, args.frame)
        png = draw(scene, camera_view(info, args.size, args.hfov), image, side=not args.no_side)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.out), png):
            raise PerceptionError(f'cannot write {args.out} (use a .png name in a writable folder)')
    except (PerceptionError, OSError) as error:
        print(f'nvb-render-markers: {error}', file=sys.stderr)
        return 2
    except Exception as error:          # rosbags raises its own types for unreadable or corrupt bags
        if type(error).__module__.startswith('rosbags'):
            print(f'nvb-render-markers: cannot read bag {args.bag}: {error}', file=sys.stderr)
            return 2
        raise
    namespaces = sorted({ns for ns, _ in scene.markers})
    skipped = f'; {scene.other_frames} markers not in {scene.fixed_frame} skipped' if scene.other_frames else ''
    print(f'{args.bag.name}: {applied} marker messages up to t={t:.2f} s; {len(scene.markers)} markers shown '
          f'(namespaces {", ".join(namespaces) or "none"}){skipped}; wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
