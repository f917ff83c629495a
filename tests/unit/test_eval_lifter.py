"""Lifter evaluation CLI and the safetensors -> ONNX export / fp16 packing, on tiny untrained models (fast)."""
import json
import re

import numpy as np
import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import save_file  # noqa: E402

from nvb_perception.datasets.corruption import CLEAN  # noqa: E402
from nvb_perception.datasets.lifting_windows import SimulationConfig, make_windows  # noqa: E402
from nvb_perception.evaluation import eval_lifter  # noqa: E402
from nvb_perception.export import lifter as export_lifter  # noqa: E402
from nvb_perception.lifting import camera  # noqa: E402
from nvb_perception.skeleton import H36M  # noqa: E402
from nvb_perception.training import lifter_io, pack_lifter  # noqa: E402
from nvb_perception.training.lifter_model import LifterConfig, build_model  # noqa: E402

TINY = LifterConfig(filter_widths=(3, 3), channels=16, dropout=0.0)
TINY_MLP = LifterConfig(kind='mlp', mlp_width=32, mlp_blocks=1, dropout=0.0)


def save_tiny(folder, config, name, seed=0):
    """Weights + sidecar JSON as train_lifter writes them; returns the safetensors path."""
    torch.manual_seed(seed)
    model = build_model(config)
    path = folder / f'{name}.safetensors'
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    path.with_suffix('.json').write_text(json.dumps({'config': config.to_dict(), 'command': 'test'}))
    return path


def standing(frames=200):
    """(F, 17, 3) a person standing upright (z up, metres) swaying slowly: a synthetic mocap segment."""
    base = np.array([[0, 0, 1.0], [-.1, 0, 1.0], [-.1, 0, .55], [-.1, 0, .1], [.1, 0, 1.0], [.1, 0, .55],
                     [.1, 0, .1], [0, 0, 1.25], [0, 0, 1.5], [0, 0, 1.6], [0, 0, 1.75], [.2, 0, 1.45], [.25, 0, 1.2],
                     [.27, 0, .95], [-.2, 0, 1.45], [-.25, 0, 1.2], [-.27, 0, .95]])
    t = np.arange(frames)[:, None, None] / 30.0
    return (base + 0.05 * np.sin(t) * np.array([1.0, 0.5, 0.0])).astype(np.float32)


def test_simulate_is_make_windows_without_augmentation():
    segs = [standing(), standing(150) + 1.0]
    config = SimulationConfig(camera_kind=camera.ANY)
    data = eval_lifter.simulate(segs, 32, 9, np.random.default_rng(5), config)
    x, y, info = make_windows(segs, 32, 9, np.random.default_rng(5), config, augmentation=False)
    np.testing.assert_array_equal(data['inputs'], x)
    np.testing.assert_allclose(data['targets'], y[:, -1], atol=1e-6)
    np.testing.assert_array_equal(data['elevation_deg'], info['elevation_deg'])


def test_up_vector_is_the_world_up_in_the_target_frame():
    data = eval_lifter.simulate([standing()], 64, 9, np.random.default_rng(1),
                                SimulationConfig(corruption=CLEAN))
    np.testing.assert_allclose(np.linalg.norm(data['up'], axis=-1), 1.0, atol=1e-9)
    trunk = data['targets'][:, H36M.THORAX] - data['targets'][:, H36M.PELVIS]
    cos = np.sum(trunk * data['up'], axis=-1) / np.linalg.norm(trunk, axis=-1)
    assert cos.min() > 0.999                       # the synthetic person stands exactly upright
    # a camera looking down at elevation e sees world up tilted away from it: up.z ~ -sin(e) (the ray frame
    # looks at the pelvis, the camera at a point near it)
    tilt = np.degrees(np.arcsin(np.clip(-data['up'][:, 2], -1, 1)))
    assert np.corrcoef(tilt, data['elevation_deg'])[0, 1] > 0.9


def test_angle_rmse_is_zero_for_the_truth_and_grows_with_error():
    data = eval_lifter.simulate([standing()], 16, 9, np.random.default_rng(2), SimulationConfig(corruption=CLEAN))
    same = eval_lifter.angle_rmse(data['targets'], data['targets'], data['up'])
    assert set(same) >= {'trunk_flexion', 'neck_flexion', 'left_elbow_flexion', 'right_knee_flexion'}
    assert max(same.values()) < 1e-6
    noisy = data['targets'] + np.random.default_rng(0).normal(0, 0.03, data['targets'].shape)
    assert np.mean(list(eval_lifter.angle_rmse(noisy, data['targets'], data['up']).values())) > 1.0


def test_score_keys_and_single_frame_mode():
    model = build_model(TINY).eval()
    data = eval_lifter.simulate([standing()], 32, TINY.receptive_field, np.random.default_rng(3))
    r = eval_lifter.score(model, data)
    assert set(r) >= {'mpjpe_mm', 'p_mpjpe_mm', 'per_joint_mm', 'coverage', 'pose'}
    assert len(r['per_joint_mm']) == 17 and r['p_mpjpe_mm'] <= r['mpjpe_mm'] + 1e-6
    assert all(0.0 <= v <= 1.0 for v in r['coverage'].values())
    single = eval_lifter.score(model, data, single_frame=True)
    assert single['mpjpe_mm'] != r['mpjpe_mm']
    mlp = eval_lifter.score(build_model(TINY_MLP).eval(), data)   # reads the last frame of the same windows
    assert np.isfinite(mlp['mpjpe_mm'])


def test_export_is_idempotent_and_matches_onnx_runtime(tmp_path):
    weights = save_tiny(tmp_path, TINY, 'lifter_temporal')
    onnx = tmp_path / 'out' / 'lifter_temporal.onnx'
    exported, diff = export_lifter.export(weights, onnx)
    assert exported and diff < 1e-4 and onnx.is_file()
    sidecar = json.loads(onnx.with_name(onnx.name + '.json').read_text())
    assert sidecar['source_sha256'] == export_lifter.sha256(weights)
    assert export_lifter.export(weights, onnx) == (False, pytest.approx(diff))   # up to date
    save_tiny(tmp_path, TINY, 'lifter_temporal', seed=1)                       # new weights: re-export
    assert export_lifter.export(weights, onnx)[0]
    assert export_lifter.main(['--weights', str(weights), '--out', str(onnx)]) == 0
    assert export_lifter.main(['--weights', str(tmp_path / 'missing.safetensors'), '--out', str(onnx)]) == 2


def test_pack_writes_float16_with_its_parity(tmp_path):
    weights = save_tiny(tmp_path, TINY, 'lifter_temporal')
    storage = pack_lifter.pack(weights, tmp_path / 'pkg', measure_test=False)
    packed = tmp_path / 'pkg' / 'lifter_temporal.safetensors'
    assert storage['dtype'] == 'float16' and packed.stat().st_size < weights.stat().st_size
    assert storage['fp16_vs_fp32_max_abs_pose_m'] < 1e-2
    meta = json.loads(packed.with_suffix('.json').read_text())
    assert meta['storage']['sha256'] == export_lifter.sha256(packed) and meta['config']['channels'] == 16
    model, _ = lifter_io.load_lifter(packed)
    assert next(model.parameters()).dtype == torch.float32


def test_cli_quick_prints_a_table_and_result(tmp_path, assets, capsys):
    weights = save_tiny(tmp_path, TINY, 'lifter_temporal')
    baseline = save_tiny(tmp_path, TINY_MLP, 'lifter_mlp')
    code = eval_lifter.main(['--weights', str(weights), '--baseline', str(baseline), '--quick',
                             '--onnx', str(tmp_path / 'none.onnx'), '--plots', str(tmp_path / 'plots')])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r'^row\s+temporal\s+mlp$', out, re.M)
    last = out.strip().splitlines()[-1]
    assert last.startswith('RESULT ')
    result = json.loads(last[len('RESULT '):])
    for key in ('mpjpe_mm', 'p_mpjpe_mm', 'mpjpe_mm_mlp', 'mpjpe_baseline_mm', 'corrupt30_ratio',
                'unseen_elevation_ratio', 'angle_rmse_deg', 'forgetting_mm', 'ms_per_person_frame'):
        assert key in result
    assert set(result['per_band_mpjpe_mm']) == {'-30..0', '0..30', '30..70'}
    assert set(result['per_corruption_mpjpe_mm']) == {'0', '10', '20', '30', '40', '50'}
    assert result['mpjpe_mm_mlp'] > 0 and result['ms_per_person_frame'] > 0
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == ['bands_corruption.png', 'calibration.png',
                                                                       'per_joint.png']
