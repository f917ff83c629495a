"""Action node: camera images + 2D skeletons in, per-track action probabilities with explanations out.

    action_node --ros-args -p head_model:=/path/actions_flow.onnx -p rate_hz:=10.0 -p publish_heatmap:=true

Subscribes `image` (sensor_msgs/Image, or `image/compressed`) and `skeletons_2d` (Skeleton2DArray, from
pose_node: the same stamp as its source image). Images and skeleton arrays are matched by stamp; the pair goes to
a worker thread that always takes the newest pair and runs actions.recognizer.ActionRecognizer on the crops of
the live tracks (one batched backbone call per frame). Frames come at most at `rate_hz` (source time; the
model's training rate by default); pairs that arrive while the worker is busy replace the waiting one and are
counted as skipped: the node drops, it never queues. With whole_frame:=true it needs no skeletons and
recognises the whole image (track -1). Parameters: ActionConfig's (live unless read-only) and ImageInput's.

Publishes `actions` (ActionArray, source stamp and frame; one Action per track with the class probabilities and
evidence: the (layer, head) map with the most attention flow and the top image regions in pixels), the optional
`action_heatmap` image and `/diagnostics` (processing and backbone ms, skipped/dropped/unmatched counts, tracks).
"""
import threading
import time

import cv2
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy

from nvb_perception.actions.backbone import BACKBONE_FILE
from nvb_perception.actions.config import ActionConfig
from nvb_perception.actions.overlay import draw_heatmaps
from nvb_perception.actions.recognizer import DEFAULT_HEAD, ActionRecognizer
from nvb_perception.assets import model_dir
from nvb_perception.errors import PerceptionError
from nvb_perception.ros.convert import action_frame_to_msg, header_from_msg, skeleton2d_frame_from_msg, time_from_msg
from nvb_perception.ros.images import ImageInput, converter_name, image_msg_to_bgr8, subscribe_image
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, NewestWorker, OverlayPublisher, StampOrder, run
from nvb_perception.ros.parameters import LiveConfig, declare_config
from nvb_perception.ros.stamp_sync import StampSync
from nvb_perception.types import TrackState
from nvb_perception_msgs.msg import ActionArray, Skeleton2DArray

BUFFER = 30                # images (and skeletons) kept while waiting for their partner
LIVE = (TrackState.NEW, TrackState.TRACKED)
RELIABLE = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)


class ActionNode(ManagedNode):
    """Publish action probabilities for the live tracks of the newest matched image."""

    def __init__(self, recognizer: ActionRecognizer | None = None, **node_options):
        super().__init__('action_node', **node_options)
        image_input = declare_config(self, ImageInput)
        config = declare_config(self, ActionConfig, backbone_model=str(model_dir() / BACKBONE_FILE),
                                head_model=str(model_dir() / DEFAULT_HEAD))
        self.live = LiveConfig(self, config, self._reconfigure)
        self.recognizer = recognizer
        self.rate_hz = config.rate_hz
        self.diagnostics = Diagnostics(self)
        self.order = StampOrder(self.diagnostics, 'the rate limit starts over')
        self.sync = StampSync(2 * BUFFER, lambda part: self.diagnostics.count(f'{part}_unmatched'))
        self._lock = threading.Lock()
        self.preload()                 # autostart: models open before any subscription exists
        self.diagnostics.values['image_converter'] = converter_name()
        self.publisher = self.create_publisher(ActionArray, 'actions', 10)
        # reliable: a reliable viewer gets every ~1 MB heatmap (best effort loses fragments with Fast DDS defaults)
        self.heatmap = OverlayPublisher(self, config.publish_heatmap, 'action_heatmap', RELIABLE)
        subscribe_image(self, image_input, self.on_image)
        if not config.whole_frame:
            self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)
        self._worker = NewestWorker(lambda pair: self.process(*pair))

    @property
    def settings(self) -> ActionConfig:
        """The current settings (they follow `ros2 param set`)."""
        return self.live.config

    def _reconfigure(self, config: ActionConfig) -> None:
        self.heatmap.enabled = config.publish_heatmap
        self._set_rate(config)

    def _set_rate(self, config: ActionConfig) -> None:
        """The rate asked for, or (0) the head's training rate once the models are open."""
        recognizer = self.recognizer
        self.rate_hz = config.rate_hz or (1.0 / recognizer.train_period_s if recognizer is not None else 0.0)
        self.diagnostics.values['rate_hz'] = f'{self.rate_hz:g}'

    def load_models(self) -> None:
        """Open the backbone and the head (configure); the default rate is the head's training rate."""
        cfg = self.settings
        if self.recognizer is None:
            self.recognizer = ActionRecognizer.from_paths(cfg.backbone_model, cfg.head_model, prefer=cfg.prefer,
                                                          threads=cfg.threads or None, whole_frame=cfg.whole_frame)
        self._set_rate(cfg)
        self.diagnostics.values.update({'backend': self.recognizer.backend_name,
                                        'classes': ','.join(self.recognizer.classes)})

    def free_models(self) -> None:
        """Release them (cleanup)."""
        recognizer, self.recognizer = self.recognizer, None
        recognizer.close()

    def on_image(self, msg) -> None:
        """Buffer the image until its skeletons come (or hand it on directly in whole-frame mode)."""
        self.diagnostics.arrival()
        if not self.accepting():
            return
        if self.settings.whole_frame:
            return self._offer(msg, None)
        self._pair('image', msg)

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        """Pair with the buffered image of the same stamp (skeletons usually arrive after their image)."""
        if self.active:
            self._pair('skeletons', msg)

    def _pair(self, part: str, msg) -> None:
        """Match images and skeletons by stamp; a pair goes on to the worker."""
        stamp = time_from_msg(msg.header.stamp)
        with self._lock:
            if part == 'skeletons':         # pose_node answers in order: older images will get no skeletons
                self.sync.drop_older(stamp)
            match = self.sync.add(part, stamp, msg)
            if not match.has('image', 'skeletons'):
                return
            self.sync.take(stamp)
        self._offer(match.parts['image'], match.parts['skeletons'])

    def _offer(self, image, skeletons) -> None:
        """Rate-limit in source time, then replace the pair waiting for the worker (drop, never queue)."""
        stamp = time_from_msg(image.header.stamp)
        period_ns = int(1e9 / self.rate_hz) if self.rate_hz > 0 else 0
        if self.order.last_ns is not None and 0 <= stamp - self.order.last_ns < period_ns * 0.999:
            return self.diagnostics.count('frames_rate_limited')
        self.order.went_back(stamp)
        if self._worker.offer((image, skeletons)):
            self.diagnostics.count('frames_skipped')

    def process(self, image, skeletons) -> None:
        """Decode, recognise, publish; bad frames are dropped with a throttled warning."""
        start = time.perf_counter()
        stamp = header_from_msg(image.header)
        if (recognizer := self.recognizer) is None:          # cleaned up while the frame waited
            return
        try:
            bgr = image_msg_to_bgr8(image)
            people = self._people(skeletons, bgr.shape) if skeletons is not None else []
            result = recognizer(bgr, stamp.stamp_ns, people, frame_id=stamp.frame_id)
        except (PerceptionError, ValueError, cv2.error) as error:     # never let the worker thread die
            return self.diagnostics.problem('frames_dropped', f'dropped frame: {error}')
        msg = action_frame_to_msg(result.frame)
        msg.header = image.header
        self.publisher.publish(msg)
        d = self.diagnostics
        d.latency(msg.header.stamp)
        d.processing_ms.append((time.perf_counter() - start) * 1e3)
        ms = result.timings_ms
        d.values.update({'backbone_ms': f'{ms["backbone"]:.1f}', 'flow_head_ms': f'{ms["flow"] + ms["head"]:.1f}',
                         'tracks': str(len(result.frame.actions))})
        if self.heatmap.wanted():
            self.heatmap.publish(draw_heatmaps(bgr, result), image.header)

    def _people(self, skeletons, shape) -> list:
        """(track id, box) of the live tracks with a usable box, largest first, at most max_people."""
        frame = skeleton2d_frame_from_msg(skeletons)
        live = [s for s in frame.skeletons if s.track_state in LIVE and self._box_ok(s, shape)]
        live.sort(key=lambda s: -(s.bbox[2] - s.bbox[0]) * (s.bbox[3] - s.bbox[1]))
        return [(s.track_id, s.bbox) for s in live[:self.settings.max_people]]

    def _box_ok(self, skeleton, shape) -> bool:
        """A box the crop can use: finite, not empty, within one image size of the image; others are counted."""
        height, width = shape[:2]
        x0, y0, x1, y1 = (float(v) for v in skeleton.bbox)
        if np.isfinite(skeleton.bbox).all() and -width <= x0 < x1 <= 2 * width and -height <= y0 < y1 <= 2 * height:
            return True
        self.diagnostics.problem('skeletons_dropped', f'track {skeleton.track_id}: unusable box '
                                 f'{[round(v, 1) for v in (x0, y0, x1, y1)]} for a {width}x{height} image')
        return False

    def close(self) -> None:
        """Stop the worker thread and release the models."""
        self._worker.close()
        super().close()


def main(args=None):
    """Entry point of the action_node executable."""
    return run(ActionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
