"""action_node as a process on real frames: video_publisher -> pose_node -> action_node, over DDS.

The head is a seeded, untrained model exported in a fixture (the plumbing is under test here, not accuracy;
eval_actions measures accuracy). The action node runs as `action_node` when installed as a console script,
else as `python -m nvb_perception.ros.action_node`.
"""
import shutil
import sys
import time

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from nvb_perception.datasets.action_labels import MOTION_CLASSES
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener, _param_arg
from nvb_perception.ros.convert import action_frame_from_msg, skeleton2d_frame_from_msg
from nvb_perception.types import TrackState

torch = pytest.importorskip('torch')

PERIOD_NS = 100_000_000          # vtest.avi is 10 fps; the player stamps frames with their source time
TOPICS = {'actions': 'nvb_perception_msgs/msg/ActionArray', 'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray',
          '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}


class ActionNodeProcess(NodeProcess):
    """The action node, from the install space or straight from the source tree."""

    def command(self) -> list[str]:
        if shutil.which(self.executable):
            return super().command()
        args = [sys.executable, '-m', 'nvb_perception.ros.action_node', '--ros-args']
        for key, value in self.params.items():
            args += ['-p', _param_arg(key, value)]
        return args


@pytest.fixture(scope='module')
def head(action_head):
    """The seeded head of tests/conftest.py."""
    return action_head


def run_chain(assets, head, log_dir, n, rate, **action_params):
    pose = NodeProcess('pose_node', {'image_qos': 'reliable', 'max_people': 4, 'detector_tile_px': 288})
    action = ActionNodeProcess('action_node', {'image_qos': 'reliable', 'head_model': str(head), 'threads': 1,
                                               **action_params})
    player = NodeProcess('video_publisher', {'source': str(assets / 'data' / 'opencv' / 'vtest.avi'), 'rate': rate,
                                             'stamp': 'source', 'wait_for_subscribers': 2, 'max_frames': n})
    with TopicListener(TOPICS) as listener, ProcessGraph([pose, action], log_dir) as graph:
        # reliable reader: best-effort ~1 MB images lose fragments with Fast DDS default transports
        heatmaps = []
        listener.node.create_subscription(Image, 'action_heatmap', heatmaps.append,
                                          QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        image_pub = listener.publisher('image', 'sensor_msgs/msg/Image')
        assert listener.wait_for_subscribers(image_pub, 2, 90), graph.logs()
        player.start(graph.env, log_dir)
        assert player.wait(300) == 0, graph.logs()
        # both nodes always process the newest frame: wait for the last frame's stamp to come out of each
        last_ns = (n - 1) * PERIOD_NS
        for topic in ('skeletons_2d', 'actions'):
            assert wait_for_stamp(listener, topic, last_ns, 120), f'no {topic} for the last frame\n{graph.logs()}'
        assert listener.wait_for('/diagnostics', 1, timeout=10)
        time.sleep(1.2)       # one more diagnostics period after the last frame
        logs = graph.logs()
    return {**listener.messages, 'action_heatmap': heatmaps}, logs


def wait_for_stamp(listener, topic: str, stamp_ns: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == stamp_ns
               for _, m in list(listener.messages[topic])):
            return True
        time.sleep(0.1)
    return False


def diagnostics_values(messages) -> dict:
    for _, msg in reversed(messages['/diagnostics']):
        for status in msg.status:
            if status.name.endswith('action_node'):
                return {kv.key: kv.value for kv in status.values}
    return {}


@pytest.mark.slow
def test_action_node_on_real_frames(assets, head, log_dir):
    n = 6       # one frame every 2 s: both nodes keep up (the first, warm-up call may make one frame skip)
    messages, logs = run_chain(assets, head, log_dir, n, rate=0.05, publish_heatmap=True)
    skeletons = {(m.header.stamp.sec, m.header.stamp.nanosec): skeleton2d_frame_from_msg(m)
                 for _, m in messages['skeletons_2d']}
    actions = [action_frame_from_msg(m) for _, m in messages['actions']]
    assert len(actions) >= n - 2, logs
    for frame, (_, msg) in zip(actions, messages['actions']):
        assert frame.stamp.stamp_ns % PERIOD_NS == 0 and frame.stamp.frame_id == 'camera_optical_frame'
        sk = skeletons[(msg.header.stamp.sec, msg.header.stamp.nanosec)]
        live = {s.track_id for s in sk.skeletons if s.track_state <= TrackState.TRACKED}
        assert {a.track_id for a in frame.actions} <= live and frame.actions, logs
        for a in frame.actions:
            assert a.labels == MOTION_CLASSES
            assert ((a.probabilities >= 0) & (a.probabilities <= 1)).all()
            names = dict(a.evidence)
            assert 'region0_x_px' in names and 0 <= names['region0_x_px'] < 768
    # people seen on two consecutive processed frames have a flow: the top attention map is named
    assert any('top_map_layer' in dict(a.evidence) for f in actions[1:] for a in f.actions)
    heat = messages['action_heatmap']
    assert heat and heat[-1].width == 768 and heat[-1].encoding == 'bgr8', logs
    values = diagnostics_values(messages)
    assert values.get('classes', '').split(',') == list(MOTION_CLASSES), values
    assert float(values['backbone_ms']) > 0


@pytest.mark.slow
def test_action_node_drops_when_slower_than_the_camera(assets, head, log_dir):
    """Frames at 10 Hz with every person through the ViT: the node skips frames, keeps no queue, ends on the newest."""
    n = 30
    messages, logs = run_chain(assets, head, log_dir, n, rate=1.0, rate_hz=0.0)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in messages['actions']]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    last_skeleton = messages['skeletons_2d'][-1][1].header.stamp
    assert stamps[-1] == last_skeleton.sec * 10**9 + last_skeleton.nanosec, logs
    values = diagnostics_values(messages)
    skipped = int(values.get('frames_skipped', 0))
    assert len(stamps) < len(messages['skeletons_2d']), 'the node kept up with 10 Hz: nothing to test'
    assert skipped > 0 and len(stamps) + skipped <= len(messages['skeletons_2d']), values
    assert np.isfinite(float(values['processing_ms_p50']))
