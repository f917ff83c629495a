"""The lifter's files and data: shipped weights, loading a trained lifter, the mocap splits, batched prediction.

Shared by training, export and evaluation, so that each of them imports this module and none imports another.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nvb_perception.assets import model_dir, read_json, read_safetensors
from nvb_perception.datasets.bvh import load_h36m
from nvb_perception.datasets.lifting_windows import resample, split_clips
from nvb_perception.training.lifter_model import LifterConfig, build_model

PACKAGE_MODELS = Path(__file__).resolve().parents[1] / 'models'
DEFAULT_WEIGHTS = PACKAGE_MODELS / 'lifter_temporal.safetensors'
def default_onnx() -> Path:
    """$NVB_PERCEPTION_ASSETS/models/lifter_temporal.onnx (assets.model_dir())."""
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


def load_splits(bvh_dir: Path, held_out: tuple[str, ...]) -> dict[str, list[np.ndarray]]:
    """Every *.bvh in bvh_dir as H36M-17 at 30 fps, split by file and time segment."""
    paths = sorted(bvh_dir.glob('*.bvh'))
    if not paths:
        raise SystemExit(f'no .bvh files in {bvh_dir}; run `make setup` to fetch the assets')
    return split_clips([resample(load_h36m(p)) for p in paths], held_out=held_out)


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode outputs: pose (N, 17, 3) metres and log_var (N, 17)."""
    model.eval()
    outs = [model(torch.from_numpy(inputs[i:i + batch_size])) for i in range(0, len(inputs), batch_size)]
    return torch.cat([o[0] for o in outs]).numpy(), torch.cat([o[1] for o in outs]).numpy()


