"""Image messages -> BGR in the nodes: the project's converter here, cv_bridge where a real one imports."""
import importlib
import sys
import types

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from nvb_perception.errors import ImageError
from nvb_perception.imaging import encode_compressed, numpy_to_image_fields
from nvb_perception.ros import images


def test_rgb_message_to_bgr():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    bgr = images.image_msg_to_bgr8(Image(**numpy_to_image_fields(rgb, 'rgb8')))
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])
    jpeg = CompressedImage(format='png', data=encode_compressed(bgr, 'png'))
    np.testing.assert_array_equal(images.image_msg_to_bgr8(jpeg), bgr)


def test_bad_message_raises_image_error():
    with pytest.raises(ImageError, match='truncated'):
        images.image_msg_to_bgr8(Image(height=4, width=4, encoding='bgr8', step=12, data=bytes(10)))


def test_which_converter_is_reported():
    try:
        import cv_bridge  # noqa: F401
        expected = 'cv_bridge'
    except ImportError:
        expected = 'nvb_perception.imaging'
    assert images.converter_name() == expected


def test_cv_bridge_errors_become_image_errors(monkeypatch):
    """Stand-in for a ROS 2 cv_bridge (not installable here): its errors must surface as ImageError."""
    class CvBridgeError(Exception):
        pass

    class CvBridge:
        def imgmsg_to_cv2(self, msg, desired_encoding):
            raise CvBridgeError('boom')
    monkeypatch.setitem(sys.modules, 'cv_bridge', types.SimpleNamespace(CvBridge=CvBridge,
                                                                         CvBridgeError=CvBridgeError))
    fresh = importlib.reload(images)
    try:
        assert fresh.converter_name() == 'cv_bridge'
        with pytest.raises(ImageError, match='cv_bridge: boom'):
            fresh.image_msg_to_bgr8(Image(**numpy_to_image_fields(np.zeros((2, 2, 3), np.uint8), 'bgr8')))
    finally:
        monkeypatch.delitem(sys.modules, 'cv_bridge')
        importlib.reload(images)
