"""Lifter models (shapes, causality, size), training determinism, ONNX parity and the runtime Lifter."""
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from nvb_perception.export import lifter as export_lifter  # noqa: E402
from nvb_perception.lifting.lifter import Lifter  # noqa: E402
from nvb_perception.skeleton import BlazePose  # noqa: E402
from nvb_perception.training import lifter_fit, train_lifter  # noqa: E402
from nvb_perception.training.lifter_model import LifterConfig, build_model, count_parameters, lifter_loss  # noqa: E402
from nvb_perception.types import Skeleton2D, TrackState  # noqa: E402

TINY = LifterConfig(filter_widths=(3, 3), channels=16, dropout=0.0)
TINY_MLP = LifterConfig(kind='mlp', mlp_width=32, mlp_blocks=1, dropout=0.0)


@pytest.mark.parametrize('config, params', [
    (LifterConfig(), 583_492), (LifterConfig(kind='mlp'), 4_331_588),
    (LifterConfig(filter_widths=(3, 3, 3, 3)), 846_660), (LifterConfig(filter_widths=(3, 3, 3, 3), channels=512),
                                                           3_266_116)])
def test_default_models_stay_under_five_million_parameters(config, params):
    assert count_parameters(build_model(config)) == params <= 5_000_000


@pytest.mark.parametrize('config', [TINY, TINY_MLP])
def test_shapes(config):
    model = build_model(config).eval()
    pose, log_var = model(torch.randn(4, config.receptive_field, 17, 3))
    assert pose.shape == (4, 17, 3) and log_var.shape == (4, 17)
    assert config.receptive_field == (9 if config.kind == 'temporal' else 1)


def test_wrong_window_length_is_refused():
    with pytest.raises(ValueError, match='expected 9 frames'):
        build_model(TINY)(torch.zeros(1, 8, 17, 3))
    with pytest.raises(ValueError, match='kind'):
        LifterConfig(kind='transformer')


def test_strided_window_equals_the_dilated_sequence_model():
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    x = torch.randn(3, 20, 17, 3)
    seq, seq_var = model.forward_sequence(x)                  # (3, 12, 17, 3)
    assert seq.shape == (3, 12, 17, 3)
    for end in (9, 15, 20):
        pose, log_var = model(x[:, end - 9:end])
        torch.testing.assert_close(pose, seq[:, end - 9], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(log_var, seq_var[:, end - 9], atol=1e-5, rtol=1e-5)


def test_causal_future_frames_do_not_change_past_outputs():
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    x = torch.randn(2, 30, 17, 3)
    changed = x.clone()
    changed[:, 20:] = torch.randn(2, 10, 17, 3)
    a, _ = model.forward_sequence(x)
    b, _ = model.forward_sequence(changed)
    last_unchanged = 20 - 9                                    # output k reads frames k .. k + 8
    torch.testing.assert_close(a[:, :last_unchanged + 1], b[:, :last_unchanged + 1])
    assert not torch.allclose(a[:, last_unchanged + 1:], b[:, last_unchanged + 1:])


def test_loss_trains_pose_by_mpjpe_and_variance_by_nll():
    pose = torch.zeros(2, 17, 3, requires_grad=True)
    log_var = torch.zeros(2, 17, requires_grad=True)
    target = torch.full((2, 17, 3), 2.0)
    loss, mpjpe = lifter_loss(pose, log_var, target)
    assert mpjpe.item() == pytest.approx(2 * 3 ** 0.5)
    loss.backward()
    # the NLL does not pull on the pose: its gradient is the MPJPE gradient alone
    torch.testing.assert_close(pose.grad, -torch.ones(2, 17, 3) / 3 ** 0.5 / 34)
    assert (log_var.grad < 0).all()         # squared error 12 m^2 > 3 x variance 1 m^2: the variance grows


def tiny_data(epoch, n=64, frames=9):
    rng = np.random.default_rng(epoch)
    x = rng.normal(size=(n, frames, 17, 3)).astype(np.float32)
    return x, (0.1 * x[:, -1]).astype(np.float32)


def test_fit_is_deterministic_and_learns():
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model(TINY)
        history = lifter_fit.fit(model, tiny_data, epochs=4, batch_size=16, lr=3e-3, seed=0)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], atol=0, rtol=0)
    assert history[-1]['train_mpjpe_mm'] < history[0]['train_mpjpe_mm']


def test_fit_mixes_in_replay_data():
    seen = []
    model = build_model(TINY_MLP)
    lifter_fit.fit(model, lambda e: tiny_data(e, 32, 1), epochs=1, batch_size=16,
                     replay=lambda e: seen.append(e) or tiny_data(e + 100, 32, 1))
    assert seen == [0]


@pytest.fixture(scope='module')
def tiny_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(TINY)
    lifter_fit.fit(model, tiny_data, epochs=1, batch_size=16)        # non-trivial BatchNorm statistics
    path = tmp_path_factory.mktemp('lifter') / 'tiny.onnx'
    diff = export_lifter.export_onnx(model, path, 9, tiny_data(5)[0][:8])
    return path, model.eval(), diff


def test_onnx_parity(tiny_onnx):
    _, _, diff = tiny_onnx
    assert diff <= export_lifter.PARITY_TOLERANCE


def skeleton(track_id, rng, state=TrackState.TRACKED, joint_set='blazepose33'):
    n = 33 if joint_set == 'blazepose33' else 17
    keypoints = rng.uniform(200, 400, (n, 2))
    if joint_set == 'blazepose33':     # keep the hips apart so the pelvis is seen
        keypoints[[BlazePose.LEFT_HIP, BlazePose.RIGHT_HIP]] = [[320, 300], [280, 300]]
    return Skeleton2D(keypoints, rng.uniform(0.5, 1.0, n), joint_set=joint_set, track_id=track_id,
                      track_state=state)


def test_lifter_window_from_backend_and_outputs(tiny_onnx):
    path, model, _ = tiny_onnx
    rng = np.random.default_rng(0)
    with Lifter.from_path(path) as lifter:
        assert lifter.window == 9
        people = [skeleton(1, rng), skeleton(-1, rng, joint_set='h36m17')]
        out = lifter(people)
        assert [s.track_id for s in out] == [1, -1]
        s = out[0]
        assert s.joint_set == 'h36m17' and s.root_relative and s.positions.shape == (17, 3)
        assert s.position_std.shape == (17,) and (s.position_std > 0).all()
        # a new track's window is its first frame repeated: same as the model on that window
        window = np.repeat(lifter._windows[1][-1:], 9, axis=0)[None]
        with torch.no_grad():
            expected = model(torch.from_numpy(window))[0][0].numpy()
        np.testing.assert_allclose(s.positions, expected, atol=1e-4)


def test_lifter_tracks_gaps_and_resets(tiny_onnx):
    path, _, _ = tiny_onnx
    rng = np.random.default_rng(1)
    with Lifter.from_path(path, max_gap_frames=2) as lifter:
        first = skeleton(7, rng)
        lifter([first])
        lifter([skeleton(7, rng)])
        assert not np.array_equal(lifter._windows[7][-1], lifter._windows[7][-2])
        lifter([])                                            # missed once: an empty frame
        assert not lifter._windows[7][-1].any()
        lifter([]), lifter([])                                # missed three times > 2: forgotten
        assert 7 not in lifter._windows
        lifter([skeleton(7, rng)])
        lifter([skeleton(7, rng, state=TrackState.NEW)])      # a reused id restarts its window
        assert np.all(lifter._windows[7] == lifter._windows[7][-1])
        with pytest.raises(ValueError, match='unique'):
            lifter([skeleton(3, rng), skeleton(3, rng)])
        with pytest.raises(ValueError, match='joint_set|blazepose33'):
            lifter([Skeleton2D(np.zeros((17, 2)), np.ones(17), joint_set='coco17', track_id=4)])


def test_lifter_rotates_into_the_optical_frame_with_intrinsics(tiny_onnx):
    path, _, _ = tiny_onnx
    rng = np.random.default_rng(2)
    person = skeleton(-1, rng)
    with Lifter.from_path(path) as lifter:
        ray = lifter([person])[0].positions
        centred = np.array([[1000.0, 0, 300], [0, 1000.0, 300], [0, 0, 1]])   # pelvis on the optical axis
        np.testing.assert_allclose(lifter([person], camera_matrix=centred)[0].positions, ray, atol=1e-5)
        off = np.array([[1000.0, 0, 1300], [0, 1000.0, 300], [0, 0, 1]])      # pelvis 45 degrees to the left
        turned = lifter([person], camera_matrix=off)[0].positions
        np.testing.assert_allclose(np.linalg.norm(turned, axis=-1), np.linalg.norm(ray, axis=-1), atol=1e-5)
        assert np.abs(turned - ray).max() > 1e-3
        with pytest.raises(ValueError, match='calibrated'):
            lifter([person], camera_matrix=np.zeros((3, 3)))


def test_train_lifter_end_to_end(assets, tmp_path):
    out = tmp_path / 'run'
    code = train_lifter.main(['--model', 'both', '--epochs', '1', '--windows', '512', '--eval-windows', '256',
                              '--filter-widths', '3,3', '--channels', '16', '--out', str(out),
                              '--bvh-dir', str(assets / 'data' / 'bvh')])
    assert code == 0
    for kind in ('temporal', 'mlp'):
        assert {p.suffix for p in out.glob(f'lifter_{kind}.*')} == {'.onnx', '.json', '.safetensors'}
