"""Shipped lifter weights (safetensors) -> ONNX for the runtime, and training output -> shipped fp16 weights.

    nvb-export-lifter                      # nvb_perception/models/lifter_temporal.safetensors
                                           #   -> $NVB_PERCEPTION_ASSETS/models/lifter_temporal.onnx
    nvb-export-lifter --pack runs/lifter/lifter_temporal.safetensors   # fp32 training output -> package, fp16

Export: the weights' sidecar JSON (same stem, `.json`, written by train_lifter and --pack) gives the LifterConfig;
the weights are cast to float32, exported with opset 17 (input 'keypoints_2d' (batch, T, 17, 3), outputs 'pose_3d'
(batch, 17, 3) metres and 'log_var' (batch, 17)) and checked: ONNX Runtime vs PyTorch on PARITY_BATCH fixed
pseudo-random normalised inputs, max abs difference <= train_lifter.PARITY_TOLERANCE or exit 1 (the ONNX file is
then deleted). A `<name>.onnx.json` sidecar records the source's sha256, the exporter version, the ONNX file's
sha256 and the parity; when it matches, nothing is done (idempotent; --force re-exports).

Pack: casts every floating tensor to float16 (half the size; the model runs in float32 after loading), writes
<pack-dir>/<stem>.safetensors and a JSON with the training record plus 'storage': the float16-vs-float32 max abs
output difference on the same fixed inputs and, when the BVH files are there, the test MPJPE of both.
No pickle anywhere: safetensors and JSON only.

Exit status: 0 ok (or up to date), 1 parity failure, 2 missing or unreadable input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from nvb_perception.assets import file_sha256 as sha256
from nvb_perception.backends import load_backend
from nvb_perception.training.lifter_io import DEFAULT_WEIGHTS, default_onnx, load_lifter, predict
from nvb_perception.training.lifter_model import LifterConfig

EXPORTER_VERSION = 1
PARITY_BATCH = 64
PARITY_TOLERANCE = 1e-4   # max abs difference ONNX Runtime vs PyTorch, metres / log-variance units
INPUT, OUTPUTS = 'keypoints_2d', ('pose_3d', 'log_var')


def parity_inputs(frames: int, batch: int = PARITY_BATCH, seed: int = 0) -> np.ndarray:
    """Fixed pseudo-random (batch, frames, 17, 3) float32 inputs shaped like normalised keypoints.

    xy ~ N(0, 1), confidence in [0.2, 1] with 10 % zeros (whose xy are zero, as normalize_keypoints writes them).
    """
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(batch, frames, 17, 2))
    conf = rng.uniform(0.2, 1.0, (batch, frames, 17)) * (rng.random((batch, frames, 17)) > 0.1)
    return np.concatenate([xy * (conf[..., None] > 0), conf[..., None]], axis=-1).astype(np.float32)


def export_onnx(model: torch.nn.Module, path: Path, frames: int, check_inputs: np.ndarray) -> float:
    """Write an opset-17 ONNX file with a dynamic batch and return the max abs ORT-vs-torch difference."""
    model.eval()
    example = torch.from_numpy(check_inputs[:1])
    axes = {INPUT: {0: 'batch'}, **{name: {0: 'batch'} for name in OUTPUTS}}
    with warnings.catch_warnings():   # the TorchScript exporter warns about itself and about shape checks
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (example,), str(path), input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    expected = predict(model, check_inputs)
    with load_backend(path, prefer=('onnxruntime',), device='cpu') as backend:
        assert backend.inputs[INPUT].shape[1] == frames
        got = backend({INPUT: check_inputs})
    return max(float(np.max(np.abs(got[name] - want))) for name, want in zip(OUTPUTS, expected))



def _sidecar_ok(onnx_path: Path, sidecar: Path, src_hash: str) -> bool:
    if not (onnx_path.is_file() and sidecar.is_file()):
        return False
    try:
        meta = json.loads(sidecar.read_text())
    except ValueError:
        return False
    return (meta.get('source_sha256') == src_hash and meta.get('exporter_version') == EXPORTER_VERSION
            and meta.get('onnx_sha256') == sha256(onnx_path))


def export(weights: Path, onnx_path: Path, force: bool = False) -> tuple[bool, float]:
    """Export if needed; returns (exported now, parity max abs diff). Raises RuntimeError on a parity failure."""
    sidecar = onnx_path.with_name(onnx_path.name + '.json')
    src_hash = sha256(weights)
    if not force and _sidecar_ok(onnx_path, sidecar, src_hash):
        return False, float(json.loads(sidecar.read_text()).get('parity_max_abs_diff', 0.0))
    model, meta = load_lifter(weights)
    frames = LifterConfig(**meta['config']).receptive_field
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    # write next to the target and rename: an interrupted export never leaves a half file that looks current
    with tempfile.TemporaryDirectory(dir=onnx_path.parent) as tmp:
        tmp_path = Path(tmp) / onnx_path.name
        diff = export_onnx(model, tmp_path, frames, parity_inputs(frames))
        if diff > PARITY_TOLERANCE:
            raise RuntimeError(f'ONNX Runtime vs PyTorch max abs diff {diff:.2e} > {PARITY_TOLERANCE:g}')
        os.replace(tmp_path, onnx_path)
    sidecar.write_text(json.dumps({
        'source': weights.name, 'source_sha256': src_hash, 'exporter_version': EXPORTER_VERSION,
        'onnx_sha256': sha256(onnx_path), 'opset': 17, 'window_frames': frames, 'config': meta['config'],
        'parity_max_abs_diff': diff, 'parity_inputs': f'parity_inputs({frames}, {PARITY_BATCH}, seed 0)'}, indent=1))
    return True, diff


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', type=Path, default=DEFAULT_WEIGHTS, help='safetensors with a <stem>.json sidecar')
    p.add_argument('--out', type=Path, default=None, help='ONNX path (default $NVB_PERCEPTION_ASSETS/models/'
                                                          'lifter_temporal.onnx)')
    p.add_argument('--force', action='store_true', help='re-export even when the sidecar says up to date')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        out = args.out or default_onnx()
        exported, diff = export(args.weights, out, args.force)
    except (FileNotFoundError, KeyError, ValueError, OSError) as error:
        print(f'nvb-export-lifter: {error}', file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f'nvb-export-lifter: parity check failed: {error}', file=sys.stderr)
        return 1
    print(f'{out}: {"exported" if exported else "up to date"} (ONNX Runtime vs PyTorch max abs diff {diff:.2e})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
