"""An ONNX graph under construction from a TFLite model: tensors in NHWC/NCHW layouts, constants, nodes.

Shared by the converter (`tflite_to_onnx`) and its operator handlers (`tflite_onnx_ops`), so both import from
here and not from each other.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nvb_perception.errors import PerceptionError
from nvb_perception.export.tflite_model import TFLiteModel

TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


class UnsupportedOpError(PerceptionError, NotImplementedError):
    """The TFLite model uses an operator (or an operator variant) the converter cannot express."""


class Graph:
    """ONNX graph under construction, with per-tensor layout bookkeeping.

    Every TFLite tensor index may exist in ONNX under up to two names: 'nhwc' (the TFLite layout and
    shape, for any rank) and 'nchw' (4-D only). Handlers ask for the layout they need with ``get``;
    a Transpose is emitted once, on first demand.
    """

    def __init__(self, tfl: TFLiteModel):
        self.tfl = tfl
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.names: dict[int, dict[str, str]] = {}
        self.folded: dict[int, np.ndarray] = {}      # constants computed at conversion time
        self.output_names = {i: tfl.tensors[i].name for i in tfl.outputs}
        self._small_consts: dict[tuple, str] = {}
        self._count = 0

    # --- tensors -----------------------------------------------------------------------------
    def tensor(self, idx: int):
        return self.tfl.tensors[idx]

    def rank(self, idx: int) -> int:
        return len(self.tfl.tensors[idx].shape)

    def const(self, idx: int) -> np.ndarray | None:
        """The constant value of a tensor (file data or folded), else None."""
        if idx < 0:
            return None
        return self.folded[idx] if idx in self.folded else self.tfl.tensors[idx].data

    def layout_of(self, idx: int) -> str:
        """The layout a tensor already exists in (preferring NCHW), for layout-agnostic ops."""
        return 'nchw' if 'nchw' in self.names.get(idx, {}) else 'nhwc'

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f'{hint}_{self._count}'

    def initializer(self, array: np.ndarray, hint: str = 'const') -> str:
        array = np.ascontiguousarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if array.size <= 16 else None
        if key is not None and key in self._small_consts:   # share Clip bounds, shapes, ...
            return self._small_consts[key]
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(array, name))
        if key is not None:
            self._small_consts[key] = name
        return name

    def get(self, idx: int, layout: str = 'nhwc') -> str:
        """ONNX name of tensor `idx` in `layout`, materialising constants and Transposes as needed."""
        have = self.names.setdefault(idx, {})
        if layout in have:
            return have[layout]
        value = self.const(idx)
        if value is not None:
            value = value.astype(np.float32) if value.dtype == np.float16 else value
            have[layout] = self.initializer(value.transpose(TO_NCHW) if layout == 'nchw' else value, f'w{idx}')
        elif not have:
            raise UnsupportedOpError(f'tensor {idx} ({self.tensor(idx).name!r}) is used before it is produced')
        else:
            src, perm = (have['nhwc'], TO_NCHW) if layout == 'nchw' else (have['nchw'], TO_NHWC)
            have[layout] = self.node('Transpose', [src], self.out_name(idx, layout), perm=list(perm))
        return have[layout]

    def out_name(self, idx: int, layout: str) -> str:
        """Name for a produced tensor: the TFLite name if it is a graph output in NHWC, else internal."""
        if layout == 'nhwc' and idx in self.output_names:
            return self.output_names[idx]
        return f't{idx}' if layout == 'nhwc' else f't{idx}_nchw'

    # --- nodes -------------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=f'{op_type}_{len(self.nodes)}', **attrs))
        return output

    def emit(self, op_type: str, inputs: list[str], out_idx: int, layout: str, act: int = 0, **attrs) -> str:
        """Emit `op_type` producing TFLite tensor `out_idx` in `layout`, then the fused activation."""
        final = self.out_name(out_idx, layout)
        y = self.node(op_type, inputs, final if act == 0 else None, **attrs)
        if act:
            self.activation(y, act, final)
        self.names.setdefault(out_idx, {})[layout] = final
        return final

    def activation(self, x: str, act: int, output: str) -> str:
        """TFLite fused activation (ActivationFunctionType) as ONNX ops."""
        if act == 1:
            return self.node('Relu', [x], output)
        if act in (2, 3):                                 # RELU_N1_TO_1, RELU6: clamp
            lo, hi = (-1.0, 1.0) if act == 2 else (0.0, 6.0)
            return self.node('Clip', [x, self.initializer(np.float32(lo)), self.initializer(np.float32(hi))], output)
        if act == 4:
            return self.node('Tanh', [x], output)
        raise UnsupportedOpError(f'fused activation {act} (SIGN_BIT) is not supported')
