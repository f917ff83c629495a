"""Cue node: images + 2D (and 3D) skeletons in, every person's non-verbal cue events out (CueArray).

    cue_node --ros-args --params-file config/cues.yaml -r image:=/camera/image_raw

Subscribes `skeletons_2d` (Skeleton2DArray), `image` (sensor_msgs/Image, or `image/compressed`; use_image:=true)
and `skeletons_3d` (Skeleton3DArray, use_skeletons_3d:=true). A 2D frame is processed once the image and the 3D
frame of the same stamp arrived, or sync_timeout_s after it without them (then the face/hand or 3D parts are
skipped and counted). Publishes `cues` (CueArray: every active cue, and each cue once when it ends, with evidence
and an explanation), `cue_markers` (MarkerArray: each person's active cues as text above the head, placed with
the 3D skeleton; see ros/cue_markers.py), `head_poses` (HeadPoseArray: every modelled face's head orientation and
gaze in the optical frame, taken from the stage's face observations; publish_head_poses:=false turns it off), an
optional `cue_overlay` image and `/diagnostics`. A frame whose image cannot be decoded is dropped; a skeleton with
NaN/inf joints or a wrong joint count is treated as lost (both counted, see ros/cue_inputs.py). Parameters:
CueNodeConfig's, ImageInput's and the stage's (ros/cue_params.py: per-cue thresholds cues.<cue>.on / .off /
.min_duration_s / .min_gap_s / .max_missing_s, live unless read-only).
"""
import threading
import time

from visualization_msgs.msg import MarkerArray

from nvb_perception.assets import model_dir
from nvb_perception.cues.head_stream import head_pose_frame
from nvb_perception.cues.node_config import CueNodeConfig
from nvb_perception.cues.overlay import draw_cues
from nvb_perception.cues.stage import CueStage, CueStageConfig
from nvb_perception.errors import PerceptionError
from nvb_perception.ros.convert import (
    cue_frame_to_msg,
    head_pose_frame_to_msg,
    skeleton2d_frame_from_msg,
    skeleton3d_frame_from_msg,
    time_from_msg,
)
from nvb_perception.ros.cue_inputs import usable_2d, usable_3d
from nvb_perception.ros.cue_markers import CueMarkers
from nvb_perception.ros.cue_params import CueParameters
from nvb_perception.ros.images import ImageInput, image_msg_to_bgr8, subscribe_image
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, OverlayPublisher, StampOrder, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.ros.stamp_sync import StampSync
from nvb_perception_msgs.msg import CueArray, HeadPoseArray, Skeleton2DArray, Skeleton3DArray

MAX_WAITING = 60                   # stamps waiting for their parts; the oldest are dropped (and counted)
UNMATCHED = {'2d': 'frames_skipped', '3d': 'skeletons_3d_unmatched', 'image': 'images_unmatched'}


class CueNode(ManagedNode):
    """Publish cue events per person from images and skeletons."""

    def __init__(self, stage: CueStage | None = None, **node_options):
        super().__init__('cue_node', **node_options)
        image_input = declare_config(self, ImageInput)
        self.live = LiveConfig(self, declare_config(self, CueNodeConfig), self._reconfigure_node)
        self.params = CueParameters(self, self._reconfigure_stage, self.settings.use_image, model_dir=str(model_dir()))
        self.stage = stage
        self.diagnostics = Diagnostics(self)
        self.order = StampOrder(self.diagnostics, "open events go on (their times are the source's)")
        self.cue_markers = CueMarkers(self.settings.marker_depth_m)
        self.sync = StampSync(MAX_WAITING, lambda part: self.diagnostics.count(UNMATCHED[part]))
        self.lock = threading.Lock()
        self.preload()                 # autostart: models open before any subscription exists
        self.publisher = self.create_publisher(CueArray, 'cues', 10)
        # not 'overlay': pose_node publishes that name in the same namespace
        self.overlay = OverlayPublisher(self, self.settings.publish_overlay, 'cue_overlay')
        self.markers_pub = self.create_publisher(MarkerArray, 'cue_markers', 10)
        self.heads_pub = self.create_publisher(HeadPoseArray, 'head_poses', 10) \
            if self.settings.publish_head_poses else None
        self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)
        if self.settings.use_skeletons_3d:
            self.create_subscription(Skeleton3DArray, 'skeletons_3d', self.on_skeletons_3d, 10)
        if self.settings.use_image:
            subscribe_image(self, image_input, self.on_image, depth=5)    # images wait here for their skeletons
        self.create_timer(0.02, self.flush)

    @property
    def settings(self) -> CueNodeConfig:
        """The node's own settings (they follow `ros2 param set`)."""
        return self.live.config

    @property
    def config(self) -> CueStageConfig:
        """The stage's current settings (they follow `ros2 param set`)."""
        return self.params.config

    def _reconfigure_node(self, config: CueNodeConfig) -> None:
        self.overlay.enabled = config.publish_overlay
        self.cue_markers.marker_depth = config.marker_depth_m

    def _reconfigure_stage(self, config: CueStageConfig) -> None:
        with self.lock:
            if self.stage is not None:
                self.stage.reconfigure(config)

    def load_models(self) -> None:
        """Open the face and hand models (configure)."""
        self.stage = self.stage or CueStage.from_config(self.config)

    def free_models(self) -> None:
        """Release them (cleanup); every person's cue state starts over."""
        with self.lock:
            stage, self.stage = self.stage, None
            self.sync.clear()
            self.cue_markers.reset()
        stage.close()

    def on_image(self, msg) -> None:
        """Keep the image until its 2D frame comes."""
        self._add('image', msg)

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        """A 2D frame: processed once its image and 3D frame are here (or waited sync_timeout_s)."""
        self.diagnostics.arrival()
        if self.accepting():
            self._add('2d', msg)

    def on_skeletons_3d(self, msg: Skeleton3DArray) -> None:
        """Keep the 3D frame for the 2D frame of its stamp."""
        self._add('3d', msg)

    def _add(self, part: str, msg) -> None:
        if not self.active:
            return
        with self.lock:
            self.sync.add(part, time_from_msg(msg.header.stamp), msg)
        self.flush()

    def flush(self) -> None:
        """Process, in arrival order, every 2D frame whose image and 3D frame came (or waited sync_timeout_s)."""
        cfg = self.settings
        needed = [p for p, used in (('image', cfg.use_image), ('3d', cfg.use_skeletons_3d)) if used]
        while True:
            with self.lock:
                self.sync.expire(cfg.sync_window_s, keep='2d')     # images or 3D frames whose 2D frame never came
                match = self.sync.first('2d')
                if match is None or not match.has(*needed) and \
                        match.waited('2d', self.sync.clock()) < cfg.sync_timeout_s:
                    return
                self.sync.take(match.stamp_ns)
            if self.stage is not None:
                self.process(match.parts['2d'], match.parts.get('3d'), match.parts.get('image'))

    def process(self, m2, m3, image) -> None:
        """Run the stage on one frame and publish; bad input is dropped with a throttled warning."""
        start = time.perf_counter()
        self.order.went_back(time_from_msg(m2.header.stamp))
        try:
            frame = usable_2d(skeleton2d_frame_from_msg(m2), self.diagnostics)
            frame3 = usable_3d(skeleton3d_frame_from_msg(m3), self.diagnostics) if m3 is not None else None
            bgr = image_msg_to_bgr8(image) if image is not None else None
            result = self.stage(bgr, frame, frame3)
        except (PerceptionError, ValueError) as error:
            return self.diagnostics.problem('frames_dropped', f'dropped frame: {error}')
        d, cfg = self.diagnostics, self.settings
        if cfg.use_image and image is None:
            d.count('frames_without_image')
        if cfg.use_skeletons_3d and m3 is None:
            d.count('frames_without_3d')
        msg = cue_frame_to_msg(result.cues)
        msg.header = m2.header
        self.publisher.publish(msg)
        if self.heads_pub is not None:             # from the stage's face observations: nothing is recomputed
            heads = head_pose_frame_to_msg(head_pose_frame(result, cfg.looking_cone_deg))
            heads.header = m2.header
            self.heads_pub.publish(heads)
        d.latency(msg.header.stamp)
        if cfg.publish_markers:
            markers = self.cue_markers.update(m2.header, result.cues.cues, frame3, set(self.stage.tracks))
            if markers.markers:
                self.markers_pub.publish(markers)
        d.processing_ms.append((time.perf_counter() - start) * 1e3)
        d.values.update({'face_ms': f'{result.face_ms:.1f}', 'hands_ms': f'{result.hands_ms:.1f}',
                         'logic_ms': f'{result.logic_ms:.2f}', 'people': str(len(result.people)),
                         'active_cues': str(sum(c.active for c in result.cues.cues))})
        if bgr is not None and self.overlay.wanted():
            self.overlay.publish(draw_cues(bgr, frame.skeletons, result), m2.header)


def main(args=None):
    """Entry point of the cue_node executable."""
    return run(CueNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
