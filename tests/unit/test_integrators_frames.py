"""Body frame math (lifting/frames.py) and the REP-155 mapping (hri.py): pure, no ROS."""
import numpy as np
import pytest

from nvb_perception.errors import ConfigError
from nvb_perception.hri import ID_SPACE, REP155_JOINTS, HriConfig, body_id, roi, skeleton_points, track_id_of
from nvb_perception.lifting.frames import (
    JOINT_NAMES,
    body_axes,
    body_pose,
    frame_name,
    joint_offsets,
    matrix_from_quaternion,
    quaternion_from_matrix,
)
from nvb_perception.skeleton import H36M, BlazePose, Coco
from nvb_perception.types import Skeleton2D, Skeleton3D, TrackState


def standing(facing_camera=True, at=(0.0, 0.0, 3.0)) -> np.ndarray:
    """H36M-17 of a person standing upright in the optical frame (x right, y down, z forward), metres."""
    p = np.zeros((17, 3))
    side = 1.0 if facing_camera else -1.0          # facing the camera, the person's left is the image's right
    p[H36M.LEFT_HIP], p[H36M.RIGHT_HIP] = [0.1 * side, 0, 0], [-0.1 * side, 0, 0]
    p[H36M.LEFT_KNEE], p[H36M.RIGHT_KNEE] = [0.1 * side, 0.45, 0], [-0.1 * side, 0.45, 0]
    p[H36M.LEFT_ANKLE], p[H36M.RIGHT_ANKLE] = [0.1 * side, 0.9, 0], [-0.1 * side, 0.9, 0]
    p[H36M.SPINE], p[H36M.THORAX], p[H36M.NECK], p[H36M.HEAD] = [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, 0], [0, -0.7, 0]
    p[H36M.LEFT_SHOULDER], p[H36M.RIGHT_SHOULDER] = [0.18 * side, -0.48, 0], [-0.18 * side, -0.48, 0]
    p[H36M.LEFT_ELBOW], p[H36M.RIGHT_ELBOW] = [0.2 * side, -0.2, 0], [-0.2 * side, -0.2, 0]
    p[H36M.LEFT_WRIST], p[H36M.RIGHT_WRIST] = [0.2 * side, 0.05, 0], [-0.2 * side, 0.05, 0]
    return p + np.asarray(at)


def skeleton3d(positions, root_relative=False, track_id=1, confidence=None) -> Skeleton3D:
    return Skeleton3D(positions, np.ones(17) if confidence is None else confidence, track_id=track_id,
                      track_state=TrackState.TRACKED, root_relative=root_relative)


def random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.integrators
def test_quaternion_round_trip_including_half_turns():
    rng = np.random.default_rng(0)
    rotations = [random_rotation(rng) for _ in range(200)] + [np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]),
                                                               np.diag([-1.0, -1, 1]), np.eye(3)]
    for r in rotations:
        q = quaternion_from_matrix(r)
        assert abs(np.linalg.norm(q) - 1) < 1e-9 and q[3] >= 0
        assert np.allclose(matrix_from_quaternion(q), r, atol=1e-9)
    # 90° about z: x -> y
    assert np.allclose(quaternion_from_matrix([[0, -1, 0], [1, 0, 0], [0, 0, 1]]), [0, 0, np.sqrt(0.5), np.sqrt(0.5)])


@pytest.mark.integrators
def test_person_facing_the_camera_has_rep103_axes_in_the_optical_frame():
    pose = body_pose(skeleton3d(standing()))
    x, y, z = pose.rotation.T
    assert np.allclose(x, [0, 0, -1])          # forward: towards the camera
    assert np.allclose(y, [1, 0, 0])           # the person's left: the image's right
    assert np.allclose(z, [0, -1, 0])          # up: optical y points down
    assert np.allclose(pose.translation, [0, 0, 3])
    assert np.allclose(matrix_from_quaternion(pose.quaternion), pose.rotation)
    back = body_pose(skeleton3d(standing(facing_camera=False)))
    assert np.allclose(back.rotation.T[0], [0, 0, 1])        # seen from behind: forward is away from the camera


@pytest.mark.integrators
def test_axes_are_orthonormal_for_a_leaning_twisted_torso():
    rng = np.random.default_rng(1)
    for _ in range(50):
        r = random_rotation(rng)
        p = (standing(at=(0, 0, 0)) + rng.normal(scale=0.03, size=(17, 3))) @ r.T + [0.5, 0.2, 4.0]
        axes = body_axes(p)
        assert np.allclose(axes.T @ axes, np.eye(3), atol=1e-9) and np.isclose(np.linalg.det(axes), 1)
        up = p[H36M.THORAX] - p[H36M.PELVIS]
        assert np.allclose(axes[:, 2], up / np.linalg.norm(up))


@pytest.mark.integrators
def test_joint_offsets_are_in_body_axes():
    s = skeleton3d(standing(at=(1.0, -0.5, 4.0)))
    offsets = joint_offsets(s, body_pose(s))
    assert list(offsets) == list(JOINT_NAMES) and JOINT_NAMES[0] == 'pelvis'
    assert np.allclose(offsets['pelvis'], 0)
    assert np.allclose(offsets['left_hip'], [0, 0.1, 0]) and np.allclose(offsets['thorax'], [0, 0, 0.5])
    assert offsets['head'][2] > 0.6 and offsets['left_ankle'][2] < -0.8
    unseen = np.ones(17)
    unseen[H36M.LEFT_WRIST] = 0
    s = skeleton3d(standing(), confidence=unseen)
    assert 'left_wrist' not in joint_offsets(s, body_pose(s))


@pytest.mark.integrators
def test_root_relative_skeletons_get_a_frame_only_at_a_chosen_depth():
    s = skeleton3d(standing(at=(0, 0, 0)), root_relative=True)
    assert body_pose(s) is None
    assert np.allclose(body_pose(s, root_relative_depth_m=2.5).translation, [0, 0, 2.5])


@pytest.mark.integrators
def test_unusable_skeletons_have_no_frame():
    p = standing()
    p[H36M.THORAX] = np.nan
    assert body_pose(skeleton3d(p)) is None
    assert body_pose(skeleton3d(standing(), confidence=np.zeros(17))) is None        # LOST/TERMINATED pass-through
    p = standing()
    p[H36M.THORAX] = p[H36M.PELVIS]
    assert body_pose(skeleton3d(p)) is None
    assert body_pose(Skeleton3D(np.zeros((33, 3)), np.ones(33), joint_set='blazepose33')) is None
    p = standing()
    p[H36M.LEFT_HIP] = p[H36M.RIGHT_HIP] = p[H36M.PELVIS]          # hips coincide: the shoulders give the left
    assert np.allclose(body_pose(skeleton3d(p)).rotation.T[1], [1, 0, 0])


@pytest.mark.integrators
def test_frame_names():
    assert frame_name('body_', 'abcde') == 'body_abcde'
    assert frame_name('body_', 'abcde', 'left_wrist') == 'body_abcde/left_wrist'


@pytest.mark.integrators
def test_body_ids_are_five_letters_stable_unique_and_invertible():
    ids = [body_id(t) for t in range(20000)]
    assert all(len(i) == 5 and i.isalpha() and i.islower() for i in ids)
    assert len(set(ids)) == len(ids) and body_id(7) == body_id(7)
    assert all(track_id_of(body_id(t)) == t for t in (0, 1, 2, 99, 12345, ID_SPACE - 1))
    assert body_id(ID_SPACE) == body_id(0)          # ids repeat only after 26^5 tracks
    with pytest.raises(ValueError):
        track_id_of('ABCDE')


def blazepose_person(w=640, h=480) -> Skeleton2D:
    kp = np.column_stack([np.linspace(100, 420, 33), np.linspace(50, 400, 33)])
    return Skeleton2D(kp, np.full(33, 0.9), track_id=3, score=0.8, bbox=[90, 40, 430, 410])


@pytest.mark.integrators
def test_skeleton2d_follows_the_rep155_order_with_the_neck_between_the_shoulders():
    assert len(REP155_JOINTS) == 18 and REP155_JOINTS[1] == 'NECK' and REP155_JOINTS[14:] == (
        'LEFT_EYE', 'RIGHT_EYE', 'LEFT_EAR', 'RIGHT_EAR')
    s = blazepose_person()
    points = skeleton_points(s, (640, 480))
    kp = s.keypoints / [640, 480]
    assert np.allclose(points[0, :2], kp[BlazePose.NOSE])
    assert np.allclose(points[1, :2], (kp[BlazePose.LEFT_SHOULDER] + kp[BlazePose.RIGHT_SHOULDER]) / 2)
    assert np.allclose(points[2, :2], kp[BlazePose.RIGHT_SHOULDER])
    assert np.allclose(points[13, :2], kp[BlazePose.LEFT_ANKLE])
    assert np.allclose(points[17, :2], kp[BlazePose.RIGHT_EAR])
    assert np.allclose(points[:, 2], 0.9, atol=1e-6)
    coco = Skeleton2D(s.keypoints[[BlazePose[j.name] for j in Coco]], np.full(17, 0.9), joint_set='coco17')
    assert np.allclose(skeleton_points(coco, (640, 480)), points)


@pytest.mark.integrators
def test_unseen_and_off_image_joints():
    s = blazepose_person()
    kp, conf = s.keypoints.copy(), s.confidence.copy()
    kp[BlazePose.NOSE] = np.nan
    conf[BlazePose.LEFT_SHOULDER] = 0
    kp[BlazePose.RIGHT_WRIST] = [-50, 900]
    points = skeleton_points(Skeleton2D(kp, conf), (640, 480))
    assert np.allclose(points[0], 0) and np.allclose(points[1], 0) and np.allclose(points[5], 0)
    assert np.allclose(points[4, :2], [0, 1])                     # clipped into [0, 1]
    with pytest.raises(ValueError):
        skeleton_points(s, (0, 0))


@pytest.mark.integrators
def test_roi_from_the_box_or_the_joints():
    s = blazepose_person()
    assert np.allclose(roi(s, (640, 480)), [90 / 640, 40 / 480, 430 / 640, 410 / 480, 0.8])
    boxless = Skeleton2D(s.keypoints, s.confidence, score=0.5)
    assert np.allclose(roi(boxless, (640, 480)), [100 / 640, 50 / 480, 420 / 640, 400 / 480, 0.5])
    with pytest.raises(ValueError):
        roi(Skeleton2D(s.keypoints, np.zeros(33)), (640, 480))


@pytest.mark.integrators
def test_config_checks_the_prefix():
    assert HriConfig().frame_prefix == 'body_'
    with pytest.raises(ConfigError):
        HriConfig(frame_prefix='/body_')
    with pytest.raises(ConfigError):
        HriConfig(forget_after_s=0.0)
