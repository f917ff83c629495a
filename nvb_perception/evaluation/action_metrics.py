"""Frame-level mAP for multi-label per-frame action detection (Charades / TSU "frame mAP")."""
from __future__ import annotations

import numpy as np


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Non-interpolated AP of one class: mean precision at the rank of each positive (ties broken by order).

    Args:
        scores: (N,) higher = more likely.
        labels: (N,) bool.

    Returns:
        AP in [0, 1]; NaN when there is no positive.
    """
    scores, labels = np.asarray(scores, np.float64).reshape(-1), np.asarray(labels, bool).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f'scores {scores.shape} and labels {labels.shape} differ')
    positives = int(labels.sum())
    if positives == 0:
        return float('nan')
    order = np.argsort(-scores, kind='stable')
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / positives)


def frame_map(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over classes (with at least one positive) of the per-class AP over every frame.

    Args:
        scores: (N, C) per-frame (per observation) class scores.
        labels: (N, C) bool.

    Returns:
        (mAP in [0, 1], per-class AP (C,) with NaN for classes without positives).
    """
    scores, labels = np.asarray(scores), np.asarray(labels, bool)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise ValueError(f'scores and labels must both be (N, C), got {scores.shape} and {labels.shape}')
    ap = np.array([average_precision(scores[:, c], labels[:, c]) for c in range(scores.shape[1])])
    return (float(np.nanmean(ap)) if np.isfinite(ap).any() else float('nan')), ap
