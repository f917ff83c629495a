"""An action model's checkpoint: float32 safetensors weights (with the standardisation buffers) + a JSON sidecar."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from nvb_perception.assets import read_json, read_safetensors
from nvb_perception.training.action_model import ActionModel, ActionModelConfig, build_action_model


def save_checkpoint(path: Path, model: ActionModel, meta: dict) -> None:
    """<path>.safetensors (float32 weights + standardisation buffers) and <path>.json (configs, classes, record)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path.with_suffix('.safetensors')))
    path.with_suffix('.json').write_text(json.dumps({'model': model.cfg.to_json(), **meta}, indent=1))


def load_checkpoint(path: Path) -> tuple[ActionModel, dict]:
    """An ActionModel in eval mode and its JSON sidecar."""
    path, fix = Path(path), 'Train it again with python -m nvb_perception.training.train_actions'
    meta = read_json(path.with_suffix('.json'), 'action model metadata', fix)
    model = build_action_model(ActionModelConfig(**meta['model']))
    model.load_state_dict(read_safetensors(path.with_suffix('.safetensors'), 'action model weights', fix))
    return model.eval(), meta
