"""lifting_node's optional depth input: `depth/image_rect_raw` kept by stamp, paired with each skeleton frame.

The depth image must be registered to the camera image the skeletons come from (same size and pixels, e.g. a
RealSense `aligned_depth_to_color/image_raw` remapped to `depth/image_rect_raw`). Images are stored undecoded;
only the one paired with a skeleton frame (the nearest stamp within depth_max_offset_s) is converted to metres.
"""
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image

from nvb_perception.errors import ImageError
from nvb_perception.imaging import image_to_numpy
from nvb_perception.lifting.config import LiftingConfig
from nvb_perception.lifting.depth import DepthFrames, DepthImage, depth_to_metres
from nvb_perception.ros.convert import time_from_msg

TOPIC = 'depth/image_rect_raw'


class DepthInput:
    """The depth subscription of a node, and the depth image of a frame."""

    def __init__(self, node, config: LiftingConfig, diagnostics):
        self.diagnostics = diagnostics
        self.frames = DepthFrames()
        qos = qos_profile_sensor_data if config.depth_qos == 'sensor_data' else QoSProfile(
            depth=5, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(Image, TOPIC, self.on_depth, qos)
        diagnostics.values['depth'] = 'none received'

    def on_depth(self, msg: Image) -> None:
        """Keep the message; it is decoded only if a skeleton frame is paired with it."""
        self.frames.add(time_from_msg(msg.header.stamp), msg)

    def for_frame(self, stamp_ns: int, image_size, config: LiftingConfig) -> DepthImage | None:
        """The DepthImage paired with a skeleton frame, or None (counted: no image near the stamp, bad image)."""
        msg = self.frames.nearest(stamp_ns, int(config.depth_max_offset_s * 1e9))
        if msg is None:
            self.diagnostics.count('depth_unpaired')
            self.diagnostics.values['depth'] = 'no image within depth_max_offset_s' if self.frames.frames \
                else 'none received'
            return None
        if all(image_size) and tuple(image_size) != (msg.width, msg.height):
            self.diagnostics.problem('depth_size_mismatch', f'depth image is {msg.width}x{msg.height} but the '
                                     f'skeletons are from {image_size[0]}x{image_size[1]} images: depth not used '
                                     '(it must be registered to the camera image)')
            return None
        try:
            array = image_to_numpy(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)
            metres = depth_to_metres(array, msg.encoding)
        except (ImageError, ValueError) as error:
            self.diagnostics.problem('depth_bad_images', f'depth image not used: {error}')
            return None
        self.diagnostics.values['depth'] = 'paired'
        return DepthImage(metres, config.depth_surface_offset_m, config.depth_tolerance_m, config.depth_window_px)

    def report(self, depth: DepthImage | None) -> None:
        """Count what the paired image did."""
        if depth is not None:
            for key, value in (('depth_roots_set', depth.roots_set), ('depth_roots_missed', depth.roots_missed),
                               ('depth_joints_disagreeing', depth.joints_disagreeing)):
                if value:
                    self.diagnostics.count(key, value)
