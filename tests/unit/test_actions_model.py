"""Adapters + class-temporal head and baselines: shapes, causality, parameter budget, learning, checkpoints, ONNX."""
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from nvb_perception.evaluation.action_metrics import frame_map  # noqa: E402
from nvb_perception.export.vit import DinoV2ViT  # noqa: E402
from nvb_perception.training.action_checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from nvb_perception.training.action_model import (  # noqa: E402
    KINDS,
    ActionModelConfig,
    attention_bias,
    build_action_model,
    trainable_parameters,
)
from nvb_perception.training.train_actions import Samples, fit, predict  # noqa: E402

PARITY_TOLERANCE = 1e-4    # probabilities
SMALL = dict(token_layers=2, token_dim=16, motion_dim=8, window=6, dim=16, adapter_dim=8, heads=2, num_classes=3)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.mark.parametrize('kind', KINDS)
def test_shapes_and_parameter_budget(kind):
    model = build_action_model(ActionModelConfig(kind=kind)).eval()
    out = model(torch.randn(3, 16, 3, 768), torch.randn(3, 16, 193), torch.ones(3, 16))
    assert out.shape == (3, 6)
    vit = sum(p.numel() for p in DinoV2ViT().parameters())
    assert trainable_parameters(model) / vit <= 0.10


@pytest.mark.parametrize('kind', KINDS)
def test_padding_content_is_ignored(kind):
    """Frames before the track started (mask 0) cannot change the output: the streaming start is clean."""
    model = build_action_model(ActionModelConfig(kind=kind, **SMALL)).eval()
    tokens, motion = torch.randn(2, 6, 2, 16), torch.randn(2, 6, 9)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]], dtype=torch.float32)
    noisy_t = tokens + (1 - mask)[..., None, None] * torch.randn_like(tokens) * 10
    noisy_m = motion + (1 - mask)[..., None] * torch.randn_like(motion) * 10
    with torch.no_grad():
        torch.testing.assert_close(model(tokens, motion, mask), model(noisy_t, noisy_m, mask), atol=1e-5, rtol=0)


def test_attention_bias_is_causal_over_time_and_classes():
    mask = torch.tensor([[0.0, 1.0, 1.0]])
    bias = attention_bias(mask, repeat=2)[0] < 0          # (6, 6) True = blocked, tokens time-major
    time = np.repeat(np.arange(3), 2)
    for q in range(6):
        for k in range(6):
            expected = (time[k] > time[q] or time[k] == 0) and q != k
            assert bool(bias[q, k]) == expected, (q, k)


def synthetic_samples(n=400, seed=0):
    """Labels given by the sign of a motion feature; tokens are noise shared by both playback directions."""
    rng = np.random.default_rng(seed)
    t = SMALL['window']
    tokens = rng.normal(size=(n, 2, 16)).astype(np.float32)
    direction = rng.choice([-1.0, 1.0], n)
    motion = np.zeros((2, n, 9), np.float32)
    motion[0, :, 0], motion[1, :, 0] = direction, -direction          # forward and reversed views
    motion[:, :, 1:8] = rng.normal(size=(2, n, 7)) * 0.3
    motion[:, :, 8] = 1.0
    labels = np.zeros((2, n, 3), bool)
    labels[0, :, 0], labels[0, :, 1] = direction > 0, direction < 0
    labels[1, :, 0], labels[1, :, 1] = direction < 0, direction > 0
    labels[:, :, 2] = (tokens[:, 0, 0] > 0)[None]                       # an appearance class
    window = np.full((2, n, t), -1, np.int64)
    window[:, :, -1] = np.arange(n)
    index = np.concatenate([np.stack([np.full(n, v), np.arange(n)], 1) for v in range(2)])
    return Samples(tokens, motion, window, labels, index)


def test_flow_model_learns_motion_that_framemean_cannot_see():
    train, test = synthetic_samples(seed=0), synthetic_samples(seed=1)
    maps = {}
    for kind in ('flow', 'framemean'):
        model = build_action_model(ActionModelConfig(kind=kind, **SMALL))
        fit(model, train, epochs=15, batch_size=64, lr=3e-3, seed=0)
        probs = predict(model, test)
        maps[kind] = frame_map(probs[:, :2], test.labels[test.index[:, 0], test.index[:, 1]][:, :2])[0]
    assert maps['flow'] > 0.95
    assert maps['framemean'] < 0.65      # both directions share the frames: chance is ~0.5


def test_checkpoint_and_onnx_parity(tmp_path):
    from nvb_perception.export.action_head import export_onnx
    model = build_action_model(ActionModelConfig(kind='flow', **SMALL))
    fit(model, synthetic_samples(n=64), epochs=1, batch_size=32)
    save_checkpoint(tmp_path / 'actions_flow', model, {'classes': ['a', 'b', 'c']})
    back, meta = load_checkpoint(tmp_path / 'actions_flow.safetensors')
    assert meta['classes'] == ['a', 'b', 'c'] and meta['model']['kind'] == 'flow'
    for a, b in zip(model.state_dict().values(), back.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert export_onnx(back, tmp_path / 'head.onnx') <= PARITY_TOLERANCE
    assert not back.training


@pytest.mark.parametrize('kind', KINDS)
def test_indexed_training_path_equals_streaming_forward(kind):
    samples = synthetic_samples(n=30)
    samples.window[:, :, :] = -1
    for r in range(30):     # overlapping causal windows of one long track
        w = np.arange(max(0, r - 5), r + 1)
        samples.window[:, r, 6 - len(w):] = w
    model = build_action_model(ActionModelConfig(kind=kind, **SMALL)).eval()
    which = np.arange(0, 60, 3)
    b = samples.batch_indexed(which)
    tokens, motion, mask, labels = samples.batch(which)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens, motion, mask),
                                   model.forward_indexed(b['tokens'], b['token_index'], b['motion'],
                                                         b['motion_index'], b['mask']), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(labels, b['labels'])
