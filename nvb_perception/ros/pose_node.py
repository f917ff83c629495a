"""2D pose node: camera images in, every person's BlazePose skeleton out (Skeleton2DArray).

    pose_node --ros-args -r image:=/camera/image_raw -p max_people:=4 -p publish_overlay:=true

Subscribes `image` (sensor_msgs/Image, or `image/compressed` with image_transport:=compressed) with sensor-data
QoS and the optional `camera_info`. Always works on the newest frame: frames that arrive while one is being
processed are skipped and counted, so a slow machine adds no latency. Publishes `skeletons_2d` with the source
stamp and frame, an optional `overlay` image, and `/diagnostics`.
"""
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from nvb_perception.assets import model_dir
from nvb_perception.draw import draw_skeletons
from nvb_perception.errors import PerceptionError
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
from nvb_perception.ros.convert import header_from_msg, skeleton2d_frame_to_msg
from nvb_perception.ros.images import converter_name, image_msg_to_bgr8
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, NewestWorker, declare, run
from nvb_perception.types import Skeleton2DFrame
from nvb_perception_msgs.msg import Skeleton2DArray


class PoseNode(ManagedNode):
    """Publish 2D skeletons for the newest camera image."""

    def __init__(self, estimator: PoseEstimator | None = None, **node_options):
        super().__init__('pose_node', **node_options)
        transport = declare(self, 'image_transport', 'raw', 'Subscribe to raw images or image/compressed',
                            choices=('raw', 'compressed'), read_only=True)
        image_qos = declare(self, 'image_qos', 'sensor_data',
                            'QoS of the image subscription: sensor_data (best effort, matches any camera) or '
                            'reliable (lossless with a reliable camera; large best-effort images lose fragments '
                            'with Fast DDS default transports)', choices=('sensor_data', 'reliable'), read_only=True)
        self.publish_overlay = declare(self, 'publish_overlay', False, 'Publish an overlay image for RViz')
        config = PoseConfig(
            model_dir=declare(self, 'model_dir', str(model_dir()), 'Folder of the exported ONNX models',
                              read_only=True),
            landmark_variant=declare(self, 'landmark_variant', 'full', 'BlazePose landmark model',
                                     choices=('lite', 'full', 'heavy'), read_only=True),
            max_people=declare(self, 'max_people', 4, 'Most people tracked at once', low=1, high=16),
            min_detection_confidence=declare(self, 'min_detection_confidence', 0.5,
                                             'Person detector score threshold', low=0.0, high=1.0),
            min_tracking_confidence=declare(self, 'min_tracking_confidence', 0.5,
                                            'Below this pose score a track is lost and re-detected',
                                            low=0.0, high=1.0),
            smoothing=declare(self, 'smoothing', True, 'One-Euro smoothing of the landmarks per track'),
            detect_every_n_frames=declare(self, 'detect_every_n_frames', 10,
                                          'While people are tracked, look for new ones every N frames',
                                          low=1, high=10000),
            detector_tile_px=declare(self, 'detector_tile_px', 0,
                                     'Also detect in overlapping tiles of this size (0 = off): finds small, '
                                     'far-away people at a higher detector cost', low=0, high=8192),
            lost_frames=declare(self, 'lost_frames', 15, 'Frames a lost track is kept before it terminates',
                                low=0, high=100000),
            threads=declare(self, 'threads', 1, 'ONNX Runtime threads per model (0 = one per core)',
                            low=0, high=64, read_only=True) or None,
            prefer=tuple(declare(self, 'backends', ['tensorrt', 'onnxruntime'],
                                 'Runtimes to try in order (tensorrt, onnxruntime)', read_only=True)),
        )
        self.config, self.estimator = config, estimator
        self.diagnostics = Diagnostics(self)
        self.preload()                 # autostart: models open before any subscription exists
        self.diagnostics.values['image_converter'] = converter_name()
        self.publisher = self.create_publisher(Skeleton2DArray, 'skeletons_2d', 10)
        self.overlay_pub = self.create_publisher(Image, 'overlay', qos_profile_sensor_data)
        qos = qos_profile_sensor_data if image_qos == 'sensor_data' else QoSProfile(
            depth=2, reliability=ReliabilityPolicy.RELIABLE)
        if transport == 'raw':
            self.create_subscription(Image, 'image', self.on_image, qos)
        else:
            self.create_subscription(CompressedImage, 'image/compressed', self.on_image, qos)
        self.camera_info = None
        self.create_subscription(CameraInfo, 'camera_info', self.on_camera_info, qos_profile_sensor_data)
        self._last_done = None
        self._worker = NewestWorker(self.process)

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
            self.diagnostics.count('frames_dropped')
            self.diagnostics.warning = f'dropped frame: {error}'
            self.get_logger().warning(f'dropped frame: {error}', throttle_duration_sec=5.0)
            return
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
        if self.publish_overlay:
            now = time.monotonic()
            fps = 1.0 / (now - self._last_done) if self._last_done else None
            self._last_done = now
            overlay = Image(**numpy_to_image_fields(draw_skeletons(bgr, skeletons, fps), 'bgr8'))
            overlay.header = msg.header
            self.overlay_pub.publish(overlay)

    def close(self) -> None:
        """Stop the worker thread, free the models."""
        self._worker.close()
        super().close()


def main(args=None):
    """Entry point of the pose_node executable."""
    return run(PoseNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
