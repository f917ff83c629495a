"""Settings of the 2D pose stage: each field is also a pose_node parameter (nvb_perception.params)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nvb_perception.errors import ConfigError
from nvb_perception.params import param, validate

VARIANTS = ('lite', 'full', 'heavy')
BACKENDS = ('tensorrt', 'onnxruntime')


@dataclass(frozen=True)
class PoseConfig:
    """Settings of the 2D pose stage (defaults as MediaPipe Pose where it has one)."""

    model_dir: str = param('', 'Folder of the exported ONNX models (empty: $NVB_PERCEPTION_ASSETS/models)',
                           read_only=True)
    landmark_variant: str = param('full', 'BlazePose landmark model', choices=VARIANTS, read_only=True)
    max_people: int = param(4, 'Most people tracked at once', low=1, high=32)
    min_detection_confidence: float = param(0.5, 'Person detector score to start a person', low=0.0, high=1.0)
    min_tracking_confidence: float = param(0.5, 'Below this pose score a track is lost and re-detected',
                                           low=0.0, high=1.0)
    smoothing: bool = param(True, 'One-Euro smoothing of the landmarks per track (video mode only)')
    static_image_mode: bool = param(False, 'Detect every frame afresh: no ROI tracking, no smoothing')
    detect_every_n_frames: int = param(10, 'While people are tracked, look for new ones every N frames',
                                       low=1, high=10000)
    detector_tile_px: int = param(0, 'Also detect in overlapping tiles of this size (0 = off, else >= 64): '
                                     'finds small, far-away people at a higher detector cost', low=0, high=8192)
    lost_frames: int = param(15, 'Frames a lost track is kept before it terminates', low=0, high=100000)
    prefer: tuple[str, ...] = param(BACKENDS, 'Runtimes to try, in order', choices=BACKENDS, read_only=True,
                                    name='backends')
    # 1 by default: on 2 cores with other nodes or jobs running, a 2-thread pool halved the speed
    # (25.7 vs 47.8 ms per frame at load 1, benchmarks/bench_pose.py)
    threads: int = param(1, 'ONNX Runtime intra-op threads per model (0 = one per core)', low=0, high=1024,
                         read_only=True)

    def __post_init__(self):
        if self.threads is None:                      # the Python API's "one per core"
            object.__setattr__(self, 'threads', 0)
        validate(self)
        if 0 < self.detector_tile_px < 64:
            raise ConfigError(f'detector_tile_px must be 0 (off) or in [64, 8192], got {self.detector_tile_px}')

    def model_path(self, name: str) -> Path:
        """The ONNX file of a model of this stage."""
        base = self.model_dir or os.path.join(os.environ.get('NVB_PERCEPTION_ASSETS') or '.assets', 'models')
        return Path(base) / f'{name}.onnx'
