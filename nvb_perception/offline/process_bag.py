"""Run 2D pose over every image of a rosbag2 bag; write an MCAP bag of skeletons, an overlay video and a CSV.

    nvb-process-bag camera_bag --out out/run1 [--topic /camera/image_raw]

Images keep their recorded header stamps and frame ids, so the output lines up with the input bag.
"""
import argparse
import sys
from pathlib import Path

from nvb_perception.errors import PerceptionError
from nvb_perception.offline.process_video import (
    add_pose_args,
    finish_cues,
    make_cue_recorder,
    make_estimator,
    prepare_out,
)

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def iter_bag_images(path: Path, topic: str | None):
    """(Stamp, bgr) for each image of `topic` (default: the first image topic); checks the bag at once."""
    from nvb_perception.io.bag import BagReader
    reader = BagReader(path)
    images = [t for t, ty in reader.topics().items() if ty in IMAGE_TYPES]
    topic = topic or (images[0] if images else None)
    if topic not in images:
        raise PerceptionError(f'bag {path} has no image topic {topic!r}; image topics: {images}')
    return _decode(reader, topic)


def _decode(reader, topic):
    from nvb_perception.imaging import decode_compressed, image_fields_to_bgr8
    from nvb_perception.io.bag import deserialize
    from nvb_perception.types import Stamp
    for record in reader.messages([topic]):
        msg = deserialize(record)
        stamp = Stamp(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, msg.header.frame_id)
        if record.msgtype.endswith('CompressedImage'):
            yield stamp, decode_compressed(msg.format, msg.data)
        else:
            yield stamp, image_fields_to_bgr8(msg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='nvb-process-bag', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (MCAP or sqlite3)')
    parser.add_argument('--topic', default=None, help='image topic (default: the first image topic)')
    parser.add_argument('--fps', type=float, default=30.0, help='frame rate of the overlay video')
    add_pose_args(parser)
    args = parser.parse_args(argv)
    from nvb_perception.offline.pose_run import Outputs, run
    try:
        frames = iter_bag_images(args.bag, args.topic)
        estimator = make_estimator(args)
        out = prepare_out(args)
        outputs = Outputs(out / 'skeletons_bag', out / 'overlay.mp4', out / 'skeletons.csv', args.fps, args.storage)
        cues = make_cue_recorder(args)
        summary = run(estimator, frames, outputs, progress_every=100, cue_recorder=cues)
        finish_cues(cues, out)
    except PerceptionError as error:
        print(f'nvb-process-bag: {error}', file=sys.stderr)
        return 2
    print(f'{args.bag.name}: {summary.text()}')
    print(f'wrote {out}/skeletons_bag, overlay.mp4, skeletons.csv')
    return 0


if __name__ == '__main__':
    sys.exit(main())
