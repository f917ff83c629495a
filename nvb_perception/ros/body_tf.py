"""TF messages for body and joint frames (the math is in lifting/frames.py); any node with 3D skeletons can use it."""
from geometry_msgs.msg import TransformStamped

from nvb_perception.hri import HriConfig, body_id
from nvb_perception.lifting.frames import IDENTITY_QUATERNION, body_pose, frame_name, joint_offsets
from nvb_perception.types import Skeleton3D


def transform(header, parent: str, child: str, translation, quaternion) -> TransformStamped:
    """A TransformStamped with the source image's stamp."""
    t = TransformStamped()
    t.header.stamp, t.header.frame_id, t.child_frame_id = header.stamp, parent, child
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = map(float, translation)
    q = t.transform.rotation
    q.x, q.y, q.z, q.w = map(float, quaternion)
    return t


def body_transforms(header, s: Skeleton3D, config: HriConfig) -> list[TransformStamped]:
    """The body frame of one skeleton, parented to header.frame_id, then its joint frames when enabled.

    Empty when the skeleton has no pose (root-relative without root_relative_depth_m, or no usable torso).
    """
    pose = body_pose(s, config.root_relative_depth_m)
    if pose is None:
        return []
    body = frame_name(config.frame_prefix, body_id(s.track_id))
    found = [transform(header, header.frame_id, body, pose.translation, pose.quaternion)]
    if config.joint_frames:
        found += [transform(header, body, frame_name(config.frame_prefix, body_id(s.track_id), joint), offset,
                            IDENTITY_QUATERNION) for joint, offset in joint_offsets(s, pose).items()]
    return found
