"""REP-155 adapter: our tracked people as ROS4HRI bodies, and each body's TF frame (docs/integrators.md).

Subscribes `skeletons_2d` and `skeletons_3d`. Publishes `/humans/bodies/tracked` (hri_msgs/IdsList) per
skeletons_2d message and per body `/humans/bodies/<id>/roi` and `/skeleton2d`, publishers created when a track
starts and destroyed when it ends (TERMINATED, or silent for forget_after_s). On `/tf`: `<frame_prefix><id>` (the
pelvis, REP-103 axes) per live body with a metric 3D skeleton, optionally a frame per joint, parented to the
skeletons' optical frame. Without hri_msgs (the PyPI wheels have none) only the TF frames are published, and the
log and /diagnostics say so. A managed node like the stages, though it loads no model.
"""
import time
from dataclasses import dataclass

from tf2_msgs.msg import TFMessage

from nvb_perception.errors import PerceptionError
from nvb_perception.hri import HriConfig, body_id, roi, skeleton_points
from nvb_perception.ros.body_tf import body_transforms
from nvb_perception.ros.convert import skeleton2d_frame_from_msg, skeleton3d_frame_from_msg
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, message_class, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.types import TrackState
from nvb_perception_msgs.msg import Skeleton2DArray, Skeleton3DArray

BODIES = '/humans/bodies'
HRI_TYPES = ('IdsList', 'NormalizedRegionOfInterest2D', 'Skeleton2D', 'NormalizedPointOfInterest2D')
VISIBLE = (TrackState.NEW, TrackState.TRACKED)


def hri_messages() -> dict | None:
    """The hri_msgs classes by name, or None where hri_msgs is not installed."""
    try:
        return {name: message_class(f'hri_msgs/msg/{name}') for name in HRI_TYPES}
    except PerceptionError:
        return None


@dataclass
class Body:
    """One REP-155 body: its id, its two publishers and when its track last sent anything."""

    id: str
    roi: object
    skeleton: object
    seen: float


class HriBridge(ManagedNode):
    """Publish our tracks the REP-155 way: body ids, ROI, 2D skeleton, TF frames."""

    def __init__(self, **node_options):
        super().__init__('hri_bridge', **node_options)
        self.live = LiveConfig(self, declare_config(self, HriConfig))
        self.diagnostics = Diagnostics(self)
        self.hri = hri_messages()
        self.bodies: dict[int, Body] = {}           # track id -> REP-155 body
        self.framed: set[int] = set()               # track ids whose TF frame was published
        self.tf = self.create_publisher(TFMessage, '/tf', 100)
        self.tracked = None
        if self.hri:
            self.tracked = self.create_publisher(self.hri['IdsList'], f'{BODIES}/tracked', 10)
        else:
            self.diagnostics.warning = 'hri_msgs not installed: publishing TF frames only'
            self.get_logger().warning('hri_msgs is not installed: no /humans/bodies topics, TF frames only')
        self.preload()
        self.create_timer(0.5, self.forget_silent)
        self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons_2d, 10)
        self.create_subscription(Skeleton3DArray, 'skeletons_3d', self.on_skeletons_3d, 10)

    @property
    def config(self) -> HriConfig:
        """The current settings (they follow `ros2 param set`)."""
        return self.live.config

    def load_models(self) -> None:
        """Nothing to load: managed only to follow the graph's lifecycle like the other stages."""

    def free_models(self) -> None:
        """Cleanup ends every body."""
        for track_id in list(self.bodies):
            self.end_body(track_id)

    def on_skeletons_2d(self, msg: Skeleton2DArray) -> None:
        """Bodies start and end with our tracks; visible ones get their ROI and 2D skeleton."""
        self.diagnostics.arrival()
        if not self.hri or not self.accepting():
            return
        try:
            frame = skeleton2d_frame_from_msg(msg)
        except ValueError as error:
            return self.diagnostics.problem('frames_dropped', f'dropped skeletons_2d: {error}')
        for s in frame.skeletons:
            if s.track_state == TrackState.TERMINATED:
                self.end_body(s.track_id)
                continue
            body = self.bodies.get(s.track_id) or self.start_body(s.track_id)
            body.seen = time.monotonic()
            if s.track_state in VISIBLE:
                self.publish_body(msg.header, body, s, frame.image_size)
        self.publish_tracked(msg.header)
        self.diagnostics.values['bodies'] = str(len(self.bodies))

    def start_body(self, track_id: int) -> Body:
        """Create the body's publishers (REP-155: its topics exist while it is tracked)."""
        bid = body_id(track_id)
        body = Body(bid, self.create_publisher(self.hri['NormalizedRegionOfInterest2D'], f'{BODIES}/{bid}/roi', 10),
                    self.create_publisher(self.hri['Skeleton2D'], f'{BODIES}/{bid}/skeleton2d', 10),
                    time.monotonic())
        self.bodies[track_id] = body
        self.diagnostics.count('bodies_started')
        return body

    def end_body(self, track_id: int) -> None:
        """Destroy the body's publishers: it leaves the tracked list with them."""
        body = self.bodies.pop(track_id, None)
        if body is not None:
            self.destroy_publisher(body.roi)
            self.destroy_publisher(body.skeleton)
            self.diagnostics.count('bodies_ended')

    def forget_silent(self) -> None:
        """Remove bodies whose track sent nothing for forget_after_s (a TERMINATED that never arrived)."""
        limit = time.monotonic() - self.config.forget_after_s
        silent = [t for t, body in self.bodies.items() if body.seen < limit]
        for track_id in silent:
            self.end_body(track_id)
        if silent and self.tracked is not None:
            self.publish_tracked(None)

    def publish_tracked(self, header) -> None:
        """The ids of every current body (header: the source image's, or now after a timeout)."""
        msg = self.hri['IdsList'](ids=sorted(body.id for body in self.bodies.values()))
        if header is None:
            msg.header.stamp = self.get_clock().now().to_msg()
        else:
            msg.header = header
        self.tracked.publish(msg)

    def publish_body(self, header, body: Body, s, image_size) -> None:
        """ROI and 18-point skeleton of one visible person, normalised by the image size."""
        try:
            xmin, ymin, xmax, ymax, c = roi(s, image_size)
            points = skeleton_points(s, image_size)
        except ValueError as error:
            return self.diagnostics.problem('bodies_not_published', f'body {body.id}: {error}')
        body.roi.publish(self.hri['NormalizedRegionOfInterest2D'](
            header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=c))
        point = self.hri['NormalizedPointOfInterest2D']
        body.skeleton.publish(self.hri['Skeleton2D'](
            header=header, skeleton=[point(x=float(x), y=float(y), c=float(c)) for x, y, c in points]))

    def on_skeletons_3d(self, msg: Skeleton3DArray) -> None:
        """A TF frame per live body with a pose (and its joint frames); ended tracks are no longer published."""
        config = self.config
        if not self.accepting():
            return
        try:
            frame = skeleton3d_frame_from_msg(msg)
        except ValueError as error:
            return self.diagnostics.problem('frames_dropped', f'dropped skeletons_3d: {error}')
        if not config.body_frames:
            return
        if not msg.header.frame_id:
            return self.diagnostics.problem('frames_without_frame_id', 'skeletons_3d has no frame_id: no TF')
        transforms = []
        for s in frame.skeletons:
            if s.track_state not in VISIBLE:
                if s.track_state == TrackState.TERMINATED and s.track_id in self.framed:
                    self.framed.discard(s.track_id)
                    self.diagnostics.count('body_frames_ended')
                continue
            found = body_transforms(msg.header, s, config)
            if not found:
                self.diagnostics.count('bodies_without_frame')      # root-relative, or no usable torso
                continue
            transforms += found
            self.framed.add(s.track_id)
        if transforms:
            self.tf.publish(TFMessage(transforms=transforms))
        self.diagnostics.values['body_frames'] = str(len(self.framed))


def main(args=None):
    """Entry point of the hri_bridge executable."""
    return run(HriBridge, args)


if __name__ == '__main__':
    raise SystemExit(main())
