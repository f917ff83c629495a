"""Depth cameras: encodings to metres, the root depth from the torso, joints the depth contradicts, stamp pairing."""
import numpy as np
import pytest

from nvb_perception.lifting.depth import DISAGREE_SCALE, DepthFrames, DepthImage, depth_to_metres
from nvb_perception.lifting.root import estimate_root
from nvb_perception.skeleton import H36M

pytestmark = pytest.mark.integrators

K = np.array([[500.0, 0, 320.0], [0, 500.0, 240.0], [0, 0, 1]])
POSE = np.array([[0, 0, 0], [-0.12, 0, 0], [-0.13, 0.45, 0.02], [-0.14, 0.88, 0.05], [0.12, 0, 0],
                 [0.13, 0.45, -0.03], [0.14, 0.88, 0], [0, -0.23, 0.02], [0, -0.48, 0.03], [0, -0.58, -0.02],
                 [0, -0.72, 0], [0.18, -0.45, 0.03], [0.26, -0.2, 0.05], [0.3, 0.02, -0.05], [-0.18, -0.45, 0.03],
                 [-0.28, -0.22, -0.08], [-0.25, -0.02, -0.25]])
OFFSET = 0.1


def project(points):
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def render(points, wall_m=6.0, radius=6, size=(640, 480)):
    """Depth (m) of a person's surface: a disc per joint, OFFSET in front of it, far joints drawn first."""
    depth = np.full((size[1], size[0]), wall_m, np.float32)
    yy, xx = np.mgrid[:size[1], :size[0]]
    for j in np.argsort(-points[:, 2]):
        u, v = project(points[j:j + 1])[0]
        depth[(xx - u) ** 2 + (yy - v) ** 2 <= radius ** 2] = points[j, 2] - OFFSET
    return depth


def test_encodings_to_metres():
    mm = np.array([[0, 1500], [65535, 3]], np.uint16)
    m = depth_to_metres(mm, '16UC1')
    assert np.isnan(m[0, 0]) and m[0, 1] == pytest.approx(1.5) and m[1, 1] == pytest.approx(0.003)
    f = depth_to_metres(np.array([[np.nan, 2.5], [np.inf, -1.0]], np.float32), '32FC1')
    assert f[0, 1] == 2.5 and np.isnan(f[0, 0]) and np.isnan(f[1]).all()
    with pytest.raises(ValueError, match='16UC1'):
        depth_to_metres(mm, 'bgr8')
    with pytest.raises(ValueError, match='one channel'):
        depth_to_metres(np.zeros((2, 2, 3), np.float32), '32FC1')


def test_depth_sets_the_root_of_a_person_of_unusual_size():
    """A 1.25x tall person: the monocular root comes out 20 % too near, the depth puts it back."""
    root = np.array([0.4, 0.2, 3.5])
    tall = POSE * 1.25
    keypoints = project(tall + root)
    mono = estimate_root(POSE, keypoints, np.ones(17), K)          # the lifter predicts an average-size person
    assert abs(mono[2] - root[2]) > 0.5
    depth = DepthImage(render(tall + root), surface_offset_m=OFFSET)
    placed, confidence = depth.place(POSE, mono, keypoints, keypoints, np.ones(17), K)
    assert abs(placed[2] - root[2]) < 0.05, placed
    ray = root / root[2]
    assert np.linalg.norm(placed / placed[2] - ray) < 0.02          # same direction as the monocular estimate
    assert depth.roots_set == 1 and depth.roots_missed == 0
    # without a monocular root the root pixel's ray is used
    placed2, _ = DepthImage(render(tall + root), surface_offset_m=OFFSET).place(POSE, None, keypoints, keypoints,
                                                                               np.ones(17), K)
    assert np.linalg.norm(placed2 - placed) < 0.05


def test_occluded_joint_loses_confidence_and_torso_median_ignores_it():
    root = np.array([0.0, 0.1, 3.0])
    keypoints = project(POSE + root)
    image = render(POSE + root)
    for joint in (H36M.RIGHT_WRIST, H36M.LEFT_SHOULDER):         # a box 1.2 m from the camera hides them
        u, v = keypoints[joint].astype(int)
        image[v - 10:v + 11, u - 10:u + 11] = 1.2
    depth = DepthImage(image, surface_offset_m=OFFSET, tolerance_m=0.3)
    confidence = np.full(17, 0.9, np.float32)
    placed, out = depth.place(POSE, root, keypoints, keypoints, confidence, K)
    assert abs(placed[2] - root[2]) < 0.02
    low = set(np.flatnonzero(out < 0.9).tolist())
    assert low == {H36M.RIGHT_WRIST, H36M.LEFT_SHOULDER}
    assert out[H36M.RIGHT_WRIST] == pytest.approx(0.9 * DISAGREE_SCALE) and depth.joints_disagreeing == 2


def test_no_depth_on_the_torso_keeps_the_monocular_root():
    root = np.array([0.0, 0.1, 3.0])
    keypoints = project(POSE + root)
    image = np.full((480, 640), np.nan, np.float32)
    depth = DepthImage(image)
    placed, out = depth.place(POSE, root, keypoints, keypoints, np.ones(17), K)
    assert placed is root and (out == 1).all() and depth.roots_missed == 1 and depth.roots_set == 0
    outside = DepthImage(render(POSE + root)).sample(np.array([[-5.0, 10.0], [700.0, 10.0], [np.nan, 1.0]]))
    assert np.isnan(outside).all()
    unseen = np.ones(17)
    unseen[[H36M.PELVIS, H36M.RIGHT_HIP, H36M.LEFT_HIP, H36M.SPINE, H36M.THORAX, H36M.LEFT_SHOULDER]] = 0
    depth = DepthImage(render(POSE + root))
    assert depth.place(POSE, root, keypoints, keypoints, unseen, K)[0] is root       # one torso joint is too few


def test_pairing_by_nearest_stamp():
    frames = DepthFrames(capacity=3)
    assert frames.nearest(0, 10**9) is None
    for stamp in (100, 200, 300, 400):
        frames.add(stamp, f'd{stamp}')
    assert frames.nearest(100, 50) is None                       # dropped: capacity 3
    assert frames.nearest(290, 20) == 'd300' and frames.nearest(250, 50) == 'd300'   # a tie goes to the newer
    assert frames.nearest(460, 50) is None and frames.nearest(400, 0) == 'd400'
    frames.clear()
    assert frames.nearest(400, 0) is None
