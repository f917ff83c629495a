"""ONNX Runtime backend: runs an .onnx file on CPU, or on CUDA with onnxruntime-gpu.

    with OnnxRuntimeBackend('engines/lifter.onnx', device='cpu', threads=2) as backend:
        print(backend.inputs)                # {'x': TensorSpec(shape=(None, 4), dtype=float32)}
        outputs = backend({'x': np.zeros((1, 4), np.float32)})

Specs come from the session: symbolic dimensions ('batch') become None.
"""
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

from nvb_perception.backends.base import SETUP_HINT, ClosesOnExit, TensorSpec, check_feed
from nvb_perception.errors import BackendError, ConfigError, ModelFileError

# ORT raises its own exception classes (not RuntimeError subclasses) from C++; catch exactly those.
_ORT_ERRORS = tuple(getattr(_ort_state, name) for name in (
    'Fail', 'InvalidArgument', 'NoSuchFile', 'NoModel', 'EngineError', 'RuntimeException', 'InvalidProtobuf',
    'ModelLoaded', 'NotImplemented', 'InvalidGraph', 'EPFail') if hasattr(_ort_state, name)) + (RuntimeError,)
# Raised while loading when the bytes are not a valid ONNX model (truncated download, wrong file).
_CORRUPT_MODEL_ERRORS = tuple(getattr(_ort_state, name) for name in ('InvalidProtobuf', 'InvalidGraph', 'Fail')
                              if hasattr(_ort_state, name))

_ORT_DTYPES = {
    'tensor(float)': np.float32, 'tensor(float16)': np.float16, 'tensor(double)': np.float64,
    'tensor(int8)': np.int8, 'tensor(int16)': np.int16, 'tensor(int32)': np.int32, 'tensor(int64)': np.int64,
    'tensor(uint8)': np.uint8, 'tensor(uint16)': np.uint16, 'tensor(uint32)': np.uint32,
    'tensor(uint64)': np.uint64, 'tensor(bool)': np.bool_, 'tensor(string)': np.object_,
}
_PROVIDERS = {'cpu': ['CPUExecutionProvider'], 'cuda': ['CUDAExecutionProvider', 'CPUExecutionProvider']}


def cuda_available() -> bool:
    """True if this onnxruntime build has the CUDA execution provider (onnxruntime-gpu)."""
    return 'CUDAExecutionProvider' in ort.get_available_providers()


def _spec(node) -> TensorSpec:
    """Map an ORT NodeArg to a TensorSpec; symbolic ('batch') and unknown dims become None."""
    if node.type not in _ORT_DTYPES:
        raise BackendError(f'tensor {node.name!r} has type {node.type}, which nvb_perception does not support')
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in (node.shape or ()))
    return TensorSpec(shape=shape, dtype=np.dtype(_ORT_DTYPES[node.type]))


class OnnxRuntimeBackend(ClosesOnExit):
    """Run one ONNX model with ONNX Runtime on numpy arrays."""

    name = 'onnxruntime'

    def __init__(self, path: str | os.PathLike, device: str = 'cpu', threads: int | None = None):
        """Open the model.

        Args:
            path: the .onnx file.
            device: 'cpu', or 'cuda' (needs onnxruntime-gpu and a working CUDA install).
            threads: intra-op threads; None lets ORT use one per physical core.

        Raises:
            ConfigError: bad device or threads.
            ModelFileError: the file is missing or is not a valid ONNX model.
            BackendError: CUDA was asked for and is not usable, or ORT cannot run the model.

        """
        if device not in _PROVIDERS:
            raise ConfigError(f'device must be one of {tuple(_PROVIDERS)}, got {device!r}')
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(f'threads must be a positive int or None, got {threads!r}')
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f'model file not found: {self.path}; {SETUP_HINT}')
        if self.path.stat().st_size == 0:   # ORT reports this as INVALID_ARGUMENT, not as a bad file
            raise ModelFileError(f'model file is empty: {self.path}; delete it and {SETUP_HINT}')
        if device == 'cuda' and not cuda_available():
            raise BackendError(f"device='cuda' but onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                               f'(available: {ort.get_available_providers()}); install onnxruntime-gpu or use '
                               "device='cpu'")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self._session = self._open_session(options, _PROVIDERS[device])
        # ORT quietly falls back to CPU when the CUDA libraries fail to load; a 'cuda' request must not.
        if device == 'cuda' and 'CUDAExecutionProvider' not in self._session.get_providers():
            raise BackendError(f'CUDAExecutionProvider failed to initialise for {self.path} (CUDA/cuDNN libraries '
                               "missing or mismatched?); see the onnxruntime log above, or use device='cpu'")
        self.device = device
        self.inputs: dict[str, TensorSpec] = {n.name: _spec(n) for n in self._session.get_inputs()}
        self.outputs: dict[str, TensorSpec] = {n.name: _spec(n) for n in self._session.get_outputs()}

    def _open_session(self, options, providers: list[str]):
        try:
            return ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        except _CORRUPT_MODEL_ERRORS as error:
            raise ModelFileError(f'{self.path} is not a valid ONNX model ({error}); delete it and {SETUP_HINT}'
                                 ) from error
        except _ORT_ERRORS as error:
            raise BackendError(f'onnxruntime cannot load {self.path}: {error}') from error

    def __call__(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model.

        Args:
            feed: input name -> array matching `self.inputs` (rank, fixed dims, dtype).

        Returns:
            output name -> array, in the order of `self.outputs`.

        Raises:
            BackendError: the backend is closed, the feed does not match, or ORT fails.

        """
        if self._session is None:
            raise BackendError(f'backend for {self.path} is closed')
        check_feed(self.inputs, feed)
        try:
            results = self._session.run(list(self.outputs), dict(feed))
        except _ORT_ERRORS as error:
            raise BackendError(f'onnxruntime failed on {self.path.name}: {error}') from error
        return dict(zip(self.outputs, results, strict=True))

    def close(self) -> None:
        """Release the session (ORT frees it when the last reference goes)."""
        self._session = None

    def __repr__(self) -> str:
        return f'OnnxRuntimeBackend({str(self.path)!r}, device={self.device!r})'
