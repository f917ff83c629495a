"""2D pose node: camera images in, every person's BlazePose skeleton out (Skeleton2DArray).

    pose_node --ros-args -r image:=/camera/image_raw -p max_people:=4 -p publish_overlay:=true

Subscribes `image` (sensor_msgs/Image, or `image/compressed` with image_transport:=compressed) with sensor-data
QoS and the optional `camera_info`. Always works on the newest frame: frames that arrive while one is being
processed are skipped and counted, so a slow machine adds no latency. Publishes `skeletons_2d` with the source
stamp and frame, an optional `overlay` image, and `/diagnostics`. Parameters: PoseConfig's fields (live unless
read-only), ImageInput's and OverlayConfig's.
"""
import time

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo

from nvb_perception.assets import model_dir
from nvb_perception.draw import OverlayConfig, draw_skeletons
from nvb_perception.errors import PerceptionError
from nvb_perception.pose2d.config import PoseConfig
from nvb_perception.pose2d.estimator import PoseEstimator
from nvb_perception.ros.convert import header_from_msg, skeleton2d_frame_to_msg
from nvb_perception.ros.images import ImageInput, converter_name, image_msg_to_bgr8, subscribe_image
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, NewestWorker, OverlayPublisher, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.types import Skeleton2DFrame
from nvb_perception_msgs.msg import Skeleton2DArray


class PoseNode(ManagedNode):
    """Publish 2D skeletons for the newest camera image."""

    def __init__(self, estimator: PoseEstimator | None = None, **node_options):
        super().__init__('pose_node', **node_options)
        image_input = declare_config(self, ImageInput)
        overlay = LiveConfig(self, declare_config(self, OverlayConfig), self._show_overlay)
        self.overlay = OverlayPublisher(self, overlay.config.publish_overlay)
        self.live = LiveConfig(self, declare_config(self, PoseConfig, model_dir=str(model_dir())), self._reconfigure)
        self.estimator = estimator
        self.diagnostics = Diagnostics(self)
        self.preload()                 # autostart: models open before any subscription exists
        self.diagnostics.values['image_converter'] = converter_name()
        self.publisher = self.create_publisher(Skeleton2DArray, 'skeletons_2d', 10)
        subscribe_image(self, image_input, self.on_image)
        self.camera_info = None
        self.create_subscription(CameraInfo, 'camera_info', self.on_camera_info, qos_profile_sensor_data)
        self._last_done = None
        self._worker = NewestWorker(self.process)

    @property
    def config(self) -> PoseConfig:
        """The stage's current settings (they follow `ros2 param set`)."""
        return self.live.config

    def _show_overlay(self, config: OverlayConfig) -> None:
        self.overlay.enabled = config.publish_overlay

    def _reconfigure(self, config: PoseConfig) -> None:
        if self.estimator is not None:
            self.estimator.reconfigure(config)

    def load_models(self) -> None:
        """Open the detector and landmark models (configure)."""
        self.estimator = self.estimator or PoseEstimator.from_config(self.config)
        self.diagnostics.values['backend'] = self.estimator.backend_name

    def free_models(self) -> None:
        """Release them (cleanup); tracks start over after the next configure."""
        estimator, self.estimator = self.estimator, None
        estimator.close()

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Keep the newest calibration (reported in diagnostics; pixels need no intrinsics)."""
        self.camera_info = msg
        self.diagnostics.values['camera_info'] = f'{msg.width}x{msg.height} {msg.distortion_model or "none"}'

    def on_image(self, msg) -> None:
        """Hand the newest frame to the worker; a frame still waiting is replaced and counted as skipped."""
        self.diagnostics.arrival()
        if not self.accepting():
            return
        if self._worker.offer(msg):
            self.diagnostics.count('frames_skipped')

    def process(self, msg) -> None:
        """Decode, estimate, publish; bad frames are dropped with a throttled warning."""
        start = time.perf_counter()
        stamp = header_from_msg(msg.header)
        estimator = self.estimator
        if estimator is None:          # cleaned up while the frame waited
            return
        try:
            bgr = image_msg_to_bgr8(msg)
            result = estimator(bgr, stamp.stamp_ns)
        except PerceptionError as error:
            return self.diagnostics.problem('frames_dropped', f'dropped frame: {error}')
        if result.time_reset:
            self.diagnostics.count('time_went_backwards')
        for note in result.warnings:
            self.diagnostics.count('warnings')
            self.get_logger().warning(note, throttle_duration_sec=5.0)
        skeletons = tuple(p.skeleton for p in result.people)
        frame = Skeleton2DFrame(stamp=stamp, image_size=(bgr.shape[1], bgr.shape[0]), skeletons=skeletons)
        self.publisher.publish(skeleton2d_frame_to_msg(frame))
        self.diagnostics.latency(msg.header.stamp)
        self.diagnostics.processing_ms.append((time.perf_counter() - start) * 1e3)
        self.diagnostics.values['tracks'] = str(sum(1 for s in skeletons if s.track_state <= 1))
        if self.overlay.wanted():
            now = time.monotonic()
            fps = 1.0 / (now - self._last_done) if self._last_done else None
            self._last_done = now
            self.overlay.publish(draw_skeletons(bgr, skeletons, fps), msg.header)

    def close(self) -> None:
        """Stop the worker thread, free the models."""
        self._worker.close()
        super().close()


def main(args=None):
    """Entry point of the pose_node executable."""
    return run(PoseNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
