"""hri_bridge as a process over DDS: TF frames per person and joint, REP-155 bodies appearing and disappearing."""
import time

import numpy as np
import pytest

from nvb_perception.hri import body_id
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.lifting.frames import matrix_from_quaternion
from nvb_perception.ros.convert import skeleton2d_frame_to_msg, skeleton3d_frame_to_msg
from nvb_perception.skeleton import BlazePose
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Skeleton3D, Skeleton3DFrame, Stamp, TrackState
from tests.fixtures import hri_prefix
from tests.unit.test_integrators_frames import standing

FRAME = 'camera_optical_frame'
S3 = 'nvb_perception_msgs/msg/Skeleton3DArray'
S2 = 'nvb_perception_msgs/msg/Skeleton2DArray'


def frame3d(i, people) -> object:
    """people: (track id, state, positions, root_relative)."""
    return skeleton3d_frame_to_msg(Skeleton3DFrame(Stamp(i * 10**8, FRAME), tuple(
        Skeleton3D(p, np.zeros(17) if state >= TrackState.LOST else np.ones(17), track_id=t, track_state=state,
                   root_relative=rel) for t, state, p, rel in people)))


def frame2d(i, people) -> object:
    """people: (track id, state); every person the same synthetic BlazePose skeleton shifted by its id."""
    skeletons = []
    for t, state in people:
        kp = np.column_stack([np.linspace(100, 300, 33) + t, np.linspace(50, 400, 33)])
        skeletons.append(Skeleton2D(kp, np.full(33, 0.9), track_id=t, track_state=state, score=0.7,
                                    bbox=[90 + t, 40, 310 + t, 410]))
    return skeleton2d_frame_to_msg(Skeleton2DFrame(Stamp(i * 10**8, FRAME), (640, 480), tuple(skeletons)))


def children(msg) -> dict:
    return {t.child_frame_id: t for t in msg.transforms}


@pytest.mark.integrators
def test_tf_frames_appear_per_person_and_joint_and_stop_when_the_track_ends(log_dir):
    node = NodeProcess('hri_bridge', {'joint_frames': True})
    one, two = f'body_{body_id(1)}', f'body_{body_id(2)}'
    with TopicListener({'/tf': 'tf2_msgs/msg/TFMessage'}) as io, ProcessGraph([node], log_dir) as graph:
        pub = io.publisher('skeletons_3d', S3)
        assert io.wait_for_subscribers(pub), graph.logs()
        people = [(1, TrackState.TRACKED, standing(at=(-0.5, 0, 3)), False),
                  (2, TrackState.TRACKED, standing(at=(0.8, 0, 4)), False),
                  (3, TrackState.TRACKED, standing(at=(0, 0, 0)), True)]          # root-relative: no frame
        assert io.publish_until_answered([(pub, frame3d(1, people))], ['/tf'], resend_s=1.0, timeout=20), graph.logs()
        for i in range(2, 4):
            n = io.count('/tf')
            pub.publish(frame3d(i, people))
            assert io.wait_for('/tf', n + 1, timeout=10), graph.logs()
        last = children(io.messages['/tf'][-1][1])
        assert one in last and two in last and f'body_{body_id(3)}' not in last
        body = last[two]
        assert body.header.frame_id == FRAME and body.header.stamp.sec == 0 and body.header.stamp.nanosec == 3 * 10**8
        assert np.allclose([body.transform.translation.x, body.transform.translation.y,
                            body.transform.translation.z], [0.8, 0, 4], atol=1e-5)
        r = body.transform.rotation           # facing the camera: forward -z, left +x, up -y (optical)
        assert np.allclose(matrix_from_quaternion([r.x, r.y, r.z, r.w]), [[0, 1, 0], [0, 0, -1], [-1, 0, 0]],
                           atol=1e-5)
        wrist = last[f'{two}/left_wrist']
        assert wrist.header.frame_id == two and wrist.transform.rotation.w == 1.0
        assert len([c for c in last if c.startswith(one + '/')]) == 17
        # track 1 ends: its frames are no longer published, track 2's go on
        n = io.count('/tf')
        ended = [(1, TrackState.TERMINATED, standing(), False), people[1]]
        pub.publish(frame3d(4, ended))
        pub.publish(frame3d(5, [people[1]]))
        assert io.wait_for('/tf', n + 2, timeout=10), graph.logs()
        for _, msg in io.messages['/tf'][n:]:
            names = children(msg)
            assert two in names and not any(c.startswith(one) for c in names)
        assert node.process.poll() is None, graph.logs()


def _wait(predicate, timeout=10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        time.sleep(0.05)
    return predicate()


@pytest.mark.integrators
def test_rep155_bodies_appear_and_disappear_with_the_tracks(log_dir):
    if not hri_prefix.available():
        pytest.skip('hri_msgs test fixture missing: run `make setup` (scripts/setup.sh builds it)')
    hri_prefix.load()
    ids = {t: body_id(t) for t in (4, 5)}
    tracked = '/humans/bodies/tracked'
    per_body = {t: {'roi': f'/humans/bodies/{b}/roi', 'skeleton2d': f'/humans/bodies/{b}/skeleton2d'}
                for t, b in ids.items()}
    topics = {tracked: 'hri_msgs/msg/IdsList'}
    for t in ids:
        topics[per_body[t]['roi']] = 'hri_msgs/msg/NormalizedRegionOfInterest2D'
        topics[per_body[t]['skeleton2d']] = 'hri_msgs/msg/Skeleton2D'
    node = NodeProcess('hri_bridge', {'forget_after_s': 2.0})
    with TopicListener(topics) as io, ProcessGraph([node], log_dir, env=hri_prefix.environment()) as graph:
        pub = io.publisher('skeletons_2d', S2)
        assert io.wait_for_subscribers(pub), graph.logs()
        both = frame2d(1, [(4, TrackState.NEW), (5, TrackState.NEW)])
        assert io.publish_until_answered([(pub, both)], list(topics), resend_s=0.5, timeout=20), graph.logs()
        assert list(io.messages[tracked][-1][1].ids) == sorted(ids.values())
        roi = io.messages[per_body[5]['roi']][-1][1]
        assert np.allclose([roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c],
                           [95 / 640, 40 / 480, 315 / 640, 410 / 480, 0.7], atol=1e-6)
        assert roi.header.frame_id == FRAME and roi.header.stamp.nanosec == 10**8
        points = io.messages[per_body[5]['skeleton2d']][-1][1].skeleton
        kp = np.column_stack([np.linspace(100, 300, 33) + 5, np.linspace(50, 400, 33)]) / [640, 480]
        assert len(points) == 18 and np.allclose([points[0].x, points[0].y], kp[BlazePose.NOSE], atol=1e-6)
        neck = (kp[BlazePose.LEFT_SHOULDER] + kp[BlazePose.RIGHT_SHOULDER]) / 2
        assert np.allclose([points[1].x, points[1].y, points[1].c], [*neck, 0.9], atol=1e-6)
        assert io.node.count_publishers(per_body[4]['roi']) == 1
        # track 4 ends: it leaves the tracked list and its topics lose their publisher
        n = io.count(tracked)
        pub.publish(frame2d(2, [(4, TrackState.TERMINATED), (5, TrackState.TRACKED)]))
        assert io.wait_for(tracked, n + 1, timeout=10), graph.logs()
        assert list(io.messages[tracked][-1][1].ids) == [ids[5]]
        assert io.node.count_publishers(per_body[5]['roi']) == 1
        assert _wait(lambda: io.node.count_publishers(per_body[4]['roi']) == 0
                     and io.node.count_publishers(per_body[4]['skeleton2d']) == 0), graph.logs()
        # track 5 falls silent (its TERMINATED never comes): forgotten after forget_after_s
        n = io.count(tracked)
        assert _wait(lambda: io.count(tracked) > n and not io.messages[tracked][-1][1].ids, 6.0), graph.logs()
        assert _wait(lambda: io.node.count_publishers(per_body[5]['roi']) == 0), graph.logs()
        assert node.process.poll() is None, graph.logs()


@pytest.mark.integrators
def test_tf2_msgs_has_the_type_hash_of_ros():
    """The fallback built by setup.sh (or the installed package) matches ROS's TFMessage: other machines accept it."""
    import json
    from pathlib import Path

    from ament_index_python.packages import get_package_share_directory
    description = json.loads((Path(get_package_share_directory('tf2_msgs')) / 'msg' / 'TFMessage.json').read_text())
    hashes = {h['type_name']: h['hash_string'] for h in description['type_hashes']}
    assert hashes['tf2_msgs/msg/TFMessage'] == (
        'RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087')      # ros2 topic info -v /tf
