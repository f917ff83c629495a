"""cue_node's head_poses stream on real frames over DDS (the astronaut photo), and the switch that turns it off."""
import time

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import ProcessGraph, TopicListener
from nvb_perception.ros.convert import head_pose_frame_from_msg, skeleton2d_frame_to_msg, time_to_msg
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState
from tests.ros.test_cue_node import ModuleNode

FRAMES = 6
PERIOD_NS = 100_000_000
TOPICS = {'head_poses': 'nvb_perception_msgs/msg/HeadPoseArray', 'cues': 'nvb_perception_msgs/msg/CueArray'}


@pytest.mark.slow
@pytest.mark.integrators
def test_head_poses_over_dds_at_frame_rate(astronaut_pose, log_dir):
    bgr, skeleton = astronaut_pose
    # lock-step and long waits: on a loaded machine an image must never expire before its skeletons come
    node = ModuleNode('cue_node', {'use_skeletons_3d': False, 'image_qos': 'reliable', 'max_people': 1,
                                   'sync_timeout_s': 10.0, 'sync_window_s': 30.0})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        images = io.publisher('image', 'sensor_msgs/msg/Image')
        skeletons = io.publisher('skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        assert io.wait_for_subscribers(skeletons, timeout=60) and io.wait_for_subscribers(images), graph.logs()
        for i in range(FRAMES):
            stamp = Stamp(i * PERIOD_NS, 'camera_optical_frame')
            msg = Image(**numpy_to_image_fields(bgr, 'bgr8'))
            msg.header.stamp, msg.header.frame_id = time_to_msg(stamp.stamp_ns), stamp.frame_id
            images.publish(msg)
            time.sleep(0.02)
            s = Skeleton2D(skeleton.keypoints, skeleton.confidence, track_id=3, bbox=skeleton.bbox,
                           track_state=TrackState.NEW if i == 0 else TrackState.TRACKED)
            skeletons.publish(skeleton2d_frame_to_msg(Skeleton2DFrame(stamp, (bgr.shape[1], bgr.shape[0]), (s,))))
            assert io.wait_for('head_poses', i + 1, timeout=60), (io.count('head_poses'), graph.logs())
        assert node.process.poll() is None, graph.logs()
    frames = [head_pose_frame_from_msg(m) for _, m in io.messages['head_poses']]
    assert [f.stamp.stamp_ns for f in frames] == [i * PERIOD_NS for i in range(FRAMES)]      # one per frame
    assert all(f.stamp.frame_id == 'camera_optical_frame' for f in frames)
    heads = [h for f in frames for h in f.heads]
    assert len(heads) == FRAMES and all(h.track_id == 3 for h in heads)
    for h in heads:
        assert np.linalg.norm(h.orientation) == pytest.approx(1.0, abs=1e-6)
        assert np.linalg.norm(h.gaze) == pytest.approx(1.0, abs=1e-6)
        assert 0.5 <= h.confidence <= 1.0
        # she faces the camera: the face points back at it (optical -z), gaze too, within 35 degrees
        x, y, z, w = h.orientation
        forward = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])
        assert forward[2] < -0.8 and h.gaze[2] < -0.8, (forward, h.gaze, h.yaw_deg, h.pitch_deg)
        assert abs(h.yaw_deg) < 35 and abs(h.roll_deg) < 35
        assert h.looking_at_camera and h.gaze_to_camera_deg < 12.0         # she looks into the lens (about 5 deg)
    # the same face seen every frame: the stream is steady
    yaws = [h.yaw_deg for h in heads]
    assert max(yaws) - min(yaws) < 5.0, yaws


@pytest.mark.integrators
def test_publish_head_poses_false_opens_no_topic():
    from nvb_perception.ros.cue_node import CueNode
    context = Context()
    rclpy.init(context=context)
    try:
        for on in (True, False):
            overrides = [Parameter('autostart', value=False), Parameter('publish_head_poses', value=on)]
            node = CueNode(context=context, parameter_overrides=overrides)
            try:
                assert ('/head_poses' in {p.topic_name for p in node.publishers}) == on
            finally:
                node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
