"""Play a video file, an image folder or a rosbag2 bag as a camera: sensor_msgs/Image + CameraInfo.

    video_publisher --ros-args -p source:=vtest.avi -p rate:=1.0 -p loop:=false

`rate` 1.0 plays at the recorded frame rate, 2.0 twice as fast, 0.0 as fast as possible. A video gets a nominal
pinhole CameraInfo from `horizontal_fov_deg` (no distortion); a bag plays its own CameraInfo (the `camera_info`
next to the image topic, else its only one), published before each image, and keeps its recorded image headers.

Replay with sim time (what `ros2 bag play --clock` does): `publish_clock:=true` publishes /clock with each frame's
time (video: its time in the file, which then also stamps the images; bag: the time it was recorded) before the
frame, and every 0.1 s for late joiners; run the other nodes with use_sim_time:=true (and wait for them with
`wait_for_readers:="['/clock:N']"`, so none starts on time zero). Lock-step: `wait_for:=topic` plays the next frame
only after one message arrived on that topic (the last stage's output), so no stage skips a frame however fast the
playback (a miss after `wait_timeout_s` is counted and playback goes on). While a wait_for* parameter holds the
first frame back, its CameraInfo is repeated every 0.1 s, so best-effort readers that match late still have it.
"""
import math
import time
from pathlib import Path

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nvb_perception.errors import ConfigError
from nvb_perception.imaging import encode_compressed, numpy_to_image_fields
from nvb_perception.io.bag import BagReader
from nvb_perception.io.video import iter_video_frames, video_fps
from nvb_perception.ros.convert import time_to_msg
from nvb_perception.ros.node_utils import Diagnostics, declare, message_class, run

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def camera_info(width: int, height: int, hfov_deg: float, frame_id: str) -> CameraInfo:
    """A distortion-free pinhole CameraInfo with the given horizontal field of view."""
    f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob', d=[0.0] * 5)
    info.k = [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.frame_id = frame_id
    return info


class VideoPublisher(Node):
    """Publish frames of a video/folder/bag at a chosen rate, then exit (or loop)."""

    def __init__(self, **node_options):
        super().__init__('video_publisher', **node_options)
        self.source = declare(self, 'source', '', 'Video file, image folder or rosbag2 folder to play',
                              read_only=True)
        self.rate = declare(self, 'rate', 1.0, 'Playback speed: 1.0 = recorded rate, 0.0 = as fast as possible',
                            low=0.0, high=100.0)
        self.loop = declare(self, 'loop', False, 'Start again at the end instead of exiting')
        self.max_frames = declare(self, 'max_frames', 0, 'Frames to publish per pass (0 = all)', low=0, high=10**9)
        self.start_frame = declare(self, 'start_frame', 0, 'First frame of a video to publish', low=0, high=10**9)
        self.frame_id = declare(self, 'frame_id', 'camera_optical_frame', 'Optical frame of the images')
        self.encoding = declare(self, 'encoding', 'bgr8', 'Image encoding to publish', choices=('bgr8', 'rgb8'))
        self.compressed = declare(self, 'compressed', False, 'Also publish image/compressed (JPEG)')
        self.stamp_mode = declare(self, 'stamp', 'now', "Header stamps: 'now' (clock at publish, like a camera) "
                                  "or 'source' (the frame's time in the video/bag: reproducible)",
                                  choices=('now', 'source'))
        self.hfov = declare(self, 'horizontal_fov_deg', 60.0, 'Horizontal field of view for the nominal CameraInfo',
                            low=1.0, high=179.0)
        self.wait_subs = declare(self, 'wait_for_subscribers', 0,
                                 'Wait until the image topic has this many subscribers before playing', low=0,
                                 high=100)
        self.bag_topic = declare(self, 'bag_topic', '', 'Image topic to play from a bag (default: the first one)')
        reliability = declare(self, 'reliability', 'reliable', 'QoS reliability of the image publisher',
                              choices=('reliable', 'best_effort'))
        depth = declare(self, 'queue_depth', 10, 'Publisher history depth (frames kept for slow readers)',
                        low=1, high=1000)
        self.publish_clock = declare(self, 'publish_clock', False, "Publish /clock from the frames' times (for "
                                     'nodes run with use_sim_time:=true)', read_only=True)
        readers = declare(self, 'wait_for_readers', [''], "Also wait until these topics of this node have that "
                          "many subscribers, as 'topic:count' (e.g. ['camera_info:2', '/clock:4'])", read_only=True)
        self.wait_readers = {}
        for entry in filter(None, readers):
            name, _, count = entry.rpartition(':')
            if not name or not count.isdigit():
                raise ConfigError(f"parameter wait_for_readers: {entry!r} is not 'topic:count'")
            self.wait_readers[self.resolve_topic_name(name)] = int(count)
        self.wait_for = declare(self, 'wait_for', '', 'Lock-step: after each frame wait for one message on this '
                                "topic (e.g. the last stage's output); empty = off", read_only=True)
        self.wait_timeout = declare(self, 'wait_timeout_s', 10.0, 'Lock-step: longest wait for that message',
                                    low=0.1, high=3600.0)
        if self.publish_clock and self.get_parameter('use_sim_time').value:
            raise ConfigError('publish_clock:=true needs use_sim_time:=false: this node is the clock')
        if not self.source or not Path(self.source).exists():
            raise ConfigError(f'parameter source={self.source!r}: no such video, image folder or bag')
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                         else ReliabilityPolicy.BEST_EFFORT)
        self.image_pub = self.create_publisher(Image, 'image', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.compressed_pub = self.create_publisher(CompressedImage, 'image/compressed', qos) if self.compressed \
            else None
        self.clock_pub = self.create_publisher(Clock, '/clock', 10) if self.publish_clock else None
        self.diagnostics = Diagnostics(self)
        self.published = 0
        self._clock_ns = None        # time of the last frame played (publish_clock)
        self._ack_sub = None         # lock-step subscription to `wait_for`
        self._acks = 0
        self._ack_deadline = None    # monotonic time the current lock-step wait gives up; None = not waiting
        self.done = False
        self._frames = None          # generator of (source stamp ns, publish function) for the current pass
        self._next = None
        self._t0 = None              # (wall monotonic s, source stamp ns) at the start of a pass
        self._wait_deadline = time.monotonic() + 30.0
        self._settled = None          # monotonic time the first frame may go once every reader was seen
        self._first_info = None       # CameraInfo of the first frame, repeated while the first frame is held
        self._next_prime = 0.0
        # a short timer keeps the executor free between frames (diagnostics, parameter services)
        self.create_timer(0.004, self._tick)
        if self.clock_pub:
            self.create_timer(0.1, self._publish_clock)

    def _tick(self):
        if self.done:
            return
        if self._frames is None:
            is_bag = (Path(self.source) / 'metadata.yaml').exists()
            self._frames = self._bag_frames() if is_bag else self._video_frames()
            self._t0 = None
            self._next = next(self._frames, None)
            if self.clock_pub and self._next:       # sim time starts at the first frame's, before it is played
                self._clock_ns = self._next[0]
                self._publish_clock()
        if self._t0 is None and not self._ready():
            return
        while True:
            if not self._acked():
                return
            if self._next is None:
                self._next = next(self._frames, None)
                if self._next is None:
                    return self._end_of_pass()
            stamp_ns, publish = self._next
            if self._t0 is None:
                self._t0 = (time.monotonic(), stamp_ns)
            if self.rate > 0 and time.monotonic() < self._t0[0] + (stamp_ns - self._t0[1]) / 1e9 / self.rate:
                return
            if self.clock_pub:
                self._clock_ns = stamp_ns
                self._publish_clock()
            # with publish_clock this node's time is the frames' time, so 'now' is the source time too
            source = self.stamp_mode == 'source' or self.clock_pub
            publish(stamp_ns if source else self.get_clock().now().nanoseconds)
            self.published += 1
            self.diagnostics.arrival()
            self._next = None
            if self._ack_sub is not None:
                self._ack_deadline = time.monotonic() + self.wait_timeout
            if self.rate == 0:
                return   # one frame per tick so the executor stays responsive

    def _ready(self) -> bool:
        """True once every wait_for_* condition holds (subscriber counts: or 30 s passed), plus a short settle.

        The wait_for subscription takes its type from the graph, so it is made once a publisher shows up.
        """
        if self.wait_for and self._ack_sub is None:
            topic = self.resolve_topic_name(self.wait_for)
            types = dict(self.get_topic_names_and_types()).get(topic)
            if not types:
                if time.monotonic() > self._wait_deadline:
                    raise ConfigError(f'wait_for={self.wait_for!r}: no topic {topic} appeared within 30 s')
                return False
            # reliable: the nodes publish their results reliably and a lost message would stall the playback
            self._ack_sub = self.create_subscription(message_class(types[0]), topic, self._on_ack,
                                                     QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
                                                     raw=True)
        pubs = {p.topic_name: p for p in (self.image_pub, self.info_pub, self.compressed_pub, self.clock_pub) if p}
        if set(self.wait_readers) - set(pubs):
            raise ConfigError(f'wait_for_readers: this node publishes {sorted(pubs)}, not '
                              f'{sorted(set(self.wait_readers) - set(pubs))}')
        waiting = self.image_pub.get_subscription_count() < self.wait_subs or any(
            pubs[t].get_subscription_count() < n for t, n in self.wait_readers.items())
        if self._ack_sub is not None:     # the first frame's answer must not be missed either
            waiting = waiting or self._ack_sub.get_publisher_count() == 0
        now = time.monotonic()
        if waiting and now < self._wait_deadline:
            return self._prime()
        if self._settled is None:         # each side sees a match on its own, under load seconds apart
            self._settled = now + (0.5 if self.wait_subs or self.wait_readers or self.wait_for else 0.0)
        return now >= self._settled or self._prime()

    def _prime(self) -> bool:
        """Publish the first frame's CameraInfo every 0.1 s while the first frame is held, and return False.

        A best-effort reader (the nodes' camera_info) that matches late loses what was sent before; this way it
        still has the calibration before the first image, so the first frame is processed like the others.
        """
        if self._first_info is not None and time.monotonic() >= self._next_prime:
            self.info_pub.publish(self._first_info)
            self._next_prime = time.monotonic() + 0.1
        return False

    def _on_ack(self, _raw) -> None:
        self._acks += 1

    def _acked(self) -> bool:
        """Lock-step: True once the last frame's message arrived on wait_for, or its wait timed out."""
        if self._ack_deadline is None or self._acks >= self.published:
            self._ack_deadline = None
            return True
        if time.monotonic() < self._ack_deadline:
            return False
        self.diagnostics.count('wait_for_timeouts')
        self.get_logger().warning(f'no message on {self.wait_for} within {self.wait_timeout} s after frame '
                                  f'{self.published}; playing on', throttle_duration_sec=5.0)
        self._acks, self._ack_deadline = self.published, None
        return True

    def _publish_clock(self) -> None:
        if self._clock_ns is not None:
            self.clock_pub.publish(Clock(clock=time_to_msg(self._clock_ns)))

    def _end_of_pass(self):
        if self.loop and self.published:
            self._frames = None
            return
        for pub in (self.image_pub, self.info_pub):
            pub.wait_for_all_acked(Duration(seconds=3))
        missed = self.diagnostics.counters.get('wait_for_timeouts', 0)
        self.get_logger().info(f'published {self.published} frames from {self.source}'
                               + (f'; {missed} lock-step waits timed out' if missed else ''))
        self.done = True

    def _video_frames(self):
        fps = video_fps(self.source)
        info = None
        for frame in iter_video_frames(self.source, max_frames=self.max_frames or None, fps=fps,
                                       start=self.start_frame):
            h, w = frame.bgr.shape[:2]
            info = info or camera_info(w, h, self.hfov, self.frame_id)
            self._first_info = self._first_info or info

            def publish(stamp_ns, frame=frame, info=info):
                pixels = frame.bgr if self.encoding == 'bgr8' else frame.bgr[:, :, ::-1]
                msg = Image(**numpy_to_image_fields(pixels, self.encoding))
                msg.header.stamp = time_to_msg(stamp_ns)
                msg.header.frame_id = self.frame_id
                info.header.stamp = msg.header.stamp
                self.image_pub.publish(msg)
                self.info_pub.publish(info)
                if self.compressed_pub:
                    self.compressed_pub.publish(CompressedImage(header=msg.header, format='jpeg',
                                                                data=encode_compressed(frame.bgr)))
            yield frame.stamp_ns, publish

    def _bag_frames(self):
        reader = BagReader(self.source)
        topics = reader.topics()
        images = [t for t, ty in topics.items() if ty in IMAGE_TYPES]
        topic = self.bag_topic or (images[0] if images else '')
        if topic not in images:
            raise ConfigError(f'bag {self.source} has no image topic {topic!r}; image topics: {images}')
        if topics[topic] != 'sensor_msgs/msg/Image':
            self.image_pub = self.create_publisher(CompressedImage, 'image/compressed', 5)
        infos = [t for t, ty in topics.items() if ty == 'sensor_msgs/msg/CameraInfo']
        sibling = topic.rsplit('/', 1)[0] + '/camera_info'
        info_topic = sibling if sibling in infos else (infos[0] if len(infos) == 1 else None)
        # the first CameraInfo goes with the first image even when it was recorded just after it
        info = next((r.raw for r in reader.messages([info_topic])), None) if info_topic else None
        count = 0
        for record in reader.messages([topic] + ([info_topic] if info_topic else [])):
            if record.topic == info_topic:
                info = record.raw
                continue
            if self.max_frames and count >= self.max_frames:
                return
            count += 1
            # bag frames keep their recorded header; the raw CDR is published as-is
            self._first_info = self._first_info or info
            yield record.stamp_ns, lambda _stamp, raw=record.raw, info=info: self._publish_raw(raw, info)

    def _publish_raw(self, image: bytes, info: bytes | None) -> None:
        if info is not None:
            self.info_pub.publish(info)
        self.image_pub.publish(image)


def main(args=None):
    """Entry point of the video_publisher executable."""
    return run(VideoPublisher, args)


if __name__ == '__main__':
    raise SystemExit(main())
