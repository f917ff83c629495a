"""The one runner interface every model backend implements (after Polygraphy's runners)."""
from dataclasses import dataclass
from typing import Mapping, Protocol

import numpy as np


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
