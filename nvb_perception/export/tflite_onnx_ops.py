"""TFLite op -> ONNX (opset 17) handlers used by :mod:`nvb_perception.export.tflite_to_onnx`.

Each handler gets the Graph under construction and one TFLite Operator, and emits ONNX nodes that
produce the operator's output tensor. Spatial ops run NCHW (ONNX requires it); layout-agnostic ops
(elementwise, activations, concat, pad, reduce) run in whatever layout their input already has, so
a chain of convolutions never bounces through NHWC. Semantics that differ between the two formats
are handled here: TFLite SAME padding (asymmetric, the extra pixel at the end), resize coordinate
modes, fused activations, weight layouts (OHWI conv, 1HWC depthwise, OI fully connected).
"""
from __future__ import annotations

import numpy as np

from nvb_perception.export.onnx_graph import TO_NCHW, Graph, UnsupportedOpError
from nvb_perception.export.tflite_schema import PADDING_SAME

# NHWC axis -> NCHW axis of the same dimension.
_AXIS_TO_NCHW = (0, 2, 3, 1)


def _weights(g: Graph, op, idx: int) -> np.ndarray:
    w = g.const(idx)
    if w is None:
        raise UnsupportedOpError(f'{op.op} #{op.index}: non-constant weights are not supported')
    if w.dtype.kind != 'f':     # hybrid int8 weights: casting would silently drop the scale
        raise UnsupportedOpError(f'{op.op} #{op.index}: integer-quantized weights '
                                 f'({g.tensor(idx).name!r}) are not supported')
    return w.astype(np.float32)


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow SAME padding: output = ceil(size / stride); an odd total pad goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(op, in_shape, kh: int, kw: int, dh: int = 1, dw: int = 1) -> list[int]:
    """ONNX pads [top, left, bottom, right] for a TFLite NHWC input shape."""
    if op.options['padding'] != PADDING_SAME:
        return [0, 0, 0, 0]
    top, bottom = _same_pads(in_shape[1], kh, op.options['stride_h'], dh)
    left, right = _same_pads(in_shape[2], kw, op.options['stride_w'], dw)
    return [top, left, bottom, right]


def _bias(g: Graph, op, n: int) -> list[str]:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return [g.initializer(_weights(g, op, op.inputs[2]).reshape(n), f'b{op.inputs[2]}')]
    return []


def conv(g: Graph, op, depthwise: bool = False):
    x, w_idx = op.inputs[0], op.inputs[1]
    o, w = op.options, _weights(g, op, w_idx)
    in_ch = g.tensor(x).shape[3]
    if depthwise:       # TFLite [1, KH, KW, C*M] -> ONNX [C*M, 1, KH, KW], one group per input channel
        w, group = w.transpose(3, 0, 1, 2), in_ch
    else:               # TFLite OHWI -> ONNX OIHW; I < C means grouped convolution
        w = w.transpose(0, 3, 1, 2)
        group = in_ch // w.shape[1]
    kh, kw = w.shape[2:]
    dh, dw = o['dilation_h_factor'], o['dilation_w_factor']
    g.emit('Conv', [g.get(x, 'nchw'), g.initializer(w, f'w{w_idx}')] + _bias(g, op, w.shape[0]),
           op.outputs[0], 'nchw', o['fused_activation_function'], kernel_shape=[kh, kw],
           strides=[o['stride_h'], o['stride_w']], dilations=[dh, dw], group=group,
           pads=_pads(op, g.tensor(x).shape, kh, kw, dh, dw))


def pool(g: Graph, op, onnx_op: str):
    o, x = op.options, op.inputs[0]
    kh, kw = o['filter_height'], o['filter_width']
    # count_include_pad=0 (ONNX default) matches TFLite: averages divide by the in-bounds count only.
    g.emit(onnx_op, [g.get(x, 'nchw')], op.outputs[0], 'nchw', o['fused_activation_function'],
           kernel_shape=[kh, kw], strides=[o['stride_h'], o['stride_w']], pads=_pads(op, g.tensor(x).shape, kh, kw))


def elementwise(g: Graph, op, onnx_op: str):
    """Broadcasting binary ops. Runs NCHW if the output is 4-D and a live input already is NCHW."""
    live = [i for i in op.inputs if g.const(i) is None]
    nchw = (g.rank(op.outputs[0]) == 4 and all(g.rank(i) == 4 for i in live)
            and any(g.layout_of(i) == 'nchw' for i in live))
    names = []
    for i in op.inputs:
        c = g.const(i)
        if c is None:
            names.append(g.get(i, 'nchw' if nchw else 'nhwc'))
            continue
        c = c.astype(np.float32) if c.dtype == np.float16 else c
        if nchw and c.ndim:     # numpy broadcasting aligns right: pad to 4-D in NHWC, then permute
            c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(TO_NCHW)
        names.append(g.initializer(c, f'w{i}'))
    g.emit(onnx_op, names, op.outputs[0], 'nchw' if nchw else 'nhwc', op.options.get('fused_activation_function', 0))


def squared_difference(g: Graph, op):
    """SQUARED_DIFFERENCE: (a - b)^2, as Sub then Mul (ONNX has no fused op)."""
    live = [i for i in op.inputs if g.const(i) is None]
    nchw = (g.rank(op.outputs[0]) == 4 and all(g.rank(i) == 4 for i in live)
            and any(g.layout_of(i) == 'nchw' for i in live))
    layout = 'nchw' if nchw else 'nhwc'
    names = []
    for i in op.inputs:
        c = g.const(i)
        if c is None:
            names.append(g.get(i, layout))
            continue
        c = c.astype(np.float32)
        if nchw and c.ndim:
            c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(TO_NCHW)
        names.append(g.initializer(c, f'w{i}'))
    d = g.node('Sub', names)
    g.emit('Mul', [d, d], op.outputs[0], layout)


def prelu(g: Graph, op):
    """PRELU with a constant slope s as (1 - s) * Relu(x) + s * x.

    Exactly PReLU for any s; ONNX Runtime runs its PRelu kernel with a per-channel slope ~2.5x slower than
    these four ops (and outside its NCHWc layout, so it also reorders around each one): MediaPipe's face
    landmark model spent 56% of its time in PRelu.
    """
    x, slope = op.inputs[0], g.const(op.inputs[1])
    if slope is None:
        elementwise(g, op, 'PRelu')
        return
    layout = g.layout_of(x) if g.rank(x) == 4 else 'nhwc'
    s = slope.astype(np.float32)
    if layout == 'nchw' and s.ndim:
        s = s.reshape((1,) * (4 - s.ndim) + s.shape).transpose(TO_NCHW)
    xin = g.get(x, layout)
    one_minus = g.initializer((1.0 - s).astype(np.float32), f'one_minus_w{op.inputs[1]}')
    kept = g.node('Mul', [g.node('Relu', [xin]), one_minus])
    g.emit('Add', [kept, g.node('Mul', [xin, g.initializer(s, f'w{op.inputs[1]}')])], op.outputs[0], layout)


def rsqrt(g: Graph, op):
    """RSQRT: 1 / sqrt(x)."""
    x = op.inputs[0]
    layout = g.layout_of(x)
    g.emit('Reciprocal', [g.node('Sqrt', [g.get(x, layout)])], op.outputs[0], layout)


def strided_slice(g: Graph, op):
    """STRIDED_SLICE with constant begin/end/strides, begin/end/shrink-axis masks, on NHWC data.

    Axes taken whole (start 0, to the end, step 1) are left out of the ONNX Slice, so a dynamic batch
    dimension stays dynamic; shrink_axis_mask becomes a Reshape to the output's static shape.
    """
    o = op.options
    begin, end, strides = (g.const(i) for i in op.inputs[1:4])
    if begin is None or end is None or strides is None:
        raise UnsupportedOpError(f'STRIDED_SLICE #{op.index}: non-constant begin/end/strides are not supported')
    if o.get('ellipsis_mask', 0) or o.get('new_axis_mask', 0):
        raise UnsupportedOpError(f'STRIDED_SLICE #{op.index}: ellipsis/new-axis masks are not supported')
    x = op.inputs[0]
    shape = g.tensor(x).shape
    big = np.iinfo(np.int64).max
    starts, ends, axes, steps = [], [], [], []
    for axis, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        if o.get('offset', 0):
            e = b + e
        if o.get('shrink_axis_mask', 0) >> axis & 1:
            e, s = (b + 1 if b != -1 else big), 1
        else:
            if o.get('begin_mask', 0) >> axis & 1:
                b = 0 if s > 0 else -1
            if o.get('end_mask', 0) >> axis & 1:
                e = big if s > 0 else -big
        b_pos = b + shape[axis] if b < 0 else b
        if s == 1 and b_pos == 0 and e >= shape[axis]:
            continue                                  # the whole axis: nothing to slice
        starts.append(b), ends.append(e), axes.append(axis), steps.append(s)
    y = g.get(x, 'nhwc')
    if axes:
        y = g.node('Slice', [y] + [g.initializer(np.array(v, np.int64)) for v in (starts, ends, axes, steps)])
    out_shape = np.array(g.tensor(op.outputs[0]).shape, np.int64)
    g.emit('Reshape', [y, g.initializer(out_shape)], op.outputs[0], 'nhwc')


def unary(g: Graph, op, onnx_op: str, **attrs):
    x = op.inputs[0]
    layout = g.layout_of(x)
    g.emit(onnx_op, [g.get(x, layout)], op.outputs[0], layout, **attrs)


def clamp(g: Graph, op, lo: float, hi: float):
    x = op.inputs[0]
    layout = g.layout_of(x)
    g.emit('Clip', [g.get(x, layout), g.initializer(np.float32(lo)), g.initializer(np.float32(hi))],
           op.outputs[0], layout)


def pad(g: Graph, op, mode: str = 'constant'):
    x, p = op.inputs[0], g.const(op.inputs[1])
    if p is None:
        raise UnsupportedOpError(f'{op.op} #{op.index}: non-constant paddings are not supported')
    p = p.astype(np.int64).reshape(-1, 2)
    layout = g.layout_of(x) if g.rank(x) == 4 else 'nhwc'
    if layout == 'nchw':
        p = p[list(TO_NCHW)]
    inputs = [g.get(x, layout), g.initializer(np.concatenate([p[:, 0], p[:, 1]]))]
    if op.op == 'PADV2' and len(op.inputs) > 2:
        inputs.append(g.initializer(g.const(op.inputs[2]).astype(np.float32).reshape(())))
    if op.op == 'MIRROR_PAD':
        if op.options.get('mode', 0) != 0:
            raise UnsupportedOpError(f'MIRROR_PAD #{op.index}: SYMMETRIC mode has no ONNX equivalent')
        mode = 'reflect'
    g.emit('Pad', inputs, op.outputs[0], layout, mode=mode)


def resize(g: Graph, op, nearest: bool):
    """RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR with TF's coordinate conventions.

    bilinear: half_pixel_centers -> 'half_pixel' (TF clamps the negative source coordinate the same
    way), align_corners -> 'align_corners', neither -> 'asymmetric'. nearest: TF floors
    (out + 0.5) * scale for half-pixel, i.e. 'half_pixel' + round_prefer_ceil; it rounds for
    align_corners and floors otherwise.
    """
    x, out = op.inputs[0], g.tensor(op.outputs[0])
    align, half = op.options['align_corners'], op.options['half_pixel_centers']
    mode = 'align_corners' if align else 'half_pixel' if half else 'asymmetric'
    attrs = {'mode': 'nearest' if nearest else 'linear', 'coordinate_transformation_mode': mode}
    if nearest:
        attrs['nearest_mode'] = 'round_prefer_ceil' if (align or half) else 'floor'
    n, h, w, c = out.shape
    g.emit('Resize', [g.get(x, 'nchw'), '', '', g.initializer(np.array([n, c, h, w], np.int64))],
           op.outputs[0], 'nchw', **attrs)


def depth_space(g: Graph, op, onnx_op: str):
    # TF's DepthToSpace channel order (block row, block col, channel) is ONNX's default 'DCR' mode.
    attrs = {'mode': 'DCR'} if onnx_op == 'DepthToSpace' else {}
    g.emit(onnx_op, [g.get(op.inputs[0], 'nchw')], op.outputs[0], 'nchw',
           blocksize=op.options['block_size'], **attrs)


def reshape(g: Graph, op):
    """RESHAPE / SQUEEZE / EXPAND_DIMS: the output's static shape, applied to NHWC data."""
    shape = np.array(g.tensor(op.outputs[0]).shape, np.int64)
    g.emit('Reshape', [g.get(op.inputs[0], 'nhwc'), g.initializer(shape)], op.outputs[0], 'nhwc')


def concat(g: Graph, op):
    rank = g.rank(op.outputs[0])
    axis = op.options['axis'] % rank
    live = [i for i in op.inputs if g.const(i) is None]
    nchw = rank == 4 and any(g.layout_of(i) == 'nchw' for i in live)
    layout = 'nchw' if nchw else 'nhwc'
    g.emit('Concat', [g.get(i, layout) for i in op.inputs], op.outputs[0], layout,
           op.options['fused_activation_function'], axis=_AXIS_TO_NCHW[axis] if nchw else axis)


def transpose(g: Graph, op):
    perm = g.const(op.inputs[1])
    if perm is None:
        raise UnsupportedOpError(f'TRANSPOSE #{op.index}: non-constant permutation is not supported')
    g.emit('Transpose', [g.get(op.inputs[0], 'nhwc')], op.outputs[0], 'nhwc', perm=[int(p) for p in perm])


def reduce(g: Graph, op, onnx_op: str):
    """MEAN / SUM / REDUCE_MAX over constant axes; stays NCHW when the result's order allows it."""
    x, axes = op.inputs[0], g.const(op.inputs[1])
    if axes is None:
        raise UnsupportedOpError(f'{op.op} #{op.index}: non-constant axes are not supported')
    rank, keep = g.rank(x), bool(op.options['keep_dims'])
    axes = sorted({int(a) % rank for a in np.atleast_1d(axes)})
    kept_nhwc = [d for d in range(rank) if d not in axes]
    nchw = (rank == 4 and g.layout_of(x) == 'nchw'
            and (keep or [d for d in TO_NCHW if d not in axes] == kept_nhwc))
    onnx_axes = [_AXIS_TO_NCHW[a] for a in axes] if nchw else axes
    out_layout = 'nchw' if nchw and keep else 'nhwc'
    inputs = [g.get(x, 'nchw' if nchw else 'nhwc')]
    if onnx_op == 'ReduceSum':          # opset 13+: axes is an input for ReduceSum only (until opset 18)
        g.emit(onnx_op, inputs + [g.initializer(np.array(onnx_axes, np.int64))], op.outputs[0], out_layout,
               keepdims=int(keep))
    else:
        g.emit(onnx_op, inputs, op.outputs[0], out_layout, axes=onnx_axes, keepdims=int(keep))


def fully_connected(g: Graph, op):
    x, w_idx = op.inputs[0], op.inputs[1]
    w = _weights(g, op, w_idx)                         # [out, in]
    if op.options.get('weights_format', 0) != 0:
        raise UnsupportedOpError(f'FULLY_CONNECTED #{op.index}: shuffled weights are not supported')
    flat = g.node('Reshape', [g.get(x, 'nhwc'), g.initializer(np.array([-1, w.shape[1]], np.int64))])
    y = g.node('Gemm', [flat, g.initializer(w, f'w{w_idx}')] + _bias(g, op, w.shape[0]), transB=1)
    shape = np.array(g.tensor(op.outputs[0]).shape, np.int64)
    g.emit('Reshape', [y, g.initializer(shape)], op.outputs[0], 'nhwc', op.options['fused_activation_function'])


def softmax(g: Graph, op):
    x = g.get(op.inputs[0], 'nhwc')
    beta = op.options['beta']
    if beta != 1.0:
        x = g.node('Mul', [x, g.initializer(np.float32(beta))])
    g.emit('Softmax', [x], op.outputs[0], 'nhwc', axis=-1)


def fold_or_cast(g: Graph, op):
    """DENSIFY / DEQUANTIZE: fold constant weights (the usual case) to fp32; cast fp16 activations."""
    src, dst = g.tensor(op.inputs[0]), op.outputs[0]
    value = g.const(op.inputs[0])
    if value is not None:
        if op.op == 'DEQUANTIZE' and src.scale is not None and value.dtype.kind in 'iu':
            bshape = [1] * value.ndim
            if src.scale.size > 1:
                bshape[src.quantized_dimension] = -1
            value = (value.astype(np.float32) - src.zero_point.reshape(bshape)) * src.scale.reshape(bshape)
        g.folded[dst] = value.astype(np.float32) if op.op == 'DEQUANTIZE' else value
    elif op.op == 'DEQUANTIZE' and src.dtype == np.float16:
        unary(g, op, 'Cast', to=1)
    else:
        raise UnsupportedOpError(f'{op.op} #{op.index}: only constant inputs (or fp16 activations) are supported')


HANDLERS = {
    'CONV_2D': conv,
    'DEPTHWISE_CONV_2D': lambda g, op: conv(g, op, depthwise=True),
    'MAX_POOL_2D': lambda g, op: pool(g, op, 'MaxPool'),
    'AVERAGE_POOL_2D': lambda g, op: pool(g, op, 'AveragePool'),
    'ADD': lambda g, op: elementwise(g, op, 'Add'),
    'SUB': lambda g, op: elementwise(g, op, 'Sub'),
    'MUL': lambda g, op: elementwise(g, op, 'Mul'),
    'DIV': lambda g, op: elementwise(g, op, 'Div'),
    'MAXIMUM': lambda g, op: elementwise(g, op, 'Max'),
    'MINIMUM': lambda g, op: elementwise(g, op, 'Min'),
    'PRELU': prelu,
    'LOGISTIC': lambda g, op: unary(g, op, 'Sigmoid'),
    'RELU': lambda g, op: unary(g, op, 'Relu'),
    'TANH': lambda g, op: unary(g, op, 'Tanh'),
    'EXP': lambda g, op: unary(g, op, 'Exp'),
    'ABS': lambda g, op: unary(g, op, 'Abs'),
    'NEG': lambda g, op: unary(g, op, 'Neg'),
    'SQRT': lambda g, op: unary(g, op, 'Sqrt'),
    'RSQRT': rsqrt,
    'SQUARED_DIFFERENCE': squared_difference,
    'STRIDED_SLICE': strided_slice,
    'HARD_SWISH': lambda g, op: unary(g, op, 'HardSwish'),
    'LEAKY_RELU': lambda g, op: unary(g, op, 'LeakyRelu', alpha=op.options['alpha']),
    'RELU6': lambda g, op: clamp(g, op, 0.0, 6.0),
    'RELU_N1_TO_1': lambda g, op: clamp(g, op, -1.0, 1.0),
    'PAD': pad,
    'PADV2': pad,
    'MIRROR_PAD': pad,
    'RESIZE_BILINEAR': lambda g, op: resize(g, op, nearest=False),
    'RESIZE_NEAREST_NEIGHBOR': lambda g, op: resize(g, op, nearest=True),
    'DEPTH_TO_SPACE': lambda g, op: depth_space(g, op, 'DepthToSpace'),
    'SPACE_TO_DEPTH': lambda g, op: depth_space(g, op, 'SpaceToDepth'),
    'RESHAPE': reshape,
    'SQUEEZE': reshape,
    'EXPAND_DIMS': reshape,
    'CONCATENATION': concat,
    'TRANSPOSE': transpose,
    'MEAN': lambda g, op: reduce(g, op, 'ReduceMean'),
    'SUM': lambda g, op: reduce(g, op, 'ReduceSum'),
    'REDUCE_MAX': lambda g, op: reduce(g, op, 'ReduceMax'),
    'FULLY_CONNECTED': fully_connected,
    'SOFTMAX': softmax,
    'DENSIFY': fold_or_cast,
    'DEQUANTIZE': fold_or_cast,
}
