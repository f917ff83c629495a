"""Action node: camera images + 2D skeletons in, per-track action probabilities with explanations out.

    action_node --ros-args -p head_model:=/path/actions_flow.onnx -p rate_hz:=10.0 -p publish_heatmap:=true

Subscribes `image` (sensor_msgs/Image) and `skeletons_2d` (Skeleton2DArray, from pose_node: the same stamp as
its source image). A skeleton array is matched to the buffered image with the same stamp; the pair is handed to
a worker thread that always takes the newest pair and runs actions.recognizer.ActionRecognizer on the crops of
the live tracks (one batched backbone call per frame). Frames come at most at `rate_hz` (source time; the
model's training rate by default); pairs that arrive while the worker is busy replace the waiting one and are
counted as skipped: the node drops, it never queues. With whole_frame:=true it needs no skeletons and
recognises the whole image (track -1).

Publishes `actions` (ActionArray, source stamp and frame; one Action per track with the class probabilities
and evidence: the (layer, head) map with the most attention flow and the top image regions in pixels), the
optional `action_heatmap` image (the attention-flow heatmaps drawn over the image) and `/diagnostics`
(processing and backbone ms, skipped/dropped/unmatched counts, tracks).
"""
import threading
import time
from collections import OrderedDict

import cv2
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image

from nvb_perception.actions.backbone import BACKBONE_FILE
from nvb_perception.actions.recognizer import DEFAULT_HEAD, ActionRecognizer
from nvb_perception.assets import model_dir
from nvb_perception.errors import PerceptionError
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.ros.convert import action_frame_to_msg, header_from_msg, skeleton2d_frame_from_msg
from nvb_perception.ros.images import converter_name, image_msg_to_bgr8
from nvb_perception.ros.lifecycle import ManagedNode
from nvb_perception.ros.node_utils import Diagnostics, NewestWorker, declare, run
from nvb_perception.types import TrackState
from nvb_perception_msgs.msg import ActionArray, Skeleton2DArray

IMAGE_BUFFER = 30          # images kept while waiting for their skeletons
LIVE = (TrackState.NEW, TrackState.TRACKED)


def draw_heatmaps(bgr: np.ndarray, result) -> np.ndarray:
    """The image with each track's attention-flow heatmap blended into its crop window and its top label."""
    out = bgr.copy()
    height, width = bgr.shape[:2]
    probs = {a.track_id: a for a in result.frame.actions}
    for tid, heat in result.heatmaps.items():
        x0, y0, w, h = (int(round(v)) for v in result.windows[tid])
        if w <= 0 or h <= 0:
            continue
        peak = float(heat.max())
        norm = np.clip(heat / peak if peak > 0 else heat, 0, 1).astype(np.float32)
        big = cv2.resize(norm, (w, h), interpolation=cv2.INTER_LINEAR)          # the whole window
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)
        if xb <= xa or yb <= ya:
            continue
        big = big[ya - y0:yb - y0, xa - x0:xb - x0]                               # the part inside the image
        color = cv2.applyColorMap((big * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
        alpha = 0.6 * big[..., None]
        out[ya:yb, xa:xb] = (out[ya:yb, xa:xb] * (1 - alpha) + color * alpha).astype(np.uint8)
        cv2.rectangle(out, (xa, ya), (xb - 1, yb - 1), (255, 255, 255), 1)
        action = probs.get(tid)
        if action is not None and len(action.labels):
            best = int(np.argmax(action.probabilities))
            cv2.putText(out, f'{tid}: {action.labels[best]} {action.probabilities[best]:.2f}', (xa, max(ya - 4, 10)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class ActionNode(ManagedNode):
    """Publish action probabilities for the live tracks of the newest matched image."""

    def __init__(self, recognizer: ActionRecognizer | None = None, **node_options):
        super().__init__('action_node', **node_options)
        image_qos = declare(self, 'image_qos', 'sensor_data', 'QoS of the image subscription: sensor_data or '
                            'reliable', choices=('sensor_data', 'reliable'), read_only=True)
        backbone = declare(self, 'backbone_model', str(model_dir() / BACKBONE_FILE),
                           'ViT backbone with attention outputs (nvb_perception.export.extract_vit)', read_only=True)
        head = declare(self, 'head_model', str(model_dir() / DEFAULT_HEAD),
                       'Adapters + class-temporal head (nvb_perception.export.action_head)', read_only=True)
        self.rate_hz = declare(self, 'rate_hz', 0.0, 'Most frames per second to process, in source time '
                               '(0 = the rate the model was trained at)', low=0.0, high=1000.0)
        self.whole_frame = declare(self, 'whole_frame', False, 'Recognise the whole image (track -1) instead of '
                                   'per-track crops', read_only=True)
        self.max_people = declare(self, 'max_people', 8, 'Most tracks recognised per frame (largest boxes first)',
                                  low=1, high=64)
        self.publish_heatmap = declare(self, 'publish_heatmap', False, 'Publish the attention-flow heatmap image')
        threads = declare(self, 'threads', 2, 'ONNX Runtime threads of the backbone', low=1, high=64, read_only=True)
        backends = declare(self, 'backends', ['onnxruntime'], 'Runtimes to try in order (tensorrt, onnxruntime)',
                           read_only=True)
        self._model_args = dict(backbone=backbone, head=head, prefer=tuple(backends), threads=threads,
                                whole_frame=self.whole_frame)
        self.recognizer = recognizer
        self.requested_rate_hz = self.rate_hz
        self.diagnostics = Diagnostics(self)
        self.preload()                 # autostart: models open before any subscription exists
        self.diagnostics.values['image_converter'] = converter_name()
        self.publisher = self.create_publisher(ActionArray, 'actions', 10)
        # reliable: matches best-effort and reliable viewers alike, and a reliable reader gets every ~1 MB
        # heatmap (best-effort loses fragments of large images with Fast DDS default transports)
        self.heatmap_pub = self.create_publisher(Image, 'action_heatmap',
                                                 QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))
        qos = qos_profile_sensor_data if image_qos == 'sensor_data' else QoSProfile(
            depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Image, 'image', self.on_image, qos)
        if not self.whole_frame:
            self.create_subscription(Skeleton2DArray, 'skeletons_2d', self.on_skeletons, 10)
        self._images: OrderedDict[int, Image] = OrderedDict()
        self._skeletons: OrderedDict[int, Skeleton2DArray] = OrderedDict()
        self._lock = threading.Lock()
        self._last_stamp_ns = None
        self._worker = NewestWorker(lambda pair: self.process(*pair))

    def load_models(self) -> None:
        """Open the backbone and the head (configure); the default rate is the head's training rate."""
        if self.recognizer is None:
            args = dict(self._model_args)
            self.recognizer = ActionRecognizer.from_paths(args.pop('backbone'), args.pop('head'), **args)
        self.rate_hz = self.requested_rate_hz or 1.0 / self.recognizer.train_period_s
        self.diagnostics.values.update({'backend': self.recognizer.backend_name, 'rate_hz': f'{self.rate_hz:g}',
                                        'classes': ','.join(self.recognizer.classes)})

    def free_models(self) -> None:
        """Release them (cleanup)."""
        recognizer, self.recognizer = self.recognizer, None
        recognizer.close()

    def on_image(self, msg: Image) -> None:
        """Buffer the image until its skeletons come (or hand it on directly in whole-frame mode)."""
        self.diagnostics.arrival()
        if not self.accepting():
            return
        stamp = header_from_msg(msg.header).stamp_ns
        if self.whole_frame:
            self._offer(msg, None)
            return
        with self._lock:
            skeletons = self._skeletons.pop(stamp, None)
            if skeletons is None:
                self._images[stamp] = msg
                while len(self._images) > IMAGE_BUFFER:
                    self._images.popitem(last=False)
                    self.diagnostics.count('images_unmatched')
        if skeletons is not None:
            self._offer(msg, skeletons)

    def on_skeletons(self, msg: Skeleton2DArray) -> None:
        """Pair with the buffered image of the same stamp (skeletons usually arrive after their image)."""
        if not self.active:
            return
        stamp = header_from_msg(msg.header).stamp_ns
        with self._lock:
            image = self._images.pop(stamp, None)
            # images older than this stamp will never get skeletons: pose_node answers in order
            for old in [s for s in self._images if s < stamp]:
                del self._images[old]
                self.diagnostics.count('images_unmatched')
            if image is None:
                self._skeletons[stamp] = msg
                while len(self._skeletons) > IMAGE_BUFFER:
                    self._skeletons.popitem(last=False)
                    self.diagnostics.count('skeletons_unmatched')
        if image is not None:
            self._offer(image, msg)

    def _offer(self, image: Image, skeletons) -> None:
        """Rate-limit in source time, then replace the pair waiting for the worker (drop, never queue)."""
        stamp = header_from_msg(image.header).stamp_ns
        period_ns = int(1e9 / self.rate_hz) if self.rate_hz > 0 else 0
        if self._last_stamp_ns is not None and 0 <= stamp - self._last_stamp_ns < period_ns * 0.999:
            self.diagnostics.count('frames_rate_limited')
            return
        self._last_stamp_ns = stamp
        if self._worker.offer((image, skeletons)):
            self.diagnostics.count('frames_skipped')

    def process(self, image: Image, skeletons) -> None:
        """Decode, recognise, publish; bad frames are dropped with a throttled warning."""
        start = time.perf_counter()
        stamp = header_from_msg(image.header)
        recognizer = self.recognizer
        if recognizer is None:          # cleaned up while the frame waited
            return
        try:
            bgr = image_msg_to_bgr8(image)
            people = []
            if skeletons is not None:
                frame = skeleton2d_frame_from_msg(skeletons)
                live = [s for s in frame.skeletons if s.track_state in LIVE and self._box_ok(s, bgr.shape)]
                live.sort(key=lambda s: -(s.bbox[2] - s.bbox[0]) * (s.bbox[3] - s.bbox[1]))
                people = [(s.track_id, s.bbox) for s in live[:self.max_people]]
            result = recognizer(bgr, stamp.stamp_ns, people, frame_id=stamp.frame_id)
        except (PerceptionError, ValueError, cv2.error) as error:     # never let the worker thread die
            self.diagnostics.count('frames_dropped')
            self.diagnostics.warning = f'dropped frame: {error}'
            self.get_logger().warning(f'dropped frame: {error}', throttle_duration_sec=5.0)
            return
        msg = action_frame_to_msg(result.frame)
        msg.header = image.header
        self.publisher.publish(msg)
        self.diagnostics.latency(msg.header.stamp)
        self.diagnostics.processing_ms.append((time.perf_counter() - start) * 1e3)
        self.diagnostics.values['backbone_ms'] = f'{result.timings_ms["backbone"]:.1f}'
        self.diagnostics.values['flow_head_ms'] = f'{result.timings_ms["flow"] + result.timings_ms["head"]:.1f}'
        self.diagnostics.values['tracks'] = str(len(result.frame.actions))
        if self.publish_heatmap:
            overlay = Image(**numpy_to_image_fields(draw_heatmaps(bgr, result), 'bgr8'))
            overlay.header = image.header
            self.heatmap_pub.publish(overlay)

    def _box_ok(self, skeleton, shape) -> bool:
        """A box the crop can use: finite, not empty, within one image size of the image; others are counted."""
        height, width = shape[:2]
        x0, y0, x1, y1 = (float(v) for v in skeleton.bbox)
        if np.isfinite(skeleton.bbox).all() and -width <= x0 < x1 <= 2 * width and -height <= y0 < y1 <= 2 * height:
            return True
        why = f'track {skeleton.track_id}: unusable box {[round(v, 1) for v in (x0, y0, x1, y1)]} for a ' \
              f'{width}x{height} image'
        self.diagnostics.count('skeletons_dropped')
        self.diagnostics.warning = why
        self.get_logger().warning(why, throttle_duration_sec=5.0)
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
