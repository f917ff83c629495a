"""3D lifting node: 2D skeletons in, root-relative 3D skeletons (metres, camera optical frame) out.

    lifting_node --ros-args -p model:=/path/lifter_temporal.onnx

Subscribes `skeletons_2d` (Skeleton2DArray) and, optionally, `camera_info`. With calibrated intrinsics the
output is in the camera optical frame with an estimated root position (root_relative=false; depth from the
lifted skeleton's metric size, see lifting/root.py). Without camera_info, or with an uncalibrated one (K all
zero), or one whose size differs from the skeletons' image size, a warning says so and the output stays
root-relative in the root-ray frame, which differs from the optical frame by the angle between the optical axis
and the person. Unusable skeletons (NaN/inf keypoints, an unknown joint set or joint count) are passed through
with zero confidence and counted; a stamp going backwards restarts every track's window. Publishes
`skeletons_3d` (Skeleton3DArray) with the source stamp and frame, `skeleton_markers` (MarkerArray, RViz) and
`/diagnostics`. A causal window per track: no future frames, so latency is one model call. Parameters:
LiftingConfig's and MarkerConfig's fields (use_camera_info and marker_depth_m live, model and backends only
at start). Keypoints are undistorted with the CameraInfo's lens model first (plumb_bob, rational_polynomial,
equidistant; another name is warned about once and ignored). With use_depth, a registered depth image
(`depth/image_rect_raw`, nearest stamp) sets each root depth and lowers the confidence of joints it contradicts
(lifting/depth.py).
"""
import time

import numpy as np
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import MarkerArray

from nvb_perception.assets import model_dir, require_file
from nvb_perception.draw import MarkerConfig
from nvb_perception.errors import PerceptionError
from nvb_perception.lifting.config import LiftingConfig
from nvb_perception.lifting.lifter import Lifter
from nvb_perception.pipeline import lift_frame
from nvb_perception.ros.convert import camera_model_from_msg, skeleton2d_frame_from_msg, skeleton3d_frame_to_msg
from nvb_perception.ros.depth_input import DepthInput
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.markers import delete_marker, skeleton_marker
from nvb_perception.ros.node_utils import Diagnostics, StampOrder, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.skeleton import H36M_CONNECTIONS, skeleton2d_problem
from nvb_perception.types import Skeleton3D, TrackState
from nvb_perception_msgs.msg import Skeleton2DArray, Skeleton3DArray

JOINT_SETS = ('blazepose33', 'h36m17')          # what the lifter takes


class LiftingNode(ManagedNode):
    """Lift every tracked person's 2D skeleton to 3D."""

    def __init__(self, lifter: Lifter | None = None, **node_options):
        super().__init__('lifting_node', **node_options)
        default_model = str(model_dir() / 'lifter_temporal.onnx')
        self.live = LiveConfig(self, declare_config(self, LiftingConfig, model=default_model))
        self.display = LiveConfig(self, declare_config(self, MarkerConfig))
        self.lifter = lifter
        self.camera_matrix = None          # calibrated K of the newest CameraInfo, None if uncalibrated
        self.camera_size = (0, 0)          # (width, height) of the CameraInfo; 0 = not given
        self.camera_model = None           # K and lens distortion of the newest calibrated CameraInfo
        self._unknown_models = set()       # distortion models warned about
        self._camera_info_received = False
        self._skeleton_frames = 0
        self.publisher = self.create_publisher(Skeleton3DArray, 'skeletons_3d', 10)
        self.markers = self.create_publisher(MarkerArray, 'skeleton_markers', 10)
        self.diagnostics = Diagnostics(self)
        self.stamps = StampOrder(self.diagnostics, 'every track restarts')
        self.preload()                 # autostart: models open before any subscription exists
        self.diagnostics.values['camera_info'] = 'none received'
        self.create_subscription(CameraInfo, 'camera_info', self.on_camera_info, qos_profile_sensor_data)
        self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)
        self.depth = DepthInput(self, self.config, self.diagnostics) if self.config.use_depth else None

    @property
    def config(self) -> LiftingConfig:
        """The stage's current settings (they follow `ros2 param set`)."""
        return self.live.config

    def load_models(self) -> None:
        """Open the lifter (configure)."""
        model = self.config.model
        self.lifter = self.lifter or Lifter.from_path(require_file(model, 'lifter model'), prefer=self.config.backends)
        self.diagnostics.values['backend'] = self.lifter.backend.name

    def free_models(self) -> None:
        """Release it (cleanup); every track's window starts over."""
        lifter, self.lifter = self.lifter, None
        lifter.close()

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Keep calibrated intrinsics; an all-zero K (uncalibrated camera) is reported, not used."""
        camera = camera_model_from_msg(msg)
        calibrated = camera is not None
        self.camera_model, self.camera_matrix = camera, (camera.k if calibrated else None)
        if calibrated and not camera.known and camera.distortion_model not in self._unknown_models:
            self._unknown_models.add(camera.distortion_model)
            self.get_logger().warning(f'unknown distortion model {camera.distortion_model!r}: keypoints are '
                                      'used as they are (not undistorted)')
        self.camera_size = (msg.width, msg.height)
        self._camera_info_received = True
        self.diagnostics.values['camera_info'] = 'calibrated' if calibrated else 'uncalibrated (K is zero)'
        if not calibrated:
            self.get_logger().warning('camera_info has no intrinsics: output stays in the root-ray frame',
                                      throttle_duration_sec=30.0)

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        """Lift the live tracks; pass LOST/TERMINATED notices through so consumers can end their tracks."""
        start = time.perf_counter()
        self.diagnostics.arrival()
        if not self.accepting():
            return
        try:
            frame2d = skeleton2d_frame_from_msg(msg)
            if self.stamps.went_back(frame2d.stamp.stamp_ns):
                self.lifter.reset()            # windows must not mix times
            k = self._camera_matrix_for(frame2d.image_size)
            depth = self.depth.for_frame(frame2d.stamp.stamp_ns, frame2d.image_size, self.config) \
                if self.depth is not None and k is not None else None
            frame, lifted = lift_frame(self.lifter, frame2d, k, usable=self._usable, depth=depth)
            if self.depth is not None:
                self.depth.report(depth)
            if k is None and self.camera_info_missing():
                self.get_logger().warning('no camera_info received: 3D skeletons stay root-relative, in the '
                                          'root-ray frame', throttle_duration_sec=30.0)
        except (ValueError, PerceptionError) as error:
            return self.diagnostics.problem('frames_dropped', f'dropped skeletons: {error}')
        markers = MarkerArray()
        for s3 in frame.skeletons:
            if s3.track_id in lifted:
                markers.markers.append(self._marker(msg.header, s3))
            elif s3.track_state == TrackState.TERMINATED:
                markers.markers.append(delete_marker(msg.header, 'skeleton_3d', s3.track_id))
        self.publisher.publish(skeleton3d_frame_to_msg(frame))
        self.diagnostics.latency(msg.header.stamp)
        if markers.markers:
            self.markers.publish(markers)
        self.diagnostics.processing_ms.append((time.perf_counter() - start) * 1e3)
        self.diagnostics.values['tracks'] = str(len(lifted))

    def _usable(self, s) -> bool:
        """A live skeleton the lifter can take; others are counted and passed through with zero confidence."""
        why = skeleton2d_problem(s, JOINT_SETS)
        if not why:
            return True
        self.diagnostics.problem('skeletons_dropped', f'skeleton of track {s.track_id} dropped: {why}')
        return False

    def _camera_matrix_for(self, image_size):
        """The CameraModel (K, distortion) when in use and it belongs to the skeletons' image; else None (counted)."""
        if self.camera_matrix is None or not self.config.use_camera_info:
            return None
        known = all(image_size) and all(self.camera_size)
        if not known or tuple(image_size) == tuple(self.camera_size):
            return self.camera_model
        self.diagnostics.problem('camera_info_size_mismatch', f'camera_info is for {self.camera_size[0]}x'
                                 f'{self.camera_size[1]} but the skeletons are from {image_size[0]}x{image_size[1]} '
                                 'images: output stays root-relative')
        return None

    def camera_info_missing(self) -> bool:
        """True once skeletons have flowed for a few seconds without any CameraInfo."""
        self._skeleton_frames += 1
        return not self._camera_info_received and self._skeleton_frames > 30

    def _marker(self, header, s: Skeleton3D):
        offset = np.array([0.0, 0.0, self.display.config.marker_depth_m]) if s.root_relative else np.zeros(3)
        return skeleton_marker(header, 'skeleton_3d', s.track_id, s.positions + offset, H36M_CONNECTIONS,
                               s.confidence)


def main(args=None):
    """Entry point of the lifting_node executable."""
    return run(LiftingNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
