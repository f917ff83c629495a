"""The lifter's training loop and its evaluation on simulated windows (MPJPE, P-MPJPE, uncertainty coverage)."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from nvb_perception.evaluation import lifting_metrics as metrics
from nvb_perception.training.lifter_io import predict
from nvb_perception.training.lifter_model import lifter_loss

Data = Callable[[int], tuple[np.ndarray, np.ndarray]]   # epoch -> inputs (N, T, 17, 3), targets (N, 17, 3)


def fit(model: torch.nn.Module, data: Data, epochs: int, batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
        replay: Data | None = None, validate: Callable[[torch.nn.Module], float] | None = None) -> list[dict]:
    """Train `model` in place with Adam, the learning rate decaying tenfold over the run.

    Args:
        model: a lifter from build_model.
        data: epoch -> (inputs (N, T, 17, 3), targets (N, 17, 3)) for the new task.
        epochs: passes, each over data(epoch).
        batch_size: windows per step.
        lr: initial learning rate.
        seed: shuffling seed.
        replay: epoch -> more (inputs, targets) mixed into each epoch. The hook for incremental learning:
            generative replay of old domains from the simulator (not used yet).
        validate: model -> validation MPJPE in mm, printed after each epoch.

    Returns:
        One dict per epoch: epoch, loss, train_mpjpe_mm, val_mpjpe_mm, seconds.

    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, amsgrad=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1 ** (1 / max(epochs, 1)))
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        inputs, targets = data(epoch)
        if replay is not None:
            old_inputs, old_targets = replay(epoch)
            inputs, targets = np.concatenate([inputs, old_inputs]), np.concatenate([targets, old_targets])
        order = np.random.default_rng([seed, epoch]).permutation(len(inputs))
        model.train()
        losses, errors = [], []
        for i in range(0, len(order) - batch_size + 1, batch_size):   # full batches: BatchNorm needs > 1
            idx = order[i:i + batch_size]
            pose, log_var = model(torch.from_numpy(inputs[idx]))
            loss, error = lifter_loss(pose, log_var, torch.from_numpy(targets[idx]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            errors.append(error.item())
        scheduler.step()
        row = {'epoch': epoch, 'loss': float(np.mean(losses)), 'train_mpjpe_mm': 1000 * float(np.mean(errors))}
        if validate is not None:
            row['val_mpjpe_mm'] = validate(model)
        row['seconds'] = time.perf_counter() - start
        print(' '.join(f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}' for k, v in row.items()), flush=True)
        history.append(row)
    return history


def evaluate(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray) -> dict:
    """MPJPE, P-MPJPE (mm), per-joint MPJPE and the 90 % interval coverage of the predicted uncertainty."""
    pose, log_var = predict(model, inputs)
    err = np.linalg.norm(pose - targets, axis=-1)
    radius90 = np.sqrt(6.251 * np.exp(log_var))   # chi-square 3 dof, 90 %: isotropic 3D Gaussian
    return {'mpjpe_mm': 1000 * metrics.mpjpe(pose, targets), 'p_mpjpe_mm': 1000 * metrics.p_mpjpe(pose, targets),
            'per_joint_mm': (1000 * metrics.mpjpe(pose, targets, per_joint=True)).round(1).tolist(),
            'coverage90': float(np.mean(err <= radius90))}
