"""`ros2 param set` on a running pose_node process: a live change takes effect, bad or read-only ones are refused."""
import time

import cv2
import pytest
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter

from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.ros.convert import skeleton2d_frame_from_msg
from nvb_perception.types import TrackState

SKELETONS = {'skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray'}


def set_parameter(listener, name, value, timeout=30.0):
    """Call /pose_node/set_parameters as `ros2 param set` does; returns the SetParametersResult."""
    client = listener.node.create_client(SetParameters, '/pose_node/set_parameters')
    assert client.wait_for_service(timeout_sec=timeout), 'set_parameters service not found'
    msg = ParameterMsg(name=name, value=Parameter(name, value=value).get_parameter_value())
    future = client.call_async(SetParameters.Request(parameters=[msg]))
    end = time.monotonic() + timeout
    while not future.done() and time.monotonic() < end:
        time.sleep(0.02)
    assert future.done(), f'no answer to set {name}'
    listener.node.destroy_client(client)
    return future.result().results[0]


def people_in_next_frame(listener, publisher, image, stamp_s):
    """Send one frame (again, until answered) and return how many people the answer holds."""
    from sensor_msgs.msg import Image

    from nvb_perception.ros.convert import time_to_msg
    msg = Image(**numpy_to_image_fields(image, 'bgr8'))
    msg.header.stamp = time_to_msg(int(stamp_s * 1e9))
    listener.take('skeletons_2d')
    assert listener.publish_until_answered([(publisher, msg)], ['skeletons_2d'], resend_s=2.0, timeout=60)
    frame = skeleton2d_frame_from_msg(listener.take('skeletons_2d')[-1][1])
    return sum(1 for s in frame.skeletons if s.track_state <= TrackState.TRACKED)


@pytest.mark.slow
def test_live_max_people_and_refused_values(assets, log_dir):
    image = cv2.imread(str(assets / 'data' / 'opencv' / 'basketball2.png'))     # two players
    pose = NodeProcess('pose_node', {'image_qos': 'reliable', 'static_image_mode': True, 'max_people': 4})
    with TopicListener(SKELETONS) as listener, ProcessGraph([pose], log_dir) as graph:
        publisher = listener.publisher('image', 'sensor_msgs/msg/Image')
        assert listener.wait_for_subscribers(publisher, 1, 60), graph.logs()
        assert people_in_next_frame(listener, publisher, image, 1.0) == 2, graph.logs()

        result = set_parameter(listener, 'max_people', 1)
        assert result.successful, result.reason
        assert people_in_next_frame(listener, publisher, image, 2.0) == 1, graph.logs()

        for name, value, why in (('max_people', 99, ''), ('min_detection_confidence', 1.5, ''),
                                 ('landmark_variant', 'lite', 'read-only'), ('detector_tile_px', 10, '64')):
            result = set_parameter(listener, name, value)
            assert not result.successful and result.reason, (name, value)
            assert why in result.reason, result.reason
        assert people_in_next_frame(listener, publisher, image, 3.0) == 1, graph.logs()     # nothing changed

        assert set_parameter(listener, 'max_people', 4).successful
        assert people_in_next_frame(listener, publisher, image, 4.0) == 2, graph.logs()
