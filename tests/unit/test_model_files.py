"""Missing and corrupt model, engine and weight files: a one-line PerceptionError naming the file and the fix.

Every loader of a file the package did not just compute is run on a real file that is then deleted, cut short
or replaced by garbage. The TensorRT engine cache (backends.engines) has its own such tests in test_engines.py,
the ONNX Runtime backend in test_backends.py. A source scan keeps pickle out of every loader, and one process
test checks what a user sees when lifting_node is pointed at a bad model.
"""
import ast
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nvb_perception.assets import model_dir
from nvb_perception.errors import PerceptionError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_MODELS = ROOT / 'nvb_perception' / 'models'
SETUP = 'make setup'


def damage(path: Path, how: str) -> None:
    """Delete the file, cut it to a third (at most 1 MB kept), or overwrite it with random bytes."""
    if how == 'missing':
        path.unlink()
    elif how == 'truncated':
        data = path.read_bytes()
        path.write_bytes(data[:min(len(data) // 3, 1 << 20)])
    else:
        path.write_bytes(np.random.default_rng(0).bytes(4096))


def stage(tmp_path: Path, sources: list[Path]) -> Path:
    """A folder with links to the real files, so that only the one under test is damaged."""
    folder = tmp_path / 'models'
    folder.mkdir()
    for src in sources:
        if not src.is_file():
            pytest.skip(f'{src} missing: run `make setup`')
        (folder / src.name).symlink_to(src)
    return folder


def expect_clear_error(load, path: Path, how: str, fix: str) -> None:
    """`load()` raises a PerceptionError whose single line names `path` and contains `fix`."""
    if path.is_symlink():                        # a private copy: never damage the shared asset
        real = path.resolve().read_bytes()
        path.unlink()
        path.write_bytes(real)
    damage(path, how)
    with pytest.raises(PerceptionError) as error:
        load()
    message = str(error.value)
    assert str(path) in message and fix in message, message
    assert '\n' not in message, message


HOWS = ('missing', 'truncated', 'garbage')


def onnx_cases():
    """(id, model files to stage, the file to damage, loader(folder), fix) for every ONNX/asset loader."""
    from nvb_perception.actions.backbone import AttentionBackbone
    from nvb_perception.cues.face import FaceLandmarker
    from nvb_perception.cues.hands import HandLandmarker
    from nvb_perception.lifting.lifter import Lifter
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    face = ['face_detector.onnx', 'face_landmarks_detector.onnx', 'face_blendshapes.onnx',
            'face_geometry_landmarks.binarypb']
    hands = ['hand_landmark_full.onnx', 'hand_recrop.onnx', 'palm_detection_full.onnx']
    pose = ['pose_detection.onnx', 'pose_landmark_full.onnx']
    fast = {'prefer': ('onnxruntime',), 'threads': 1}
    cases = [('lifter', ['lifter_temporal.onnx'], 'lifter_temporal.onnx',
              lambda d: Lifter.from_path(d / 'lifter_temporal.onnx'), SETUP),
             ('vit', ['vit_s14_attn.onnx'], 'vit_s14_attn.onnx',
              lambda d: AttentionBackbone.from_path(d / 'vit_s14_attn.onnx', threads=1), SETUP)]
    for name in pose:
        cases.append((f'pose:{name}', pose, name,
                      lambda d: PoseEstimator.from_config(PoseConfig(model_dir=str(d), **fast)), SETUP))
    for name in face:
        cases.append((f'face:{name}', face, name, lambda d: FaceLandmarker.from_dir(d, **fast), SETUP))
    for name in hands:
        cases.append((f'hands:{name}', hands, name, lambda d: HandLandmarker.from_dir(d, **fast), SETUP))
    return cases


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('case', onnx_cases(), ids=lambda c: c[0])
def test_onnx_and_asset_loaders(case, how, tmp_path):
    _, names, target, load, fix = case
    folder = stage(tmp_path, [model_dir() / n for n in names])
    expect_clear_error(lambda: load(folder), folder / target, how, fix)


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('target', ['actions_flow.onnx', 'actions_flow.onnx.json'])
def test_action_head(target, how, action_head, tmp_path):
    from nvb_perception.actions.recognizer import ActionRecognizer
    folder = stage(tmp_path, [action_head, action_head.with_name('actions_flow.onnx.json')])
    fix = 'export.action_head' if target.endswith('.json') else SETUP
    expect_clear_error(lambda: ActionRecognizer.from_paths(model_dir() / 'vit_s14_attn.onnx',
                                                           folder / 'actions_flow.onnx', threads=1),
                       folder / target, how, fix)


@pytest.mark.parametrize('how', HOWS)
def test_tflite_reader(how, tmp_path):
    from nvb_perception.assets import assets_dir
    from nvb_perception.export.tflite_model import read_tflite
    folder = stage(tmp_path, [assets_dir() / 'tflite' / 'pose_detection.tflite'])
    expect_clear_error(lambda: read_tflite(folder / 'pose_detection.tflite'), folder / 'pose_detection.tflite',
                       how, SETUP)


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('target', ['lifter_temporal.safetensors', 'lifter_temporal.json'])
def test_lifter_weights(target, how, tmp_path):
    pytest.importorskip('torch')
    from nvb_perception.export.lifter import load_lifter
    folder = stage(tmp_path, [PACKAGE_MODELS / 'lifter_temporal.safetensors', PACKAGE_MODELS / 'lifter_temporal.json'])
    expect_clear_error(lambda: load_lifter(folder / 'lifter_temporal.safetensors'), folder / target, how,
                       'nvb-train-lifter')


@pytest.mark.parametrize('how', HOWS)
def test_vit_weights(how, tmp_path):
    pytest.importorskip('torch')
    from nvb_perception.export.vit import load_vit
    folder = stage(tmp_path, [model_dir() / 'vit_s14_dinov2.safetensors'])
    expect_clear_error(lambda: load_vit(folder / 'vit_s14_dinov2.safetensors'),
                       folder / 'vit_s14_dinov2.safetensors', how, 'extract_vit')


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('suffix', ['.safetensors', '.json'])
def test_action_checkpoint(suffix, how, tmp_path):
    torch = pytest.importorskip('torch')
    from nvb_perception.training.action_checkpoint import load_checkpoint, save_checkpoint
    from nvb_perception.training.action_model import ActionModelConfig, build_action_model
    torch.manual_seed(0)
    save_checkpoint(tmp_path / 'actions_flow', build_action_model(ActionModelConfig(kind='flow', motion_dim=8)), {})
    load_checkpoint(tmp_path / 'actions_flow')                            # the intact checkpoint loads
    expect_clear_error(lambda: load_checkpoint(tmp_path / 'actions_flow'), tmp_path / f'actions_flow{suffix}', how,
                       'train_actions')


@pytest.mark.parametrize('how', HOWS)
@pytest.mark.parametrize('target', ['backbone.npz', 'backbone_tracks.npz'])
def test_action_caches(target, how, tmp_path):
    from nvb_perception.datasets.action_features import BackboneCache, load_cache, save_cache
    from nvb_perception.datasets.action_labels import Tracks
    n = 3
    tracks = Tracks(np.arange(n), np.zeros(n, np.int64), np.ones((n, 4), np.float32), np.zeros((n, 33, 2), np.float32),
                    np.ones((n, 33), np.float32), (64, 48), 10.0, n)
    half = np.zeros((n, 2, 6), np.float16)
    save_cache(tmp_path / 'backbone.npz', BackboneCache(np.zeros((n, 2, 6, 4, 4), np.float16), half, half,
                                                        np.ones((n, 4), np.float32), tracks, {'crop': 'x'}))
    assert load_cache(tmp_path / 'backbone.npz').meta == {'crop': 'x'}
    expect_clear_error(lambda: load_cache(tmp_path / 'backbone.npz'), tmp_path / target, how, 'computes it again')


def test_npz_with_pickled_objects_is_refused(tmp_path):
    from nvb_perception.datasets.action_labels import load_tracks
    path = tmp_path / 'tracks.npz'
    np.savez(path, frame=np.array([{'a': 1}], dtype=object))
    with pytest.raises(PerceptionError, match=re.escape(str(path))):
        load_tracks(path)


def test_wrong_model_as_lifter(tmp_path):
    from nvb_perception.lifting.lifter import Lifter
    folder = stage(tmp_path, [model_dir() / 'hand_recrop.onnx'])
    with pytest.raises(PerceptionError, match='hand_recrop.onnx is not a usable lifter.*nvb-export-lifter'):
        Lifter.from_path(folder / 'hand_recrop.onnx')


# --- no pickle anywhere ---------------------------------------------------------------------------------------

PICKLE_CALLS = {'pickle.load', 'pickle.loads', 'pickle.Unpickler', 'cPickle.load', 'dill.load', 'dill.loads',
                'joblib.load', 'cloudpickle.load', 'cloudpickle.loads', 'pd.read_pickle', 'pandas.read_pickle'}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return '.'.join(reversed(parts))


def _keyword_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def pickle_problems(source: str, filename: str) -> list[str]:
    """Loads that can unpickle: torch.load without weights_only=True, np.load(allow_pickle=True), pickle & co."""
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f'{filename}:{getattr(node, "lineno", "?")}'
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split('.')[0] in ('pickle', 'cPickle', 'dill', 'cloudpickle', 'joblib') for n in names):
                problems.append(f'{where}: imports {names}')
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name == 'torch.load' and not _keyword_true(node, 'weights_only'):
            problems.append(f'{where}: torch.load without weights_only=True')
        elif name in ('np.load', 'numpy.load') and _keyword_true(node, 'allow_pickle'):
            problems.append(f'{where}: np.load(allow_pickle=True)')
        elif name in PICKLE_CALLS:
            problems.append(f'{where}: {name}')
    return problems


def python_files():
    for folder in ('nvb_perception', 'tests', 'scripts', 'benchmarks', 'launch'):
        for dirpath, dirnames, filenames in os.walk(ROOT / folder):
            dirnames[:] = [d for d in dirnames if not d.startswith('.') and d != '__pycache__']
            yield from (Path(dirpath) / f for f in filenames if f.endswith('.py'))


def test_scan_finds_the_patterns():
    bad = ('import pickle\nimport torch, numpy as np\ntorch.load("w.pt")\ntorch.load("w.pt", weights_only=False)\n'
           'np.load("a.npy", allow_pickle=True)\npickle.loads(b"")\n')
    assert len(pickle_problems(bad, 'bad.py')) == 5
    assert pickle_problems('torch.load("w.pt", weights_only=True)\nnp.load("a.npz")\n', 'ok.py') == []


def test_no_pickle_loading_in_the_source_tree():
    files = list(python_files())
    assert len(files) > 50
    problems = [p for f in files for p in pickle_problems(f.read_text(), str(f.relative_to(ROOT)))]
    assert problems == []


# --- what a user sees ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_lifting_node_with_a_bad_model_exits_2_with_one_line(tmp_path):
    pytest.importorskip('rclpy')
    from nvb_perception.launcher.processes import NodeProcess, ProcessGraph
    corrupt = tmp_path / 'lifter_temporal.onnx'
    corrupt.write_bytes((model_dir() / 'lifter_temporal.onnx').read_bytes()[:5000])
    wrong = tmp_path / 'hand_recrop.onnx'
    shutil.copy(model_dir() / 'hand_recrop.onnx', wrong)
    cases = {'corrupt': (corrupt, 'is not a valid ONNX model'), 'wrong': (wrong, 'is not a usable lifter'),
             'missing': (tmp_path / 'nope.onnx', 'lifter model not found')}
    nodes = {name: NodeProcess('lifting_node', {'model': str(path)}, name=f'lifting_{name}')
             for name, (path, _) in cases.items()}
    with ProcessGraph(list(nodes.values()), tmp_path / 'logs'):
        for name, (path, text) in cases.items():
            node = nodes[name]
            assert node.wait(60) == 2, node.log()
            log = node.log()
            errors = [line for line in log.splitlines() if re.match(r'\[\w+\] error: ', line)]
            assert len(errors) == 1 and str(path) in errors[0] and text in errors[0], log
            assert 'Traceback' not in log, log
