"""Head pose and gaze per person as a stream, from what the cue stage already computed (no model runs here).

    frame = head_pose_frame(stage_result, looking_cone_deg=15.0)     # types.HeadPoseFrame

The face observation's matrix is MediaPipe's facial transformation (canonical face -> a camera with y up and z
towards the viewer, 63 deg vertical field of view); here it is turned into the optical frame (x right, y down,
z forward) and into a head frame with REP-103 body axes (x out of the face, y the person's left, z up), which is
what a robot's TF tree and look-at controllers expect. Whether a person looks at the camera compares the gaze
with the direction from their face to the camera, not with the optical axis, so a person at the image edge who
looks into the lens counts as looking at it.
"""
from __future__ import annotations

import math

import numpy as np

from nvb_perception.types import HeadPose, HeadPoseFrame

GL_TO_OPTICAL = np.diag([1.0, -1.0, -1.0])      # the face geometry's camera (y up, z back) -> optical frame
# columns: head x, y, z in canonical face axes (canonical +z = out of the face, +x = the person's left, +y = up)
HEAD_FROM_CANONICAL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def quaternion_from_matrix(r: np.ndarray) -> np.ndarray:
    """(x, y, z, w) of a proper rotation matrix, w >= 0 (Shepperd's method: stable for every angle)."""
    r = np.asarray(r, np.float64)
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + r[i, i] - r[j, j] - r[k, k], 1e-12))
        q = [0.0, 0.0, 0.0, (r[k, j] - r[j, k]) / s]
        q[i], q[j], q[k] = 0.25 * s, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
    q = np.asarray(q) / np.linalg.norm(q)
    return -q if q[3] < 0 else q


def head_rotation(matrix: np.ndarray) -> np.ndarray:
    """(3, 3) rotation head frame -> optical frame from a (4, 4) facial transformation (its scale removed)."""
    r = np.asarray(matrix, np.float64)[:3, :3]
    r = r / np.cbrt(max(np.linalg.det(r), 1e-12))
    u, _, vt = np.linalg.svd(r)                  # nearest rotation: float noise must not leak into the quaternion
    return GL_TO_OPTICAL @ (u @ vt) @ HEAD_FROM_CANONICAL


def gaze_vector(gaze_yaw_deg: float, gaze_pitch_deg: float) -> np.ndarray:
    """Unit gaze direction in the optical frame from the gaze angles (same signs as the head's yaw and pitch)."""
    yaw, pitch = math.radians(gaze_yaw_deg), math.radians(gaze_pitch_deg)
    forward_gl = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    return GL_TO_OPTICAL @ forward_gl


def head_pose(track_id: int, face, looking_cone_deg: float) -> HeadPose:
    """One face observation (cues.face.FaceObservation) as a HeadPose."""
    gaze = gaze_vector(face.gaze_yaw_deg, face.gaze_pitch_deg)
    position = GL_TO_OPTICAL @ np.asarray(face.matrix, np.float64)[:3, 3]     # face centre, optical frame
    norm = float(np.linalg.norm(position))
    to_camera = -position / norm if norm > 0 else np.array([0.0, 0.0, -1.0])
    angle = math.degrees(math.acos(max(-1.0, min(1.0, float(gaze @ to_camera)))))
    return HeadPose(track_id=int(track_id), orientation=quaternion_from_matrix(head_rotation(face.matrix)),
                    yaw_deg=float(face.yaw_deg), pitch_deg=float(face.pitch_deg), roll_deg=float(face.roll_deg),
                    gaze=gaze, looking_at_camera=angle <= looking_cone_deg, gaze_to_camera_deg=angle,
                    confidence=float(face.presence))


def head_pose_frame(result, looking_cone_deg: float = 15.0) -> HeadPoseFrame:
    """Every person of a CueStageResult whose face was modelled this frame, in track id order."""
    heads = tuple(head_pose(tid, view.face, looking_cone_deg) for tid, view in sorted(result.people.items())
                  if view.face is not None)
    return HeadPoseFrame(result.cues.stamp, heads)
