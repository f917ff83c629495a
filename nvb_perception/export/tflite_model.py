"""A minimal, pure-numpy reader of TFLite flatbuffers (schema v3) into plain Python structures.

Only what a graph converter needs is read: the main subgraph's tensors (shape, dtype, name,
quantization, constant data), its operators (builtin op name, inputs, outputs, builtin options as a
dict) and the buffers. Sparse constant tensors (TACO/CSR format, as in MediaPipe's
``pose_detection.tflite``) are densified here, so the converter only ever sees dense arrays.

Flatbuffer layout in brief (https://flatbuffers.dev/internals): a table starts with an int32 offset
back to its vtable; the vtable lists, per field, a uint16 offset into the table (0 = absent, use the
default). Vectors, strings and sub-tables are referenced by a uint32 offset relative to where the
reference is stored. Union fields take two slots (type byte, then the table reference).

Every read is bounds-checked: a truncated or non-TFLite file raises ModelFileError naming the file.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nvb_perception.errors import ModelFileError
from nvb_perception.export.tflite_schema import BUILTIN_OPS, TENSOR_TYPES
from nvb_perception.export.tflite_schema import OPTION_FIELDS as _SCHEMA_OPTION_FIELDS

# Option tables read here in addition to tflite_schema's (same format; slot order from schema.fbs).
OPTION_FIELDS = {
    **_SCHEMA_OPTION_FIELDS,
    'STRIDED_SLICE': (('begin_mask', '<i', 0), ('end_mask', '<i', 0), ('ellipsis_mask', '<i', 0),
                      ('new_axis_mask', '<i', 0), ('shrink_axis_mask', '<i', 0), ('offset', 'b', 0)),
    'SUM': (('keep_dims', 'b', 0),),          # ReducerOptions, as MEAN
    'REDUCE_MAX': (('keep_dims', 'b', 0),),
}


class _Corrupt(Exception):
    """Internal: an offset points outside the file (turned into ModelFileError by read_tflite)."""


@dataclass
class Tensor:
    """One tensor of the subgraph. ``data`` is the dense constant value (None for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None
    scale: np.ndarray | None = None         # quantization scale per channel (None = float tensor)
    zero_point: np.ndarray | None = None
    quantized_dimension: int = 0
    sparse: bool = False                    # True if the file stored it sparse (densified in `data`)


@dataclass
class Operator:
    """One builtin (or custom) operator; ``op`` is the schema name, e.g. 'CONV_2D' or 'CUSTOM:foo'."""

    index: int
    op: str
    inputs: tuple[int, ...]                 # tensor indices; -1 = optional input not given
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)
    version: int = 1


@dataclass
class TFLiteModel:
    """The main subgraph of a .tflite file."""

    path: str
    version: int
    description: str
    tensors: list[Tensor]
    inputs: list[int]
    outputs: list[int]
    operators: list[Operator]
    num_subgraphs: int = 1


class _Buf:
    """Bounds-checked little-endian flatbuffer accessors over one bytes object."""

    def __init__(self, data: bytes):
        self.b = data

    def _get(self, fmt: str, pos: int):
        fmt = '<' + fmt.lstrip('<')         # flatbuffers are little-endian
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.b):
            raise _Corrupt(f'offset {pos} outside the {len(self.b)}-byte file')
        return struct.unpack_from(fmt, self.b, pos)[0]

    def field_pos(self, table: int, slot: int) -> int:
        """Absolute position of field `slot` of the table at `table`, or 0 if the field is absent."""
        vtable = table - self._get('i', table)
        vsize = self._get('H', vtable)
        if 4 + 2 * slot >= vsize:
            return 0
        off = self._get('H', vtable + 4 + 2 * slot)
        return table + off if off else 0

    def scalar(self, table: int, slot: int, fmt: str, default=0):
        pos = self.field_pos(table, slot)
        return self._get(fmt, pos) if pos else default

    def ref(self, table: int, slot: int) -> int:
        """Absolute position of the table/vector/string referenced by field `slot` (0 if absent)."""
        pos = self.field_pos(table, slot)
        return pos + self._get('I', pos) if pos else 0

    def vector(self, table: int, slot: int, dtype: str) -> np.ndarray:
        """A numeric vector field as a numpy array (empty if absent)."""
        pos = self.ref(table, slot)
        if not pos:
            return np.zeros(0, dtype)
        n = self._get('I', pos)
        nbytes = n * np.dtype(dtype).itemsize
        if pos + 4 + nbytes > len(self.b):
            raise _Corrupt(f'vector of {n} elements at {pos} runs past the end of the file')
        return np.frombuffer(self.b, dtype=np.dtype(dtype).newbyteorder('<'), count=n, offset=pos + 4)

    def tables(self, table: int, slot: int) -> list[int]:
        """Positions of the tables in a vector-of-tables field."""
        pos = self.ref(table, slot)
        if not pos:
            return []
        n = self._get('I', pos)
        return [pos + 4 + 4 * i + self._get('I', pos + 4 + 4 * i) for i in range(n)]

    def string(self, table: int, slot: int) -> str:
        pos = self.ref(table, slot)
        if not pos:
            return ''
        n = self._get('I', pos)
        if pos + 4 + n > len(self.b):
            raise _Corrupt(f'string at {pos} runs past the end of the file')
        return self.b[pos + 4:pos + 4 + n].decode('utf-8', errors='replace')


def _index_vector(fb: _Buf, dim: int, type_slot: int) -> np.ndarray:
    """SparseIndexVector union (Int32Vector=1, Uint16Vector=2, Uint8Vector=3) -> int64 array."""
    kind = fb.scalar(dim, type_slot, 'B')
    table = fb.ref(dim, type_slot + 1)
    if kind not in (1, 2, 3) or not table:
        raise _Corrupt(f'sparse index vector of unknown type {kind}')
    return fb.vector(table, 0, {1: '<i4', 2: '<u2', 3: 'u1'}[kind]).astype(np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], traversal_order, block_map, dim_meta) -> np.ndarray:
    """Expand a TACO-format sparse tensor to dense.

    values: the stored non-zeros in traversal order; shape: the dense shape (n dims);
    traversal_order: n + k expanded dims (k block dims, mapped to original dims by block_map);
    dim_meta: per traversal level, ('dense', size) or ('csr', segments, indices).
    The tree is walked level by level, vectorised: every live path keeps its flat storage position
    `pos` (dense level: pos * size + i; CSR level: the index k into `indices`) and its coordinate in
    every expanded dim; at the leaves `pos` indexes `values`.
    """
    n = len(shape)
    block_size = {int(b): dim_meta[list(traversal_order).index(n + j)][1] for j, b in enumerate(block_map)}
    pos = np.zeros(1, np.int64)
    coords = {}
    for level, dim in enumerate(traversal_order):
        meta = dim_meta[level]
        if meta[0] == 'dense':
            size = meta[1]
            pos_new = (pos[:, None] * size + np.arange(size)).ravel()
            coords = {d: np.repeat(c, size) for d, c in coords.items()}
            coords[dim] = np.tile(np.arange(size), len(pos))
        else:
            segments, indices = meta[1], meta[2]
            start, count = segments[pos], segments[pos + 1] - segments[pos]
            parent = np.repeat(np.arange(len(pos)), count)
            pos_new = start[parent] + np.arange(len(parent)) - np.repeat(np.cumsum(count) - count, count)
            coords = {d: c[parent] for d, c in coords.items()}
            coords[dim] = indices[pos_new]
        pos = pos_new
    dense = np.zeros(shape, values.dtype)
    index = []
    for d in range(n):
        c = coords[d]
        blocked = [j for j, b in enumerate(block_map) if int(b) == d]
        if blocked:
            c = c * block_size[d] + coords[n + blocked[0]]
        index.append(c)
    dense[tuple(index)] = values[pos]
    return dense


def _read_sparsity(fb: _Buf, sp: int):
    order = fb.vector(sp, 0, '<i4').tolist()
    block_map = fb.vector(sp, 1, '<i4').tolist()
    meta = []
    for dm in fb.tables(sp, 2):
        if fb.scalar(dm, 0, 'b') == 0:
            meta.append(('dense', fb.scalar(dm, 1, '<i')))
        else:
            meta.append(('csr', _index_vector(fb, dm, 2), _index_vector(fb, dm, 4)))
    return order, block_map, meta


def _buffer_bytes(fb: _Buf, buf: int) -> bytes:
    data = fb.vector(buf, 0, 'u1')
    if data.size:
        return data.tobytes()
    offset, size = fb.scalar(buf, 1, 'Q'), fb.scalar(buf, 2, 'Q')
    if offset > 1 and size:                 # >2 GB models keep buffers after the flatbuffer
        if offset + size > len(fb.b):
            raise _Corrupt('external buffer runs past the end of the file')
        return fb.b[offset:offset + size]
    return b''


def _read_tensor(fb: _Buf, t: int, index: int, buffers: list[int]) -> Tensor:
    type_code = fb.scalar(t, 1, 'b')
    if type_code not in TENSOR_TYPES:
        raise _Corrupt(f'tensor {index} has unknown type {type_code}')
    dtype = np.dtype(TENSOR_TYPES[type_code])
    shape = tuple(int(s) for s in fb.vector(t, 0, '<i4'))
    tensor = Tensor(index, fb.string(t, 3), shape, dtype)
    q = fb.ref(t, 4)
    if q and fb.vector(q, 2, '<f4').size:
        tensor.scale = fb.vector(q, 2, '<f4').copy()
        tensor.zero_point = fb.vector(q, 3, '<i8').copy()
        tensor.quantized_dimension = fb.scalar(q, 6, '<i')
    b = fb.scalar(t, 2, 'I')
    if b >= len(buffers):
        raise _Corrupt(f'tensor {index} refers to missing buffer {b}')
    raw = _buffer_bytes(fb, buffers[b]) if b else b''
    if raw:
        flat = np.frombuffer(raw, dtype.newbyteorder('<')).astype(dtype)
        sp = fb.ref(t, 6)
        if sp:
            tensor.sparse = True
            tensor.data = densify(flat, shape, *_read_sparsity(fb, sp))
        elif flat.size != int(np.prod(shape)):
            raise _Corrupt(f'tensor {index} ({tensor.name}) has {flat.size} values for shape {shape}')
        else:
            tensor.data = flat.reshape(shape)
    return tensor


def _read_options(fb: _Buf, op: int, name: str) -> dict:
    spec = OPTION_FIELDS.get(name, ())
    table = fb.ref(op, 4)
    options = {}
    for slot, (key, fmt, default) in enumerate(spec):
        if key is None:
            continue
        if fmt == 'vec':
            options[key] = fb.vector(table, slot, '<i4').tolist() if table else []
        else:
            options[key] = fb.scalar(table, slot, fmt, default) if table else default
    return options


def read_tflite(path: str | Path) -> TFLiteModel:
    """Parse a .tflite file (main subgraph only). Raises ModelFileError if missing or corrupt."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f'cannot read TFLite model {path}: {exc.strerror}; fetch it with `make setup`') from exc
    if len(data) < 8 or data[4:8] != b'TFL3':
        raise ModelFileError(f'{path} is not a TFLite flatbuffer (no TFL3 identifier); delete it and run `make setup`')
    fb = _Buf(data)
    try:
        root = fb._get('I', 0)
        codes = []
        for oc in fb.tables(root, 1):
            code = max(fb.scalar(oc, 0, 'b'), fb.scalar(oc, 3, '<i'))
            name = BUILTIN_OPS[code] if code < len(BUILTIN_OPS) else f'BUILTIN_{code}'
            codes.append((f'CUSTOM:{fb.string(oc, 1)}' if name == 'CUSTOM' else name, fb.scalar(oc, 2, '<i', 1)))
        buffers = fb.tables(root, 4)
        subgraphs = fb.tables(root, 2)
        if not subgraphs:
            raise _Corrupt('no subgraph')
        sg = subgraphs[0]
        tensors = [_read_tensor(fb, t, i, buffers) for i, t in enumerate(fb.tables(sg, 0))]
        operators = []
        for i, op in enumerate(fb.tables(sg, 3)):
            ci = fb.scalar(op, 0, 'I')
            if ci >= len(codes):
                raise _Corrupt(f'operator {i} has opcode index {ci} of {len(codes)}')
            name, version = codes[ci]
            operators.append(Operator(i, name, tuple(fb.vector(op, 1, '<i4').tolist()),
                                      tuple(fb.vector(op, 2, '<i4').tolist()), _read_options(fb, op, name), version))
        return TFLiteModel(str(path), fb.scalar(root, 0, 'I'), fb.string(root, 3), tensors,
                           fb.vector(sg, 1, '<i4').tolist(), fb.vector(sg, 2, '<i4').tolist(), operators,
                           len(subgraphs))
    except (_Corrupt, struct.error, ValueError, IndexError) as exc:
        raise ModelFileError(f'{path} is truncated or corrupt ({exc}); delete it and run `make setup`') from exc
