"""Evaluate the shipped 3D lifter (and the MLP baseline) on held-out mocap: a table, PNG plots, `RESULT {json}`.

    nvb-eval-lifter                        # shipped nvb_perception/models/lifter_temporal.safetensors on test2
    nvb-eval-lifter --plots runs/eval_lifting --json runs/eval_lifting/result.json
    nvb-eval-lifter --quick                # small sets, for tests (seconds)

Data: the held-out BVH file(s) (--held-out, default test2, never trained on) and the held-out time segments of
the other files ('val', lifting.dataset.split_clips), simulated exactly as lifting.dataset.make_windows does with
augmentation off (no speed change, bone scaling or mirroring; `simulate` below is that function plus the world-up
vector, and a test checks they agree), cameras and 2D errors as in training (LAB cameras, the measured jitter of
lifting.corruption) unless a row says otherwise. Windows are drawn at random places of the held-out clip; the
score is on the last (newest) frame of each window, root-relative, in the root-ray frame, in millimetres.

Rows: MPJPE and P-MPJPE (Procrustes-aligned) on test2 with realistic 2D errors and clean 2D, on the held-out
time segments, per joint; per camera-elevation band (-30..0, 0..30, 30..70 deg, BAND_CAMERAS, since LAB camera
heights cannot reach every band), plus the band above the elevations LAB training cameras reach ('unseen'); per
corruption level (0-50 % of the joints per frame dropped, displaced or swapped on top of the realistic errors);
RMSE of the ergonomics angles (ergonomics.angles.measure with the true world-up vector for both poses, so only the
lifter's error counts) on clean and realistic 2D; uncertainty calibration (the share of joints inside the predicted
isotropic Gaussian's 50 / 90 / 95 % spheres); the temporal lifter in single-frame mode (the newest frame repeated
over its window); the MLP baseline on every row; MediaPipe's world landmarks need images, so they are not scored
on this simulated set (noted); ONNX Runtime latency per person-frame (batch 1, 2 threads).
`forgetting_mm` comes from the incremental-learning record in the shipped JSON (no training happens here).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from nvb_perception.datasets.corruption import CLEAN, corrupt
from nvb_perception.datasets.lifting_windows import SimulationConfig, draw_windows
from nvb_perception.evaluation import lifting_metrics as metrics
from nvb_perception.evaluation.eval_lifter_report import BANDS, CORRUPTION_LEVELS, COVERAGE_RADIUS, plot, table
from nvb_perception.evaluation.eval_lifter_report import fmt as _fmt
from nvb_perception.lifting import camera
from nvb_perception.skeleton import H36M
from nvb_perception.training.lifter_io import DEFAULT_WEIGHTS, PACKAGE_MODELS, load_lifter, load_splits

# Cameras of the elevation bands: camera.ANY, allowed down to 1 m below the floor the person stands on (a person
# on a stage or stairs above the camera), else -30 deg at 2-8 m is unreachable for most poses.
BAND_CAMERAS = replace(camera.ANY, height_m=(-1.0, 10.0))
_SPLITS: dict = {}


def bvh_dir() -> Path:
    return Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets')) / 'data' / 'bvh'


def splits(held_out: tuple[str, ...] = ('test2',), directory: Path | None = None) -> dict:
    """lifting.dataset.split_clips of every BVH file (cached per process)."""
    key = (held_out, str(directory or bvh_dir()))
    if key not in _SPLITS:
        _SPLITS[key] = load_splits(Path(key[1]), held_out)
    return _SPLITS[key]


def simulate(segments: list[np.ndarray], n: int, frames: int, rng: np.random.Generator,
             config: SimulationConfig = SimulationConfig()) -> dict[str, np.ndarray]:
    """make_windows(..., augmentation=False) that also returns the world-up vector of each window's last frame.

    Returns:
        inputs (n, T, 17, 3), targets (n, 17, 3) (last frame), elevation_deg (n,), up (n, 3) world +z in the
        last frame's root-ray frame (the frame of the targets).
    """
    world = draw_windows(segments, n, frames, rng, (1.0, 1.0))
    cams = camera.sample_cameras(rng, n, world[:, -1, H36M.PELVIS], config.camera_kind, frames,
                                 config.elevation_deg)
    cam_points = camera.world_to_camera(world, cams.rotation, cams.position)
    pixels, in_front = camera.project(cam_points, cams.intrinsics)
    keypoints, confidence = corrupt(pixels, in_front, cams.image_size, rng, config.corruption)
    inputs = camera.normalize_keypoints(keypoints, confidence)
    root = cam_points[..., H36M.PELVIS, :]
    ray = camera.ray_rotation(root)
    targets = (cam_points - root[..., None, :]) @ np.swapaxes(ray, -1, -2)
    rot_last = cams.rotation if cams.rotation.ndim == 3 else cams.rotation[:, -1]
    up = np.einsum('nab,nb->na', ray[:, -1] @ rot_last, np.broadcast_to([0.0, 0.0, 1.0], (n, 3)))
    return {'inputs': inputs, 'targets': targets[:, -1].astype(np.float32), 'elevation_deg': cams.elevation_deg,
            'up': up}


def test_set(seed: int = 0, n: int = 4096, frames: int = 27, split: str = 'test',
             config: SimulationConfig = SimulationConfig(), held_out: tuple[str, ...] = ('test2',)) -> dict:
    """Simulated windows of one split; raises FileNotFoundError without BVH files."""
    if not sorted(bvh_dir().glob('*.bvh')):
        raise FileNotFoundError(f'no .bvh files in {bvh_dir()}; run `make setup` to fetch them')
    return simulate(splits(held_out)[split], n, frames, np.random.default_rng(seed), config)


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode pose (N, 17, 3) metres and log_var (N, 17); a single-frame model reads the last frame."""
    model.eval()
    frames = model.config.receptive_field
    inputs = inputs[:, -frames:]
    outs = [model(torch.from_numpy(np.ascontiguousarray(inputs[i:i + batch_size])))
            for i in range(0, len(inputs), batch_size)]
    return torch.cat([o[0] for o in outs]).numpy(), torch.cat([o[1] for o in outs]).numpy()


def score(model: torch.nn.Module, data: dict, single_frame: bool = False) -> dict:
    """MPJPE, P-MPJPE (mm), per joint (mm), coverage of the predicted 50/90/95 % spheres; the raw predictions."""
    inputs = data['inputs']
    if single_frame:
        inputs = np.repeat(inputs[:, -1:], inputs.shape[1], axis=1)
    pose, log_var = predict(model, inputs)
    target = data['targets']
    err = np.linalg.norm(pose - target, axis=-1)
    std = np.exp(0.5 * log_var)
    return {'mpjpe_mm': 1000 * float(err.mean()), 'p_mpjpe_mm': 1000 * metrics.p_mpjpe(pose, target),
            'per_joint_mm': (1000 * err.mean(axis=0)).round(1).tolist(),
            'coverage': {str(p): float(np.mean(err <= r * std)) for p, r in COVERAGE_RADIUS.items()},
            'mean_std_mm': 1000 * float(std.mean()), 'pose': pose}


def angles(poses: np.ndarray, up: np.ndarray) -> dict[str, np.ndarray]:
    """ergonomics.angles.measure of each (17, 3) pose with its up vector: name -> (N,) degrees."""
    from nvb_perception.ergonomics.angles import measure
    rows = [measure(p, None, tuple(float(x) for x in u))[0] for p, u in zip(poses.astype(np.float64), up)]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def angle_rmse(pred: np.ndarray, target: np.ndarray, up: np.ndarray) -> dict[str, float]:
    """Per-angle RMSE in degrees (differences wrapped to +-180; NaN angles skipped)."""
    a, b = angles(pred, up), angles(target, up)
    out = {}
    for k in a:
        d = (a[k] - b[k] + 180.0) % 360.0 - 180.0
        out[k] = float(np.sqrt(np.nanmean(d ** 2)))
    return out


def seen_elevation_max(train_segments: list[np.ndarray], kind: camera.CameraKind, seed: int = 0,
                       n: int = 4096) -> float:
    """99th percentile of the elevations training cameras of `kind` actually reach (height limits cut them)."""
    rng = np.random.default_rng([seed, 77])
    pelvis = draw_windows(train_segments, n, 1, rng)[:, -1, H36M.PELVIS]
    return float(np.percentile(camera.sample_cameras(rng, n, pelvis, kind, 1).elevation_deg, 99))


def onnx_latency_ms(weights: Path, onnx_path: Path | None, runs: int) -> tuple[float, str]:
    """Median ONNX Runtime time of one person-frame (batch 1, 2 intra-op threads) and which file was timed."""
    from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
    from nvb_perception.export.lifter import export, parity_inputs
    from nvb_perception.training.lifter_io import read_meta
    from nvb_perception.training.lifter_model import LifterConfig
    frames = LifterConfig(**read_meta(weights)['config']).receptive_field
    with tempfile.TemporaryDirectory() as tmp:
        path = onnx_path
        if path is None or not path.is_file():
            path = Path(tmp) / 'lifter.onnx'
            export(weights, path)
        x = parity_inputs(frames, 1)
        with OnnxRuntimeBackend(path, device='cpu', threads=2) as backend:
            for _ in range(5):
                backend({'keypoints_2d': x})
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                backend({'keypoints_2d': x})
                times.append(time.perf_counter() - t0)
        return 1000 * float(np.median(times)), str(onnx_path if path == onnx_path else 'exported to a temp file')


def default_baseline() -> Path | None:
    """The MLP baseline's weights: in the package if shipped there, else in $NVB_PERCEPTION_ASSETS/models."""
    from nvb_perception.assets import model_dir
    for path in (PACKAGE_MODELS / 'lifter_mlp.safetensors', model_dir() / 'lifter_mlp.safetensors'):
        if path.is_file():
            return path
    return None


def evaluate_model(model, sets: dict, with_angles: bool = True) -> dict:
    """Every row for one model; `sets` from build_sets."""
    out = {}
    for name in ('test', 'test_clean', 'val'):
        r = score(model, sets[name])
        out[name] = {k: v for k, v in r.items() if k != 'pose'}
        if with_angles and name in ('test', 'test_clean'):
            out[name]['angle_rmse_deg'] = angle_rmse(r['pose'], sets[name]['targets'], sets[name]['up'])
    out['bands'] = {b: score(model, sets[f'band {b}'])['mpjpe_mm'] for b in (*BANDS, 'seen', 'unseen')}
    out['corruption'] = {str(round(100 * f)): score(model, sets[f'corrupt {f}'])['mpjpe_mm']
                         for f in CORRUPTION_LEVELS}
    out['coverage90_by_corruption'] = {str(round(100 * f)): score(model, sets[f'corrupt {f}'])['coverage']['90']
                                       for f in CORRUPTION_LEVELS}
    if model.config.kind == 'temporal':
        out['single_frame_mpjpe_mm'] = score(model, sets['test'], single_frame=True)['mpjpe_mm']
    return out


def build_sets(n: int, frames: int, seed: int, held_out: tuple[str, ...]) -> tuple[dict, float]:
    """Every evaluation set (a fixed seed per set) and the highest elevation LAB training cameras reach."""
    sim = SimulationConfig()
    sp = splits(held_out)

    def make(split, config, k):
        return simulate(sp[split], n, frames, np.random.default_rng([seed, 20_000 + k]), config)

    sets = {'test': make('test', sim, 0), 'test_clean': make('test', replace(sim, corruption=CLEAN), 0),
            'val': make('val', sim, 1)}
    seen_max = seen_elevation_max(sp['train'], sim.camera_kind, seed)
    bands = dict(BANDS, seen=(-30.0, seen_max), unseen=(seen_max, 70.0))
    for i, (b, rng_deg) in enumerate(bands.items()):
        sets[f'band {b}'] = make('test', replace(sim, camera_kind=BAND_CAMERAS, elevation_deg=rng_deg), 10 + i)
    for i, f in enumerate(CORRUPTION_LEVELS):
        sets[f'corrupt {f}'] = make('test', replace(sim, corruption=replace(sim.corruption, fraction_corrupted=f)),
                                    30 + i)
    return sets, seen_max


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', type=Path, default=DEFAULT_WEIGHTS, help='temporal lifter safetensors (+ .json)')
    p.add_argument('--baseline', type=Path, default=None,
                   help='MLP baseline safetensors (default: package, else $NVB_PERCEPTION_ASSETS/models)')
    p.add_argument('--held-out', default='test2')
    p.add_argument('--windows', type=int, default=4096, help='windows per evaluation set')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--onnx', type=Path, default=None, help='ONNX file to time (default: the exported asset, '
                                                           'else a temporary export)')
    p.add_argument('--plots', type=Path, default=None, help='folder for PNG plots')
    p.add_argument('--json', type=Path, default=None, help='also write the full result here')
    p.add_argument('--quick', action='store_true', help='256 windows per set, 20 timing runs (tests)')
    p.add_argument('--threads', type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> int:
    # the report module imports this one's protocol constants, so it is imported here, not at the top
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore', 'Mean of empty slice', RuntimeWarning)
    start = time.perf_counter()
    n = 256 if args.quick else args.windows
    held_out = tuple(args.held_out.split(','))
    try:
        temporal, meta = load_lifter(args.weights)
    except FileNotFoundError as error:
        print(f'nvb-eval-lifter: {error}', file=sys.stderr)
        return 2
    baseline_path = args.baseline or default_baseline()
    notes = ["MediaPipe world landmarks: not scored, they need images and this set is simulated from mocap "
             "(see the pose stage's goldens for them on real frames)"]
    models = {'temporal': temporal}
    if baseline_path is not None:
        models['mlp'] = load_lifter(baseline_path)[0]
    else:
        notes.append('MLP baseline weights not found (nvb_perception/models or $NVB_PERCEPTION_ASSETS/models/'
                     'lifter_mlp.safetensors): mpjpe_mm_mlp is the value recorded at training time')
    frames = temporal.config.receptive_field
    try:
        sets, seen_max = build_sets(n, frames, args.seed, held_out)
    except SystemExit as error:   # load_splits: no BVH files
        print(f'nvb-eval-lifter: {error}', file=sys.stderr)
        return 2
    result = {'weights': str(args.weights), 'baseline': str(baseline_path) if baseline_path else None,
              'held_out': list(held_out), 'windows': n, 'seed': args.seed, 'seen_elevation_max_deg': seen_max,
              'models': {k: evaluate_model(m, sets) for k, m in models.items()}}
    result['angle_names'] = list(result['models']['temporal']['test_clean']['angle_rmse_deg'])
    t = result['models']['temporal']
    mlp = result['models'].get('mlp')
    recorded_mlp = None
    if mlp is None:
        rec = PACKAGE_MODELS / 'lifter_mlp.json'
        if rec.is_file():
            recorded_mlp = json.loads(rec.read_text()).get('results', {}).get('test', {}).get('mpjpe_mm')
    mlp_mpjpe = mlp['test']['mpjpe_mm'] if mlp else recorded_mlp
    try:
        ms, timed = onnx_latency_ms(args.weights, args.onnx or _asset_onnx(args.weights), 20 if args.quick else 300)
    except Exception as error:   # noqa: BLE001 - timing is a report row, not a reason to fail the evaluation
        ms, timed = None, f'not measured: {error}'
    bands = t['bands']
    corr = t['corruption']
    summary = {
        'mpjpe_mm': t['test']['mpjpe_mm'], 'p_mpjpe_mm': t['test']['p_mpjpe_mm'],
        'mpjpe_clean_mm': t['test_clean']['mpjpe_mm'], 'mpjpe_val_segments_mm': t['val']['mpjpe_mm'],
        'mpjpe_mm_mlp': mlp_mpjpe, 'mpjpe_baseline_mm': mlp_mpjpe,
        'p_mpjpe_mm_mlp': mlp['test']['p_mpjpe_mm'] if mlp else None,
        'ratio_to_baseline': t['test']['mpjpe_mm'] / mlp_mpjpe if mlp_mpjpe else None,
        'mpjpe_single_frame_mm': t['single_frame_mpjpe_mm'],
        'per_band_mpjpe_mm': {b: bands[b] for b in BANDS},
        'per_band_mpjpe_mm_mlp': {b: mlp['bands'][b] for b in BANDS} if mlp else None,
        'per_corruption_mpjpe_mm': corr,
        'per_corruption_mpjpe_mm_mlp': mlp['corruption'] if mlp else None,
        'corrupt30_ratio': corr['30'] / corr['0'],
        'seen_elevation_max_deg': seen_max,
        'unseen_elevation_ratio': bands['unseen'] / bands['seen'],
        'angle_rmse_deg': float(np.mean(list(t['test_clean']['angle_rmse_deg'].values()))),
        'angle_rmse_max_deg': float(np.max(list(t['test_clean']['angle_rmse_deg'].values()))),
        'angle_rmse_deg_realistic': float(np.mean(list(t['test']['angle_rmse_deg'].values()))),
        'angle_rmse_per_angle_deg': {k: round(v, 2) for k, v in t['test_clean']['angle_rmse_deg'].items()},
        'coverage': t['test']['coverage'], 'coverage90': t['test']['coverage']['90'],
        'per_joint_mm': dict(zip([j.name.lower() for j in H36M], t['test']['per_joint_mm'])),
        'forgetting_mm': (meta.get('incremental') or {}).get('forgetting_mm'),
        'ms_per_person_frame': ms, 'timed': timed, 'windows': n, 'quick': args.quick,
        'mediapipe_world_mpjpe_mm': None, 'notes': notes,
    }
    if summary['forgetting_mm'] is None:
        notes.append('forgetting_mm: no incremental-learning record in the shipped JSON')
    result['summary'] = summary
    print(f'== 3D lifter evaluation: {args.weights.name} vs {baseline_path.name if baseline_path else "no MLP"}, '
          f'held out {",".join(held_out)}, {n} windows per set, seed {args.seed}')
    print(table(result))
    if mlp is None and recorded_mlp is not None:
        print(f'MLP baseline (recorded at training): test2 MPJPE {recorded_mlp:.1f} mm')
    print(f'ONNX Runtime per person-frame: {_fmt(ms, 2)} ms ({timed})')
    for note in notes:
        print('note:', note)
    if args.plots:
        for path in plot(result, args.plots):
            print('plot:', path)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print(f'({time.perf_counter() - start:.0f} s)')
    print('RESULT ' + json.dumps(summary))
    return 0


def _asset_onnx(weights: Path) -> Path | None:
    """The exported asset if nvb-export-lifter made it from these very weights (its sidecar says so)."""
    from nvb_perception.assets import file_sha256 as sha256
    from nvb_perception.training.lifter_io import default_onnx
    path = default_onnx()
    sidecar = path.with_name(path.name + '.json')
    try:
        same = json.loads(sidecar.read_text()).get('source_sha256') == sha256(weights)
    except (OSError, ValueError):
        return None
    return path if same and path.is_file() else None


if __name__ == '__main__':
    sys.exit(main())
