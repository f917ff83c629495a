"""TensorRT on a real GPU: parity with ONNX Runtime, engine cache hit and miss, dynamic shapes.

Runs only where the tensorrt package and a CUDA device are present (an engine build takes seconds for this MLP).
"""
import warnings

import numpy as np
import pytest

# These modules import tensorrt and torch only inside functions, so they load before the skips below.
from nvb_perception.backends import load_backend
from nvb_perception.backends.engines import engine_path, load_cached_engine
from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
from nvb_perception.backends.tensorrt_backend import TensorRTBackend, device_key
from nvb_perception.errors import BackendError, ModelFileError

trt = pytest.importorskip('tensorrt', reason='TensorRT not installed: GPU tier, run on a machine with TensorRT 10')
torch = pytest.importorskip('torch')
if not torch.cuda.is_available():
    pytest.skip('TensorRT installed but torch sees no CUDA device', allow_module_level=True)

SHAPES = {'x': ((1, 4), (8, 4), (32, 4))}
FP32_ATOL = 1e-4   # TensorRT may pick TF32 or fused kernels; outputs are of order 1
FP16_ATOL = 2e-2   # half precision keeps about 3 significant digits


@pytest.fixture(scope='module')
def onnx_path(tmp_path_factory):
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
    path = tmp_path_factory.mktemp('models') / 'mlp.onnx'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(mlp, (torch.zeros(2, 4),), str(path), input_names=['x'], output_names=['y'],
                          dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}, dynamo=False)
    return path


@pytest.fixture
def feed():
    return {'x': np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)}


@pytest.mark.parametrize('precision, atol', [('fp32', FP32_ATOL), ('fp16', FP16_ATOL)])
def test_parity_with_onnxruntime(onnx_path, tmp_path, feed, precision, atol):
    with TensorRTBackend(onnx_path, tmp_path, precision, SHAPES, build_engine=True) as trt_backend, \
            OnnxRuntimeBackend(onnx_path) as ort_backend:
        assert trt_backend.inputs == ort_backend.inputs and trt_backend.outputs == ort_backend.outputs
        np.testing.assert_allclose(trt_backend(feed)['y'], ort_backend(feed)['y'], atol=atol, rtol=0)


def test_engine_cache_miss_then_hit(onnx_path, tmp_path, feed):
    key = device_key(onnx_path, 'fp32', SHAPES)
    path = engine_path(onnx_path, tmp_path, key)
    with pytest.raises(ModelFileError, match='nvb-build-engines'):
        TensorRTBackend(onnx_path, tmp_path, 'fp32', SHAPES)            # miss, building not allowed
    with TensorRTBackend(onnx_path, tmp_path, 'fp32', SHAPES, build_engine=True) as built:
        expected = built(feed)['y']
    assert load_cached_engine(path, key)[1] == 'hit'
    mtime = path.stat().st_mtime_ns
    with TensorRTBackend(onnx_path, tmp_path, 'fp32') as cached:         # hit; shapes found from the sidecar
        np.testing.assert_array_equal(cached(feed)['y'], expected)
    assert path.stat().st_mtime_ns == mtime                               # not rebuilt


def test_load_backend_prefers_tensorrt(onnx_path, tmp_path, feed):
    with load_backend(onnx_path, engine_dir=tmp_path, shapes=SHAPES, build_engine=True) as backend:
        assert backend.name == 'tensorrt'
        assert backend(feed)['y'].shape == (5, 3)


def test_shape_outside_profile_raises(onnx_path, tmp_path):
    with TensorRTBackend(onnx_path, tmp_path, 'fp32', SHAPES, build_engine=True) as backend, \
            pytest.raises(BackendError, match='optimization profile'):
        backend({'x': np.zeros((64, 4), np.float32)})


def test_dynamic_input_without_shapes_explains(onnx_path, tmp_path):
    with pytest.raises(BackendError, match=r"--shapes x:MIN:OPT:MAX"):
        TensorRTBackend(onnx_path, tmp_path, 'fp32', build_engine=True)
