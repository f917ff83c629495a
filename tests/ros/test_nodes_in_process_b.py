"""cue_node and action_node built in this process with a small fake stage: callbacks in, published messages out.

No DDS traffic and no models: each node is created in its own rclpy Context, its callbacks are called directly
and its publishers are replaced by lists, so a node's logic (stamp matching, limits, live parameters) is
checked in milliseconds.
"""
import time

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from nvb_perception.actions.recognizer import RecognitionResult
from nvb_perception.cues.stage import CueStageResult
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.ros.convert import cue_frame_from_msg, skeleton2d_frame_to_msg, time_to_msg
from nvb_perception.types import Action, ActionFrame, Cue, CueFrame, Skeleton2D, Skeleton2DFrame, Stamp, TrackState

SECOND = 1_000_000_000
BGR = np.zeros((120, 160, 3), np.uint8)


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


class Capture:
    """Stands in for a publisher: keeps what is published."""

    def __init__(self):
        self.messages = []

    def publish(self, msg):
        self.messages.append(msg)


def skeleton(track_id, size=40.0):
    keypoints = np.random.default_rng(track_id).uniform(10, 10 + size, (33, 2))
    return Skeleton2D(keypoints, np.ones(33), track_id=track_id, track_state=TrackState.TRACKED,
                      bbox=np.array([10, 10, 10 + size, 10 + size]))


def skeletons_msg(stamp_ns, *people):
    return skeleton2d_frame_to_msg(Skeleton2DFrame(Stamp(stamp_ns, 'cam'), (160, 120), tuple(people)))


def image_msg(stamp_ns):
    msg = Image(**numpy_to_image_fields(BGR, 'bgr8'))
    msg.header.stamp, msg.header.frame_id = time_to_msg(stamp_ns), 'cam'
    return msg


def start(node_cls, fake, context, **params):
    node = node_cls(fake, context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    node.autostart()
    node.publisher = Capture()
    return node


class FakeCueStage:
    """A 'smile' cue for every live track whose fixed value (0.3) reaches the configured smile.on."""

    VALUE = 0.3

    def __init__(self):
        self.config, self.tracks, self.inputs = None, {}, []

    def reconfigure(self, config):
        self.config = config

    def __call__(self, bgr, frame, frame3):
        self.inputs.append((bgr, frame, frame3))
        on = self.config.cues.smile.on if self.config is not None else 0.35
        live = [s.track_id for s in frame.skeletons if s.track_state <= TrackState.TRACKED]
        self.tracks = dict.fromkeys(live)
        cues = tuple(Cue('smile', t, True, 0.9, frame.stamp.stamp_ns) for t in live if self.VALUE >= on)
        return CueStageResult(CueFrame(frame.stamp, cues), {})

    def close(self):
        pass


def test_cue_node_pairs_by_stamp_and_follows_live_thresholds(context):
    from nvb_perception.ros.cue_node import CueNode
    stage = FakeCueStage()
    node = start(CueNode, stage, context, use_skeletons_3d=False)
    try:
        node.on_image(image_msg(1 * SECOND))
        node.on_skeletons(skeletons_msg(1 * SECOND, skeleton(3)))
        first = cue_frame_from_msg(node.publisher.messages[-1])
        assert stage.inputs[-1][0].shape == BGR.shape and first.stamp.stamp_ns == SECOND and first.cues == ()

        result = node.set_parameters([Parameter('cues.smile.on', value=0.25)])[0]
        assert result.successful, result.reason
        node.on_image(image_msg(2 * SECOND))
        node.on_skeletons(skeletons_msg(2 * SECOND, skeleton(3)))
        assert [(c.name, c.track_id) for c in cue_frame_from_msg(node.publisher.messages[-1]).cues] == [('smile', 3)]

        before = node.config
        result = node.set_parameters([Parameter('cues.smile.on', value=0.2)])[0]      # equal to smile.off
        assert not result.successful and 'must differ' in result.reason
        assert node.config is before and node.get_parameter('cues.smile.on').value == 0.25
        assert stage.config.cues.smile.on == 0.25

        for name, value in (('use_image', False), ('cues.composites', ['x=smile']), ('backends', ['onnxruntime'])):
            result = node.set_parameters([Parameter(name, value=value)])[0]
            assert not result.successful and 'read-only' in result.reason, (name, result.reason)
        assert node.set_parameters([Parameter('max_people', value=33)])[0].successful is False
    finally:
        node.destroy_node()


def test_cue_node_waits_for_the_image_then_gives_up_after_sync_timeout(context):
    from nvb_perception.ros.cue_node import CueNode
    stage = FakeCueStage()
    node = start(CueNode, stage, context, use_skeletons_3d=False, sync_timeout_s=0.05, sync_window_s=0.1)
    try:
        node.on_skeletons(skeletons_msg(5 * SECOND, skeleton(1)))
        assert node.publisher.messages == []                        # its image may still come
        time.sleep(0.06)
        node.flush()
        assert len(node.publisher.messages) == 1 and stage.inputs[-1][0] is None
        assert node.diagnostics.counters['frames_without_image'] == 1
        node.on_image(image_msg(4 * SECOND))                          # an image whose 2D frame never comes
        node.on_image(image_msg(6 * SECOND))
        node.on_skeletons(skeletons_msg(6 * SECOND, skeleton(1)))
        assert len(node.publisher.messages) == 2 and 'images_unmatched' not in node.diagnostics.counters
        time.sleep(0.11)
        node.flush()                                                  # sync_window_s later it is dropped
        assert node.diagnostics.counters['images_unmatched'] == 1
        node.on_skeletons(skeletons_msg(3 * SECOND, skeleton(1)))    # a replay starts over
        time.sleep(0.06)
        node.flush()
        assert node.diagnostics.counters['time_went_backwards'] == 1
    finally:
        node.destroy_node()


class FakeRecognizer:
    """Probabilities (0.2, 0.7) for every track it is given; remembers the people of each call."""

    classes, backend_name, train_period_s = ('walk', 'wave'), 'fake', 0.1

    def __init__(self):
        self.people = []

    def __call__(self, bgr, stamp_ns, people, frame_id=''):
        self.people.append([tid for tid, _ in people])
        actions = tuple(Action(self.classes, np.array([0.2, 0.7]), tid) for tid, _ in people)
        return RecognitionResult(ActionFrame(Stamp(stamp_ns, frame_id), actions), {}, {},
                                 {'backbone': 1.0, 'flow': 0.0, 'head': 0.0})

    def close(self):
        pass


def wait_for(messages, n, timeout=5.0):
    end = time.monotonic() + timeout
    while len(messages) < n and time.monotonic() < end:
        time.sleep(0.005)
    return len(messages) >= n


def test_action_node_pairs_limits_people_and_follows_live_max_people(context):
    from nvb_perception.ros.action_node import ActionNode
    recognizer = FakeRecognizer()
    node = start(ActionNode, recognizer, context, max_people=2)
    out = node.publisher.messages
    try:
        assert node.rate_hz == 10.0                                    # the head's training rate
        people = [skeleton(1, 30.0), skeleton(2, 60.0), skeleton(3, 45.0)]
        node.on_skeletons(skeletons_msg(1 * SECOND, *people))         # skeletons first, then their image
        node.on_image(image_msg(1 * SECOND))
        assert wait_for(out, 1) and recognizer.people[-1] == [2, 3]     # the largest two
        assert out[-1].header.stamp.sec == 1

        result = node.set_parameters([Parameter('max_people', value=1)])[0]
        assert result.successful, result.reason
        node.on_image(image_msg(2 * SECOND))
        node.on_skeletons(skeletons_msg(2 * SECOND, *people))
        assert wait_for(out, 2) and recognizer.people[-1] == [2]

        node.on_image(image_msg(2 * SECOND + 10_000_000))             # 10 ms later: over the 10 Hz limit
        node.on_skeletons(skeletons_msg(2 * SECOND + 10_000_000, *people))
        assert node.diagnostics.counters['frames_rate_limited'] == 1

        for name, value, why in (('max_people', 33, ''), ('whole_frame', True, 'read-only'),
                                 ('threads', 4, 'read-only')):
            result = node.set_parameters([Parameter(name, value=value)])[0]
            assert not result.successful and why in result.reason, (name, result.reason)
        assert node.settings.max_people == 1
        assert node.set_parameters([Parameter('rate_hz', value=0.5)])[0].successful and node.rate_hz == 0.5
    finally:
        node.close()
        node.destroy_node()
