"""Joint sets, joint-set mappings and the data classes' own checks."""
import numpy as np
import pytest

from nvb_perception import skeleton as sk
from nvb_perception.types import ErgonomicRisk, Skeleton2D, Skeleton3D, TrackState


def test_joint_sets_sizes_and_lookup():
    assert (len(sk.BlazePose), len(sk.Coco), len(sk.H36M)) == (33, 17, 17)
    assert sk.joint_set('h36m17') is sk.H36M
    with pytest.raises(ValueError, match='unknown joint set'):
        sk.joint_set('smpl24')


def test_connections_are_in_range():
    for name, pairs in sk.CONNECTIONS.items():
        n = len(sk.JOINT_SETS[name])
        assert all(0 <= a < n and 0 <= b < n for a, b in pairs)


def test_blazepose_to_coco_selects_same_names():
    points = np.arange(33 * 2, dtype=np.float32).reshape(33, 2)
    coco = sk.blazepose_to_coco(points)
    for joint in sk.Coco:
        np.testing.assert_array_equal(coco[joint], points[sk.BlazePose[joint.name]])


def test_blazepose_to_h36m_synthesised_joints():
    rng = np.random.default_rng(1)
    points = rng.random((4, 33, 3))
    conf = rng.random((4, 33))
    h36m, c = sk.blazepose_to_h36m(points, conf)
    b, h = sk.BlazePose, sk.H36M
    assert h36m.shape == (4, 17, 3) and c.shape == (4, 17)
    pelvis = (points[:, b.LEFT_HIP] + points[:, b.RIGHT_HIP]) / 2
    thorax = (points[:, b.LEFT_SHOULDER] + points[:, b.RIGHT_SHOULDER]) / 2
    np.testing.assert_allclose(h36m[:, h.PELVIS], pelvis)
    np.testing.assert_allclose(h36m[:, h.SPINE], (pelvis + thorax) / 2)
    np.testing.assert_allclose(h36m[:, h.LEFT_WRIST], points[:, b.LEFT_WRIST])
    np.testing.assert_allclose(c[:, h.PELVIS], np.minimum(conf[:, b.LEFT_HIP], conf[:, b.RIGHT_HIP]))
    with pytest.raises(ValueError, match='expected'):
        sk.blazepose_to_h36m(points[:, :17])


def test_dataclasses_validate():
    s = Skeleton2D(np.zeros((33, 2)), np.ones(33), track_state=1)
    assert s.track_state is TrackState.TRACKED and s.keypoints.dtype == np.float32
    with pytest.raises(ValueError, match='33 keypoints but 17'):
        Skeleton2D(np.zeros((33, 2)), np.ones(17))
    with pytest.raises(ValueError, match='position_std'):
        Skeleton3D(np.zeros((17, 3)), np.ones(17), position_std=np.ones(3))
    with pytest.raises(ValueError, match='method'):
        ErgonomicRisk('OWAS', 0, 1, 1, 1, 1, '')
    with pytest.raises(ValueError, match='outside its range'):
        ErgonomicRisk('RULA', 0, 5, 1, 4, 3, '')
