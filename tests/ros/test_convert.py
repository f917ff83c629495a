"""Every custom message: data class -> message -> rclpy CDR -> message -> data class, and through a bag."""
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message

from nvb_perception import types as t
from nvb_perception.io.bag import BagReader, BagWriter, deserialize, typestore
from nvb_perception.ros import convert as c
from nvb_perception.ros.node_utils import message_class

STAMP = t.Stamp(stamp_ns=1_700_000_123_456_789_012, frame_id='camera_optical_frame')


def frame_2d():
    rng = np.random.default_rng(3)
    s = t.Skeleton2D(rng.random((33, 2)) * 640, rng.random(33), track_id=4, track_state=t.TrackState.TRACKED,
                     score=0.9, bbox=[1, 2, 300, 400])
    return t.Skeleton2DFrame(STAMP, (640, 480), (s, t.Skeleton2D(np.zeros((0, 2)), np.zeros(0), track_id=5,
                                                                  track_state=t.TrackState.TERMINATED)))


def frame_3d():
    rng = np.random.default_rng(4)
    s = t.Skeleton3D(rng.normal(size=(17, 3)), rng.random(17), track_id=4, root_relative=False,
                     position_std=rng.random(17) * 0.05)
    return t.Skeleton3DFrame(STAMP, (s, t.Skeleton3D(np.zeros((17, 3)), np.ones(17), track_id=9)))


def frame_cue():
    cue = t.Cue('self_touch_face', 4, False, 0.75, start_ns=STAMP.stamp_ns - 10**9, end_ns=STAMP.stamp_ns,
                evidence=(('hand_face_distance_px', 12.5), ('duration_s', 1.0)), explanation='hand on cheek')
    return t.CueFrame(STAMP, (cue, t.Cue('head_nod', 4, True, 0.5, start_ns=STAMP.stamp_ns)))


def frame_action():
    return t.ActionFrame(STAMP, (t.Action(('drink', 'sit'), [0.25, 0.5], track_id=4,
                                          evidence=(('layer9_head2', 0.5),)),))


def frame_risk():
    r = t.ErgonomicRisk('REBA', 4, 6, 5, 8, 2, 'Medium risk, investigate', side='left',
                        segment_scores=(('trunk', 3), ('neck', 0)), angles_deg=(('trunk_flexion_deg', 35.5),),
                        assumed_inputs=('load_kg=0', 'coupling=good'))
    return t.ErgonomicRiskFrame(STAMP, (r,))


CASES = {
    'Skeleton2DArray': (frame_2d, c.skeleton2d_frame_to_msg, c.skeleton2d_frame_from_msg),
    'Skeleton3DArray': (frame_3d, c.skeleton3d_frame_to_msg, c.skeleton3d_frame_from_msg),
    'CueArray': (frame_cue, c.cue_frame_to_msg, c.cue_frame_from_msg),
    'ActionArray': (frame_action, c.action_frame_to_msg, c.action_frame_from_msg),
    'ErgonomicRiskArray': (frame_risk, c.ergonomic_risk_frame_to_msg, c.ergonomic_risk_frame_from_msg),
}


def assert_same(a, b):
    """Field-by-field equality of data classes holding arrays (float32 precision)."""
    assert type(a) is type(b)
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_allclose(y, x.astype(np.float32), rtol=0, atol=0)
        elif isinstance(x, tuple) and x and hasattr(x[0], '__dataclass_fields__'):
            assert len(x) == len(y)
            for xi, yi in zip(x, y):
                assert_same(xi, yi)
        elif isinstance(x, float):
            assert y == pytest.approx(x, rel=1e-6)
        elif isinstance(x, tuple) and x and isinstance(x[0], tuple):
            assert [n for n, _ in x] == [n for n, _ in y]
            np.testing.assert_allclose([v for _, v in y], [v for _, v in x], rtol=1e-6)
        else:
            assert x == y, name


@pytest.mark.parametrize('name', sorted(CASES))
def test_roundtrip_through_rclpy_serialization(name):
    make, to_msg, from_msg = CASES[name]
    data = make()
    raw = serialize_message(to_msg(data))
    back = from_msg(deserialize_message(raw, message_class(f'nvb_perception_msgs/msg/{name}')))
    assert_same(data, back)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_roundtrip_through_a_bag(tmp_path, storage):
    path = tmp_path / f'bag_{storage}'
    with BagWriter(path, storage=storage) as bag:
        for name, (make, to_msg, _) in CASES.items():
            bag.add_topic(f'/{name}', f'nvb_perception_msgs/msg/{name}')
            bag.write(f'/{name}', STAMP.stamp_ns, serialize_message(to_msg(make())))
    seen = set()
    for record in BagReader(path).messages():
        name = record.topic[1:]
        make, _, from_msg = CASES[name]
        # read back with rclpy (what ros2 bag play would publish) ...
        assert_same(make(), from_msg(deserialize_message(record.raw, message_class(record.msgtype))))
        # ... and decode with the pure reader (rosbags objects have the same fields)
        assert deserialize(record).header.frame_id == STAMP.frame_id
        seen.add(name)
    assert seen == set(CASES)


def test_bag_carries_the_real_type_hashes(tmp_path):
    """The hash rosbags writes equals the one rosidl generated in the colcon build."""
    import json

    from ament_index_python.packages import get_package_share_directory
    share = get_package_share_directory('nvb_perception_msgs')
    for name in CASES:
        desc = json.load(open(f'{share}/msg/{name}.json'))
        rosidl_hash = desc['type_hashes'][0]['hash_string']
        assert typestore().hash_rihs01(f'nvb_perception_msgs/msg/{name}') == rosidl_hash
    path = tmp_path / 'bag'
    with BagWriter(path) as bag:
        bag.add_topic('/s', 'nvb_perception_msgs/msg/Skeleton2DArray')
    meta = (path / 'metadata.yaml').read_text()
    assert 'RIHS01_' in meta and 'version: 9' in meta
