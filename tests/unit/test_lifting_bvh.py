"""BVH parsing, forward kinematics, unit and up-axis detection, and the H36M mapping of the bvhtools files."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvb_perception.datasets import bvh
from nvb_perception.skeleton import H36M

CHAIN = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 90 0 0 0 0 0 0 0
1 2 3 30 40 50 10 20 -60
"""


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / 'chain.bvh'
    path.write_text(CHAIN)
    return bvh.read_bvh(path)


def test_read_bvh_structure(chain):
    assert chain.names == ('Hips', 'Spine', 'Spine_end')
    assert chain.parents.tolist() == [-1, 0, 1]
    assert chain.channels[2] == ()
    assert chain.motion.shape == (2, 9)
    assert chain.fps == pytest.approx(25.0)


def test_forward_kinematics_matches_euler_composition(chain):
    positions, rotations = bvh.forward_kinematics(chain)
    # frame 0: identity rotations, the root at its channel position (0, 90, 0) added to OFFSET 0
    np.testing.assert_allclose(positions[0], [[0, 90, 0], [0, 100, 0], [0, 105, 0]], atol=1e-9)
    # frame 1: rotations compose in channel order (intrinsic), as scipy's upper-case sequences
    root = Rotation.from_euler('ZXY', [30, 40, 50], degrees=True).as_matrix()
    spine = root @ Rotation.from_euler('YXZ', [10, 20, -60], degrees=True).as_matrix()
    np.testing.assert_allclose(rotations[1, 1], spine, atol=1e-12)
    np.testing.assert_allclose(positions[1, 1], [1, 2, 3] + root @ [0, 10, 0], atol=1e-9)
    np.testing.assert_allclose(positions[1, 2], positions[1, 1] + spine @ [0, 5, 0], atol=1e-9)


def test_position_channels_replace_offset_when_they_repeat_it(tmp_path):
    text = CHAIN.replace('OFFSET 0 0 0', 'OFFSET 5 90 5').replace('0 90 0 0 0 0', '5 90 5 0 0 0').replace(
        '1 2 3 30', '6 91 5 30')
    path = tmp_path / 'abs.bvh'
    path.write_text(text)
    positions, _ = bvh.forward_kinematics(bvh.read_bvh(path))
    np.testing.assert_allclose(positions[:, 0], [[5, 90, 5], [6, 91, 5]])   # not doubled


def test_read_bvh_rejects_bad_files(tmp_path):
    path = tmp_path / 'bad.bvh'
    path.write_text(CHAIN.replace('Frames: 2', 'Frames: 3'))
    with pytest.raises(ValueError, match='motion values'):
        bvh.read_bvh(path)
    path.write_text('HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nBOGUS\n')
    with pytest.raises(ValueError):
        bvh.read_bvh(path)


def test_find_joint_map_rejects_unknown_skeletons():
    with pytest.raises(ValueError, match='no known H36M joint-name map'):
        bvh.find_joint_map(('Hips', 'Spine'))


@pytest.mark.parametrize('up, expected', [((0, 1, 0), 'y'), ((0, 0, 1), 'z'), ((0, -1, 0), '-y'), ((1, 0, 0), 'x')])
def test_up_rotation_is_a_rotation_taking_up_to_z(up, expected):
    r = bvh.up_rotation(np.array(up, float) * 3 + 0.1)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(r @ np.array(up, float), [0, 0, 1], atol=1e-12)


@pytest.fixture(scope='module')
def clips(assets):
    return {name: bvh.load_h36m(assets / 'data' / 'bvh' / f'{name}.bvh') for name in ('test', 'test2', 'test3')}


@pytest.mark.parametrize('name, unit, frames', [('test', 'cm', 7184), ('test2', 'cm', 3945), ('test3', 'm', 3089)])
def test_real_files_unit_and_frames(assets, clips, name, unit, frames):
    b = bvh.read_bvh(assets / 'data' / 'bvh' / f'{name}.bvh')
    assert bvh.detect_unit(b, bvh.find_joint_map(b.names)) == unit
    assert clips[name].positions.shape == (frames, 17, 3)


@pytest.mark.parametrize('name', ['test', 'test2', 'test3'])
def test_real_files_are_metric_upright_and_rigid(clips, name):
    p = clips[name].positions.astype(np.float64)
    head_top = p[:, H36M.HEAD, 2] - np.minimum(p[:, H36M.LEFT_ANKLE, 2], p[:, H36M.RIGHT_ANKLE, 2])
    assert 1.3 < np.percentile(head_top, 95) < 2.1          # a standing adult, metres, z up
    assert np.median(p[:, H36M.LEFT_ANKLE, 2]) < 0.15      # ankles near the floor
    for child in (H36M.LEFT_KNEE, H36M.RIGHT_ANKLE, H36M.LEFT_ELBOW, H36M.RIGHT_WRIST):
        parent = {H36M.LEFT_KNEE: H36M.LEFT_HIP, H36M.RIGHT_ANKLE: H36M.RIGHT_KNEE,
                  H36M.LEFT_ELBOW: H36M.LEFT_SHOULDER, H36M.RIGHT_WRIST: H36M.RIGHT_ELBOW}[child]
        assert np.std(np.linalg.norm(p[:, child] - p[:, parent], axis=-1)) < 0.002   # rigid bones (2 mm)


@pytest.mark.parametrize('name', ['test', 'test2', 'test3'])
def test_real_files_left_is_left(clips, name):
    """The subject's left is on their left: (left - right) x up points where the nose/neck points (forward)."""
    p = clips[name].positions.astype(np.float64)
    forward = np.cross(p[:, H36M.LEFT_HIP] - p[:, H36M.RIGHT_HIP], [0.0, 0.0, 1.0])
    neck_forward = np.sum((p[:, H36M.NECK] - p[:, H36M.THORAX]) * forward, axis=-1)
    assert np.mean(neck_forward > 0) > 0.9
