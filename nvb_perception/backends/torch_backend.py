"""PyTorch backend: runs an nn.Module on numpy arrays, for development and parity checks against exports.

    specs_in = {'x': TensorSpec((None, 4), np.dtype(np.float32))}
    specs_out = {'y': TensorSpec((None, 3), np.dtype(np.float32))}
    with TorchBackend(model, specs_in, specs_out, device='cpu') as backend:
        outputs = backend({'x': np.zeros((1, 4), np.float32)})

The caller gives the specs: an nn.Module does not declare its input and output shapes.
"""
from collections.abc import Mapping

import numpy as np
import torch

from nvb_perception.backends.base import ClosesOnExit, TensorSpec, check_feed
from nvb_perception.errors import BackendError, ConfigError


class TorchBackend(ClosesOnExit):
    """Run a torch.nn.Module under torch.inference_mode with named numpy inputs and outputs."""

    name = 'torch'

    def __init__(self, module: torch.nn.Module, inputs: Mapping[str, TensorSpec],
                 outputs: Mapping[str, TensorSpec], device: str = 'cpu'):
        """Wrap a module.

        The module is switched to eval mode (dropout off, batch-norm running stats), as for an export, and
        moved to `device` in place.

        Args:
            module: called as module(*inputs in the order of `inputs`).
            inputs: input name -> spec; the order is the module's positional argument order.
            outputs: output name -> spec; the order matches a tuple the module returns (or its dict keys).
            device: 'cpu' or 'cuda'.

        Raises:
            ConfigError: bad device or no outputs.
            BackendError: 'cuda' requested and torch sees no CUDA device.

        """
        if device not in ('cpu', 'cuda'):
            raise ConfigError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise BackendError(f"device='cuda' but torch {torch.__version__} sees no CUDA device; use device='cpu'")
        if not outputs:
            raise ConfigError('TorchBackend needs at least one output spec')
        self.inputs = dict(inputs)
        self.outputs = dict(outputs)
        self.device = torch.device(device)
        self._module = module.eval().to(self.device)

    def __call__(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the module.

        Args:
            feed: input name -> array matching `self.inputs`.

        Returns:
            output name -> array (a fresh copy on the host).

        Raises:
            BackendError: closed, the feed does not match, the module fails, or returns the wrong outputs.

        """
        if self._module is None:
            raise BackendError('TorchBackend is closed')
        check_feed(self.inputs, feed)
        # from_numpy shares memory; np.ascontiguousarray avoids torch's negative-stride error on flipped views
        args = [torch.from_numpy(np.ascontiguousarray(feed[name])).to(self.device) for name in self.inputs]
        try:
            with torch.inference_mode():
                result = self._module(*args)
        except RuntimeError as error:   # torch reports shape and device errors as RuntimeError
            raise BackendError(f'torch module {type(self._module).__name__} failed: {error}') from error
        return {name: tensor.detach().cpu().numpy() for name, tensor in self._named(result).items()}

    def _named(self, result) -> dict[str, torch.Tensor]:
        """Match what the module returned (tensor, tuple/list or dict) to the output names."""
        if isinstance(result, torch.Tensor):
            result = (result,)
        if isinstance(result, Mapping):
            missing = [name for name in self.outputs if name not in result]
            if missing:
                raise BackendError(f'module returned keys {list(result)}, missing outputs {missing}')
            return {name: result[name] for name in self.outputs}
        if len(result) != len(self.outputs):
            raise BackendError(f'module returned {len(result)} tensors, expected {len(self.outputs)}: '
                               f'{list(self.outputs)}')
        return dict(zip(self.outputs, result, strict=True))

    def close(self) -> None:
        """Drop the module reference (frees GPU memory once nothing else holds it)."""
        self._module = None
