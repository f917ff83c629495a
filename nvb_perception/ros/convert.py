"""Symmetric conversions between the pure data classes (nvb_perception.types) and ROS messages.

Pairs are named `x_to_msg` / `x_from_msg` (as cv_bridge and TypeAdapters do). Arrays travel as
array.array so rclpy does no per-element work.
"""
from array import array

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion, Vector3
from std_msgs.msg import Header

from nvb_perception import types as t
from nvb_perception_msgs.msg import (
    Action,
    ActionArray,
    Cue,
    CueArray,
    ErgonomicRisk,
    ErgonomicRiskArray,
    HeadPose,
    HeadPoseArray,
    Skeleton2D,
    Skeleton2DArray,
    Skeleton3D,
    Skeleton3DArray,
)


def _f32(values) -> array:
    return array('f', np.ascontiguousarray(values, dtype=np.float32).tobytes())


def _np(values) -> np.ndarray:
    return np.frombuffer(values, dtype=np.float32) if isinstance(values, array) else np.asarray(values, np.float32)


def time_to_msg(stamp_ns: int) -> Time:
    """Integer nanoseconds -> builtin_interfaces/Time."""
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def time_from_msg(msg: Time) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return msg.sec * 1_000_000_000 + msg.nanosec


def header_to_msg(stamp: t.Stamp) -> Header:
    """Stamp -> std_msgs/Header."""
    return Header(stamp=time_to_msg(stamp.stamp_ns), frame_id=stamp.frame_id)


def header_from_msg(msg: Header) -> t.Stamp:
    """std_msgs/Header -> Stamp."""
    return t.Stamp(stamp_ns=time_from_msg(msg.stamp), frame_id=msg.frame_id)


def skeleton2d_to_msg(s: t.Skeleton2D) -> Skeleton2D:
    """Skeleton2D data class -> message."""
    return Skeleton2D(track_id=s.track_id, track_state=int(s.track_state), score=float(s.score),
                      joint_set=s.joint_set, x=_f32(s.keypoints[:, 0]), y=_f32(s.keypoints[:, 1]),
                      confidence=_f32(s.confidence), bbox=np.asarray(s.bbox, np.float32))


def skeleton2d_from_msg(m: Skeleton2D) -> t.Skeleton2D:
    """Skeleton2D message -> data class."""
    return t.Skeleton2D(keypoints=np.stack([_np(m.x), _np(m.y)], axis=-1), confidence=_np(m.confidence),
                        joint_set=m.joint_set, track_id=m.track_id, track_state=m.track_state,
                        score=m.score, bbox=np.asarray(m.bbox, np.float32))


def skeleton2d_frame_to_msg(f: t.Skeleton2DFrame) -> Skeleton2DArray:
    """Skeleton2DFrame -> Skeleton2DArray."""
    return Skeleton2DArray(header=header_to_msg(f.stamp), image_width=int(f.image_size[0]),
                           image_height=int(f.image_size[1]),
                           skeletons=[skeleton2d_to_msg(s) for s in f.skeletons])


def skeleton2d_frame_to_cdr(f: t.Skeleton2DFrame) -> bytes:
    """Skeleton2DFrame -> the serialized Skeleton2DArray a node would publish (for bags written offline).

    rclpy leaves the CDR alignment padding uninitialised (heap bytes that change from run to run); encoding again
    with rosbags zeroes it, so the same frame always gives the same bytes and offline bags are reproducible.
    """
    from rclpy.serialization import serialize_message

    from nvb_perception.io.bag import typestore
    msgtype, store = 'nvb_perception_msgs/msg/Skeleton2DArray', typestore()
    return bytes(store.serialize_cdr(store.deserialize_cdr(serialize_message(skeleton2d_frame_to_msg(f)), msgtype),
                                     msgtype))


def skeleton2d_frame_from_msg(m: Skeleton2DArray) -> t.Skeleton2DFrame:
    """Skeleton2DArray -> Skeleton2DFrame."""
    return t.Skeleton2DFrame(stamp=header_from_msg(m.header), image_size=(m.image_width, m.image_height),
                             skeletons=tuple(skeleton2d_from_msg(s) for s in m.skeletons))


def skeleton3d_to_msg(s: t.Skeleton3D) -> Skeleton3D:
    """Skeleton3D data class -> message."""
    p = s.positions
    return Skeleton3D(track_id=s.track_id, track_state=int(s.track_state), joint_set=s.joint_set,
                      root_relative=bool(s.root_relative), x=_f32(p[:, 0]), y=_f32(p[:, 1]), z=_f32(p[:, 2]),
                      confidence=_f32(s.confidence), position_std=_f32(s.position_std),
                      covariance=_f32(s.covariance.reshape(-1)))


def skeleton3d_from_msg(m: Skeleton3D) -> t.Skeleton3D:
    """Skeleton3D message -> data class."""
    return t.Skeleton3D(positions=np.stack([_np(m.x), _np(m.y), _np(m.z)], axis=-1),
                        confidence=_np(m.confidence), joint_set=m.joint_set, track_id=m.track_id,
                        track_state=m.track_state, root_relative=m.root_relative,
                        position_std=_np(m.position_std), covariance=_np(m.covariance).reshape(-1, 6))


def skeleton3d_frame_to_msg(f: t.Skeleton3DFrame) -> Skeleton3DArray:
    """Skeleton3DFrame -> Skeleton3DArray."""
    return Skeleton3DArray(header=header_to_msg(f.stamp), skeletons=[skeleton3d_to_msg(s) for s in f.skeletons])


def skeleton3d_frame_from_msg(m: Skeleton3DArray) -> t.Skeleton3DFrame:
    """Skeleton3DArray -> Skeleton3DFrame."""
    return t.Skeleton3DFrame(stamp=header_from_msg(m.header),
                             skeletons=tuple(skeleton3d_from_msg(s) for s in m.skeletons))


def cue_to_msg(c: t.Cue) -> Cue:
    """Cue data class -> message."""
    return Cue(track_id=c.track_id, name=c.name, active=c.active, confidence=float(c.confidence),
               start=time_to_msg(c.start_ns), end=time_to_msg(c.end_ns),
               evidence_names=[n for n, _ in c.evidence], evidence_values=_f32([v for _, v in c.evidence]),
               explanation=c.explanation)


def cue_from_msg(m: Cue) -> t.Cue:
    """Cue message -> data class."""
    return t.Cue(name=m.name, track_id=m.track_id, active=m.active, confidence=m.confidence,
                 start_ns=time_from_msg(m.start), end_ns=time_from_msg(m.end),
                 evidence=tuple(zip(m.evidence_names, (float(v) for v in m.evidence_values))),
                 explanation=m.explanation)


def cue_frame_to_msg(f: t.CueFrame) -> CueArray:
    """CueFrame -> CueArray."""
    return CueArray(header=header_to_msg(f.stamp), cues=[cue_to_msg(c) for c in f.cues])


def cue_frame_from_msg(m: CueArray) -> t.CueFrame:
    """CueArray -> CueFrame."""
    return t.CueFrame(stamp=header_from_msg(m.header), cues=tuple(cue_from_msg(c) for c in m.cues))


def action_to_msg(a: t.Action) -> Action:
    """Action data class -> message."""
    return Action(track_id=a.track_id, labels=list(a.labels), probabilities=_f32(a.probabilities),
                  evidence_names=[n for n, _ in a.evidence], evidence_values=_f32([v for _, v in a.evidence]))


def action_from_msg(m: Action) -> t.Action:
    """Action message -> data class."""
    return t.Action(labels=tuple(m.labels), probabilities=_np(m.probabilities), track_id=m.track_id,
                    evidence=tuple(zip(m.evidence_names, (float(v) for v in m.evidence_values))))


def action_frame_to_msg(f: t.ActionFrame) -> ActionArray:
    """ActionFrame -> ActionArray."""
    return ActionArray(header=header_to_msg(f.stamp), actions=[action_to_msg(a) for a in f.actions])


def action_frame_from_msg(m: ActionArray) -> t.ActionFrame:
    """ActionArray -> ActionFrame."""
    return t.ActionFrame(stamp=header_from_msg(m.header), actions=tuple(action_from_msg(a) for a in m.actions))


def ergonomic_risk_to_msg(r: t.ErgonomicRisk) -> ErgonomicRisk:
    """ErgonomicRisk data class -> message."""
    return ErgonomicRisk(
        track_id=r.track_id, method=r.method, score=r.score, score_min=r.score_min, score_max=r.score_max,
        action_level=r.action_level, action=r.action, side=r.side,
        segment_names=[n for n, _ in r.segment_scores], segment_scores=array('B', [s for _, s in r.segment_scores]),
        angle_names=[n for n, _ in r.angles_deg], angles_deg=_f32([a for _, a in r.angles_deg]),
        assumed_inputs=list(r.assumed_inputs))


def ergonomic_risk_from_msg(m: ErgonomicRisk) -> t.ErgonomicRisk:
    """ErgonomicRisk message -> data class."""
    return t.ErgonomicRisk(
        method=m.method, track_id=m.track_id, score=m.score, score_min=m.score_min, score_max=m.score_max,
        action_level=m.action_level, action=m.action, side=m.side,
        segment_scores=tuple(zip(m.segment_names, (int(s) for s in m.segment_scores))),
        angles_deg=tuple(zip(m.angle_names, (float(a) for a in m.angles_deg))),
        assumed_inputs=tuple(m.assumed_inputs))


def ergonomic_risk_frame_to_msg(f: t.ErgonomicRiskFrame) -> ErgonomicRiskArray:
    """ErgonomicRiskFrame -> ErgonomicRiskArray."""
    return ErgonomicRiskArray(header=header_to_msg(f.stamp), risks=[ergonomic_risk_to_msg(r) for r in f.risks])


def ergonomic_risk_frame_from_msg(m: ErgonomicRiskArray) -> t.ErgonomicRiskFrame:
    """ErgonomicRiskArray -> ErgonomicRiskFrame."""
    return t.ErgonomicRiskFrame(stamp=header_from_msg(m.header),
                                risks=tuple(ergonomic_risk_from_msg(r) for r in m.risks))


def head_pose_to_msg(h: t.HeadPose) -> HeadPose:
    """HeadPose data class -> message."""
    x, y, z, w = (float(v) for v in h.orientation)
    gx, gy, gz = (float(v) for v in h.gaze)
    return HeadPose(track_id=h.track_id, orientation=Quaternion(x=x, y=y, z=z, w=w), yaw_deg=float(h.yaw_deg),
                    pitch_deg=float(h.pitch_deg), roll_deg=float(h.roll_deg), gaze=Vector3(x=gx, y=gy, z=gz),
                    looking_at_camera=bool(h.looking_at_camera), gaze_to_camera_deg=float(h.gaze_to_camera_deg),
                    confidence=float(h.confidence))


def head_pose_from_msg(m: HeadPose) -> t.HeadPose:
    """HeadPose message -> data class."""
    q, g = m.orientation, m.gaze
    return t.HeadPose(track_id=m.track_id, orientation=(q.x, q.y, q.z, q.w), yaw_deg=m.yaw_deg,
                      pitch_deg=m.pitch_deg, roll_deg=m.roll_deg, gaze=(g.x, g.y, g.z),
                      looking_at_camera=m.looking_at_camera, gaze_to_camera_deg=m.gaze_to_camera_deg,
                      confidence=m.confidence)


def head_pose_frame_to_msg(f: t.HeadPoseFrame) -> HeadPoseArray:
    """HeadPoseFrame -> HeadPoseArray."""
    return HeadPoseArray(header=header_to_msg(f.stamp), heads=[head_pose_to_msg(h) for h in f.heads])


def head_pose_frame_from_msg(m: HeadPoseArray) -> t.HeadPoseFrame:
    """HeadPoseArray -> HeadPoseFrame."""
    return t.HeadPoseFrame(stamp=header_from_msg(m.header), heads=tuple(head_pose_from_msg(h) for h in m.heads))


def camera_model_from_msg(m):
    """sensor_msgs/CameraInfo -> lifting CameraModel (K, distortion model and D); None when K is not calibrated."""
    from nvb_perception.lifting.distortion import CameraModel
    return CameraModel.from_fields(m.k, m.d, m.distortion_model)
