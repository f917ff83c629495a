"""TensorRT backend: runs a cached engine built from an ONNX file (TensorRT 10 API).

Needs an NVIDIA GPU, the tensorrt package and torch with CUDA: torch CUDA tensors are the device buffers and
the stream, so cuda-python is not needed. Engines are built ahead of time with `nvb-build-engines` and looked up
by `engines.engine_path`; a missing engine is only built here when asked (`build_engine=True`).

    with TensorRTBackend('engines/lifter.onnx', precision='fp16') as backend:
        outputs = backend({'x': np.zeros((1, 4), np.float32)})
"""
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nvb_perception.backends.base import SETUP_HINT, ClosesOnExit, TensorSpec, check_feed
from nvb_perception.backends.engines import (
    DEFAULT_ENGINE_DIR,
    EngineKey,
    file_sha256,
    find_engine_keys,
    load_or_build_engine,
    normalize_shapes,
)
from nvb_perception.errors import BackendError, ModelFileError

WORKSPACE_BYTES = 1 << 30   # 1 GiB of builder scratch: plenty for pose/lifter models, fits an 8 GB Jetson
_log = logging.getLogger('nvb_perception.backends')
_trt_logger = None           # TensorRT expects one logger for the whole process


def tensorrt_available() -> tuple[bool, str]:
    """Return (True, 'TensorRT x on GPU') if TensorRT can run here, else (False, why not)."""
    try:
        import tensorrt as trt
    except (ImportError, OSError) as error:   # OSError: the wheel is there but libnvinfer is not
        return False, f'the tensorrt Python package is not installed or not loadable ({error})'
    try:
        import torch
    except ImportError as error:
        return False, f'torch is not installed ({error}); TensorRTBackend uses torch CUDA tensors as buffers'
    if not torch.cuda.is_available():
        return False, f'torch {torch.__version__} sees no CUDA device'
    return True, f'TensorRT {trt.__version__} on {torch.cuda.get_device_name()}'


def _logger():
    global _trt_logger
    import tensorrt as trt
    if _trt_logger is None:
        _trt_logger = trt.Logger(trt.Logger.WARNING)
    return _trt_logger


def device_key(onnx_path: str | os.PathLike, precision: str = 'fp32', shapes=None, device_index: int = 0) -> EngineKey:
    """Return the cache key of an engine for this ONNX file on this TensorRT and GPU.

    Args:
        onnx_path: the ONNX model (hashed).
        precision: 'fp32' or 'fp16'.
        shapes: optimization-profile shapes name -> (min, opt, max), or None for none.
        device_index: CUDA device the engine is for.

    """
    import tensorrt as trt
    import torch
    major, minor = torch.cuda.get_device_capability(device_index)
    return EngineKey(file_sha256(onnx_path), trt.__version__, torch.cuda.get_device_name(device_index),
                     f'{major}.{minor}', precision, shapes or ())


def build_engine_bytes(onnx_path: str | os.PathLike, precision: str = 'fp32', shapes=None,
                       workspace_bytes: int = WORKSPACE_BYTES) -> bytes:
    """Build a serialized engine from an ONNX file (the `build_fn` of `load_or_build_engine`). Takes minutes.

    Args:
        onnx_path: the ONNX model.
        precision: 'fp32', or 'fp16' (FP16 kernels allowed where the GPU has fast FP16).
        shapes: name -> (min, opt, max) for every input with a dynamic dimension.
        workspace_bytes: builder scratch memory limit.

    Returns:
        The serialized engine.

    Raises:
        BackendError: the ONNX cannot be parsed, a dynamic input has no shapes, or the build fails.

    """
    import tensorrt as trt
    onnx_path = Path(onnx_path)
    builder = trt.Builder(_logger())
    # TensorRT 10 networks are always explicit-batch (the flag is deprecated, later removed); 8.x needs it set
    legacy = int(trt.__version__.split('.')[0]) < 10
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if legacy else 0)
    parser = trt.OnnxParser(network, _logger())
    if not parser.parse_from_file(str(onnx_path)):   # from a path, so external weight files resolve
        errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if precision == 'fp16':
        _enable_fp16(trt, builder, config)
    elif hasattr(trt.BuilderFlag, 'TF32'):
        # TF32 is on by default on Ampere and later (Orin too); 'fp32' should mean FP32 so parity checks hold
        config.clear_flag(trt.BuilderFlag.TF32)
    profile = _profile(builder, network, {n: (lo, op, hi) for n, lo, op, hi in normalize_shapes(shapes)}, onnx_path)
    if profile is not None:
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f'TensorRT failed to build an engine for {onnx_path}; see the TensorRT log above')
    return bytes(serialized)


def _enable_fp16(trt, builder, config) -> None:
    if not hasattr(trt.BuilderFlag, 'FP16'):
        raise BackendError('this TensorRT (11+) has no FP16 builder flag: convert the ONNX to fp16 with ModelOpt '
                           'AutoCast and build it with precision fp32')
    # platform_has_fast_fp16 is deprecated since 10.5; every GPU from compute capability 5.3 has fast FP16
    fast = getattr(builder, 'platform_has_fast_fp16', None)
    if fast is None:
        import torch
        fast = torch.cuda.get_device_capability() >= (5, 3)
    if fast:
        config.set_flag(trt.BuilderFlag.FP16)
    else:
        _log.warning('this GPU has no fast FP16: the fp16 engine is built with FP32 kernels')


def _profile(builder, network, shapes: Mapping[str, Sequence], onnx_path: Path):
    """Return an optimization profile covering every dynamic input, or None for a static network."""
    inputs = {t.name: tuple(t.shape) for t in (network.get_input(i) for i in range(network.num_inputs))}
    unknown = sorted(set(shapes) - set(inputs))
    if unknown:
        raise BackendError(f'shapes given for {unknown}, but {onnx_path.name} has inputs {sorted(inputs)}')
    if not shapes and all(d >= 0 for dims in inputs.values() for d in dims):
        return None
    profile = builder.create_optimization_profile()
    for name, dims in inputs.items():
        if name not in shapes:
            if any(d < 0 for d in dims):
                raise BackendError(f'input {name!r} of {onnx_path.name} has dynamic shape {dims} (-1 = dynamic); '
                                   f'pass shapes={{{name!r}: (min, opt, max)}} or `--shapes {name}:MIN:OPT:MAX` '
                                   '(dims joined by x, e.g. 1x4)')
            continue
        low, opt, high = shapes[name]
        if any(len(s) != len(dims) or any(0 <= d != v for d, v in zip(dims, s, strict=True)) for s in (low, opt, high)):
            raise BackendError(f'shapes[{name!r}] = {shapes[name]} does not fit input shape {dims} (-1 = dynamic)')
        profile.set_shape(name, low, opt, high)
    return profile


class TensorRTBackend(ClosesOnExit):
    """Run a TensorRT engine (cached per ONNX file, TensorRT version, GPU, precision and shapes)."""

    name = 'tensorrt'

    def __init__(self, onnx_path: str | os.PathLike, engine_dir: str | os.PathLike | None = None,
                 precision: str = 'fp32', shapes=None, build_engine: bool = False, force: bool = False,
                 device_index: int = 0):
        """Load (or, when allowed, build) the engine for an ONNX model.

        Args:
            onnx_path: the ONNX model the engine is built from.
            engine_dir: engine cache folder; default ./engines.
            precision: 'fp32' or 'fp16'.
            shapes: name -> (min, opt, max); None uses the one engine `nvb-build-engines` built for this model.
            build_engine: build a missing or stale engine now (minutes) instead of raising ModelFileError.
            force: rebuild even if a valid engine is cached.
            device_index: CUDA device to run on.

        Raises:
            BackendError: TensorRT is not usable here, or the engine cannot be loaded.
            ModelFileError: the ONNX is missing, or no valid engine is cached and building is not allowed.

        """
        available, reason = tensorrt_available()
        if not available:
            raise BackendError(reason)
        import torch
        self.path = Path(onnx_path)
        if not self.path.is_file():
            raise ModelFileError(f'model file not found: {self.path}; {SETUP_HINT}')
        engine_dir = DEFAULT_ENGINE_DIR if engine_dir is None else Path(engine_dir)
        self._device = torch.device('cuda', device_index)
        with torch.cuda.device(self._device):   # the builder and runtime use the current CUDA device
            key = device_key(self.path, precision, shapes, device_index)
            if shapes is None:
                key = self._built_key(key, engine_dir)
            data = load_or_build_engine(self.path, engine_dir, key, build_engine_bytes, force=force,
                                        allow_build=build_engine)
            self._load(data)

    def _built_key(self, key: EngineKey, engine_dir: Path) -> EngineKey:
        """Adopt the shapes of the single cached engine that matches everything else."""
        found = find_engine_keys(self.path, engine_dir, key)
        if len(found) > 1:
            raise BackendError(f'{len(found)} engines for {self.path.name} with different shapes in {engine_dir}; '
                               f'pass shapes= to choose one of {[k.shapes_dict() for k in found]}')
        return found[0] if found else key

    def _load(self, data: bytes) -> None:
        import tensorrt as trt
        import torch
        self._runtime = trt.Runtime(_logger())
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise BackendError(f'TensorRT could not deserialize the engine for {self.path}; rebuild it with '
                               '`nvb-build-engines --force`')
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise BackendError(f'TensorRT could not create an execution context for {self.path} (GPU memory?)')
        self.inputs: dict[str, TensorSpec] = {}
        self.outputs: dict[str, TensorSpec] = {}
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            try:
                dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name)))
            except TypeError as error:   # bf16/fp8 I/O have no numpy dtype
                raise BackendError(f'tensor {name!r} of {self.path.name} has an unsupported dtype') from error
            spec = TensorSpec(tuple(d if d >= 0 else None for d in self._engine.get_tensor_shape(name)), dtype)
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs)[name] = spec
        # numpy -> torch dtype without a hand-written table
        self._torch_dtypes = {name: torch.from_numpy(np.empty(0, spec.dtype)).dtype
                              for name, spec in self.outputs.items()}
        self._stream = torch.cuda.Stream(device=self._device)

    def __call__(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the engine.

        Args:
            feed: input name -> array matching `self.inputs` and inside the engine's shape profile.

        Returns:
            output name -> array (fresh host copies).

        Raises:
            BackendError: closed, the feed does not match, a shape is outside the profile, or execution fails.

        """
        import torch
        if self._context is None:
            raise BackendError(f'TensorRT backend for {self.path} is closed')
        check_feed(self.inputs, feed)
        buffers = {}   # keeps every device tensor alive until the stream has finished with it
        with torch.cuda.device(self._device), torch.cuda.stream(self._stream):
            for name in self.inputs:
                buffers[name] = torch.from_numpy(np.ascontiguousarray(feed[name])).to(self._device)
                if not self._context.set_input_shape(name, tuple(buffers[name].shape)):
                    raise BackendError(f'input {name!r} shape {tuple(buffers[name].shape)} is outside the engine '
                                       'optimization profile; rebuild with `nvb-build-engines --shapes` covering it')
            for name in self.outputs:
                shape = tuple(self._context.get_tensor_shape(name))
                if any(d < 0 for d in shape):
                    raise BackendError(f'output {name!r} has a data-dependent shape {shape}, which is not supported')
                buffers[name] = torch.empty(shape, dtype=self._torch_dtypes[name], device=self._device)
            for name, tensor in buffers.items():
                self._context.set_tensor_address(name, tensor.data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise BackendError(f'TensorRT execution failed for {self.path.name}; see the TensorRT log')
            self._stream.synchronize()
            return {name: buffers[name].cpu().numpy() for name in self.outputs}

    def close(self) -> None:
        """Free the execution context, engine and runtime (in that order, as TensorRT requires)."""
        self._context = None
        self._engine = None
        self._runtime = None
