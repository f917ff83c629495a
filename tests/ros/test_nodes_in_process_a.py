"""lifting_node, risk_node, recorder and video_publisher built in this process: callbacks called directly.

No DDS round trips and no models (a fake lifter): each node's logic and its live parameters, in milliseconds.
"""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter

from nvb_perception.ros.convert import (
                                        ergonomic_risk_frame_from_msg,
                                        skeleton2d_frame_to_msg,
                                        skeleton3d_frame_from_msg,
)
from nvb_perception.ros.lifting_node import LiftingNode
from nvb_perception.ros.recorder import Recorder
from nvb_perception.ros.risk_node import RiskNode
from nvb_perception.ros.video_publisher import VideoPublisher, camera_info
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Skeleton3D, Stamp, TrackState
from tests.ros.test_risk_node import bent_forward, frame, standing


@pytest.fixture
def make():
    """Build nodes in an own rclpy context; they are destroyed and the context shut down afterwards."""
    context = Context()
    rclpy.init(context=context)
    nodes = []

    def build(cls, params=None, **kwargs):
        overrides = [Parameter(k, value=v) for k, v in (params or {}).items()]
        nodes.append(cls(context=context, parameter_overrides=overrides, **kwargs))
        return nodes[-1]

    yield build
    for node in nodes:
        close = getattr(node, 'close', None)
        if close:
            close()
        node.destroy_node()
    rclpy.shutdown(context=context)


def capture(publisher) -> list:
    """Every message the publisher sends from now on, instead of sending it."""
    sent = []
    publisher.publish = sent.append
    return sent


def set_param(node, name, value):
    return node.set_parameters([Parameter(name, value=value)])[0]


# risk_node


def scores(node, sent, stamp_ns, people):
    node.on_skeletons(frame(stamp_ns, people))
    return {(r.track_id, r.method): r for r in ergonomic_risk_frame_from_msg(sent[-1]).risks}


def test_risk_node_scores_and_follows_live_parameters(make):
    node = make(RiskNode)
    sent, markers = capture(node.publisher), capture(node.markers)
    people = [(1, standing(), TrackState.TRACKED), (2, bent_forward(), TrackState.TRACKED)]
    first = scores(node, sent, 0, people)
    assert first[(2, 'RULA')].score > first[(1, 'RULA')].score
    assert 'load_kg=0' in first[(1, 'RULA')].assumed_inputs
    assert any(m.ns == 'risk/REBA' and m.id == 2 for m in markers[-1].markers)

    assert set_param(node, 'load_kg', 15.0).successful
    heavy = scores(node, sent, 100_000_000, people)
    assert node.config.load_kg == 15.0 and 'load_kg=15' in heavy[(1, 'RULA')].assumed_inputs
    for key in ((1, 'RULA'), (1, 'REBA')):
        assert heavy[key].score > first[key].score, key

    result = set_param(node, 'up', [0.0, 0.0, 0.0])            # the config's own check refuses it
    assert not result.successful and 'non-zero 3-vector' in result.reason
    result = set_param(node, 'side', 'middle')
    assert not result.successful and 'side' in result.reason
    result = set_param(node, 'methods', ['RULA'])              # read-only: only at start
    assert not result.successful and 'read-only' in result.reason
    assert node.config.up == (0.0, -1.0, 0.0) and node.config.side == 'worst' and len(node.trackers) == 2
    assert node.trackers['RULA'].inputs.load_kg == 15.0


def test_risk_node_counts_bad_input(make):
    node = make(RiskNode, {'methods': ['RULA']})
    sent = capture(node.publisher)
    capture(node.markers)
    scores(node, sent, 10**9, [(1, standing(), TrackState.TRACKED)])
    bad = frame(2 * 10**9, [(1, standing(), TrackState.TRACKED)])
    bad.skeletons[0].z = [0.0] * 3
    node.on_skeletons(bad)                                     # malformed: dropped whole
    nan = scores(node, sent, 0, [(4, np.full((17, 3), np.nan), TrackState.TRACKED)])   # back in time
    assert nan[(4, 'RULA')].score_min <= nan[(4, 'RULA')].score_max
    assert len(sent) == 2
    counters = node.diagnostics.counters
    assert counters == {'skeletons_dropped': 1, 'time_went_backwards': 1, 'skeletons_with_missing_joints': 1}


# lifting_node


class FakeLifter:
    """A lifter that puts every joint at the pelvis and remembers how it was called."""

    def __init__(self):
        self.backend = SimpleNamespace(name='fake')
        self.calls, self.resets, self.closed = [], [], False

    def __call__(self, skeletons, camera_matrix=None):
        ids = [s.track_id for s in skeletons]
        if len(set(ids)) != len(ids):
            raise ValueError(f'track ids must be unique within one image, got {ids}')
        self.calls.append(camera_matrix)
        return [Skeleton3D(np.zeros((17, 3)), np.ones(17), track_id=s.track_id, track_state=s.track_state)
                for s in skeletons]

    def reset(self, track_id=None):
        self.resets.append(track_id)

    def close(self):
        self.closed = True


def person(track_id=7, state=TrackState.TRACKED, size=(640, 480)):
    rng = np.random.default_rng(track_id)
    keypoints = rng.uniform((100, 100), (size[0] - 100, size[1] - 100), (33, 2))
    return Skeleton2D(keypoints, np.ones(33), track_id=track_id, track_state=state)


def skeletons(stamp_ns, people, size=(640, 480)):
    return skeleton2d_frame_to_msg(Skeleton2DFrame(Stamp(stamp_ns, 'cam'), size, tuple(people)))


@pytest.fixture
def lifting(make):
    lifter = FakeLifter()
    node = make(LiftingNode, lifter=lifter)
    node.autostart()
    return node, lifter, capture(node.publisher), capture(node.markers)


def test_lifting_node_lifts_and_follows_live_parameters(lifting):
    node, lifter, sent, markers = lifting
    assert node.diagnostics.values['backend'] == 'fake'
    node.on_skeletons(skeletons(0, [person()]))
    s3 = skeleton3d_frame_from_msg(sent[-1]).skeletons[0]
    assert s3.track_id == 7 and s3.root_relative and lifter.calls == [None]
    assert markers[-1].markers[0].points[0].z == pytest.approx(3.0)       # drawn at marker_depth_m

    node.on_camera_info(camera_info(640, 480, 60.0, 'cam'))
    node.on_skeletons(skeletons(1, [person()]))
    assert lifter.calls[-1] is not None                      # calibrated and the image's size: used
    assert set_param(node, 'use_camera_info', False).successful
    assert set_param(node, 'marker_depth_m', 5.0).successful
    node.on_skeletons(skeletons(2, [person()]))
    assert lifter.calls[-1] is None
    assert markers[-1].markers[0].points[0].z == pytest.approx(5.0)

    result = set_param(node, 'marker_depth_m', 0.0)          # below the declared range
    assert not result.successful and result.reason
    result = set_param(node, 'model', '/elsewhere/lifter.onnx')
    assert not result.successful and 'read-only' in result.reason
    assert node.display.config.marker_depth_m == 5.0 and node.config.model.endswith('lifter_temporal.onnx')


def test_lifting_node_counts_bad_input(lifting):
    node, lifter, sent, markers = lifting
    node.on_camera_info(camera_info(640, 480, 60.0, 'cam'))
    nan = Skeleton2D(np.full((33, 2), np.nan), np.ones(33), track_id=8, track_state=TrackState.TRACKED)
    node.on_skeletons(skeletons(10, [person(), nan]))
    out = {s.track_id: s for s in skeleton3d_frame_from_msg(sent[-1]).skeletons}
    assert out[8].confidence.max() == 0 and out[7].confidence.max() > 0
    node.on_skeletons(skeletons(11, [person()], size=(1280, 960)))   # CameraInfo of another size: not used
    assert lifter.calls[-1] is None
    node.on_skeletons(skeletons(5, [person(), person()]))            # back in time, and a repeated id
    node.on_skeletons(skeletons(12, [person(state=TrackState.TERMINATED)]))
    assert any(m.action == m.DELETE and m.id == 7 for m in markers[-1].markers)
    assert None in lifter.resets and 7 in lifter.resets
    assert len(sent) == 3
    counters = node.diagnostics.counters
    assert {k: counters.get(k) for k in ('skeletons_dropped', 'camera_info_size_mismatch', 'time_went_backwards',
                                         'frames_dropped')} == {'skeletons_dropped': 1, 'camera_info_size_mismatch': 1,
                                                                'time_went_backwards': 1, 'frames_dropped': 1}


# recorder


def test_recorder_stops_at_a_live_limit(make, tmp_path):
    from nvb_perception.io.bag import BagReader
    node = make(Recorder, {'output': str(tmp_path / 'bag'), 'topics': ['image:std_msgs/msg/String']})
    assert not node.pending and node.writer.count == 0
    node.write('/image', b'one')
    assert set_param(node, 'max_messages', 2).successful
    node.write('/image', b'two')
    node.write('/image', b'three')                           # done: not written
    assert node.done and node.writer.count == 2
    result = set_param(node, 'max_messages', -1)
    assert not result.successful and node.live.config.max_messages == 2
    result = set_param(node, 'output', str(tmp_path / 'other'))
    assert not result.successful and 'read-only' in result.reason
    node.close()
    assert [r.raw for r in BagReader(tmp_path / 'bag').messages()] == [b'one', b'two']


# video_publisher


@pytest.fixture
def folder(tmp_path):
    for i in range(4):
        image = np.zeros((6, 8, 3), np.uint8)
        image[..., 0] = i                                    # blue channel = frame number
        cv2.imwrite(str(tmp_path / f'{i}.png'), image)
    return tmp_path


def test_video_publisher_plays_with_live_parameters(make, folder):
    node = make(VideoPublisher, {'source': str(folder), 'rate': 0.0, 'stamp': 'source'})
    images, infos = capture(node.image_pub), capture(node.info_pub)
    node._tick()
    assert len(images) == len(infos) == 1 and images[0].encoding == 'bgr8'
    assert set_param(node, 'encoding', 'rgb8').successful and set_param(node, 'frame_id', 'cam2').successful
    node._tick()
    assert images[1].encoding == 'rgb8' and images[1].data[2] == 1 and infos[1].header.frame_id == 'cam2'
    result = set_param(node, 'rate', -1.0)
    assert not result.successful and node.config.rate == 0.0
    result = set_param(node, 'source', '/somewhere/else.avi')
    assert not result.successful and 'read-only' in result.reason
    while not node.done:
        node._tick()
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in images]
    assert stamps == [i * 33_333_333 for i in range(4)] and node.published == 4      # folders play at 30 fps
    assert (infos[0].width, infos[0].height) == (8, 6) and infos[0].k[0] > 0


def test_video_publisher_loops_when_asked_while_running(make, folder):
    node = make(VideoPublisher, {'source': str(folder), 'rate': 0.0, 'max_frames': 2})
    images = capture(node.image_pub)
    capture(node.info_pub)
    assert set_param(node, 'loop', True).successful
    for _ in range(8):
        node._tick()
    assert not node.done and len(images) >= 4
    assert images[0].header.stamp != images[2].header.stamp      # stamp 'now': the clock, not the file's time
    assert [m.data[0] for m in images[:4]] == [0, 1, 0, 1]


def test_player_pacing_and_lock_step():
    from nvb_perception.io.player import LockStep, Pacer
    pacer = Pacer()
    assert pacer.due(0, 1.0, 10.0) and not pacer.due(500_000_000, 1.0, 10.4) and pacer.due(500_000_000, 1.0, 10.5)
    assert pacer.due(10**9, 2.0, 10.6)                       # a new rate starts a new schedule at once
    missed = []
    lock = LockStep(missed.append)
    lock.sent(0.0, 1.0)
    assert lock.waiting(1, 0.5) and not missed
    assert not lock.waiting(1, 1.5) and missed == [1] and lock.timeouts == 1
    lock.sent(2.0, 1.0)
    lock.answered()
    assert not lock.waiting(2, 2.1) and lock.timeouts == 1
