"""TFLite -> ONNX export of the BlazePose models: ONNX Runtime must reproduce ai-edge-litert on real images.

Inputs are prepared like MediaPipe does: detector 224x224 letterboxed RGB in [-1, 1], landmark model a
256x256 RGB crop in [0, 1]. Every output's max abs difference is printed (run with -s to see them).

Error measures: 'abs' = max |onnx - tflite|; 'rel' = the same divided by max(1, max |tflite|), i.e.
relative to the tensor's range (floored at 1 so near-zero tensors are judged absolutely).
Reference = ai-edge-litert as MediaPipe runs it (XNNPACK). fp32 summation order differs between any
two runtimes, so a check also passes if ONNX is within 1.5x of TFLite's own disagreement between its
XNNPACK and built-in CPU kernels on the same input ("spread"); the printed report shows both.
"""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nvb_perception.errors import ModelFileError
from nvb_perception.export.tflite_model import Operator, Tensor, TFLiteModel, densify, read_tflite
from nvb_perception.export.tflite_to_onnx import UnsupportedOpError, convert, to_onnx

ASSETS = Path(os.environ.get('NVB_PERCEPTION_ASSETS') or Path(__file__).resolve().parents[2] / '.assets')
TFLITE = ASSETS / 'tflite'
IMAGES = ('messi5.jpg', 'basketball1.png', 'basketball2.png')
XYZ = lambda o, s: o['Identity'].reshape(-1, 39, 5)[..., s]    # noqa: E731  (39 landmarks x 5 values)
# (label, picks the compared array from the outputs, measure, tolerance)
CHECKS = {
    'detector': [('Identity (box+keypoint regressors)', lambda o: o['Identity'], 'rel', 1e-4),
                 ('Identity_1 (score logits)', lambda o: o['Identity_1'], 'rel', 1e-4)],
    'landmark': [('Identity x,y (px of 256 crop)', lambda o: XYZ(o, slice(0, 2)), 'abs', 1e-3),
                 # z is TFLite's noisiest output: its own XNNPACK vs built-in kernels differ by up to 6.7e-3
                 ('Identity z', lambda o: XYZ(o, slice(2, 3)), 'abs', 5e-3),
                 ('Identity visibility,presence logits', lambda o: XYZ(o, slice(3, 5)), 'abs', 1e-3),
                 ('Identity_1 (pose flag)', lambda o: o['Identity_1'], 'rel', 1e-4),
                 # segmentation logits reach +-1600: 1e-4 of that is below fp32 reassociation noise
                 ('Identity_2 (segmentation logits)', lambda o: o['Identity_2'], 'rel', 1e-3),
                 ('Identity_3 (heatmaps)', lambda o: o['Identity_3'], 'rel', 1e-4),
                 ('Identity_4 (world landmarks, m)', lambda o: o['Identity_4'], 'abs', 1e-4)],
}


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f'{path} is missing: run `make setup` (lite/heavy: `nvb-export-models --variants lite,heavy`)')
    return path


@pytest.fixture(scope='session')
def exported(tmp_path_factory):
    """Map a model name to (tflite path, onnx path, conversion seconds), converting each once per session."""
    import time
    out, cache = tmp_path_factory.mktemp('onnx'), {}

    def get(name):
        if name not in cache:
            src = _need(TFLITE / f'{name}.tflite')
            t0 = time.perf_counter()
            convert(src, out / f'{name}.onnx')
            cache[name] = (src, out / f'{name}.onnx', time.perf_counter() - t0)
        return cache[name]
    return get


def _image(name: str) -> np.ndarray:
    cv2 = pytest.importorskip('cv2', reason='opencv-python-headless is needed to decode the test images')
    bgr = cv2.imread(str(_need(ASSETS / 'data' / 'opencv' / name)), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _tflite_outputs(path: Path, x: np.ndarray, builtin_kernels: bool = False) -> dict:
    litert = pytest.importorskip('ai_edge_litert.interpreter', reason='ai-edge-litert (the reference TFLite '
                                 'runtime) is not installed: pip install ai-edge-litert')
    kind = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if builtin_kernels else litert.OpResolverType.AUTO
    interp = litert.Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]['index'], x)
    interp.invoke()
    return {d['name']: interp.get_tensor(d['index']).copy() for d in interp.get_output_details()}


def _onnx_outputs(path: Path, x: np.ndarray) -> dict:
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))


def _err(measure: str, got: np.ndarray, ref: np.ndarray) -> float:
    d = float(np.abs(got - ref).max())
    return d / max(1.0, float(np.abs(ref).max())) if measure == 'rel' else d


@pytest.mark.parametrize('name', ['pose_detection', 'pose_landmark_full', 'pose_landmark_lite', 'pose_landmark_heavy'])
def test_onnx_matches_tflite_on_real_images(name, exported, record_property):
    from nvb_perception.export.pose_models import detector_input, landmark_input
    src, onnx_path, seconds = exported(name)
    kind = 'detector' if 'detection' in name else 'landmark'
    print(f'\n{name}: converted in {seconds:.2f} s')
    failures = []
    for image in IMAGES:
        x = (detector_input if kind == 'detector' else landmark_input)(_image(image))
        ref, got = _tflite_outputs(src, x), _onnx_outputs(onnx_path, x)
        assert list(got) == list(ref), 'ONNX output names/order must equal the TFLite model\'s'
        assert all(got[k].shape == ref[k].shape and got[k].dtype == ref[k].dtype for k in ref)
        other = _tflite_outputs(src, x, builtin_kernels=True)
        print(f'  {image}: max abs diff ' + ', '.join(f'{k} {np.abs(got[k] - ref[k]).max():.2e}' for k in ref))
        for label, pick, measure, tol in CHECKS[kind]:
            err, spread = _err(measure, pick(got), pick(ref)), _err(measure, pick(other), pick(ref))
            record_property(f'{image}:{label}', err)
            print(f'    {label:40s} {measure} {err:.2e} (tol {tol:.0e}, TFLite kernel spread {spread:.2e})')
            if err > max(tol, 1.5 * spread):
                failures.append(f'{image} {label}: {measure} {err:.2e} > tol {tol:.0e} and > 1.5x spread {spread:.2e}')
    assert not failures, '\n'.join(failures)


def test_onnx_io_names_and_layout(exported):
    import onnx
    for name, shapes in [('pose_detection', {'input_1': (1, 224, 224, 3), 'Identity': (1, 2254, 12),
                                             'Identity_1': (1, 2254, 1)}),
                         ('pose_landmark_full', {'input_1': (1, 256, 256, 3), 'Identity': (1, 195),
                                                 'Identity_1': (1, 1), 'Identity_2': (1, 256, 256, 1),
                                                 'Identity_3': (1, 64, 64, 39), 'Identity_4': (1, 117)})]:
        model = onnx.load(exported(name)[1])
        assert model.opset_import[0].version == 17
        io = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in list(model.graph.input) + list(model.graph.output)}
        assert io == shapes


def test_sparse_weights_densify_like_tflite():
    """Our densified pose_detection weights equal what the TFLite runtime's DENSIFY op produces."""
    litert = pytest.importorskip('ai_edge_litert.interpreter', reason='ai-edge-litert not installed')
    path = _need(TFLITE / 'pose_detection.tflite')
    model = read_tflite(path)
    interp = litert.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]['index'], np.zeros((1, 224, 224, 3), np.float32))
    interp.invoke()
    densify_ops = [op for op in model.operators if op.op == 'DENSIFY']
    assert len(densify_ops) == 38 and sum(t.sparse for t in model.tensors) == 38
    for op in densify_ops:
        np.testing.assert_array_equal(model.tensors[op.inputs[0]].data, interp.get_tensor(op.outputs[0]))


def test_densify_csr_and_block_sparse():
    dense = np.array([[1, 0, 0, 2], [0, 0, 3, 0]], np.float32)
    got = densify(np.array([1, 2, 3], np.float32), (2, 4), [0, 1], [],
                  [('dense', 2), ('csr', np.array([0, 2, 3]), np.array([0, 3, 2]))])
    np.testing.assert_array_equal(got, dense)
    # 4x4 with 2x2 blocks: only block (row 0, col 1) and block (row 1, col 0) are stored.
    dense = np.zeros((4, 4), np.float32)
    dense[0:2, 2:4] = [[1, 2], [3, 4]]
    dense[2:4, 0:2] = [[5, 6], [7, 8]]
    got = densify(np.arange(1, 9, dtype=np.float32), (4, 4), [0, 1, 2, 3], [0, 1],
                  [('dense', 2), ('csr', np.array([0, 1, 2]), np.array([1, 0])), ('dense', 2), ('dense', 2)])
    np.testing.assert_array_equal(got, dense)


def _toy_model(op_name: str) -> TFLiteModel:
    tensors = [Tensor(0, 'input_1', (1, 4, 4, 3), np.dtype('float32')),
               Tensor(1, 'hidden', (1, 4, 4, 3), np.dtype('float32')),
               Tensor(2, 'Identity', (1, 4, 4, 3), np.dtype('float32'))]
    ops = [Operator(0, 'RELU', (0,), (1,)), Operator(1, op_name, (1,), (2,))]
    return TFLiteModel('toy.tflite', 3, '', tensors, [0], [2], ops)


def test_unsupported_op_gives_clear_error():
    with pytest.raises(UnsupportedOpError) as err:
        to_onnx(_toy_model('CUSTOM:Frobnicate'))
    msg = str(err.value)
    assert 'toy.tflite' in msg and 'CUSTOM:Frobnicate' in msg and 'operator #1' in msg and "'Identity'" in msg
    assert 'Supported: ' in msg and 'CONV_2D' in msg
    model = to_onnx(_toy_model('LOGISTIC'))                  # the same graph with a supported op converts
    assert [n.op_type for n in model.graph.node] == ['Relu', 'Sigmoid']


def test_unsupported_op_in_a_real_model(tmp_path):
    src = _need(TFLITE / 'selfie_segmentation.tflite')        # uses MediaPipe's custom transposed conv
    with pytest.raises(UnsupportedOpError, match='CUSTOM:Convolution2DTransposeBias'):
        convert(src, tmp_path / 'selfie.onnx')
    assert not (tmp_path / 'selfie.onnx').exists()


@pytest.mark.parametrize('keep', [0, 6, 100, 0.5, -200])
def test_truncated_tflite_gives_model_file_error(tmp_path, keep):
    data = _need(TFLITE / 'pose_detection.tflite').read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    bad = tmp_path / 'pose_detection.tflite'
    bad.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match='pose_detection.tflite.*make setup'):
        convert(bad, tmp_path / 'out.onnx')


def test_missing_tflite_gives_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match='nope.tflite.*make setup'):
        read_tflite(tmp_path / 'nope.tflite')


def test_export_cli_is_idempotent_and_follows_the_tflite_hash(tmp_path, capsys):
    from nvb_perception.export.pose_models import main
    (tmp_path / 'tflite').mkdir()
    src = tmp_path / 'tflite' / 'pose_detection.tflite'
    shutil.copy(_need(TFLITE / 'pose_detection.tflite'), src)
    shutil.copy(_need(TFLITE / 'pose_landmark_full.tflite'), tmp_path / 'tflite')
    assert main(['--assets', str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert 'pose_detection: 291 TFLite ops' in first and 'pose_landmark_full: 332 TFLite ops' in first
    assert main(['--assets', str(tmp_path)]) == 0
    assert capsys.readouterr().out.count('up to date') == 2
    src.write_bytes(src.read_bytes() + b'\0' * 16)             # new hash, same graph: must re-export
    assert main(['--assets', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'pose_detection: 291 TFLite ops' in out and 'pose_landmark_full: up to date' in out


def test_export_cli_missing_input_exits_2(tmp_path, capsys):
    from nvb_perception.export.pose_models import main
    assert main(['--assets', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pose_detection.tflite' in err and 'make setup' in err


@pytest.mark.parametrize('name', ['hand_landmark_full', 'palm_detection_lite', 'face_landmark', 'iris_landmark'])
def test_other_mediapipe_models_convert(name, exported):
    """Smoke test of ops the pose models do not use (PRELU, MEAN, FULLY_CONNECTED, ...), on a real image."""
    src, onnx_path, _ = exported(name)
    rgb = _image('messi5.jpg')
    import cv2
    tfl = read_tflite(src)
    _, h, w, _ = tfl.tensors[tfl.inputs[0]].shape
    x = (cv2.resize(rgb, (w, h)).astype(np.float32) / 255)[None]
    ref, got, other = _tflite_outputs(src, x), _onnx_outputs(onnx_path, x), _tflite_outputs(src, x, True)
    for k in ref:
        err, spread = _err('rel', got[k], ref[k]), _err('rel', other[k], ref[k])
        assert err <= max(1e-4, 1.5 * spread), f'{name} {k}: rel err {err:.2e}'
