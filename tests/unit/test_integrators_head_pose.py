"""Head pose stream from face observations: frames, signs, looking at the camera, quaternions (pure, no models)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from nvb_perception.cues.head_stream import gaze_vector, head_pose, head_pose_frame, quaternion_from_matrix
from nvb_perception.types import CueFrame, Stamp


def rot(axis, deg):
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def face(rotation_gl=np.eye(3), position_gl=(0.0, 0.0, -60.0), yaw=0.0, pitch=0.0, roll=0.0, gaze=None, scale=1.3):
    """A FaceObservation stand-in: matrix = canonical face -> camera (y up, z towards the viewer), cm."""
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = scale * rotation_gl, position_gl
    gy, gp = gaze if gaze is not None else (yaw, pitch)
    return SimpleNamespace(matrix=m, yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll, gaze_yaw_deg=gy,
                           gaze_pitch_deg=gp, presence=0.9)


def matrix_of(q):
    x, y, z, w = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


@pytest.mark.integrators
def test_a_face_looking_into_the_lens_from_the_image_centre():
    h = head_pose(7, face(), 15.0)
    r = matrix_of(h.orientation)
    np.testing.assert_allclose(r[:, 0], [0, 0, -1], atol=1e-6)      # head x (out of the face) towards the camera
    np.testing.assert_allclose(r[:, 2], [0, -1, 0], atol=1e-6)      # head z (up) = optical -y
    np.testing.assert_allclose(r[:, 1], [1, 0, 0], atol=1e-6)       # the person's left = the image's right
    np.testing.assert_allclose(h.gaze, [0, 0, -1], atol=1e-6)
    assert h.looking_at_camera and h.gaze_to_camera_deg == pytest.approx(0.0, abs=1e-3)
    assert h.track_id == 7 and h.confidence == pytest.approx(0.9)


@pytest.mark.integrators
def test_turning_the_head_moves_the_face_direction_to_the_image_right():
    h = head_pose(1, face(rot(1, 30.0), yaw=30.0), 15.0)            # about the up axis, as euler_deg's yaw
    forward = matrix_of(h.orientation)[:, 0]
    assert forward[0] > 0.45 and forward[2] < 0                     # towards image right, still towards the camera
    assert h.gaze[0] == pytest.approx(math.sin(math.radians(30.0)))
    assert not h.looking_at_camera and h.gaze_to_camera_deg == pytest.approx(30.0, abs=1e-6)


@pytest.mark.integrators
def test_looking_at_the_camera_from_the_image_edge():
    """A face right of the centre looks into the lens when it turns towards the optical axis, not along it."""
    x, z = 30.0, -60.0                                               # GL camera: the face at image right
    yaw = -math.degrees(math.atan2(x, -z))                          # facing back at the camera
    edge = head_pose(2, face(rot(1, yaw), (x, 0.0, z), yaw=yaw), 10.0)
    along_axis = head_pose(3, face(np.eye(3), (x, 0.0, z)), 10.0)    # pointing along the optical axis
    assert edge.looking_at_camera and edge.gaze_to_camera_deg < 1e-3
    assert not along_axis.looking_at_camera and along_axis.gaze_to_camera_deg == pytest.approx(-yaw, abs=1e-6)


@pytest.mark.integrators
def test_gaze_adds_the_eyes_to_the_head():
    h = head_pose(1, face(gaze=(0.0, -20.0)), 15.0)                  # head straight, eyes down
    assert h.gaze[1] > 0.3 and np.linalg.norm(h.gaze) == pytest.approx(1.0)     # optical +y = image down
    assert h.gaze_to_camera_deg == pytest.approx(20.0, abs=1e-6) and not h.looking_at_camera
    np.testing.assert_allclose(gaze_vector(0.0, 0.0), [0, 0, -1], atol=1e-12)


@pytest.mark.integrators
@pytest.mark.parametrize('seed', range(5))
def test_quaternion_round_trip(seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    q = -q if q[3] < 0 else q
    np.testing.assert_allclose(quaternion_from_matrix(matrix_of(q)), q, atol=1e-9)
    for axis in range(3):                                            # the 180 deg cases (trace < 0)
        r = rot(axis, 180.0)
        np.testing.assert_allclose(matrix_of(quaternion_from_matrix(r)), r, atol=1e-9)


@pytest.mark.integrators
def test_frame_lists_only_people_with_a_face_in_track_order():
    people = {5: SimpleNamespace(face=face()), 2: SimpleNamespace(face=None), 1: SimpleNamespace(face=face())}
    result = SimpleNamespace(cues=CueFrame(Stamp(42, 'cam_optical')), people=people)
    frame = head_pose_frame(result, 15.0)
    assert frame.stamp == Stamp(42, 'cam_optical') and [h.track_id for h in frame.heads] == [1, 5]
