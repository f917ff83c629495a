"""Model backends: one runner interface over TensorRT, ONNX Runtime and PyTorch (after Polygraphy).

    from nvb_perception.backends import load_backend
    with load_backend('engines/lifter.onnx', prefer=('tensorrt', 'onnxruntime')) as backend:
        outputs = backend({'keypoints_2d': window})     # dict name -> numpy array

Importing this package never imports onnxruntime, torch or tensorrt: each runtime is imported inside its own
`*_backend.py` module, and `load_backend` imports that module only when it tries the runtime.
"""
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from nvb_perception.backends.base import SETUP_HINT, Backend, TensorSpec, check_feed
from nvb_perception.errors import BackendError, ConfigError, ModelFileError

__all__ = ['BACKEND_NAMES', 'Backend', 'TensorSpec', 'check_feed', 'load_backend']

# Runtimes that load a model file. 'torch' is not here: TorchBackend wraps an nn.Module, build it directly.
BACKEND_NAMES = ('tensorrt', 'onnxruntime')
DEVICES = ('cpu', 'cuda')
LOGGER_NAME = 'nvb_perception.backends'
def load_backend(model_path: str | Path, prefer: Sequence[str] = BACKEND_NAMES, engine_dir: str | Path | None = None,
                 precision: str = 'fp32', device: str | None = None, build_engine: bool = False,
                 logger: logging.Logger | None = None,
                 shapes: Mapping[str, Sequence[Sequence[int]]] | None = None) -> Backend:
    """Open an ONNX model with the first runtime in `prefer` that works on this machine.

    Args:
        model_path: the .onnx file.
        prefer: runtimes to try, in order, from BACKEND_NAMES.
        engine_dir: TensorRT engine cache; default ./engines (as for `nvb-build-engines`).
        precision: TensorRT precision, 'fp32' or 'fp16' (ONNX Runtime runs the model as exported).
        device: 'cuda', 'cpu' (skips TensorRT) or None: TensorRT on the GPU, ONNX Runtime on CUDA if it
            has the CUDA provider, else on CPU.
        build_engine: let TensorRT build a missing engine now (minutes); otherwise a missing engine skips it.
        logger: where to log the choice; default logging.getLogger('nvb_perception.backends').
        shapes: TensorRT optimization-profile shapes name -> (min, opt, max); None finds the engine
            `nvb-build-engines` built.

    Returns:
        An open Backend; close it (or use `with`) to free the runtime.

    Raises:
        ConfigError: an unknown runtime name, device or precision.
        ModelFileError: `model_path` does not exist.
        BackendError: no runtime could load the model; lists each one tried and why it failed.

    """
    logger = logger or logging.getLogger(LOGGER_NAME)
    prefer = (prefer,) if isinstance(prefer, str) else tuple(prefer)   # 'onnxruntime' is not a list of letters
    unknown = [name for name in prefer if name not in BACKEND_NAMES]
    if unknown or not prefer:
        hint = " ('torch' wraps an nn.Module: construct TorchBackend directly)" if 'torch' in unknown else ''
        raise ConfigError(f'unknown backend(s) {unknown or list(prefer)} in prefer; '
                          f'valid: {", ".join(BACKEND_NAMES)}{hint}')
    if device not in (None, *DEVICES):
        raise ConfigError(f'device must be one of {DEVICES} or None, got {device!r}')
    if precision not in ('fp32', 'fp16'):
        raise ConfigError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelFileError(f'model file not found: {model_path}; {SETUP_HINT}')

    skipped = []
    for name in prefer:
        try:
            backend = _open(name, model_path, engine_dir, precision, device, build_engine, shapes)
        except (BackendError, ModelFileError) as error:
            skipped.append(f'{name}: {error}')
            logger.warning('backend %s skipped for %s: %s', name, model_path.name, error)
            continue
        logger.info('using backend %s for %s%s', name, model_path,
                    ' (skipped ' + '; '.join(skipped) + ')' if skipped else '')
        return backend
    raise BackendError(f'no backend could load {model_path}; tried ' + ' | '.join(skipped))


def _open(name: str, model_path: Path, engine_dir, precision: str, device: str | None, build_engine: bool,
          shapes) -> Backend:
    """Construct one runtime's backend; import errors become BackendError so the caller can fall back."""
    if name == 'tensorrt':
        if device == 'cpu':
            raise BackendError("device='cpu' was requested and TensorRT needs a GPU")
        from nvb_perception.backends import tensorrt_backend
        available, reason = tensorrt_backend.tensorrt_available()
        if not available:
            raise BackendError(reason)
        return tensorrt_backend.TensorRTBackend(model_path, engine_dir=engine_dir, precision=precision,
                                                shapes=shapes, build_engine=build_engine)
    assert name == 'onnxruntime', name   # names are validated by load_backend
    try:
        from nvb_perception.backends import onnxruntime_backend
        resolved = device or ('cuda' if onnxruntime_backend.cuda_available() else 'cpu')
    except ImportError as error:
        raise BackendError(f'onnxruntime is not installed ({error}); pip install onnxruntime') from error
    return onnxruntime_backend.OnnxRuntimeBackend(model_path, device=resolved)
