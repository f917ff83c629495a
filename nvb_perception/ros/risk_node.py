"""Ergonomic risk node: 3D skeletons in, RULA/REBA per person out (ErgonomicRiskArray), with exposure over time.

    risk_node --ros-args -p methods:="['RULA', 'REBA']" -p load_kg:=5.0

Subscribes `skeletons_3d` (Skeleton3DArray); publishes `ergonomic_risk` at the input rate, `risk_markers`
(text per person for RViz) and `/diagnostics`. Inputs the camera cannot see (load, coupling, support) are
parameters; every message lists what was assumed, and unobservable postures (wrists, neck twist) widen the
reported score range instead of being guessed; so do NaN/inf joints, and such skeletons are counted
(skeletons_with_missing_joints in /diagnostics).
"""
import time

import numpy as np
from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from nvb_perception.ergonomics import COUPLINGS, LOAD_PATTERNS, ExposureTracker, RebaInputs, RulaInputs
from nvb_perception.errors import ConfigError
from nvb_perception.pipeline import score_frame
from nvb_perception.ros.convert import ergonomic_risk_frame_to_msg, skeleton3d_frame_from_msg
from nvb_perception.ros.markers import delete_marker, text_marker
from nvb_perception.ros.node_utils import Diagnostics, declare, run
from nvb_perception.skeleton import H36M
from nvb_perception_msgs.msg import ErgonomicRiskArray, Skeleton3DArray

METHODS = ('RULA', 'REBA')


class RiskNode(Node):
    """Score every tracked person's posture with RULA and/or REBA."""

    def __init__(self, **node_options):
        super().__init__('risk_node', **node_options)
        methods = declare(self, 'methods', list(METHODS), 'Methods to compute (RULA, REBA)', read_only=True)
        if not methods or any(m not in METHODS for m in methods):
            raise ConfigError(f'parameter methods={methods}: each must be one of {list(METHODS)}')
        side = declare(self, 'side', 'worst', 'Arm side reported', choices=('worst', 'left', 'right'))
        load = declare(self, 'load_kg', 0.0, 'Load or force handled (not visible to the camera)', low=0.0, high=1000.0)
        pattern = declare(self, 'load_pattern', 'intermittent', 'RULA load pattern', choices=LOAD_PATTERNS)
        coupling = declare(self, 'coupling', 'good', 'REBA hand coupling', choices=COUPLINGS)
        shock = declare(self, 'shock', False, 'Shocks or rapid build-up of force')
        arm_supported = declare(self, 'arm_supported', False, 'Arm supported or person leaning')
        seated = declare(self, 'seated', False, 'The person works seated')
        up = declare(self, 'up', [0.0, -1.0, 0.0], 'World up direction in the skeleton frame (camera optical '
                     'frame: -y for a level camera)')
        self.marker_depth = declare(self, 'marker_depth_m', 3.0, 'Depth used to place markers of root-relative '
                                    'skeletons', low=0.1, high=100.0)
        if len(up) != 3 or not np.isfinite(up).all() or np.linalg.norm(up) < 1e-6:
            raise ConfigError(f'parameter up={list(up)} must be a non-zero 3-vector')
        try:
            inputs = {'RULA': RulaInputs(load_kg=load, load_pattern=pattern, shock=shock, arm_supported=arm_supported,
                                         seated=seated),
                      'REBA': RebaInputs(load_kg=load, shock=shock, coupling=coupling, arm_supported=arm_supported,
                                         seated=seated)}
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self.trackers = {m: ExposureTracker(m, inputs[m], up=tuple(up), side=side) for m in methods}
        self.publisher = self.create_publisher(ErgonomicRiskArray, 'ergonomic_risk', 10)
        self.markers = self.create_publisher(MarkerArray, 'risk_markers', 10)
        self.diagnostics = Diagnostics(self)
        self.last_stamp_ns = None
        self.create_subscription(Skeleton3DArray, 'skeletons_3d', self.on_skeletons, 10)

    def on_skeletons(self, msg: Skeleton3DArray) -> None:
        """Score each person; malformed skeletons are dropped with a throttled warning."""
        start = time.perf_counter()
        self.diagnostics.arrival()
        try:
            frame = skeleton3d_frame_from_msg(msg)
        except ValueError as error:
            return self._drop(f'malformed Skeleton3DArray: {error}')
        if self.last_stamp_ns is not None and frame.stamp.stamp_ns < self.last_stamp_ns:
            self.diagnostics.count('time_went_backwards')
            self.get_logger().warning('time went backwards: exposure timers restart', throttle_duration_sec=5.0)
        self.last_stamp_ns = frame.stamp.stamp_ns
        result = score_frame(self.trackers, frame)
        for why in result.problems:
            self._drop(why)
        # scored with a widened range, not dropped; counted so a bad upstream shows in /diagnostics
        missing = {s.track_id for _, s, _ in result.scored if not np.isfinite(s.positions).all()}
        if missing:
            self.diagnostics.count('skeletons_with_missing_joints', len(missing))
        markers = MarkerArray()
        for track_id in result.ended:
            markers.markers += [delete_marker(msg.header, f'risk/{m}', track_id) for m in self.trackers]
        rows = {}
        for method, skeleton, risk in result.scored:
            row = rows[skeleton.track_id] = rows.get(skeleton.track_id, -1) + 1
            markers.markers.append(self._label(msg.header, method, skeleton, risk, row))
        self.publisher.publish(ergonomic_risk_frame_to_msg(result.risks))
        self.diagnostics.latency(msg.header.stamp)
        if markers.markers:
            self.markers.publish(markers)
        self.diagnostics.processing_ms.append((time.perf_counter() - start) * 1e3)
        self.diagnostics.values['tracks'] = str(len(rows))

    def _label(self, header, method, skeleton, risk, row):
        head = skeleton.positions[H36M.HEAD].astype(float)
        if skeleton.root_relative:
            head = head + np.array([0.0, 0.0, self.marker_depth])
        position = head + np.array([0.0, -0.15 - 0.1 * row, 0.0])   # above the head (camera y is down)
        rng = f' ({risk.score_min}-{risk.score_max})' if risk.score_max != risk.score_min else ''
        text = f'#{skeleton.track_id} {method} {risk.score}{rng} level {risk.action_level}'
        return text_marker(header, f'risk/{method}', skeleton.track_id, position, text)

    def _drop(self, why: str) -> None:
        self.diagnostics.count('skeletons_dropped')
        self.diagnostics.warning = why
        self.get_logger().warning(why, throttle_duration_sec=5.0)


def main(args=None):
    """Entry point of the risk_node executable."""
    return run(RiskNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
