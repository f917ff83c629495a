"""Settings of the 3D lifting stage and of lifting_node: each field is also a node parameter (nvb_perception.params)."""
from __future__ import annotations

from dataclasses import dataclass

from nvb_perception.params import param, validate

BACKENDS = ('tensorrt', 'onnxruntime')


@dataclass(frozen=True)
class LiftingConfig:
    """Which lifter runs where, whether camera intrinsics place the skeletons in the optical frame, and depth."""

    model: str = param('', 'Exported lifter (ONNX; empty: lifter_temporal.onnx in the model folder)', read_only=True)
    backends: tuple[str, ...] = param(BACKENDS, 'Runtimes to try in order', choices=BACKENDS, read_only=True)
    use_camera_info: bool = param(True, 'Rotate into the optical frame with CameraInfo intrinsics when calibrated')
    use_depth: bool = param(False, 'Subscribe depth/image_rect_raw (registered to the image; 16UC1 mm or 32FC1 m) '
                                   'to set each root depth and check the joints', read_only=True)
    depth_qos: str = param('sensor_data', 'QoS of the depth subscription: sensor_data (best effort) or reliable',
                           choices=('sensor_data', 'reliable'), read_only=True)
    depth_max_offset_s: float = param(0.02, 'Largest stamp difference between skeletons and their depth image (s)',
                                      low=0.0, high=1.0)
    depth_surface_offset_m: float = param(0.1, 'How far torso joints lie behind the body surface the depth sees (m)',
                                          low=0.0, high=0.5)
    depth_tolerance_m: float = param(0.3, 'Joints whose depth differs more from the image get half confidence (m)',
                                     low=0.01, high=5.0)
    depth_window_px: int = param(2, 'Half size of the window whose median depth is sampled at a keypoint (px)',
                                 low=0, high=20)

    def __post_init__(self):
        if isinstance(self.backends, str):
            object.__setattr__(self, 'backends', (self.backends,))
        validate(self)
