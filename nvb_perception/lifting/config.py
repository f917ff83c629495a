"""Settings of the 3D lifting stage and of lifting_node: each field is also a node parameter (nvb_perception.params)."""
from __future__ import annotations

from dataclasses import dataclass

from nvb_perception.params import param, validate

BACKENDS = ('tensorrt', 'onnxruntime')


@dataclass(frozen=True)
class LiftingConfig:
    """Which lifter runs where, and whether camera intrinsics place the skeletons in the optical frame."""

    model: str = param('', 'Exported lifter (ONNX; empty: lifter_temporal.onnx in the model folder)', read_only=True)
    backends: tuple[str, ...] = param(BACKENDS, 'Runtimes to try in order', choices=BACKENDS, read_only=True)
    use_camera_info: bool = param(True, 'Rotate into the optical frame with CameraInfo intrinsics when calibrated')

    def __post_init__(self):
        if isinstance(self.backends, str):
            object.__setattr__(self, 'backends', (self.backends,))
        validate(self)
