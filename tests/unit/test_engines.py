"""Engine cache: keys, file names, atomic writes, invalidation and the nvb-build-engines CLI (no TensorRT)."""
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nvb_perception.backends import engines
from nvb_perception.backends.engines import (
    EngineKey,
    atomic_write_bytes,
    engine_path,
    file_sha256,
    find_engine_keys,
    load_cached_engine,
    load_or_build_engine,
    sidecar_path,
)
from nvb_perception.errors import BackendError, ConfigError, ModelFileError
from nvb_perception.export import build_engines

REPO_ROOT = Path(__file__).resolve().parents[2]   # so `python -m` finds the package uninstalled
SHAPES = {'x': ((1, 4), (8, 4), (32, 4))}


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / 'pose.onnx'
    path.write_bytes(b'onnx bytes stand-in')   # the cache only hashes the file; it never parses it
    return path


@pytest.fixture
def key(onnx_file):
    return EngineKey(file_sha256(onnx_file), '10.3.0', 'Orin (nvgpu)', '8.7', 'fp16', SHAPES)


class FakeBuilder:
    """A build_fn that counts calls and returns distinct bytes per build (TensorRT builds differ too)."""

    def __init__(self):
        self.calls = []

    def __call__(self, onnx_path, precision, shapes):
        self.calls.append((onnx_path, precision, shapes))
        return f'engine #{len(self.calls)} {precision}'.encode()


def test_same_inputs_give_same_path(onnx_file, key, tmp_path):
    again = EngineKey(file_sha256(onnx_file), '10.3.0', 'Orin (nvgpu)', '8.7', 'fp16',
                      {'x': [[1, 4], [8, 4], [32, 4]]})   # lists normalize to the same key
    assert again == key
    assert engine_path(onnx_file, tmp_path, again) == engine_path(onnx_file, tmp_path, key)
    name = engine_path(onnx_file, tmp_path, key).name
    assert name.startswith(f'pose-{key.onnx_sha256[:12]}-trt10.3.0-orin_nvgpu-sm87-fp16-s')
    assert name.endswith('.engine') and ' ' not in name and '(' not in name


@pytest.mark.parametrize('change', [
    {'trt_version': '10.4.0'}, {'gpu_name': 'NVIDIA GeForce RTX 4090'}, {'compute_capability': '8.9'},
    {'precision': 'fp32'}, {'shapes': {'x': ((1, 4), (8, 4), (64, 4))}}, {'shapes': {}},
], ids=['trt_version', 'gpu', 'compute_capability', 'precision', 'shapes', 'no_shapes'])
def test_any_key_change_changes_path(onnx_file, key, tmp_path, change):
    assert engine_path(onnx_file, tmp_path, dataclasses.replace(key, **change)) != engine_path(onnx_file, tmp_path, key)


def test_onnx_bytes_change_path(onnx_file, key, tmp_path):
    onnx_file.write_bytes(b'onnx bytes stand-in, re-exported')
    changed = dataclasses.replace(key, onnx_sha256=file_sha256(onnx_file))
    assert engine_path(onnx_file, tmp_path, changed) != engine_path(onnx_file, tmp_path, key)


def test_file_sha256_reads_in_chunks(tmp_path, monkeypatch):
    import nvb_perception.assets
    monkeypatch.setattr(nvb_perception.assets, 'HASH_CHUNK_BYTES', 7)
    path = tmp_path / 'blob'
    path.write_bytes(bytes(range(256)) * 3)
    import hashlib
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize('bad', [
    {'precision': 'int8'}, {'onnx_sha256': 'abc'}, {'shapes': {'x': ((8, 4), (1, 4), (32, 4))}},
    {'shapes': {'x': ((1,), (8, 4), (9, 4))}}, {'shapes': {'x': ((0, 4), (1, 4), (2, 4))}},
    {'shapes': {'x': ((1, 4), (2, 4))}},
], ids=['precision', 'sha', 'min>opt', 'rank', 'zero_dim', 'two_shapes'])
def test_bad_key_raises_config_error(key, bad):
    with pytest.raises(ConfigError):
        dataclasses.replace(key, **bad)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / 'sub' / 'model.engine'
    atomic_write_bytes(target, b'first')
    atomic_write_bytes(target, b'second')
    assert target.read_bytes() == b'second'
    assert os.listdir(target.parent) == ['model.engine']
    assert target.stat().st_mode & 0o777 == 0o644   # readable by a node running as another user


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / 'model.engine'
    atomic_write_bytes(target, b'old engine')

    def crash(fd):   # the data is written but not yet durable or renamed: simulates a crash mid-way
        raise OSError('disk full')
    monkeypatch.setattr(engines.os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_bytes(target, b'new engine that never lands')
    assert target.read_bytes() == b'old engine'
    assert os.listdir(tmp_path) == ['model.engine']   # the temporary file is gone too


def test_build_then_cache_hit(onnx_file, key, tmp_path):
    build = FakeBuilder()
    first = load_or_build_engine(onnx_file, tmp_path / 'engines', key, build, allow_build=True)
    second = load_or_build_engine(onnx_file, tmp_path / 'engines', key, build)
    assert first == second == b'engine #1 fp16'
    assert build.calls == [(onnx_file, 'fp16', key.shapes_dict())]
    meta = json.loads(sidecar_path(engine_path(onnx_file, tmp_path / 'engines', key)).read_text())
    assert EngineKey.from_json(meta['key']) == key and meta['engine_bytes'] == len(first)


def test_missing_engine_without_build_names_file_and_command(onnx_file, key, tmp_path):
    build = FakeBuilder()
    with pytest.raises(ModelFileError) as error:
        load_or_build_engine(onnx_file, tmp_path, key, build)
    message = str(error.value)
    assert str(engine_path(onnx_file, tmp_path, key)) in message
    assert f'nvb-build-engines {onnx_file} --precision fp16' in message and '--shapes x:1x4:8x4:32x4' in message
    assert build.calls == []


def _corrupt_engine(path):
    path.write_bytes(path.read_bytes()[:-3] + b'xyz')


def _edit_sidecar(path):
    meta_file = sidecar_path(path)
    meta = json.loads(meta_file.read_text())
    meta['key']['trt_version'] = '8.6.1'
    meta_file.write_text(json.dumps(meta))


@pytest.mark.parametrize('damage, reason', [
    (_corrupt_engine, 'corrupt: '), (_edit_sidecar, 'stale: key mismatch (trt_version'),
    (lambda p: sidecar_path(p).unlink(), 'stale: missing metadata'),
    (lambda p: sidecar_path(p).write_text('{not json'), 'stale: corrupt metadata'),
], ids=['engine_bytes', 'sidecar_key', 'no_sidecar', 'bad_json'])
def test_invalid_cache_rebuilds_or_raises(onnx_file, key, tmp_path, damage, reason):
    build = FakeBuilder()
    path = engine_path(onnx_file, tmp_path, key)
    load_or_build_engine(onnx_file, tmp_path, key, build, allow_build=True)
    damage(path)
    data, why = load_cached_engine(path, key)
    assert data is None and why.startswith(reason)
    with pytest.raises(ModelFileError, match='nvb-build-engines') as error:
        load_or_build_engine(onnx_file, tmp_path, key, build)
    assert str(path) in str(error.value) and reason in str(error.value)
    assert load_or_build_engine(onnx_file, tmp_path, key, build, allow_build=True) == b'engine #2 fp16'
    assert load_cached_engine(path, key) == (b'engine #2 fp16', 'hit')


def test_force_rebuilds_valid_cache(onnx_file, key, tmp_path):
    build = FakeBuilder()
    load_or_build_engine(onnx_file, tmp_path, key, build, allow_build=True)
    assert load_or_build_engine(onnx_file, tmp_path, key, build, force=True) == b'engine #2 fp16'
    assert len(build.calls) == 2 and load_cached_engine(engine_path(onnx_file, tmp_path, key), key)[1] == 'hit'


def test_empty_build_raises(onnx_file, key, tmp_path):
    with pytest.raises(BackendError, match='no engine'):
        load_or_build_engine(onnx_file, tmp_path, key, lambda *args: b'', allow_build=True)
    assert list(tmp_path.glob('*.engine')) == []


def test_find_engine_keys_ignores_shapes_only(onnx_file, key, tmp_path):
    build = FakeBuilder()
    load_or_build_engine(onnx_file, tmp_path, key, build, allow_build=True)
    load_or_build_engine(onnx_file, tmp_path, dataclasses.replace(key, precision='fp32'), build, allow_build=True)
    assert find_engine_keys(onnx_file, tmp_path, dataclasses.replace(key, shapes={})) == [key]


def test_cli_without_tensorrt_exits_2(onnx_file, capsys, monkeypatch):
    from nvb_perception.backends import tensorrt_backend
    monkeypatch.setattr(tensorrt_backend, 'tensorrt_available', lambda: (False, 'no tensorrt (test)'))
    assert build_engines.main([str(onnx_file), '--precision', 'fp16']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'TensorRT is not usable' in err and 'no tensorrt (test)' in err
    assert 'Traceback' not in err


@pytest.mark.skipif(importlib.util.find_spec('tensorrt') is not None, reason='tensorrt is installed here')
def test_cli_process_without_tensorrt(onnx_file):
    result = subprocess.run([sys.executable, '-m', 'nvb_perception.export.build_engines', str(onnx_file)],
                            check=False, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert result.stderr.startswith('nvb-build-engines: TensorRT is not usable') and result.stderr.count('\n') == 1


@pytest.mark.parametrize('argv', [['missing.onnx'], ['x.onnx', '--shapes', 'x:1x4:8x4'],
                                  ['x.onnx', '--shapes', 'x:8x4:1x4:9x4'], ['x.onnx', '--precision', 'int8']],
                         ids=['missing_file', 'short_shapes', 'min>opt', 'precision'])
def test_cli_bad_arguments_exit_2(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'x.onnx').write_bytes(b'stand-in')
    with pytest.raises(SystemExit) as exit_info:
        build_engines.main(argv)
    assert exit_info.value.code == 2


def test_cli_parse_shape_arg_allows_colons_in_names():
    assert build_engines.parse_shape_arg('input:0:1x3:2x3:4x3') == ('input:0', ((1, 3), (2, 3), (4, 3)))
