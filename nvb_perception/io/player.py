"""Playing a video file, an image folder or a rosbag2 bag as a camera: settings, frames, pacing, lock-step.

The video_publisher node publishes what this module yields; everything here runs without ROS.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.errors import ConfigError
from nvb_perception.io.bag import BagReader
from nvb_perception.io.video import iter_video_frames, video_fps
from nvb_perception.params import param, validate

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
INFO_TYPE = 'sensor_msgs/msg/CameraInfo'


@dataclass(frozen=True)
class PlayerConfig:
    """What video_publisher plays and how; a field not read_only takes effect at the next frame."""

    source: str = param('', 'Video file, image folder or rosbag2 folder to play', read_only=True)
    rate: float = param(1.0, 'Playback speed: 1.0 = recorded rate, 0.0 = as fast as possible', low=0.0, high=100.0)
    loop: bool = param(False, 'Start again at the end instead of exiting')
    max_frames: int = param(0, 'Frames to publish per pass (0 = all)', low=0, high=10**9, read_only=True)
    start_frame: int = param(0, 'First frame of a video to publish', low=0, high=10**9, read_only=True)
    frame_id: str = param('camera_optical_frame', 'Optical frame of the images')
    encoding: str = param('bgr8', 'Image encoding to publish', choices=('bgr8', 'rgb8'))
    compressed: bool = param(False, 'Also publish image/compressed (JPEG)', read_only=True)
    stamp: str = param('now', "Header stamps: 'now' (clock at publish, like a camera) or 'source' (the frame's "
                       'time in the video/bag: reproducible)', choices=('now', 'source'))
    horizontal_fov_deg: float = param(60.0, 'Horizontal field of view for the nominal CameraInfo', low=1.0,
                                      high=179.0)
    wait_for_subscribers: int = param(0, 'Wait until the image topic has this many subscribers before playing',
                                      low=0, high=100, read_only=True)
    bag_topic: str = param('', 'Image topic to play from a bag (default: the first one)', read_only=True)
    reliability: str = param('reliable', 'QoS reliability of the image publisher', choices=('reliable', 'best_effort'),
                             read_only=True)
    queue_depth: int = param(10, 'Publisher history depth (frames kept for slow readers)', low=1, high=1000,
                             read_only=True)
    publish_clock: bool = param(False, "Publish /clock from the frames' times (for nodes run with "
                                'use_sim_time:=true)', read_only=True)
    wait_for_readers: tuple[str, ...] = param(('',), "Also wait until these topics of this node have that many "
                                              "subscribers, as 'topic:count' (e.g. ['camera_info:2', '/clock:4'])",
                                              read_only=True)
    wait_for: str = param('', "Lock-step: after each frame wait for one message on this topic (e.g. the last "
                          "stage's output); empty = off", read_only=True)
    wait_timeout_s: float = param(10.0, 'Lock-step: longest wait for that message', low=0.1, high=3600.0)

    def __post_init__(self):
        validate(self)
        self.readers()

    def readers(self) -> dict[str, int]:
        """wait_for_readers as {topic: count}; ConfigError for an entry that is not 'topic:count'."""
        readers = {}
        for entry in filter(None, self.wait_for_readers):
            name, _, count = entry.rpartition(':')
            if not name or not count.isdigit():
                raise ConfigError(f"parameter wait_for_readers: {entry!r} is not 'topic:count'")
            readers[name] = int(count)
        return readers

    def is_bag(self) -> bool:
        """True for a rosbag2 folder; ConfigError when the source does not exist."""
        if not self.source or not Path(self.source).exists():
            raise ConfigError(f'parameter source={self.source!r}: no such video, image folder or bag')
        return (Path(self.source) / 'metadata.yaml').exists()


def pinhole(width: int, height: int, hfov_deg: float) -> dict:
    """CameraInfo fields of a distortion-free pinhole camera with that horizontal field of view."""
    f, cx, cy = 0.5 * width / math.tan(math.radians(hfov_deg) / 2), (width - 1) / 2, (height - 1) / 2
    return {'width': width, 'height': height, 'distortion_model': 'plumb_bob', 'd': [0.0] * 5,
            'k': [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0], 'r': [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            'p': [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]}


def video_frames(config: PlayerConfig) -> Iterator[tuple[int, np.ndarray, None]]:
    """(stamp ns = the frame's time in the file, BGR pixels, None) of one pass over a video or an image folder."""
    for frame in iter_video_frames(config.source, max_frames=config.max_frames or None,
                                   fps=video_fps(config.source), start=config.start_frame):
        yield frame.stamp_ns, frame.bgr, None


@dataclass(frozen=True)
class BagImages:
    """The image topic of a bag to play, its type, and the CameraInfo topic that goes with it (or None)."""

    reader: BagReader
    topic: str
    msgtype: str
    info_topic: str | None

    @classmethod
    def open(cls, source: str, topic: str = '') -> BagImages:
        """Choose the image topic (default: the first) and its CameraInfo (the sibling, else the only one)."""
        reader = BagReader(source)
        topics = reader.topics()
        images = [t for t, ty in topics.items() if ty in IMAGE_TYPES]
        topic = topic or (images[0] if images else '')
        if topic not in images:
            raise ConfigError(f'bag {source} has no image topic {topic!r}; image topics: {images}')
        infos = [t for t, ty in topics.items() if ty == INFO_TYPE]
        sibling = topic.rsplit('/', 1)[0] + '/camera_info'
        return cls(reader, topic, topics[topic], sibling if sibling in infos else (infos[0] if len(infos) == 1
                                                                                   else None))

    def frames(self, max_frames: int = 0) -> Iterator[tuple[int, bytes, bytes | None]]:
        """(recorded stamp ns, serialized image, serialized CameraInfo or None) of one pass."""
        extra = [self.info_topic] if self.info_topic else []
        # the first CameraInfo goes with the first image even when it was recorded just after it
        info = next((r.raw for r in self.reader.messages(extra)), None) if extra else None
        count = 0
        for record in self.reader.messages([self.topic] + extra):
            if record.topic == self.info_topic:
                info = record.raw
                continue
            if max_frames and count >= max_frames:
                return
            count += 1
            yield record.stamp_ns, record.raw, info


class Pacer:
    """When a frame is due at a playback rate; a changed rate re-anchors the schedule at the next frame."""

    def __init__(self):
        self.anchor: tuple[float, int] | None = None     # (monotonic s, source stamp ns) the schedule starts at
        self.rate = None

    def due(self, stamp_ns: int, rate: float, now: float) -> bool:
        """True when the frame stamped `stamp_ns` may go at monotonic time `now` (always, for rate 0)."""
        if self.anchor is None or rate != self.rate:
            self.anchor, self.rate = (now, stamp_ns), rate
        return rate <= 0 or now >= self.anchor[0] + (stamp_ns - self.anchor[1]) / 1e9 / rate


class LockStep:
    """Lock-step playback: after each frame, wait for one answer, or until a timeout."""

    def __init__(self, on_timeout=None):
        self.answers = 0
        self.deadline: float | None = None       # monotonic time the current wait gives up; None = not waiting
        self.timeouts = 0
        self.on_timeout = on_timeout             # called with the frame count when a wait is given up

    def answered(self) -> None:
        """One message arrived on the answer topic."""
        self.answers += 1

    def sent(self, now: float, timeout_s: float) -> None:
        """A frame went out: its answer is due within timeout_s."""
        self.deadline = now + timeout_s

    def waiting(self, published: int, now: float) -> bool:
        """True while the last frame's answer is due; a wait past the deadline is counted and given up."""
        if self.deadline is None or self.answers >= published:
            self.deadline = None
            return False
        if now < self.deadline:
            return True
        self.timeouts += 1
        self.answers, self.deadline = published, None
        if self.on_timeout is not None:
            self.on_timeout(published)
        return False


class StartGate:
    """Holds the first frame until the readers are there (or 30 s passed), then a short settle."""

    def __init__(self, now: float, patience_s: float = 30.0):
        self.deadline = now + patience_s
        self.settled: float | None = None     # when the first frame may go once every reader was seen

    def expired(self, now: float) -> bool:
        """True once the wait for readers has gone on too long."""
        return now > self.deadline

    def open(self, waiting: bool, held: bool, now: float) -> bool:
        """True when the first frame may go; `held` is whether any wait_for* setting asked to wait."""
        if waiting and now < self.deadline:
            return False
        if self.settled is None:           # each side sees a match on its own, under load seconds apart
            self.settled = now + (0.5 if held else 0.0)
        return now >= self.settled
