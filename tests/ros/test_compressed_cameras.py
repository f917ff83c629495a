"""A camera that publishes only image/compressed drives every image node over DDS.

pose_node, cue_node and action_node take `image_transport:=compressed` (the same ImageInput parameter on all
three); the test is the camera and publishes CompressedImage (JPEG) + CameraInfo only, so no raw `image` exists.
pose -> lifting -> risk, cue_node and action_node must each publish results for those frames.
"""
import shutil
import sys
import time

import cv2
import pytest
from sensor_msgs.msg import CompressedImage

from nvb_perception.imaging import encode_compressed
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener, _param_arg
from nvb_perception.ros.convert import time_to_msg
from nvb_perception.ros.video_publisher import camera_info

pytestmark = [pytest.mark.integrators, pytest.mark.slow]

FRAMES = 5
PERIOD_NS = 100_000_000
COMPRESSED = {'image_transport': 'compressed', 'image_qos': 'reliable', 'max_people': 1}
TOPICS = {'ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray',
          'skeletons_3d': 'nvb_perception_msgs/msg/Skeleton3DArray',
          'cues': 'nvb_perception_msgs/msg/CueArray', 'actions': 'nvb_perception_msgs/msg/ActionArray',
          'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray'}


class SourceNode(NodeProcess):
    """A node from the install space, or its module when the console script is not installed yet."""

    def command(self) -> list[str]:
        if shutil.which(self.executable):
            return super().command()
        args = [sys.executable, '-m', f'nvb_perception.ros.{self.executable}', '--ros-args']
        return args + [a for key, value in self.params.items() for a in ('-p', _param_arg(key, value))]


def counts(io) -> dict:
    return {t: io.count(t) for t in TOPICS}


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def test_compressed_only_camera_feeds_every_image_node(assets, action_head, log_dir):
    bgr = cv2.imread(str(assets / 'data' / 'opencv' / 'messi5.jpg'))
    jpeg = encode_compressed(bgr)
    nodes = [SourceNode('pose_node', COMPRESSED), SourceNode('lifting_node'), SourceNode('risk_node'),
             SourceNode('cue_node', {**COMPRESSED, 'baseline.mode': 'fixed'}),
             SourceNode('action_node', {**COMPRESSED, 'head_model': str(action_head), 'threads': 1})]
    start = time.monotonic()
    with TopicListener(TOPICS) as io, ProcessGraph(nodes, log_dir) as graph:
        images = io.publisher('image/compressed', 'sensor_msgs/msg/CompressedImage')
        infos = io.publisher('camera_info', 'sensor_msgs/msg/CameraInfo')
        assert io.wait_for_subscribers(images, 3, timeout=60), graph.logs()
        assert io.wait_for_subscribers(infos, 2, timeout=20), graph.logs()
        deadline = time.monotonic() + 30
        links = ('skeletons_2d', 'skeletons_3d')
        while time.monotonic() < deadline and not all(io.node.count_subscribers(t) >= 1 for t in links):
            time.sleep(0.1)
        time.sleep(1.0)                                  # the nodes have matched each other's endpoints
        assert all(io.wait_for_publishers(t, timeout=30) for t in TOPICS), graph.logs()   # every output heard
        assert io.node.count_subscribers('image') == 0   # nothing asks for raw images
        info = camera_info(bgr.shape[1], bgr.shape[0], 60.0, 'camera_optical_frame')

        def send(i):
            info.header.stamp, info.header.frame_id = time_to_msg(i * PERIOD_NS), 'camera_optical_frame'
            infos.publish(info)
            time.sleep(0.05)
            images.publish(CompressedImage(header=info.header, format='jpeg', data=jpeg))

        sent, deadline = 0, time.monotonic() + 40      # until the whole chain answers (endpoints matched)
        while io.count('ergonomic_risk') == 0 and time.monotonic() < deadline:
            send(sent)
            sent += 1
            io.wait_for('ergonomic_risk', 1, timeout=3)
        for _ in range(FRAMES):                          # then lock-step: the next frame after the previous risk
            before = io.count('ergonomic_risk')
            send(sent)
            sent += 1
            assert io.wait_for('ergonomic_risk', before + 1, timeout=30), (counts(io), graph.logs())
        deadline = time.monotonic() + 60                # cues and actions too: more frames until both answered
        while time.monotonic() < deadline and not (io.count('cues') and io.count('actions')):
            send(sent)
            sent += 1
            io.wait_for('cues', 1, timeout=3)
        for topic in ('cues', 'actions'):
            assert io.count(topic), f'no {topic}\n{graph.logs()}'
        assert all(n.process.poll() is None for n in nodes), graph.logs()
    stamps_sent = {i * PERIOD_NS for i in range(sent)}
    for topic in TOPICS:
        stamps = {stamp_ns(m) for _, m in io.messages[topic]}
        assert stamps and stamps <= stamps_sent, (topic, stamps)
    assert io.count('ergonomic_risk') >= FRAMES + 1
    assert any(r.track_id >= 0 for _, m in io.messages['ergonomic_risk'] for r in m.risks)
    assert any(m.actions for _, m in io.messages['actions'])
    print(f'\ncompressed-only graph: {time.monotonic() - start:.1f} s, outputs {counts(io)}')
