"""Bad input to lifting, risk, cue and action nodes, bad files to video_publisher, bad parameters to recorder.

Each node runs as its own process. Messages are sent in lock-step (publish, wait for the output or for the
/diagnostics counter, then the next), so the tests hold however loaded the machine is. A node must stay up,
count each problem in /diagnostics and keep producing the right output for the good messages that follow.
pose_node has its own file (test_pose_node_bad_input.py).
"""
import re
import time
from array import array

import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CameraInfo, Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.io.bag import BagWriter
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import (
    action_frame_from_msg,
    cue_frame_from_msg,
    ergonomic_risk_frame_from_msg,
    skeleton2d_frame_to_msg,
    skeleton3d_frame_from_msg,
    skeleton3d_frame_to_msg,
    time_to_msg,
)
from nvb_perception.ros.video_publisher import camera_info
from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Skeleton3D, Skeleton3DFrame, Stamp, TrackState

DIAGNOSTICS = {'/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}
S2D, S3D = 'nvb_perception_msgs/msg/Skeleton2DArray', 'nvb_perception_msgs/msg/Skeleton3DArray'
LIVE = TrackState.TRACKED


@pytest.fixture(scope='module')
def people(assets):
    """Real BlazePose skeletons: {'messi': (bgr, skeleton), 'astronaut': (bgr, skeleton)}."""
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    estimator = PoseEstimator.from_config(PoseConfig(static_image_mode=True, max_people=1))
    found = {}
    for name, path in (('messi', 'opencv/messi5.jpg'), ('astronaut', 'photos/astronaut.png')):
        bgr = cv2.imread(str(assets / 'data' / path))
        visible = estimator(bgr, 0).visible
        assert visible, name
        found[name] = (bgr, visible[0].skeleton)
    estimator.close()
    return found


def diagnostics(io, node: str) -> dict:
    """The newest /diagnostics values of `node`."""
    for _, arr in reversed(io.messages['/diagnostics']):
        for status in arr.status:
            if status.name.endswith(node):
                return {kv.key: kv.value for kv in status.values}
    return {}


def wait_diagnostics(io, node: str, expected: dict, timeout: float = 20.0) -> dict:
    """Wait until the node's diagnostics show every expected value; return the expected keys as last seen."""
    end = time.monotonic() + timeout
    while True:
        values = diagnostics(io, node)
        seen = {key: values.get(key) for key in expected}
        if seen == {k: str(v) for k, v in expected.items()} or time.monotonic() > end:
            return seen
        time.sleep(0.1)


def send(io, pub, msg, topic: str, timeout: float = 30.0):
    """Publish and wait for the one output message it causes; that message."""
    n = io.count(topic)
    pub.publish(msg)
    assert io.wait_for(topic, n + 1, timeout), f'no {topic} after message {n}'
    return io.messages[topic][n][1]


def image_msg(bgr, stamp_ns: int, **override) -> Image:
    msg = Image(**numpy_to_image_fields(bgr, 'bgr8'))
    msg.header.stamp, msg.header.frame_id = time_to_msg(stamp_ns), 'camera_optical_frame'
    for key, value in override.items():
        setattr(msg, key, value)
    return msg


def bad_images(bgr, stamp_ns: int) -> dict:
    """Images no node can decode, by what is wrong with them."""
    return {'encoding': image_msg(bgr, stamp_ns, encoding='bayer_grbg8'),
            'truncated': image_msg(bgr, stamp_ns + 1, data=bytes(100)),
            '0x0': image_msg(np.zeros((1, 1, 3), np.uint8), stamp_ns + 2, height=0, width=0, step=0, data=b''),
            'step': image_msg(bgr, stamp_ns + 3, step=7)}


def skeletons_msg(stamp_ns: int, skeletons, size=(548, 342)):
    return skeleton2d_frame_to_msg(Skeleton2DFrame(Stamp(stamp_ns, 'camera_optical_frame'), size, tuple(skeletons)))


def like(s: Skeleton2D, track_id: int, state=LIVE, keypoints=None, confidence=None, **kw) -> Skeleton2D:
    return Skeleton2D(s.keypoints if keypoints is None else keypoints,
                      s.confidence if confidence is None else confidence,
                      track_id=track_id, track_state=state, bbox=kw.pop('bbox', s.bbox), **kw)


def no_traceback(node) -> None:
    assert node.process.poll() is None, node.log()
    assert 'Traceback' not in node.log(), node.log()


@pytest.mark.slow
def test_lifting_node(people, log_dir):
    _, messi = people['messi']
    node = NodeProcess('lifting_node')
    topics = {'skeletons_3d': S3D, 'skeleton_markers': 'visualization_msgs/msg/MarkerArray', **DIAGNOSTICS}
    with TopicListener(topics) as io, ProcessGraph([node], log_dir) as graph:
        pub = io.publisher('skeletons_2d', S2D)
        infos = io.publisher('camera_info', 'sensor_msgs/msg/CameraInfo')
        assert io.wait_for_subscribers(pub) and io.wait_for_subscribers(infos), graph.logs()

        def lift(stamp_s, skeletons, size=(548, 342)):
            return skeleton3d_frame_from_msg(send(io, pub, skeletons_msg(int(stamp_s * 1e9), skeletons, size),
                                                  'skeletons_3d'))

        first = lift(0, [like(messi, 7, TrackState.NEW)]).skeletons[0]
        assert first.root_relative and first.confidence.max() > 0
        assert wait_diagnostics(io, 'lifting_node', {'camera_info': 'none received'}) == {
            'camera_info': 'none received'}
        # unusable skeletons next to a good one: the good one is lifted, the others pass with zero confidence
        nan_xy = np.full((33, 2), np.nan)
        mixed = lift(1, [like(messi, 7), like(messi, 8, keypoints=nan_xy),
                         like(messi, 9, confidence=np.full(33, np.inf)),
                         like(messi, 10, keypoints=messi.keypoints[:20], confidence=messi.confidence[:20]),
                         like(messi, 11, joint_set='coco17')])
        conf = {s.track_id: s.confidence.max() for s in mixed.skeletons}
        assert conf[7] > 0 and conf[8] == conf[9] == conf[10] == conf[11] == 0, conf
        np.testing.assert_allclose(mixed.skeletons[0].positions, first.positions, atol=0.05)
        # malformed messages: each is dropped whole (no output), the good one after them comes out
        uneven = skeletons_msg(2 * 10**9, [like(messi, 7)])
        uneven.skeletons[0].y = array('f', [1.0] * 5)
        bad_state = skeletons_msg(3 * 10**9, [like(messi, 7)])
        bad_state.skeletons[0].track_state = 42
        for msg in (uneven, bad_state, skeletons_msg(4 * 10**9, [like(messi, 7), like(messi, 7)])):
            pub.publish(msg)
        assert lift(5, [like(messi, 7)]).stamp.stamp_ns == 5 * 10**9
        # unknown ids ending or lost: passed through, a delete marker for the terminated one
        ended = lift(6, [like(messi, 55, TrackState.TERMINATED), like(messi, 56, TrackState.LOST), like(messi, 7)])
        assert [s.track_state for s in ended.skeletons] == [TrackState.TERMINATED, TrackState.LOST, LIVE]
        assert io.wait_until(lambda: io.deleted('skeleton_markers', 55), timeout=30)     # follows the skeletons
        assert lift(2.5, [like(messi, 7)]).stamp.stamp_ns == 2_500_000_000          # time went backwards
        # uncalibrated camera_info (K all zero): still root-relative
        zero = CameraInfo(width=548, height=342)
        assert publish_until(io, infos, zero, {'camera_info': 'uncalibrated (K is zero)'}), graph.logs()
        assert lift(7, [like(messi, 7)]).skeletons[0].root_relative
        # calibrated, but for another image size than the skeletons': not used; for the right size: placed
        assert publish_until(io, infos, camera_info(548, 342, 60.0, 'camera_optical_frame'),
                             {'camera_info': 'calibrated'}), graph.logs()
        assert lift(8, [like(messi, 7)], size=(1096, 684)).skeletons[0].root_relative
        placed = lift(9, [like(messi, 7)]).skeletons[0]
        assert not placed.root_relative and 1.0 < placed.positions[H36M.PELVIS][2] < 30.0
        counts = wait_diagnostics(io, 'lifting_node', {'skeletons_dropped': 4, 'frames_dropped': 3,
                                                       'time_went_backwards': 1, 'camera_info_size_mismatch': 1})
        assert counts == {'skeletons_dropped': '4', 'frames_dropped': '3', 'time_went_backwards': '1',
                          'camera_info_size_mismatch': '1'}, graph.logs()
        no_traceback(node)


def publish_until(io, pub, msg, expected: dict, timeout: float = 20.0) -> bool:
    """Publish a latched-like message (camera_info is best effort) until the node's diagnostics show it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pub.publish(msg)
        if wait_diagnostics(io, 'lifting_node', expected, timeout=1.5) == {k: str(v) for k, v in expected.items()}:
            return True
    return False


@pytest.mark.slow
def test_risk_node(assets, log_dir):
    from nvb_perception.datasets.bvh import load_h36m
    from nvb_perception.ergonomics import assess_rula
    pose = load_h36m(assets / 'data' / 'bvh' / 'test.bvh').positions[100]          # real mocap, z up
    node = NodeProcess('risk_node', {'methods': ['RULA'], 'up': [0.0, 0.0, 1.0]})
    topics = {'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray',
              'risk_markers': 'visualization_msgs/msg/MarkerArray', **DIAGNOSTICS}

    def frame(stamp_s, people):
        skeletons = tuple(Skeleton3D(p, np.ones(len(p)), track_id=tid, track_state=state) for tid, p, state in people)
        return skeleton3d_frame_to_msg(Skeleton3DFrame(Stamp(int(stamp_s * 1e9), 'cam'), skeletons))

    with TopicListener(topics) as io, ProcessGraph([node], log_dir) as graph:
        pub = io.publisher('skeletons_3d', S3D)
        assert io.wait_for_subscribers(pub), graph.logs()

        def score(msg):
            return {r.track_id: r for r in ergonomic_risk_frame_from_msg(send(io, pub, msg, 'ergonomic_risk')).risks}

        expected = assess_rula(pose, up=(0.0, 0.0, 1.0)).score
        assert score(frame(0, [(1, pose, LIVE)]))[1].score == expected
        one_inf, all_inf = pose.copy(), np.full_like(pose, np.inf)
        one_inf[H36M.LEFT_WRIST] = np.inf
        scored = score(frame(1, [(1, pose, LIVE), (2, one_inf, LIVE), (3, all_inf, LIVE)]))
        assert scored[1].score == expected
        for tid in (2, 3):            # an infinite joint is unobservable: a widened range, never a crash
            assert 1 <= scored[tid].score_min <= scored[tid].score <= scored[tid].score_max
        assert score(frame(2, [])) == {}                                                   # empty array
        assert score(frame(3, [(77, pose, TrackState.TERMINATED)])) == {}                # unknown id ends
        assert io.wait_until(lambda: io.deleted('risk_markers', 77), timeout=30)         # follows the scores
        assert score(frame(4, [(4, np.zeros((0, 3)), LIVE), (1, pose, LIVE)])).keys() == {1}   # no joints
        uneven = frame(5, [(1, pose, LIVE)])
        uneven.skeletons[0].z = array('f', [0.0] * 3)
        pub.publish(uneven)                                                              # dropped whole
        assert score(frame(2.5, [(1, pose, LIVE)]))[1].score == expected                # time went backwards
        counted = {'skeletons_dropped': 2, 'time_went_backwards': 1, 'skeletons_with_missing_joints': 2}
        counts = wait_diagnostics(io, 'risk_node', counted)
        assert counts == {k: str(v) for k, v in counted.items()}, graph.logs()
        no_traceback(node)


@pytest.mark.slow
def test_cue_node(people, log_dir):
    bgr, person = people['astronaut']
    period = 100_000_000
    node = NodeProcess('cue_node', {'use_skeletons_3d': False, 'baseline.mode': 'fixed', 'image_qos': 'reliable',
                                    'max_people': 1, 'sync_timeout_s': 5.0})
    with TopicListener({'cues': 'nvb_perception_msgs/msg/CueArray', **DIAGNOSTICS}) as io, \
            ProcessGraph([node], log_dir) as graph:
        images, pub = io.publisher('image', 'sensor_msgs/msg/Image'), io.publisher('skeletons_2d', S2D)
        assert io.wait_for_subscribers(pub, timeout=60) and io.wait_for_subscribers(images), graph.logs()
        size = (bgr.shape[1], bgr.shape[0])

        def frame(i, image, skeleton, wait=True):
            images.publish(image_msg(image, int(i * period)) if isinstance(image, np.ndarray) else image)
            msg = skeletons_msg(int(i * period), [skeleton], size)
            return cue_frame_from_msg(send(io, pub, msg, 'cues', 60)) if wait else pub.publish(msg)

        for i in range(6):
            frame(i, bgr, like(person, 3, TrackState.NEW if i == 0 else LIVE))
        for j, bad in enumerate(bad_images(bgr, 6 * period).values()):    # undecodable: dropped, no output
            bad.header.stamp = time_to_msg((6 + j) * period)
            frame(6 + j, bad, like(person, 3), wait=False)
        assert frame(10, bgr, like(person, 3)).stamp.stamp_ns == 10 * period
        big = np.zeros((2160, 3840, 3), np.uint8)                         # a 4K image, the person top left
        big[:bgr.shape[0], :bgr.shape[1]] = bgr
        assert frame(11, big, like(person, 3)).stamp.stamp_ns == 11 * period
        frame(12, bgr, like(person, 3, keypoints=np.full((33, 2), np.nan)))              # treated as lost
        frame(13, bgr, like(person, 3, keypoints=person.keypoints[:20], confidence=person.confidence[:20]))
        last = [frame(i, bgr, like(person, 3)) for i in range(14, 20)]
        back = frame(10.5, bgr, like(person, 3))                          # time went backwards
        assert back.stamp.stamp_ns == 1_050_000_000
        final = frame(20, bgr, like(person, 3))
        counts = wait_diagnostics(io, 'cue_node', {'frames_dropped': 4, 'skeletons_dropped': 2,
                                                   'time_went_backwards': 1})
        assert counts == {'frames_dropped': '4', 'skeletons_dropped': '2', 'time_went_backwards': '1'}, graph.logs()
        no_traceback(node)
    # the face models still see the smile after all that
    assert any(c.name == 'smile' and c.active and c.track_id == 3 for f in last + [final] for c in f.cues), \
        [(c.name, c.active) for f in last for c in f.cues]
    assert all(np.isfinite(c.confidence) for f in last for c in f.cues)


@pytest.mark.slow
def test_action_node(people, action_head, log_dir):
    bgr, person = people['messi']
    node = NodeProcess('action_node', {'image_qos': 'reliable', 'threads': 1, 'head_model': str(action_head)})
    with TopicListener({'actions': 'nvb_perception_msgs/msg/ActionArray', **DIAGNOSTICS}) as io, \
            ProcessGraph([node], log_dir) as graph:
        images, pub = io.publisher('image', 'sensor_msgs/msg/Image'), io.publisher('skeletons_2d', S2D)
        assert io.wait_for_subscribers(pub, timeout=60) and io.wait_for_subscribers(images), graph.logs()

        def frame(stamp_s, image, skeletons, dropped=None):
            """One image + skeletons pair; waits for the actions, or for `dropped` frames to be counted."""
            stamp_ns = int(stamp_s * 1e9)
            msg = image_msg(image, stamp_ns) if isinstance(image, np.ndarray) else image
            msg.header.stamp = time_to_msg(stamp_ns)
            images.publish(msg)
            skeletons = skeletons_msg(stamp_ns, skeletons, (msg.width, msg.height))
            if dropped is None:
                return action_frame_from_msg(send(io, pub, skeletons, 'actions', 60))
            pub.publish(skeletons)
            assert wait_diagnostics(io, 'action_node', {'frames_dropped': dropped}, 30) == {
                'frames_dropped': str(dropped)}, graph.logs()

        good = frame(1, bgr, [like(person, 7, TrackState.NEW)])
        assert [a.track_id for a in good.actions] == [7]
        for n, bad in enumerate(bad_images(bgr, 0).values(), start=1):
            frame(1 + n, bad, [like(person, 7)], dropped=n)
        big = np.zeros((2160, 3840, 3), np.uint8)
        big[:bgr.shape[0], :bgr.shape[1]] = bgr
        assert [a.track_id for a in frame(6, big, [like(person, 7)]).actions] == [7]
        boxes = frame(7, bgr, [like(person, 7), like(person, 8, bbox=np.full(4, np.nan)),
                               like(person, 9, bbox=np.array([-1e9, -1e9, 1e9, 1e9]))])
        assert [a.track_id for a in boxes.actions] == [7]
        back = frame(6.5, bgr, [like(person, 7)])                         # time went backwards
        assert back.stamp.stamp_ns == 6_500_000_000 and [a.track_id for a in back.actions] == [7]
        last = frame(8, bgr, [like(person, 7)])
        counts = wait_diagnostics(io, 'action_node', {'frames_dropped': 4, 'skeletons_dropped': 2})
        assert counts == {'frames_dropped': '4', 'skeletons_dropped': '2'}, graph.logs()
        no_traceback(node)
    probabilities = last.actions[0].probabilities
    assert np.isfinite(probabilities).all() and ((probabilities >= 0) & (probabilities <= 1)).all()


def exits_with_error(node, text: str, code: int = 2) -> None:
    """The node ended by itself with `code` and one error line containing `text`, without a traceback."""
    assert node.wait(60) == code, node.log()
    log = node.log()
    errors = [line for line in log.splitlines() if re.match(r'\[\w+\] error: ', line)]
    assert len(errors) == 1 and text in errors[0], log
    assert 'Traceback' not in log, log


@pytest.mark.slow
def test_video_publisher_bad_sources(assets, tmp_path, log_dir):
    video = (assets / 'data' / 'opencv' / 'vtest.avi').read_bytes()
    (tmp_path / 'notes.avi').write_text('not a video\n')
    (tmp_path / 'header_only.avi').write_bytes(video[:2000])
    (tmp_path / 'tail_cut.avi').write_bytes(video[:len(video) // 3])      # about 260 of 795 frames decode
    (tmp_path / 'empty_folder').mkdir()
    (tmp_path / 'bad_yaml').mkdir()
    (tmp_path / 'bad_yaml' / 'metadata.yaml').write_text('{{{ not yaml')
    with BagWriter(tmp_path / 'cut_bag') as bag:
        bag.add_topic('/image', 'sensor_msgs/msg/Image')
        for i in range(3):
            bag.write('/image', i, serialize_message(image_msg(np.zeros((8, 8, 3), np.uint8), i)))
    mcap = next((tmp_path / 'cut_bag').glob('*.mcap'))
    mcap.write_bytes(mcap.read_bytes()[:mcap.stat().st_size // 2])
    cases = {'notes': ('notes.avi', 'cannot open video'), 'header_only': ('header_only.avi', 'cannot open video'),
             'empty_folder': ('empty_folder', 'no frames could be read'),
             'bad_yaml': ('bad_yaml', 'cannot read bag'), 'cut_bag': ('cut_bag', 'cannot read bag')}
    nodes = {name: NodeProcess('video_publisher', {'source': str(tmp_path / src), 'rate': 0.0}, name=name)
             for name, (src, _) in cases.items()}
    tail = NodeProcess('video_publisher', {'source': str(tmp_path / 'tail_cut.avi'), 'rate': 0.0,
                                           'start_frame': 250}, name='tail_cut')
    with ProcessGraph([*nodes.values(), tail], log_dir):
        for name, (src, text) in cases.items():
            exits_with_error(nodes[name], text)
            assert src in nodes[name].log()
        assert tail.wait(60) == 0, tail.log()              # plays what decodes, then ends normally
    assert 'published ' in tail.log() and 'published 0 frames' not in tail.log()


@pytest.mark.slow
def test_recorder_bad_parameters(tmp_path, log_dir):
    (tmp_path / 'a_file').write_text('')
    bag = str(tmp_path / 'bag')
    cases = {'no_output': ({'topics': ['image']}, 'parameter output is empty'),
             'no_topics': ({'output': bag}, 'parameter topics is empty'),
             'storage': ({'output': bag, 'topics': ['image'], 'storage': 'zip'}, "storage='zip' is invalid"),
             'msg_type': ({'output': bag + '2', 'topics': ['image:nvb_perception_msgs/msg/Nope']},
                          "unknown message type 'nvb_perception_msgs/msg/Nope'"),
             'not_a_dir': ({'output': str(tmp_path / 'a_file' / 'bag'), 'topics': ['image']}, 'cannot create bag')}
    nodes = {name: NodeProcess('recorder', params, name=name) for name, (params, _) in cases.items()}
    with ProcessGraph(list(nodes.values()), log_dir):
        for name, (_, text) in cases.items():
            exits_with_error(nodes[name], text)


@pytest.mark.slow
def test_parameter_out_of_range_or_of_the_wrong_type(tmp_path, log_dir):
    """A command-line value outside the declared range, or of another type, is rejected by rclpy itself."""
    cases = {'depth': ({'queue_depth': 0}, 'queue_depth'), 'limit': ({'max_messages': -1}, 'max_messages'),
             'depth_type': ({'queue_depth': 'abc'}, 'queue_depth')}
    nodes = {name: NodeProcess('recorder', {'output': str(tmp_path / name), 'topics': ['image'], **params},
                               name=name) for name, (params, _) in cases.items()}
    with ProcessGraph(list(nodes.values()), log_dir):
        for name, (_, text) in cases.items():
            exits_with_error(nodes[name], text)
