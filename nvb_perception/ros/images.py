"""Camera input of the nodes: the image subscription, and Image/CompressedImage -> BGR (cv_bridge or ours).

Both paths first run the project's own checks (nvb_perception.imaging), so every bad frame raises the same
ImageError with a clear reason whichever converter does the pixel work.
"""
from dataclasses import dataclass

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

from nvb_perception.errors import ImageError
from nvb_perception.imaging import decode_compressed, image_to_numpy, to_bgr8
from nvb_perception.params import param, validate

try:   # the PyPI "cv-bridge" is a broken ROS 1 port; only a real ROS 2 install provides a working one
    from cv_bridge import CvBridge, CvBridgeError
    BRIDGE = CvBridge()
except ImportError:
    BRIDGE, CvBridgeError = None, None

# encodings cv_bridge converts to bgr8 the same way as nvb_perception.imaging
BRIDGE_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16')


def image_msg_to_bgr8(msg) -> np.ndarray:
    """Image or CompressedImage message -> (H, W, 3) uint8 BGR; ImageError for anything undecodable."""
    if isinstance(msg, CompressedImage):
        return decode_compressed(msg.format, msg.data)
    array = image_to_numpy(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)
    if BRIDGE is not None and msg.encoding in BRIDGE_ENCODINGS:
        try:
            return BRIDGE.imgmsg_to_cv2(msg, desired_encoding='bgr8')
        except CvBridgeError as error:
            raise ImageError(f'cv_bridge: {error}') from None
    return to_bgr8(array, msg.encoding)


def converter_name() -> str:
    """Which converter is in use (reported in diagnostics)."""
    return 'cv_bridge' if BRIDGE is not None else 'nvb_perception.imaging'


@dataclass(frozen=True)
class ImageInput:
    """How a node subscribes to its camera (parameters of every node that takes images)."""

    image_transport: str = param('raw', 'Subscribe to raw images or image/compressed', choices=('raw', 'compressed'),
                                 read_only=True)
    image_qos: str = param('sensor_data', 'QoS of the image subscription: sensor_data (best effort, matches any '
                                          'camera) or reliable (lossless with a reliable camera; large best-effort '
                                          'images lose fragments with Fast DDS default transports)',
                           choices=('sensor_data', 'reliable'), read_only=True)

    def __post_init__(self):
        validate(self)


def subscribe_image(node, config: ImageInput, callback, depth: int = 2):
    """Subscribe `image` (or `image/compressed`) with the configured QoS; the callback gets either message.

    depth: the reliable queue (a node that pairs images with later skeletons keeps a few waiting).
    """
    qos = qos_profile_sensor_data if config.image_qos == 'sensor_data' else QoSProfile(
        depth=depth, reliability=ReliabilityPolicy.RELIABLE)
    if config.image_transport == 'compressed':
        return node.create_subscription(CompressedImage, 'image/compressed', callback, qos)
    return node.create_subscription(Image, 'image', callback, qos)
