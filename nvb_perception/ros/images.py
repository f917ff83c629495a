"""sensor_msgs/Image and CompressedImage -> BGR numpy for the nodes: cv_bridge when it imports, else ours.

Both paths first run the project's own checks (nvb_perception.imaging), so every bad frame raises the same
ImageError with a clear reason whichever converter does the pixel work.
"""
import numpy as np
from sensor_msgs.msg import CompressedImage

from nvb_perception.errors import ImageError
from nvb_perception.imaging import decode_compressed, image_to_numpy, to_bgr8

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
