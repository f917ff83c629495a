"""Managed nodes with autostart:=false: models load on configure, frames flow only while active, cleanup frees."""
import time

import cv2
import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from sensor_msgs.msg import Image

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import time_to_msg

TOPICS = {'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray',
          '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}


def _call(io, client, request, timeout=30.0):
    assert client.wait_for_service(timeout_sec=timeout), 'lifecycle service missing'
    future = client.call_async(request)
    end = time.monotonic() + timeout
    while not future.done() and time.monotonic() < end:
        time.sleep(0.02)
    assert future.done(), 'no reply'
    return future.result()


def _transition(io, change, transition_id) -> bool:
    return _call(io, change, ChangeState.Request(transition=Transition(id=transition_id))).success


def _state(io, get) -> str:
    return _call(io, get, GetState.Request()).current_state.label


def _lifecycle_value(io) -> str:
    values = [kv.value for _, arr in io.messages['/diagnostics'] for s in arr.status if s.name == '/pose_node'
              for kv in s.values if kv.key == 'lifecycle']
    return values[-1] if values else ''


@pytest.mark.slow
def test_pose_node_lifecycle(assets, log_dir, tmp_path):
    image = cv2.imread(str(assets / 'data' / 'opencv' / 'messi5.jpg'))
    node = NodeProcess('pose_node', {'autostart': False, 'image_qos': 'reliable'})
    with TopicListener(TOPICS) as io, ProcessGraph([node], log_dir) as graph:
        change = io.node.create_client(ChangeState, '/pose_node/change_state')
        get = io.node.create_client(GetState, '/pose_node/get_state')
        images = io.publisher('image', 'sensor_msgs/msg/Image')
        assert io.wait_for_subscribers(images), graph.logs()
        stamp = [0]

        def send_and_count(wait_s):
            stamp[0] += 1
            msg = Image(**numpy_to_image_fields(image, 'bgr8'))
            msg.header.stamp = time_to_msg(stamp[0] * 100_000_000)
            before = io.count('skeletons_2d')
            images.publish(msg)
            io.wait_for('skeletons_2d', before + 1, timeout=wait_s)
            return io.count('skeletons_2d') - before

        assert _state(io, get) == 'unconfigured'
        assert send_and_count(2.0) == 0                                  # no models yet: nothing comes out
        assert _transition(io, change, Transition.TRANSITION_CONFIGURE), graph.logs()
        assert _state(io, get) == 'inactive' and send_and_count(2.0) == 0
        assert _transition(io, change, Transition.TRANSITION_ACTIVATE)
        assert send_and_count(30.0) == 1, graph.logs()
        assert _transition(io, change, Transition.TRANSITION_DEACTIVATE)
        assert send_and_count(2.0) == 0
        assert _transition(io, change, Transition.TRANSITION_CLEANUP)
        assert _state(io, get) == 'unconfigured'
        time.sleep(1.5)                                                  # one diagnostics period
        assert _lifecycle_value(io) == 'unconfigured'
        # configure again, activate: works as before (models reopened)
        assert _transition(io, change, Transition.TRANSITION_CONFIGURE)
        assert _transition(io, change, Transition.TRANSITION_ACTIVATE)
        assert send_and_count(30.0) == 1, graph.logs()
        assert node.process.poll() is None


@pytest.mark.slow
def test_failed_configure_is_reported_and_the_node_stays_up(log_dir, tmp_path):
    """A bad model folder: configure fails with the file named, the node keeps running for a retry."""
    node = NodeProcess('pose_node', {'autostart': False, 'model_dir': str(tmp_path / 'no_models')})
    with TopicListener({}) as io, ProcessGraph([node], log_dir) as graph:
        change = io.node.create_client(ChangeState, '/pose_node/change_state')
        get = io.node.create_client(GetState, '/pose_node/get_state')
        assert not _transition(io, change, Transition.TRANSITION_CONFIGURE)
        assert _state(io, get) == 'unconfigured'
        time.sleep(0.5)
        assert node.process.poll() is None
        assert 'configure failed' in graph.logs() and 'no_models' in graph.logs(), graph.logs()
