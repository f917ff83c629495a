"""Pack a training output into the package: float16 weights + JSON with the fp16-vs-fp32 difference and test MPJPE.

    python -m nvb_perception.training.pack_lifter runs/lifter/lifter_temporal.safetensors   # -> nvb_perception/models

Casts every floating tensor to float16 (half the size; the model runs in float32 after loading), writes
<pack-dir>/<stem>.safetensors and a JSON with the training record plus 'storage': the float16-vs-float32 max abs
output difference on the export's fixed inputs and, when the BVH files are there, the test MPJPE of both.
No pickle anywhere: safetensors and JSON only.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from nvb_perception.assets import file_sha256 as sha256
from nvb_perception.evaluation import eval_lifter
from nvb_perception.export.lifter import parity_inputs
from nvb_perception.training.lifter_io import PACKAGE_MODELS, load_lifter
from nvb_perception.training.lifter_model import LifterConfig


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
    p.add_argument('weights', type=Path, help='fp32 training output (.safetensors with its .json)')
    p.add_argument('--pack-dir', type=Path, default=PACKAGE_MODELS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        storage = pack(args.weights, args.pack_dir)
    except (FileNotFoundError, KeyError, ValueError, OSError) as error:
        print(f'pack_lifter: {error}', file=sys.stderr)
        return 2
    print(json.dumps(storage, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
