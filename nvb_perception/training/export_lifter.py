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
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from nvb_perception.training.lifter_model import LifterConfig, build_model
from nvb_perception.assets import file_sha256 as sha256
from nvb_perception.assets import read_json, read_safetensors

PACKAGE_MODELS = Path(__file__).resolve().parents[1] / 'models'
DEFAULT_WEIGHTS = PACKAGE_MODELS / 'lifter_temporal.safetensors'
EXPORTER_VERSION = 1
PARITY_BATCH = 64


def default_onnx() -> Path:
    """$NVB_PERCEPTION_ASSETS/models/lifter_temporal.onnx (assets.model_dir())."""
    from nvb_perception.assets import model_dir
    return model_dir() / 'lifter_temporal.onnx'



LIFTER_FIX = ('Restore the shipped lifter (nvb_perception/models/lifter_temporal.safetensors and .json, e.g. with '
              'git checkout) or train one with nvb-train-lifter')


def read_meta(weights: Path) -> dict:
    """The sidecar JSON of a weights file (<stem>.json); ModelFileError if missing or corrupt."""
    return read_json(Path(weights).with_suffix('.json'), f'LifterConfig of {weights}', LIFTER_FIX)


def load_lifter(weights: str | Path, meta: dict | None = None) -> tuple[torch.nn.Module, dict]:
    """A lifter in eval mode, float32, from safetensors weights (float16 or float32) and their sidecar JSON."""
    weights = Path(weights)
    meta = read_meta(weights) if meta is None else meta
    model = build_model(LifterConfig(**meta['config']))
    state = {k: (v.float() if v.is_floating_point() else v)
             for k, v in read_safetensors(weights, 'lifter weights', LIFTER_FIX).items()}
    model.load_state_dict(state)
    return model.eval(), meta


def parity_inputs(frames: int, batch: int = PARITY_BATCH, seed: int = 0) -> np.ndarray:
    """Fixed pseudo-random (batch, frames, 17, 3) float32 inputs shaped like normalised keypoints.

    xy ~ N(0, 1), confidence in [0.2, 1] with 10 % zeros (whose xy are zero, as normalize_keypoints writes them).
    """
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(batch, frames, 17, 2))
    conf = rng.uniform(0.2, 1.0, (batch, frames, 17)) * (rng.random((batch, frames, 17)) > 0.1)
    return np.concatenate([xy * (conf[..., None] > 0), conf[..., None]], axis=-1).astype(np.float32)


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
    from nvb_perception.training.train_lifter import PARITY_TOLERANCE, export_onnx
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


@torch.no_grad()
def _outputs(model: torch.nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pose, log_var = model.eval()(torch.from_numpy(x))
    return pose.numpy(), log_var.numpy()


def pack(src: Path, dst_dir: Path, measure_test: bool = True) -> dict:
    """Float16 copy of a training output (weights + JSON) in dst_dir; returns the 'storage' record."""
    model32, meta = load_lifter(src)
    state = model32.state_dict()
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    save_file(half, str(dst), metadata={'format': 'pt', 'dtype': 'float16'})
    model16, _ = load_lifter(dst, meta)
    frames = LifterConfig(**meta['config']).receptive_field
    x = parity_inputs(frames, 1024)
    (p32, v32), (p16, v16) = _outputs(model32, x), _outputs(model16, x)
    storage = {'dtype': 'float16', 'source': str(src), 'source_sha256': sha256(src), 'bytes': dst.stat().st_size,
               'sha256': sha256(dst),
               'fp16_vs_fp32_max_abs_pose_m': float(np.abs(p16 - p32).max()),
               'fp16_vs_fp32_mean_abs_pose_m': float(np.abs(p16 - p32).mean()),
               'fp16_vs_fp32_max_abs_log_var': float(np.abs(v16 - v32).max()),
               'parity_inputs': f'parity_inputs({frames}, 1024, seed 0)'}
    if measure_test:
        try:
            from nvb_perception.training import eval_lifter
            data = eval_lifter.test_set(seed=0, n=4096, frames=frames)
            storage['test_mpjpe_mm_fp32'] = eval_lifter.score(model32, data)['mpjpe_mm']
            storage['test_mpjpe_mm_fp16'] = eval_lifter.score(model16, data)['mpjpe_mm']
        except (FileNotFoundError, SystemExit) as error:   # no BVH files here: the fixed-input parity only
            storage['test_mpjpe_note'] = f'not measured: {error}'
    out_meta = dict(meta)
    out_meta['storage'] = storage
    dst.with_suffix('.json').write_text(json.dumps(out_meta, indent=1))
    return storage


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', type=Path, default=DEFAULT_WEIGHTS, help='safetensors with a <stem>.json sidecar')
    p.add_argument('--out', type=Path, default=None, help='ONNX path (default $NVB_PERCEPTION_ASSETS/models/'
                                                          'lifter_temporal.onnx)')
    p.add_argument('--force', action='store_true', help='re-export even when the sidecar says up to date')
    p.add_argument('--pack', type=Path, default=None, metavar='RUN_WEIGHTS',
                   help='instead: write a float16 copy of this training output (+ JSON) to --pack-dir')
    p.add_argument('--pack-dir', type=Path, default=PACKAGE_MODELS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        if args.pack is not None:
            storage = pack(args.pack, args.pack_dir)
            print(json.dumps(storage, indent=1))
            return 0
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
