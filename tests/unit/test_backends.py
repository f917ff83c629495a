"""Backends on a tiny ONNX MLP made by a fixture: specs, feeds, bad files, load_backend fallback, ORT/torch parity."""
import logging
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nvb_perception.backends import BACKEND_NAMES, TensorSpec, load_backend
from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
from nvb_perception.backends.torch_backend import TorchBackend
from nvb_perception.errors import BackendError, ConfigError, ModelFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
PARITY_ATOL = 1e-5   # float32 outputs of order 1: only kernel rounding differs between ORT and torch
IN_SPECS = {'x': TensorSpec((None, 4), np.dtype(np.float32))}
OUT_SPECS = {'y': TensorSpec((None, 3), np.dtype(np.float32))}


def make_mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()


@pytest.fixture(scope='module')
def mlp():
    return make_mlp()


@pytest.fixture(scope='module')
def onnx_path(tmp_path_factory, mlp):
    path = tmp_path_factory.mktemp('models') / 'mlp.onnx'
    with warnings.catch_warnings():   # the legacy exporter warns it is deprecated; the dynamo one needs onnxscript
        warnings.simplefilter('ignore')
        torch.onnx.export(mlp, (torch.zeros(2, 4),), str(path), input_names=['x'], output_names=['y'],
                          dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}, dynamo=False)
    return path


@pytest.fixture
def feed():
    return {'x': np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)}


def test_ort_specs_from_session(onnx_path):
    with OnnxRuntimeBackend(onnx_path, threads=1) as backend:
        assert backend.name == 'onnxruntime'
        assert backend.inputs == IN_SPECS   # dynamic batch -> None, tensor(float) -> float32
        assert backend.outputs == OUT_SPECS


@pytest.mark.parametrize('batch', [1, 7])
def test_ort_runs_any_batch(onnx_path, batch):
    with OnnxRuntimeBackend(onnx_path) as backend:
        outputs = backend({'x': np.ones((batch, 4), np.float32)})
    assert list(outputs) == ['y'] and outputs['y'].shape == (batch, 3) and outputs['y'].dtype == np.float32


@pytest.mark.parametrize('bad_feed, message', [
    ({}, re.escape("missing ['x']")),
    ({'x': np.ones((2, 4), np.float32), 'z': np.ones(1)}, re.escape("unexpected ['z']")),
    ({'x': np.ones((2, 4), np.float64)}, r'expected \(None, 4\) float32, got \(2, 4\) float64'),
    ({'x': np.ones(4, np.float32)}, r'got \(4,\) float32'),
    ({'x': np.ones((2, 5), np.float32)}, r'got \(2, 5\) float32'),
    ({'x': [[0.0] * 4]}, 'got list'),
], ids=['missing', 'extra', 'dtype', 'rank', 'fixed_dim', 'not_array'])
def test_ort_bad_feed_raises_with_spec(onnx_path, bad_feed, message):
    with OnnxRuntimeBackend(onnx_path) as backend, pytest.raises(BackendError, match=message):
        backend(bad_feed)


def test_ort_closed_raises(onnx_path, feed):
    backend = OnnxRuntimeBackend(onnx_path)
    backend.close()
    with pytest.raises(BackendError, match='closed'):
        backend(feed)


@pytest.mark.parametrize('content', [b'', b'\x08\x07garbage, not protobuf', 'truncated'],
                         ids=['empty', 'garbage', 'truncated'])
def test_ort_corrupt_file_raises_model_file_error(onnx_path, tmp_path, content):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(onnx_path.read_bytes()[:200] if content == 'truncated' else content)
    with pytest.raises(ModelFileError, match='bad.onnx'):
        OnnxRuntimeBackend(bad)


def test_missing_file_raises_model_file_error(tmp_path):
    missing = tmp_path / 'nope.onnx'
    for make in (OnnxRuntimeBackend, load_backend):
        with pytest.raises(ModelFileError, match='nope.onnx.*make setup'):
            make(missing)


def test_ort_cuda_without_provider_is_clear(onnx_path):
    from nvb_perception.backends import onnxruntime_backend
    if onnxruntime_backend.cuda_available():
        pytest.skip('this onnxruntime has CUDA')
    with pytest.raises(BackendError, match='CUDAExecutionProvider'):
        OnnxRuntimeBackend(onnx_path, device='cuda')


@pytest.mark.parametrize('kwargs', [{'device': 'gpu'}, {'threads': 0}])
def test_ort_bad_config(onnx_path, kwargs):
    with pytest.raises(ConfigError):
        OnnxRuntimeBackend(onnx_path, **kwargs)


def test_load_backend_falls_back_and_logs_why(onnx_path, caplog, monkeypatch, tmp_path):
    from nvb_perception.backends import tensorrt_backend
    # On a GPU machine TensorRT would be picked, so make it unavailable for this test everywhere.
    monkeypatch.setattr(tensorrt_backend, 'tensorrt_available', lambda: (False, 'TensorRT missing (test)'))
    caplog.set_level(logging.INFO, logger='nvb_perception.backends')
    with load_backend(onnx_path, engine_dir=tmp_path) as backend:
        assert backend.name == 'onnxruntime'
    messages = [r.getMessage() for r in caplog.records if r.name == 'nvb_perception.backends']
    assert any('tensorrt skipped' in m and 'TensorRT missing (test)' in m for m in messages)
    assert any('using backend onnxruntime' in m for m in messages)


def test_load_backend_cpu_skips_tensorrt(onnx_path, caplog):
    caplog.set_level(logging.INFO, logger='nvb_perception.backends')
    with load_backend(onnx_path, device='cpu') as backend:
        assert backend.name == 'onnxruntime' and backend.device == 'cpu'
    assert "device='cpu'" in caplog.text


def test_load_backend_lists_every_failure(onnx_path, monkeypatch):
    from nvb_perception.backends import onnxruntime_backend, tensorrt_backend
    if onnxruntime_backend.cuda_available():
        pytest.skip('this onnxruntime has CUDA, so device=cuda would load')
    monkeypatch.setattr(tensorrt_backend, 'tensorrt_available', lambda: (False, 'TensorRT missing (test)'))
    with pytest.raises(BackendError, match=r'tried tensorrt: TensorRT missing \(test\) \| onnxruntime: .*CUDA'):
        load_backend(onnx_path, device='cuda')


def test_load_backend_skips_tensorrt_without_engine(onnx_path, monkeypatch, caplog):
    from nvb_perception.backends import tensorrt_backend

    def no_engine(*args, **kwargs):   # what TensorRTBackend raises when nobody ran nvb-build-engines
        raise ModelFileError('no usable TensorRT engine for mlp.onnx; run `nvb-build-engines mlp.onnx`')
    monkeypatch.setattr(tensorrt_backend, 'tensorrt_available', lambda: (True, 'TensorRT (test)'))
    monkeypatch.setattr(tensorrt_backend, 'TensorRTBackend', no_engine)
    caplog.set_level(logging.INFO, logger='nvb_perception.backends')
    with load_backend(onnx_path) as backend:
        assert backend.name == 'onnxruntime'
    assert 'tensorrt skipped' in caplog.text and 'nvb-build-engines' in caplog.text


@pytest.mark.parametrize('prefer', [('tensorrt', 'openvino'), ('torch',), ()], ids=['unknown', 'torch', 'empty'])
def test_load_backend_unknown_name_raises_config_error(onnx_path, prefer):
    with pytest.raises(ConfigError, match='valid: ' + ', '.join(BACKEND_NAMES)):
        load_backend(onnx_path, prefer=prefer)


@pytest.mark.parametrize('kwargs', [{'device': 'tpu'}, {'precision': 'int8'}])
def test_load_backend_bad_options(onnx_path, kwargs):
    with pytest.raises(ConfigError):
        load_backend(onnx_path, **kwargs)


def test_ort_matches_torch(onnx_path, mlp, feed):
    with OnnxRuntimeBackend(onnx_path) as ort_backend, TorchBackend(mlp, IN_SPECS, OUT_SPECS) as torch_backend:
        assert ort_backend.inputs == torch_backend.inputs and ort_backend.outputs == torch_backend.outputs
        expected = torch_backend(feed)['y']
        np.testing.assert_allclose(ort_backend(feed)['y'], expected, atol=PARITY_ATOL, rtol=0)
    assert np.abs(expected).max() > 0.01   # a model that outputs zeros would pass any parity check


def test_torch_backend_checks_feed_and_outputs(mlp, feed):
    with TorchBackend(mlp, IN_SPECS, OUT_SPECS) as backend, pytest.raises(BackendError, match='float32'):
        backend({'x': feed['x'].astype(np.float64)})
    two_outputs = {'y': OUT_SPECS['y'], 'z': OUT_SPECS['y']}
    with pytest.raises(BackendError, match='returned 1 tensors, expected 2'):
        TorchBackend(mlp, IN_SPECS, two_outputs)(feed)


def test_importing_backends_stays_light():
    code = ('import sys, nvb_perception.backends, nvb_perception.backends.engines; '
            "print(sorted(m for m in ('onnxruntime', 'torch', 'tensorrt') if m in sys.modules))")
    result = subprocess.run([sys.executable, '-c', code], check=False, capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
