"""Export a trained action model (adapters + class-temporal head) to ONNX for the streaming runtime, with parity.

    python -m nvb_perception.export.action_head runs/actions/actions_flow.safetensors
    python -m nvb_perception.export.action_head runs/actions/actions_flow.safetensors --out model.onnx

Inputs (dynamic batch = people of a frame): 'tokens' (B, T, K, 768) raw backbone tokens, 'motion' (B, T, F + 1)
raw attention-flow features + has-previous flag, 'mask' (B, T) 1 = real frame; outputs 'logits' and
'probabilities' (B, C) of the newest frame. The feature standardisation is inside the graph. The checkpoint's
JSON (classes, FeatureConfig, flow method) is copied next to the ONNX (<name>.onnx.json) so that
actions.recognizer.ActionRecognizer can rebuild the exact features. Ends with an ONNX Runtime vs PyTorch check
on PARITY_BATCH real-shaped inputs (max abs difference of the probabilities <= PARITY_TOLERANCE, else exit 1 and
no file). Exit status: 0 ok, 1 parity failure, 2 missing input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from nvb_perception.training.action_checkpoint import load_checkpoint
from nvb_perception.training.action_model import ActionModel

INPUTS = ('tokens', 'motion', 'mask')
OUTPUTS = ('logits', 'probabilities')
PARITY_TOLERANCE = 1e-4     # max abs difference of the probabilities
PARITY_BATCH = 16


class _Export(torch.nn.Module):
    def __init__(self, model: ActionModel):
        super().__init__()
        self.model = model

    def forward(self, tokens, motion, mask):
        logits = self.model(tokens, motion, mask)
        return logits, torch.sigmoid(logits)


def parity_inputs(model: ActionModel, batch: int = PARITY_BATCH, seed: int = 0) -> dict[str, np.ndarray]:
    """Fixed pseudo-random inputs around the model's own feature statistics, with padded track starts."""
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    t_mean, t_std = model.tokens.norm.mean.numpy(), model.tokens.norm.std.numpy()
    tokens = (t_mean + t_std * rng.normal(size=(batch, cfg.window, cfg.token_layers, cfg.token_dim)))
    motion = rng.normal(size=(batch, cfg.window, cfg.motion_dim + 1))
    if cfg.kind == 'flow':
        motion = model.motion_norm.mean.numpy() + model.motion_norm.std.numpy() * motion
    starts = rng.integers(0, cfg.window, batch)
    mask = (np.arange(cfg.window)[None] >= starts[:, None]).astype(np.float32)
    return {'tokens': (tokens * mask[..., None, None]).astype(np.float32),
            'motion': (motion * mask[..., None]).astype(np.float32), 'mask': mask}


def export_onnx(model: ActionModel, path: Path, opset: int = 17) -> float:
    """Write the ONNX file and return the ONNX Runtime vs PyTorch max abs difference of the probabilities."""
    from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
    model = model.eval()
    feed = parity_inputs(model)
    example = tuple(torch.from_numpy(feed[k][:2]) for k in INPUTS)
    axes = {k: {0: 'batch'} for k in INPUTS + OUTPUTS}
    with torch.no_grad():
        # the wrapper must be in eval mode too: the exporter restores the wrapper's mode on all submodules
        torch.onnx.export(_Export(model).eval(), example, str(path), input_names=list(INPUTS),
                          output_names=list(OUTPUTS), dynamic_axes=axes, opset_version=opset, dynamo=False)
        want = torch.sigmoid(model(*(torch.from_numpy(feed[k]) for k in INPUTS))).numpy()
    backend = OnnxRuntimeBackend(path, threads=1)
    got = backend({k: feed[k] for k in INPUTS if k in backend.inputs})['probabilities']
    backend.close()
    return float(np.abs(got - want).max())


def write_head(model: ActionModel, meta: dict, out: Path) -> float:
    """Export with the parity check; on success write <out> and <out>.json (the recognizer's metadata).

    Returns:
        The parity (max abs difference); the files are written only when it is <= PARITY_TOLERANCE.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name('tmp_' + out.name)
    diff = export_onnx(model, tmp)
    if diff > PARITY_TOLERANCE:
        tmp.unlink()
        return diff
    os.replace(tmp, out)
    meta = {**meta, 'model': model.cfg.to_json(), 'parity_max_abs': diff, 'inputs': list(INPUTS),
            'outputs': list(OUTPUTS)}
    meta.pop('loss', None)
    Path(str(out) + '.json').write_text(json.dumps(meta, indent=1))
    return diff


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('weights', type=Path, help='<name>.safetensors written by train_actions (with <name>.json)')
    p.add_argument('--out', type=Path, default=None, help='default: <assets>/models/<name>.onnx')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if not args.weights.is_file() or not args.weights.with_suffix('.json').is_file():
        print(f'export_actions: {args.weights} or its .json not found', file=sys.stderr)
        return 2
    model, meta = load_checkpoint(args.weights)
    if args.out is None:
        from nvb_perception.assets import model_dir
        args.out = model_dir() / (args.weights.stem + '.onnx')
    diff = write_head(model, meta, args.out)
    print(f'export_actions: ONNX Runtime vs PyTorch max abs difference {diff:.2e} (tolerance {PARITY_TOLERANCE})')
    if diff > PARITY_TOLERANCE:
        return 1
    print(f'export_actions: wrote {args.out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
