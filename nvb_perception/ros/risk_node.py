"""Ergonomic risk node: 3D skeletons in, RULA/REBA per person out (ErgonomicRiskArray), with exposure over time.

    risk_node --ros-args -p methods:="['RULA', 'REBA']" -p load_kg:=5.0

Subscribes `skeletons_3d` (Skeleton3DArray); publishes `ergonomic_risk` at the input rate, `risk_markers`
(text per person for RViz) and `/diagnostics`. Inputs the camera cannot see (load, coupling, support) are
parameters; every message lists what was assumed, and unobservable postures (wrists, neck twist) widen the
reported score range instead of being guessed; so do NaN/inf joints, and such skeletons are counted
(skeletons_with_missing_joints in /diagnostics). Parameters: RiskConfig's and MarkerConfig's fields; all but
`methods` can be changed while running (`ros2 param set /risk_node load_kg 5.0` scores the next frame with it).
A managed node like the others (ros/lifecycle.py): with autostart:=false it scores nothing until configured and
activated; cleanup forgets every track's exposure history.
"""
import time

import numpy as np
from visualization_msgs.msg import MarkerArray

from nvb_perception.draw import MarkerConfig
from nvb_perception.ergonomics import ExposureTracker
from nvb_perception.ergonomics.config import RiskConfig
from nvb_perception.pipeline import score_frame
from nvb_perception.ros.convert import ergonomic_risk_frame_to_msg, skeleton3d_frame_from_msg
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.markers import delete_marker, text_marker
from nvb_perception.ros.node_utils import Diagnostics, StampOrder, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.skeleton import H36M
from nvb_perception_msgs.msg import ErgonomicRiskArray, Skeleton3DArray


class RiskNode(ManagedNode):
    """Score every tracked person's posture with RULA and/or REBA."""

    def __init__(self, **node_options):
        super().__init__('risk_node', **node_options)
        config = declare_config(self, RiskConfig)
        self.trackers = {}
        self.live = LiveConfig(self, config, self._reconfigure)
        self.display = LiveConfig(self, declare_config(self, MarkerConfig))
        self.publisher = self.create_publisher(ErgonomicRiskArray, 'ergonomic_risk', 10)
        self.markers = self.create_publisher(MarkerArray, 'risk_markers', 10)
        self.diagnostics = Diagnostics(self)
        self.stamps = StampOrder(self.diagnostics, 'exposure timers restart')
        self.create_subscription(Skeleton3DArray, 'skeletons_3d', self.on_skeletons, 10)
        self.autostart()               # nothing to load: ready at once unless autostart is false

    @property
    def config(self) -> RiskConfig:
        """The stage's current settings (they follow `ros2 param set`)."""
        return self.live.config

    def load_models(self) -> None:
        """One exposure tracker per method (configure); there is no model file to open."""
        config = self.config
        self.trackers = {m: ExposureTracker(m, config.inputs(m), up=config.up, side=config.side)
                         for m in config.methods}

    def free_models(self) -> None:
        """Forget every track's exposure history (cleanup)."""
        self.trackers = {}

    def _reconfigure(self, config: RiskConfig) -> None:
        """New inputs, side and up for the next frame; each track's exposure history is kept."""
        inputs = {m: config.inputs(m) for m in self.trackers}
        for method, tracker in self.trackers.items():
            tracker.inputs, tracker.side, tracker.up = inputs[method], config.side, config.up

    def on_skeletons(self, msg: Skeleton3DArray) -> None:
        """Score each person; malformed skeletons are dropped with a throttled warning."""
        start = time.perf_counter()
        self.diagnostics.arrival()
        if not self.accepting():
            return
        try:
            frame = skeleton3d_frame_from_msg(msg)
        except ValueError as error:
            return self.diagnostics.problem('skeletons_dropped', f'malformed Skeleton3DArray: {error}')
        self.stamps.went_back(frame.stamp.stamp_ns)
        result = score_frame(self.trackers, frame)
        for why in result.problems:
            self.diagnostics.problem('skeletons_dropped', why)
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
            head = head + np.array([0.0, 0.0, self.display.config.marker_depth_m])
        position = head + np.array([0.0, -0.15 - 0.1 * row, 0.0])   # above the head (camera y is down)
        rng = f' ({risk.score_min}-{risk.score_max})' if risk.score_max != risk.score_min else ''
        text = f'#{skeleton.track_id} {method} {risk.score}{rng} level {risk.action_level}'
        return text_marker(header, f'risk/{method}', skeleton.track_id, position, text)


def main(args=None):
    """Entry point of the risk_node executable."""
    return run(RiskNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
