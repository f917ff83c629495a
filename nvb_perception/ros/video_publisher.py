"""Play a video file, an image folder or a rosbag2 bag as a camera: sensor_msgs/Image + CameraInfo.

    video_publisher --ros-args -p source:=vtest.avi -p rate:=1.0 -p loop:=false

`rate` 1.0 plays at the recorded frame rate, 2.0 twice as fast, 0.0 as fast as possible. CameraInfo is a
nominal pinhole from `horizontal_fov_deg` (no distortion) unless the bag carries its own.
"""
import math
import time
from pathlib import Path

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nvb_perception.errors import ConfigError
from nvb_perception.imaging import encode_compressed, numpy_to_image_fields
from nvb_perception.io.bag import BagReader
from nvb_perception.io.video import iter_video_frames, video_fps
from nvb_perception.ros.convert import time_to_msg
from nvb_perception.ros.node_utils import Diagnostics, declare, run

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
        if not self.source or not Path(self.source).exists():
            raise ConfigError(f'parameter source={self.source!r}: no such video, image folder or bag')
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                         else ReliabilityPolicy.BEST_EFFORT)
        self.image_pub = self.create_publisher(Image, 'image', qos)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self.compressed_pub = self.create_publisher(CompressedImage, 'image/compressed', qos) if self.compressed \
            else None
        self.diagnostics = Diagnostics(self)
        self.published = 0
        self.done = False
        self._frames = None          # generator of (source stamp ns, publish function) for the current pass
        self._next = None
        self._t0 = None              # (wall monotonic s, source stamp ns) at the start of a pass
        self._wait_deadline = time.monotonic() + 30.0
        # a short timer keeps the executor free between frames (diagnostics, parameter services)
        self.create_timer(0.004, self._tick)

    def _tick(self):
        if self.done:
            return
        if self._frames is None:
            waiting = self.image_pub.get_subscription_count() < self.wait_subs
            if waiting and time.monotonic() < self._wait_deadline:
                return
            is_bag = (Path(self.source) / 'metadata.yaml').exists()
            self._frames = self._bag_frames() if is_bag else self._video_frames()
            self._t0 = None
        while True:
            if self._next is None:
                self._next = next(self._frames, None)
                if self._next is None:
                    return self._end_of_pass()
            stamp_ns, publish = self._next
            if self._t0 is None:
                self._t0 = (time.monotonic(), stamp_ns)
            if self.rate > 0 and time.monotonic() < self._t0[0] + (stamp_ns - self._t0[1]) / 1e9 / self.rate:
                return
            publish(stamp_ns if self.stamp_mode == 'source' else self.get_clock().now().nanoseconds)
            self.published += 1
            self.diagnostics.arrival()
            self._next = None
            if self.rate == 0:
                return   # one frame per tick so the executor stays responsive

    def _end_of_pass(self):
        if self.loop and self.published:
            self._frames = None
            return
        for pub in (self.image_pub, self.info_pub):
            pub.wait_for_all_acked(Duration(seconds=3))
        self.get_logger().info(f'published {self.published} frames from {self.source}')
        self.done = True

    def _video_frames(self):
        fps = video_fps(self.source)
        info = None
        for frame in iter_video_frames(self.source, max_frames=self.max_frames or None, fps=fps,
                                       start=self.start_frame):
            h, w = frame.bgr.shape[:2]
            info = info or camera_info(w, h, self.hfov, self.frame_id)

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
        count = 0
        for record in reader.messages([topic]):
            if self.max_frames and count >= self.max_frames:
                return
            count += 1
            # bag frames keep their recorded header; the raw CDR is published as-is
            yield record.stamp_ns, lambda _stamp, raw=record.raw: self.image_pub.publish(raw)


def main(args=None):
    """Entry point of the video_publisher executable."""
    return run(VideoPublisher, args)


if __name__ == '__main__':
    raise SystemExit(main())
