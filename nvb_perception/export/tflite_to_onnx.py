"""Convert float (fp32 / fp16-weight / sparse-weight) TFLite models, e.g. MediaPipe BlazePose, to ONNX.

``convert(tflite_path, onnx_path)`` reads the .tflite with our own flatbuffer reader
(:mod:`nvb_perception.export.tflite_model`), rebuilds the graph with standard ONNX opset-17 ops,
checks it with ``onnx.checker`` and strict shape inference, and writes it. Weights stored sparse
(DENSIFY) or as fp16 (DEQUANTIZE) are folded into dense fp32 initializers.

Layout: the ONNX model keeps the TFLite model's tensor names, dtypes and NHWC shapes at its inputs
and outputs, so code written against the .tflite works unchanged. Inside, 4-D activations run NCHW
(ONNX Conv/Pool/Resize are NCHW-only); Transposes are inserted only where a tensor crosses between
layouts (the graph input, Reshapes to the flat heads, the graph outputs).

Models converted (input RGB, batch 1, float32; with ``dynamic_batch=True`` the batch is a symbolic
dimension ``batch`` instead, see :func:`make_batch_dynamic`):

* ``pose_detection.onnx``: in ``input_1`` [1, 224, 224, 3] (letterboxed, scaled to [-1, 1]);
  out ``Identity`` [1, 2254, 12] raw regressors per anchor: box (cx, cy, w, h) then 4 keypoints
  (x, y), in pixels of the 224 input relative to the anchor centre; ``Identity_1`` [1, 2254, 1]
  detection score logits (apply sigmoid).
* ``pose_landmark_{lite,full,heavy}.onnx``: in ``input_1`` [1, 256, 256, 3] (scaled to [0, 1]);
  out ``Identity`` [1, 195] 39 landmarks (33 BlazePose + 6 auxiliary ROI points) x (x, y, z,
  visibility, presence) with x, y, z in pixels of the 256 crop and visibility/presence as logits,
  ``Identity_1`` [1, 1] pose presence (sigmoid applied), ``Identity_2`` [1, 256, 256, 1]
  segmentation logits, ``Identity_3`` [1, 64, 64, 39] heatmap logits, ``Identity_4`` [1, 117]
  39 world landmarks x (x, y, z) in metres, hip-centred.

Supported TFLite ops: see ``tflite_onnx_ops.HANDLERS`` (conv, depthwise conv, pools, elementwise,
activations, pad, resize, depth<->space, reshape/squeeze, concat, transpose, mean/sum/max, fully
connected, softmax, densify, dequantize). Not supported: int8/uint8-quantized activations, custom
ops (e.g. MediaPipe's Convolution2DTransposeBias), control flow, STRIDED_SLICE and others; they raise
UnsupportedOpError naming every unsupported op before anything is built.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nvb_perception.assets import file_sha256  # noqa: F401 - used by the exporters through this module
from nvb_perception.export.onnx_graph import TO_NCHW, Graph, UnsupportedOpError  # noqa: F401 - API
from nvb_perception.export.tflite_model import TFLiteModel, read_tflite

OPSET = 17
CONVERTER_VERSION = 3  # bump when the emitted graph changes, so exported models are rebuilt (2: dynamic_batch,
                       # 3: PRELU as (1 - s) Relu(x) + s x, ~2.5x faster in ONNX Runtime)
IR_VERSION = 8           # the oldest IR that carries opset 17: loadable by older ORT/TensorRT parsers
def _value_info(t) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(t.name, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), list(t.shape))


def check_supported(tfl: TFLiteModel) -> None:
    """Raise UnsupportedOpError listing every op (with count and first location) we cannot convert."""
    from nvb_perception.export.tflite_onnx_ops import HANDLERS
    missing: dict[str, list] = {}
    for op in tfl.operators:
        if op.op not in HANDLERS:
            missing.setdefault(op.op, []).append(op)
    problems = [f'{name} x{len(ops)} (first: operator #{ops[0].index} -> '
                f'{tfl.tensors[ops[0].outputs[0]].name!r})' for name, ops in missing.items()]
    quantized = [t.name for t in tfl.tensors if t.data is None and t.dtype in (np.int8, np.uint8, np.int16)]
    if quantized:
        problems.append(f'integer-quantized activations ({len(quantized)}, e.g. {quantized[0]!r})')
    if problems:
        raise UnsupportedOpError(f'{Path(tfl.path).name}: cannot convert to ONNX, unsupported TFLite ops: '
                                 + '; '.join(problems) + f'. Supported: {", ".join(sorted(HANDLERS))}')


def to_onnx(tfl: TFLiteModel, dynamic_batch: bool = False) -> onnx.ModelProto:
    """Build, check and return the ONNX model for a parsed TFLite model (see module docstring).

    With `dynamic_batch` the first dimension of every graph input and output is the symbolic 'batch'
    (see :func:`make_batch_dynamic`); otherwise the TFLite shapes are kept exactly.
    """
    from nvb_perception.export.tflite_onnx_ops import HANDLERS
    check_supported(tfl)
    g = Graph(tfl)
    for idx in tfl.inputs:
        g.names[idx] = {'nhwc': tfl.tensors[idx].name}
    for op in tfl.operators:
        HANDLERS[op.op](g, op)
    for idx in tfl.outputs:
        name = g.get(idx, 'nhwc')
        if name != g.output_names[idx]:                  # output is a graph input or a constant
            g.node('Identity', [name], g.output_names[idx])
    graph = helper.make_graph(g.nodes, Path(tfl.path).stem, [_value_info(tfl.tensors[i]) for i in tfl.inputs],
                              [_value_info(tfl.tensors[i]) for i in tfl.outputs], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], ir_version=IR_VERSION,
                              producer_name='nvb_perception.tflite_to_onnx', doc_string=tfl.description)
    counts = Counter(op.op for op in tfl.operators)
    helper.set_model_props(model, {'source': Path(tfl.path).name, 'tflite_ops': json.dumps(dict(counts)),
                                   'converter_version': str(CONVERTER_VERSION),
                                   'layout': 'inputs/outputs NHWC as in the TFLite model',
                                   'dynamic_batch': str(bool(dynamic_batch)).lower()})
    if dynamic_batch:
        make_batch_dynamic(model)
    onnx.checker.check_model(model, full_check=False)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for vi, idx in zip(inferred.graph.output, tfl.outputs, strict=True):  # declared vs inferred: layout slips
        dims = tuple(d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim)
        want = tfl.tensors[idx].shape
        want = (BATCH, *want[1:]) if dynamic_batch else want
        if dims != want:
            raise UnsupportedOpError(f'{vi.name}: ONNX shape {dims} != TFLite shape {want}')
    return model


BATCH = 'batch'   # name of the symbolic first dimension of a dynamic-batch model


def make_batch_dynamic(model: onnx.ModelProto) -> None:
    """Make the batch (first) dimension of a converted model symbolic, in place.

    The converter bakes batch 1 into three places: the graph's input/output shapes, Reshape target shapes
    (e.g. [1, 195]) and Resize `sizes` (e.g. [1, 48, 16, 16]). Reshape targets get 0 in the batch slot
    (ONNX: copy the input's dimension 0, which is the batch for every activation here); Resize gets its
    sizes as Concat(Shape(x)[0:1], static C, H, W), which keeps the exact output size (a `scales` input
    would change the coordinate arithmetic for non-integer ratios).
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    for vi in list(graph.input) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_value == 1:
            dims[0].dim_param = BATCH
    new_nodes = []
    for node in graph.node:
        if node.op_type == 'Reshape' and node.input[0] not in inits and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]]).copy()
            if shape.size and shape[0] == 1:
                shape[0] = 0
                name = f'{node.input[1]}_anybatch_{len(new_nodes)}'
                graph.initializer.append(numpy_helper.from_array(shape.astype(np.int64), name))
                node.input[1] = name
        elif node.op_type == 'Resize' and len(node.input) == 4 and node.input[3] in inits:
            sizes = numpy_helper.to_array(inits[node.input[3]])
            tag = f'{node.output[0]}_anybatch'
            chw = numpy_helper.from_array(sizes[1:].astype(np.int64), f'{tag}_chw')
            graph.initializer.append(chw)
            new_nodes += [helper.make_node('Shape', [node.input[0]], [f'{tag}_shape'], start=0, end=1),
                          helper.make_node('Concat', [f'{tag}_shape', chw.name], [f'{tag}_sizes'], axis=0)]
            node.input[3] = f'{tag}_sizes'
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.ClearField('value_info')     # intermediate shapes (if any) carried batch 1
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]   # the replaced batch-1 shapes (ORT warns on each)
    del graph.initializer[:]
    graph.initializer.extend(kept)


def convert(tflite_path: str | Path, onnx_path: str | Path | None = None,
            dynamic_batch: bool = False) -> onnx.ModelProto:
    """Convert `tflite_path` to ONNX; write it to `onnx_path` if given. Returns the ModelProto.

    The model's metadata_props carry 'source', 'source_sha256', 'tflite_ops' (op -> count JSON) and
    'dynamic_batch'. With `dynamic_batch` the first dimension of inputs/outputs is symbolic (run N crops
    in one call). Raises ModelFileError (missing/corrupt file) or UnsupportedOpError.
    """
    tfl = read_tflite(tflite_path)
    model = to_onnx(tfl, dynamic_batch=dynamic_batch)
    model.metadata_props.add(key='source_sha256', value=file_sha256(tflite_path))
    if onnx_path is not None:
        Path(onnx_path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(onnx_path) + '.tmp')
        onnx.save_model(model, tmp)
        tmp.replace(onnx_path)                          # atomic: a crash never leaves a half-written model
    return model
