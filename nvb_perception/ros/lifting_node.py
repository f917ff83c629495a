"""3D lifting node: 2D skeletons in, root-relative 3D skeletons (metres, camera optical frame) out.

    lifting_node --ros-args -p model:=/path/lifter_temporal.onnx

Subscribes `skeletons_2d` (Skeleton2DArray) and, optionally, `camera_info`. With calibrated intrinsics the
output is in the camera optical frame with an estimated root position (root_relative=false; depth from the
lifted skeleton's metric size, see lifting/root.py). Without camera_info, or with an uncalibrated one (K all
zero), a warning says so and the output stays root-relative in the root-ray frame, which differs from the
optical frame by the angle between the optical axis and the person. Publishes `skeletons_3d` (Skeleton3DArray)
with the source stamp and frame, `skeleton_markers` (MarkerArray, RViz) and `/diagnostics`. A causal window per
track: no future frames, so latency is one model call.
"""
import time
from dataclasses import replace

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo
from visualization_msgs.msg import MarkerArray

from nvb_perception.assets import model_dir, require_file
from nvb_perception.errors import PerceptionError
from nvb_perception.lifting.lifter import Lifter, to_h36m
from nvb_perception.lifting.root import estimate_root
from nvb_perception.ros.convert import skeleton2d_frame_from_msg, skeleton3d_frame_to_msg
from nvb_perception.ros.markers import delete_marker, skeleton_marker
from nvb_perception.ros.node_utils import Diagnostics, declare, run
from nvb_perception.skeleton import H36M, H36M_CONNECTIONS
from nvb_perception.types import Skeleton3D, Skeleton3DFrame, TrackState
from nvb_perception_msgs.msg import Skeleton2DArray, Skeleton3DArray

LIVE = (TrackState.NEW, TrackState.TRACKED)


class LiftingNode(Node):
    """Lift every tracked person's 2D skeleton to 3D."""

    def __init__(self, **node_options):
        super().__init__('lifting_node', **node_options)
        model = declare(self, 'model', str(model_dir() / 'lifter_temporal.onnx'), 'Exported lifter (ONNX)',
                        read_only=True)
        self.use_camera_info = declare(self, 'use_camera_info', True,
                                       'Rotate into the optical frame with CameraInfo intrinsics when calibrated')
        self.marker_depth = declare(self, 'marker_depth_m', 3.0, 'Depth at which root-relative skeletons are '
                                    'drawn in RViz', low=0.1, high=100.0)
        backends = declare(self, 'backends', ['tensorrt', 'onnxruntime'], 'Runtimes to try in order',
                           read_only=True)
        self.lifter = Lifter.from_path(require_file(model, 'lifter model'), prefer=tuple(backends))
        self.camera_matrix = None
        self._skeleton_frames = 0
        self.publisher = self.create_publisher(Skeleton3DArray, 'skeletons_3d', 10)
        self.markers = self.create_publisher(MarkerArray, 'skeleton_markers', 10)
        self.diagnostics = Diagnostics(self)
        self.diagnostics.values['backend'] = self.lifter.backend.name
        self.create_subscription(CameraInfo, 'camera_info', self.on_camera_info, qos_profile_sensor_data)
        self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)

    def on_camera_info(self, msg: CameraInfo) -> None:
        """Keep calibrated intrinsics; an all-zero K (uncalibrated camera) is reported, not used."""
        k = np.asarray(msg.k, np.float64).reshape(3, 3)
        calibrated = k[0, 0] > 0 and k[1, 1] > 0 and np.isfinite(k).all()
        self.camera_matrix = k if calibrated and self.use_camera_info else None
        self.diagnostics.values['camera_info'] = 'calibrated' if calibrated else 'uncalibrated (K is zero)'
        if not calibrated:
            self.get_logger().warning('camera_info has no intrinsics: output stays in the root-ray frame',
                                      throttle_duration_sec=30.0)

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        """Lift the live tracks; pass LOST/TERMINATED notices through so consumers can end their tracks."""
        start = time.perf_counter()
        self.diagnostics.arrival()
        try:
            frame = skeleton2d_frame_from_msg(msg)
            live = [s for s in frame.skeletons if s.track_state in LIVE and _finite(s)]
            lifted = {}
            for s2, s3 in zip(live, self.lifter(live, camera_matrix=self.camera_matrix)):
                lifted[s2.track_id] = s3 if self.camera_matrix is None else self._place(s3, s2)
            if self.camera_matrix is None and self.camera_info_missing():
                self.get_logger().warning('no camera_info received: 3D skeletons stay root-relative, in the '
                                          'root-ray frame', throttle_duration_sec=30.0)
        except (ValueError, PerceptionError) as error:
            self.diagnostics.count('frames_dropped')
            self.diagnostics.warning = f'dropped skeletons: {error}'
            self.get_logger().warning(f'dropped skeletons: {error}', throttle_duration_sec=5.0)
            return
        out, markers = [], MarkerArray()
        for s in frame.skeletons:
            if s.track_id in lifted:
                s3 = lifted[s.track_id]
                markers.markers.append(self._marker(msg.header, s3))
            else:
                s3 = Skeleton3D(np.zeros((len(H36M), 3)), np.zeros(len(H36M)), track_id=s.track_id,
                                track_state=s.track_state)
                if s.track_state == TrackState.TERMINATED:
                    self.lifter.reset(s.track_id)
                    markers.markers.append(delete_marker(msg.header, 'skeleton_3d', s.track_id))
            out.append(s3)
        self.publisher.publish(skeleton3d_frame_to_msg(Skeleton3DFrame(frame.stamp, tuple(out))))
        self.diagnostics.latency(msg.header.stamp)
        if markers.markers:
            self.markers.publish(markers)
        self.diagnostics.processing_ms.append((time.perf_counter() - start) * 1e3)
        self.diagnostics.values['tracks'] = str(len(lifted))

    def _place(self, s3: Skeleton3D, s2) -> Skeleton3D:
        """Add the estimated root position (scale assumption: lifting/root.py) when enough joints are seen."""
        keypoints, confidence = to_h36m(s2)
        root = estimate_root(s3.positions, keypoints, confidence, self.camera_matrix)
        if root is None:
            return s3
        return replace(s3, positions=s3.positions + root.astype(np.float32), root_relative=False)

    def camera_info_missing(self) -> bool:
        """True once skeletons have flowed for a few seconds without any CameraInfo."""
        self._skeleton_frames += 1
        return 'camera_info' not in self.diagnostics.values and self._skeleton_frames > 30

    def _marker(self, header, s: Skeleton3D):
        offset = np.array([0.0, 0.0, self.marker_depth]) if s.root_relative else np.zeros(3)
        return skeleton_marker(header, 'skeleton_3d', s.track_id, s.positions + offset, H36M_CONNECTIONS,
                               s.confidence)

    def close(self) -> None:
        """Free the model."""
        self.lifter.close()


def _finite(s) -> bool:
    """NaN/inf keypoints make a skeleton unusable (counted as not live, passed through as a notice)."""
    return bool(np.isfinite(s.keypoints).all() and np.isfinite(s.confidence).all())


def main(args=None):
    """Entry point of the lifting_node executable."""
    return run(LiftingNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
