"""Cue node: images + 2D (and 3D) skeletons in, every person's non-verbal cue events out (CueArray).

    cue_node --ros-args --params-file config/cues.yaml -r image:=/camera/image_raw

Subscribes `skeletons_2d` (Skeleton2DArray), `image` (sensor_msgs/Image, use_image:=true) and `skeletons_3d`
(Skeleton3DArray, use_skeletons_3d:=true). A 2D frame is processed once the image and the 3D frame of the same
stamp arrived, or sync_timeout_s after it without them (then the face/hand or 3D parts are skipped and counted).
Publishes `cues` (CueArray: every active cue, and each cue once when it ends, with evidence and an
explanation), `cue_markers` (MarkerArray: each person's active cues as text above the head, placed with the 3D
skeleton; see ros/cue_markers.py), an optional `cue_overlay` image and `/diagnostics`. A frame whose image
cannot be decoded is dropped; a skeleton with NaN/inf joints or a wrong joint count is treated as lost (both
counted). Per-cue thresholds are parameters named cues.<cue>.on / .off / .min_duration_s / .min_gap_s /
.max_missing_s (defaults: nvb_perception.cues.definitions).
"""
import dataclasses
import threading
import time
from collections import OrderedDict

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from nvb_perception.assets import model_dir
from nvb_perception.cues.baseline import MODES, BaselineConfig
from nvb_perception.cues.definitions import DEFINITIONS, CueConfig, Hysteresis
from nvb_perception.cues.overlay import draw_cues
from nvb_perception.cues.stage import CueStage, CueStageConfig
from nvb_perception.errors import PerceptionError
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.ros.convert import (
    cue_frame_to_msg,
    skeleton2d_frame_from_msg,
    skeleton3d_frame_from_msg,
    time_from_msg,
)
from nvb_perception.ros.cue_markers import CueMarkers
from nvb_perception.ros.images import image_msg_to_bgr8
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, declare, run
from nvb_perception.skeleton import JOINT_SETS, skeleton2d_problem
from nvb_perception.types import TrackState
from nvb_perception_msgs.msg import CueArray, Skeleton2DArray, Skeleton3DArray

MAX_BACKLOG = 30                   # frames waiting to be processed; older ones are dropped (and counted)


def declare_cue_config(node) -> CueConfig:
    """Declare cues.<cue>.<threshold> and cues.<parameter> from CueConfig's defaults; build the config."""
    base, values = CueConfig(), {}
    for f in dataclasses.fields(CueConfig):
        default = getattr(base, f.name)
        if isinstance(default, Hysteresis):
            text = DEFINITIONS[f.name].unit if f.name in DEFINITIONS else 'composite cues'
            values[f.name] = Hysteresis(**{h.name: declare(node, f'cues.{f.name}.{h.name}', float(getattr(
                default, h.name)), f'{f.name} {h.name} ({text if h.name in ("on", "off") else "seconds"})')
                for h in dataclasses.fields(Hysteresis)})
        elif f.name == 'composites':
            rules = declare(node, 'cues.composites', [f'{n}={"+".join(p)}' for n, p in default],
                            'Composite cues: name=partA+partB, a part "a|b" is on when any of a, b is')
            values[f.name] = tuple((r.split('=')[0], tuple(r.split('=')[1].split('+'))) for r in rules)
        elif isinstance(default, tuple):
            values[f.name] = tuple(declare(node, f'cues.{f.name}', [float(v) for v in default], f.name))
        else:
            values[f.name] = declare(node, f'cues.{f.name}', default, f.name.replace('_', ' '))
    return CueConfig(**values)


class CueNode(ManagedNode):
    """Publish cue events per person from images and skeletons."""

    def __init__(self, stage: CueStage | None = None, **node_options):
        super().__init__('cue_node', **node_options)
        self.use_image = declare(self, 'use_image', True, 'Run the face and hand models on the images',
                                 read_only=True)
        self.use_3d = declare(self, 'use_skeletons_3d', True, 'Wait for and use Skeleton3DArray of each frame',
                              read_only=True)
        self.sync_timeout = declare(self, 'sync_timeout_s', 0.3, 'Longest wait for the 3D frame of a stamp',
                                    low=0.0, high=10.0)
        self.sync_window = declare(self, 'sync_window_s', 2.0, 'How long images wait for their skeletons',
                                   low=0.1, high=60.0)
        self.publish_overlay = declare(self, 'publish_overlay', False, 'Publish an overlay image for RViz')
        self.publish_markers = declare(self, 'publish_markers', True, 'Publish the active cues as RViz text '
                                       'markers above each head (needs use_skeletons_3d)')
        self.cue_markers = CueMarkers(declare(self, 'marker_depth_m', 3.0, 'Depth at which root-relative '
                                              'skeletons are drawn in RViz (as lifting_node)', low=0.1, high=100.0))
        image_qos = declare(self, 'image_qos', 'sensor_data', 'QoS of the image subscription: sensor_data (best '
                            'effort) or reliable (lossless large images with Fast DDS defaults)',
                            choices=('sensor_data', 'reliable'), read_only=True)
        baseline = BaselineConfig(
            mode=declare(self, 'baseline.mode', 'running_median', 'Per-person baseline', choices=MODES),
            window_s=declare(self, 'baseline.window_s', 60.0, 'Baseline window (s)', low=1.0, high=86400.0))
        config = CueStageConfig(
            model_dir=declare(self, 'model_dir', str(model_dir()), 'Folder of the exported ONNX models',
                              read_only=True),
            prefer=tuple(declare(self, 'backends', ['tensorrt', 'onnxruntime'], 'Runtimes to try in order',
                                 read_only=True)),
            face=declare(self, 'face', True, 'Run the face models', read_only=True),
            hands=declare(self, 'hands', True, 'Run the hand models', read_only=True),
            hand_variant=declare(self, 'hand_variant', 'full', 'Hand landmark model (lite: about 2x faster)',
                                 choices=('full', 'lite'), read_only=True),
            max_people=declare(self, 'max_people', 4, 'People per frame that get face/hand models', low=1, high=32),
            min_roi_px=declare(self, 'min_roi_px', 40.0, 'Face/hand regions (from the pose) smaller than this many '
                               'pixels are not modelled (too small for landmarks)', low=0.0, high=10000.0),
            face_refine_every_n=declare(self, 'face_refine_every_n', 10, 'Face detector in the body ROI every N '
                                        'frames per person', low=1, high=10000),
            hand_recrop_every_n=declare(self, 'hand_recrop_every_n', 5, 'Hand re-crop model every N frames',
                                        low=1, high=10000),
            cues=declare_cue_config(self), baseline=baseline)
        self.config = dataclasses.replace(config, face=config.face and self.use_image,
                                          hands=config.hands and self.use_image)
        self.stage = stage
        self.diagnostics = Diagnostics(self)
        self.preload()                 # autostart: models open before any subscription exists
        self.publisher = self.create_publisher(CueArray, 'cues', 10)
        # not 'overlay': pose_node publishes that name in the same namespace
        self.overlay_pub = self.create_publisher(Image, 'cue_overlay', qos_profile_sensor_data)
        self.markers_pub = self.create_publisher(MarkerArray, 'cue_markers', 10)
        self.images: OrderedDict[int, object] = OrderedDict()
        self.pending: OrderedDict[int, list] = OrderedDict()      # stamp -> [2D msg, 3D msg or None, arrival]
        self.lock = threading.Lock()
        self._last_stamp_ns = None
        self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)
        if self.use_3d:
            self.create_subscription(Skeleton3DArray, 'skeletons_3d', self.on_skeletons_3d, 10)
        if self.use_image:
            qos = qos_profile_sensor_data if image_qos == 'sensor_data' else QoSProfile(
                depth=5, reliability=ReliabilityPolicy.RELIABLE)
            self.create_subscription(Image, 'image', self.on_image, qos)
        self.create_timer(0.02, self.flush)

    def load_models(self) -> None:
        """Open the face and hand models (configure)."""
        self.stage = self.stage or CueStage.from_config(self.config)

    def free_models(self) -> None:
        """Release them (cleanup); every person's cue state starts over."""
        with self.lock:
            stage, self.stage = self.stage, None
            self.pending.clear()
            self.images.clear()
            self.cue_markers.reset()
        stage.close()

    def on_image(self, msg: Image) -> None:
        if not self.active:
            return
        with self.lock:
            self.images[time_from_msg(msg.header.stamp)] = msg
            while self.images and len(self.images) > 1 and \
                    time_from_msg(msg.header.stamp) - next(iter(self.images)) > self.sync_window * 1e9:
                self.images.popitem(last=False)
        self.flush()

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        self.diagnostics.arrival()
        if not self.accepting():
            return
        with self.lock:
            self.pending.setdefault(time_from_msg(msg.header.stamp), [None, None, time.monotonic()])[0] = msg
            while len(self.pending) > MAX_BACKLOG:            # slower than the input: drop the oldest frames
                self.pending.popitem(last=False)
                self.diagnostics.count('frames_skipped')
        self.flush()

    def on_skeletons_3d(self, msg: Skeleton3DArray) -> None:
        if not self.active:
            return
        with self.lock:
            self.pending.setdefault(time_from_msg(msg.header.stamp), [None, None, time.monotonic()])[1] = msg
        self.flush()

    def flush(self) -> None:
        """Process, in arrival order, every 2D frame whose image and 3D frame came (or waited sync_timeout_s)."""
        while True:
            with self.lock:
                if not self.pending:
                    return
                stamp, (m2, m3, arrived) = next(iter(self.pending.items()))
                waited = time.monotonic() - arrived
                image = self.images.get(stamp)
                if m2 is None and waited < self.sync_window:
                    return
                missing = (self.use_3d and m3 is None) or (self.use_image and image is None)
                if m2 is not None and missing and waited < self.sync_timeout:
                    return
                self.pending.popitem(last=False)
            if m2 is not None and self.stage is not None:
                self.process(m2, m3, image)

    def process(self, m2, m3, image) -> None:
        """Run the stage on one frame and publish; bad input is dropped with a throttled warning."""
        start = time.perf_counter()
        stamp_ns = time_from_msg(m2.header.stamp)
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            # a bag looping or a replay: open events go on (their times are the source's), but say so
            self.diagnostics.count('time_went_backwards')
            self.get_logger().warning('time went backwards', throttle_duration_sec=5.0)
        self._last_stamp_ns = stamp_ns
        try:
            frame = self._usable(skeleton2d_frame_from_msg(m2))
            frame3 = self._usable_3d(skeleton3d_frame_from_msg(m3)) if m3 is not None else None
            bgr = image_msg_to_bgr8(image) if image is not None else None
            result = self.stage(bgr, frame, frame3)
        except (PerceptionError, ValueError) as error:
            self.diagnostics.count('frames_dropped')
            self.diagnostics.warning = f'dropped frame: {error}'
            self.get_logger().warning(f'dropped frame: {error}', throttle_duration_sec=5.0)
            return
        if self.use_image and image is None:
            self.diagnostics.count('frames_without_image')
        if self.use_3d and m3 is None:
            self.diagnostics.count('frames_without_3d')
        msg = cue_frame_to_msg(result.cues)
        msg.header = m2.header
        self.publisher.publish(msg)
        self.diagnostics.latency(msg.header.stamp)
        if self.publish_markers:
            markers = self.cue_markers.update(m2.header, result.cues.cues, frame3, set(self.stage.tracks))
            if markers.markers:
                self.markers_pub.publish(markers)
        d = self.diagnostics
        d.processing_ms.append((time.perf_counter() - start) * 1e3)
        d.values.update({'face_ms': f'{result.face_ms:.1f}', 'hands_ms': f'{result.hands_ms:.1f}',
                         'logic_ms': f'{result.logic_ms:.2f}', 'people': str(len(result.people)),
                         'active_cues': str(sum(c.active for c in result.cues.cues))})
        if self.publish_overlay and bgr is not None:
            overlay = Image(**numpy_to_image_fields(draw_cues(bgr, frame.skeletons, result), 'bgr8'))
            overlay.header = m2.header
            self.overlay_pub.publish(overlay)

    def _usable(self, frame):
        """The frame with each live skeleton the cue logic cannot take (NaN/inf, joint set or count) made LOST."""
        skeletons = []
        for s in frame.skeletons:
            why = skeleton2d_problem(s) if s.track_state in (TrackState.NEW, TrackState.TRACKED) else ''
            if why:
                self._drop_skeleton(f'track {s.track_id}: {why}')
                s = dataclasses.replace(s, track_state=TrackState.LOST)     # its events age as for a lost track
            skeletons.append(s)
        return dataclasses.replace(frame, skeletons=tuple(skeletons))

    def _usable_3d(self, frame):
        """The 3D frame without skeletons of an unknown joint set, a wrong joint count or NaN/inf positions."""
        keep = []
        for s in frame.skeletons:
            ok = len(s.positions) == len(JOINT_SETS.get(s.joint_set, ())) and np.isfinite(s.positions).all()
            if ok:
                keep.append(s)
            else:
                self._drop_skeleton(f'3D track {s.track_id}: joint set {s.joint_set!r} with {len(s.positions)} '
                                    'joints, or NaN/inf positions')
        return dataclasses.replace(frame, skeletons=tuple(keep))

    def _drop_skeleton(self, why: str) -> None:
        self.diagnostics.count('skeletons_dropped')
        self.diagnostics.warning = why
        self.get_logger().warning(f'skeleton dropped: {why}', throttle_duration_sec=5.0)


def main(args=None):
    """Entry point of the cue_node executable."""
    return run(CueNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
