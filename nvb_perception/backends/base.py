"""The one runner interface every model backend implements (after Polygraphy's runners)."""
from dataclasses import dataclass
from typing import Mapping, Protocol

import numpy as np

from nvb_perception.errors import BackendError

SETUP_HINT = 'run `make setup` (or `nvb-export-models`) to fetch and export the models'



@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one named model input or output."""

    shape: tuple[int | None, ...]   # None = dynamic dimension
    dtype: np.dtype

    def accepts(self, array: np.ndarray) -> bool:
        """True if `array` has this rank, the fixed dimensions and the dtype."""
        return (array.ndim == len(self.shape) and np.dtype(array.dtype) == np.dtype(self.dtype)
                and all(s is None or s == a for s, a in zip(self.shape, array.shape)))


class Backend(Protocol):
    """Run one model on named numpy arrays. Outputs may reuse buffers: copy what you keep."""

    name: str                                   # 'onnxruntime' | 'torch' | 'tensorrt'
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]

    def __call__(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class ClosesOnExit:
    """`with backend:` support for a class with `close()`: the block's end releases the runtime."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_feed(inputs: Mapping[str, TensorSpec], feed: Mapping[str, np.ndarray]) -> None:
    """Check a feed against a backend's input specs before handing it to a runtime.

    Runtimes report bad feeds late and cryptically (or, for TensorRT, read out of bounds), so every backend
    checks first.

    Raises:
        BackendError: an input is missing or unexpected, or has the wrong rank, fixed dimension or dtype;
            the message shows the expected spec.

    """
    missing = [name for name in inputs if name not in feed]
    extra = [name for name in feed if name not in inputs]
    if missing or extra:
        problems = [f'{label} {names}' for label, names in (('missing', missing), ('unexpected', extra)) if names]
        raise BackendError(f'bad feed: {" and ".join(problems)} inputs; expected {_describe(inputs)}')
    for name, spec in inputs.items():
        array = feed[name]
        if not isinstance(array, np.ndarray) or not spec.accepts(array):
            got = (f'{tuple(array.shape)} {array.dtype}' if isinstance(array, np.ndarray)
                   else type(array).__name__)
            raise BackendError(f'bad feed: input {name!r} expected {_describe({name: spec}, names=False)}, got {got}')


def _describe(specs: Mapping[str, TensorSpec], names: bool = True) -> str:
    """Return e.g. "x: (None, 4) float32" (None = dynamic dimension)."""
    return ', '.join((f'{name}: ' if names else '') + f'{tuple(spec.shape)} {np.dtype(spec.dtype)}'
                     for name, spec in specs.items())
