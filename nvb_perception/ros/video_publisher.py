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
Parameters: PlayerConfig's fields (nvb_perception.io.player); those not read-only change the next frame.
"""
import time

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nvb_perception.errors import ConfigError
from nvb_perception.imaging import encode_compressed, numpy_to_image_fields
from nvb_perception.io.player import BagImages, LockStep, Pacer, PlayerConfig, StartGate, pinhole, video_frames
from nvb_perception.ros.convert import time_to_msg
from nvb_perception.ros.node_utils import Diagnostics, message_class, run
from nvb_perception.ros.parameters import LiveConfig, declare_config


def camera_info(width: int, height: int, hfov_deg: float, frame_id: str) -> CameraInfo:
    """A distortion-free pinhole CameraInfo with the given horizontal field of view."""
    info = CameraInfo(**pinhole(width, height, hfov_deg))
    info.header.frame_id = frame_id
    return info


class VideoPublisher(Node):
    """Publish frames of a video/folder/bag at a chosen rate, then exit (or loop)."""

    def __init__(self, **node_options):
        super().__init__('video_publisher', **node_options)
        config = declare_config(self, PlayerConfig)
        if config.publish_clock and self.get_parameter('use_sim_time').value:
            raise ConfigError('publish_clock:=true needs use_sim_time:=false: this node is the clock')
        self.is_bag = config.is_bag()
        self.live = LiveConfig(self, config)
        self.wait_readers = {self.resolve_topic_name(t): n for t, n in config.readers().items()}
        qos = QoSProfile(depth=config.queue_depth, reliability=ReliabilityPolicy.RELIABLE
                         if config.reliability == 'reliable' else ReliabilityPolicy.BEST_EFFORT)
        self.image_pub = self.create_publisher(Image, 'image', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.compressed_pub = self.create_publisher(CompressedImage, 'image/compressed', qos) \
            if config.compressed else None
        self.clock_pub = self.create_publisher(Clock, '/clock', 10) if config.publish_clock else None
        self.diagnostics = Diagnostics(self)
        self.published, self.done = 0, False
        self.pacer, self.gate = Pacer(), StartGate(time.monotonic())
        self.lockstep = LockStep(lambda n: self.diagnostics.problem('wait_for_timeouts', (
            f'no message on {self.config.wait_for} within {self.config.wait_timeout_s} s after frame {n}; playing on')))
        self._ack_sub = None          # lock-step subscription to `wait_for`
        self._clock_ns = None         # time of the last frame played (publish_clock)
        self._frames = self._next = None   # frames of this pass, the next one
        self._first_info, self._next_prime = None, 0.0   # CameraInfo repeated while the first frame is held
        # a short timer keeps the executor free between frames (diagnostics, parameter services)
        self.create_timer(0.004, self._tick)
        if self.clock_pub:
            self.create_timer(0.1, self._publish_clock)

    @property
    def config(self) -> PlayerConfig:
        """The current settings (they follow `ros2 param set`)."""
        return self.live.config

    def _start_pass(self) -> None:
        cfg = self.config
        if self.is_bag:
            bag = BagImages.open(cfg.source, cfg.bag_topic)
            if bag.msgtype != 'sensor_msgs/msg/Image' and self.image_pub.msg_type is Image:
                self.image_pub = self.create_publisher(CompressedImage, 'image/compressed', 5)
        self._frames = bag.frames(cfg.max_frames) if self.is_bag else video_frames(cfg)
        self.pacer.anchor = None
        self._next = next(self._frames, None)
        if self._next and self._first_info is None:
            stamp_ns, image, info = self._next
            self._first_info = info or (None if self.is_bag else camera_info(
                image.shape[1], image.shape[0], cfg.horizontal_fov_deg, cfg.frame_id))
        if self.clock_pub and self._next:       # sim time starts at the first frame's, before it is played
            self._clock_ns = self._next[0]
            self._publish_clock()

    def _tick(self):
        if self.done:
            return
        if self._frames is None:
            self._start_pass()
        if self.pacer.anchor is None and not self._ready():
            return
        while not self.lockstep.waiting(self.published, time.monotonic()):   # lock-step: answered or timed out
            self._next = self._next or next(self._frames, None)
            if self._next is None:
                return self._end_of_pass()
            stamp_ns = self._next[0]
            cfg = self.config
            if not self.pacer.due(stamp_ns, cfg.rate, time.monotonic()):
                return
            if self.clock_pub:
                self._clock_ns = stamp_ns
                self._publish_clock()
            # with publish_clock this node's time is the frames' time, so 'now' is the source time too
            source = cfg.stamp == 'source' or self.clock_pub
            self._publish(stamp_ns if source else self.get_clock().now().nanoseconds, *self._next[1:])
            self.published += 1
            self.diagnostics.arrival()
            self._next = None
            if self._ack_sub is not None:
                self.lockstep.sent(time.monotonic(), cfg.wait_timeout_s)
            if cfg.rate == 0:
                return   # one frame per tick so the executor stays responsive

    def _ready(self) -> bool:
        """True once every wait_for_* condition holds (subscriber counts: or 30 s passed), plus a short settle."""
        cfg = self.config
        if cfg.wait_for and self._ack_sub is None and not self._subscribe_answers(cfg.wait_for):
            return False
        pubs = {p.topic_name: p for p in (self.image_pub, self.info_pub, self.compressed_pub, self.clock_pub) if p}
        if set(self.wait_readers) - set(pubs):
            raise ConfigError(f'wait_for_readers: this node publishes {sorted(pubs)}, not '
                              f'{sorted(set(self.wait_readers) - set(pubs))}')
        waiting = self.image_pub.get_subscription_count() < cfg.wait_for_subscribers or any(
            pubs[t].get_subscription_count() < n for t, n in self.wait_readers.items())
        if self._ack_sub is not None:     # the first frame's answer must not be missed either
            waiting = waiting or self._ack_sub.get_publisher_count() == 0
        held = bool(cfg.wait_for_subscribers or self.wait_readers or cfg.wait_for)
        return self.gate.open(waiting, held, time.monotonic()) or self._prime()

    def _subscribe_answers(self, wait_for: str) -> bool:
        """Subscribe the lock-step topic once a publisher shows its type on the graph; False until then."""
        topic = self.resolve_topic_name(wait_for)
        types = dict(self.get_topic_names_and_types()).get(topic)
        if not types:
            if self.gate.expired(time.monotonic()):
                raise ConfigError(f'wait_for={wait_for!r}: no topic {topic} appeared within 30 s')
            return False
        # reliable: the nodes publish their results reliably and a lost message would stall the playback
        self._ack_sub = self.create_subscription(message_class(types[0]), topic, lambda _: self.lockstep.answered(),
                                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
                                                 raw=True)
        return True

    def _prime(self) -> bool:
        """Repeat the first CameraInfo every 0.1 s while the first frame is held (for late best-effort readers)."""
        if self._first_info is not None and time.monotonic() >= self._next_prime:
            self.info_pub.publish(self._first_info)
            self._next_prime = time.monotonic() + 0.1
        return False

    def _publish_clock(self) -> None:
        if self._clock_ns is not None:
            self.clock_pub.publish(Clock(clock=time_to_msg(self._clock_ns)))

    def _end_of_pass(self):
        if self.config.loop and self.published:
            self._frames = None
            return
        for pub in filter(None, (self.image_pub, self.info_pub, self.compressed_pub, self.clock_pub)):
            pub.wait_for_all_acked(Duration(seconds=3))     # the last frame (and its /clock) reach their readers
        missed = self.lockstep.timeouts
        self.get_logger().info(f'published {self.published} frames from {self.config.source}'
                               + (f'; {missed} lock-step waits timed out' if missed else ''))
        self.done = True

    def _publish(self, stamp_ns: int, image, info) -> None:
        """A video frame (pixels) with a nominal CameraInfo, or a bag's serialized image after its CameraInfo."""
        if isinstance(image, bytes):
            if info is not None:
                self.info_pub.publish(info)
            return self.image_pub.publish(image)
        cfg = self.config
        msg = Image(**numpy_to_image_fields(image if cfg.encoding == 'bgr8' else image[:, :, ::-1], cfg.encoding))
        msg.header.stamp, msg.header.frame_id = time_to_msg(stamp_ns), cfg.frame_id
        self.image_pub.publish(msg)
        self.info_pub.publish(CameraInfo(header=msg.header, **pinhole(image.shape[1], image.shape[0],
                                                                      cfg.horizontal_fov_deg)))
        if self.compressed_pub:
            self.compressed_pub.publish(CompressedImage(header=msg.header, format='jpeg',
                                                        data=encode_compressed(image)))


def main(args=None):
    """Entry point of the video_publisher executable."""
    return run(VideoPublisher, args)


if __name__ == '__main__':
    raise SystemExit(main())
