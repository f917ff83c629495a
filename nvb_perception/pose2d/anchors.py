"""SSD anchors of the BlazePose person detector, as MediaPipe's SsdAnchorsCalculator makes them.

    anchors = ssd_anchors()          # (2254, 2) float32 anchor centres (x, y), normalised to the 224 input

Options from MediaPipe's `pose_detection_cpu` graph (mediapipe 0.10.18): input 224x224, num_layers 5,
strides 8, 16, 32, 32, 32, min_scale 0.1484375, max_scale 0.75, anchor offset 0.5, aspect_ratios [1.0],
interpolated_scale_aspect_ratio 1.0 (the default, so 2 anchors per layer and cell), fixed_anchor_size true.
Layers with the same stride are merged (their anchors interleave per cell), so the layout is
28x28x2 (stride 8) + 14x14x2 (stride 16) + 7x7x6 (the three stride-32 layers) = 1568 + 392 + 294 = 2254.
With fixed_anchor_size every anchor's width and height are 1, so only the centres matter; the scales are
computed anyway for completeness (`ssd_anchor_scales`).
"""
from __future__ import annotations

import math

import numpy as np

INPUT_SIZE = 224                   # px, square detector input
STRIDES = (8, 16, 32, 32, 32)
MIN_SCALE, MAX_SCALE = 0.1484375, 0.75
ANCHOR_OFFSET = 0.5                # anchor centre inside its feature-map cell
ASPECT_RATIOS = (1.0,)
INTERPOLATED_SCALE_ASPECT_RATIO = 1.0
NUM_ANCHORS = 2254


def _scale(layer: int, num_layers: int) -> float:
    """MediaPipe CalculateScale: linear from min_scale to max_scale over the layers."""
    if num_layers == 1:
        return (MIN_SCALE + MAX_SCALE) * 0.5
    return MIN_SCALE + (MAX_SCALE - MIN_SCALE) * layer / (num_layers - 1.0)


def _layer_groups(strides=STRIDES) -> list[tuple[int, list[int]]]:
    """[(stride, [layer indices])]: consecutive layers with the same stride share one feature map."""
    groups: list[tuple[int, list[int]]] = []
    for layer, stride in enumerate(strides):
        if groups and groups[-1][0] == stride:
            groups[-1][1].append(layer)
        else:
            groups.append((stride, [layer]))
    return groups


def ssd_anchor_scales(strides=STRIDES) -> list[list[tuple[float, float]]]:
    """Per feature map, the (scale, aspect ratio) of each anchor of a cell, in MediaPipe's order."""
    n = len(strides)
    out = []
    for _, layers in _layer_groups(strides):
        cell = []
        for layer in layers:
            scale = _scale(layer, n)
            cell += [(scale, ar) for ar in ASPECT_RATIOS]
            if INTERPOLATED_SCALE_ASPECT_RATIO > 0:   # an extra anchor between this scale and the next
                nxt = 1.0 if layer == n - 1 else _scale(layer + 1, n)
                cell.append((math.sqrt(scale * nxt), INTERPOLATED_SCALE_ASPECT_RATIO))
        out.append(cell)
    return out


def ssd_anchors(input_size: int = INPUT_SIZE, strides=STRIDES) -> np.ndarray:
    """Anchor centres in the order of the detector's 2254 outputs.

    Returns:
        (A, 2) float32 (x_center, y_center) in [0, 1] of the square input; rows run over feature maps
        (by stride), then cell rows y, cell columns x, then the anchors of a cell.
    """
    centres = []
    for (stride, _), cell in zip(_layer_groups(strides), ssd_anchor_scales(strides)):
        fm = math.ceil(input_size / stride)          # feature map side (square input)
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing='ij')
        xy = np.stack([(xs + ANCHOR_OFFSET) / fm, (ys + ANCHOR_OFFSET) / fm], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(xy, len(cell), axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)
