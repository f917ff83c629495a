"""Settings of the action stage as action_node runs it: each field is also an action_node parameter."""
from __future__ import annotations

from dataclasses import dataclass

from nvb_perception.params import param, validate

BACKENDS = ('tensorrt', 'onnxruntime')


@dataclass(frozen=True)
class ActionConfig:
    """Models, rate and outputs of action recognition (the model paths default to the asset folder's files)."""

    backbone_model: str = param('', 'ViT backbone with attention outputs (nvb_perception.export.extract_vit)',
                                read_only=True)
    head_model: str = param('', 'Adapters + class-temporal head (nvb_perception.export.action_head)',
                            read_only=True)
    prefer: tuple[str, ...] = param(('onnxruntime',), 'Runtimes to try, in order', choices=BACKENDS,
                                    read_only=True, name='backends')
    threads: int = param(2, 'ONNX Runtime intra-op threads per model (0 = one per core; the small head uses 1)',
                         low=0, high=1024, read_only=True)
    whole_frame: bool = param(False, 'Recognise the whole image (track -1) instead of per-track crops',
                              read_only=True)
    rate_hz: float = param(0.0, 'Most frames per second to process, in source time (0 = the rate the model was '
                                'trained at)', low=0.0, high=1000.0)
    max_people: int = param(8, 'Most tracks recognised per frame (largest boxes first)', low=1, high=32)
    publish_heatmap: bool = param(False, 'Publish the attention-flow heatmap image (action_heatmap)')

    def __post_init__(self):
        validate(self)
