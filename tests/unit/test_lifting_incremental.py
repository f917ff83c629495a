"""Incremental learning (training.incremental): replay buffer, fine-tuning with replay vs naive, the CLI; tiny."""
import json

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from nvb_perception.datasets.lifting_windows import make_windows  # noqa: E402
from nvb_perception.training import incremental, lifter_fit, train_lifter  # noqa: E402
from nvb_perception.training.lifter_model import LifterConfig, build_model  # noqa: E402

TINY = LifterConfig(filter_widths=(3,), channels=32, dropout=0.0)
BASE = np.array([[0, 0, 1.0], [-.1, 0, 1.0], [-.1, 0, .55], [-.1, 0, .1], [.1, 0, 1.0], [.1, 0, .55],
                 [.1, 0, .1], [0, 0, 1.25], [0, 0, 1.5], [0, 0, 1.6], [0, 0, 1.75], [.2, 0, 1.45], [.25, 0, 1.2],
                 [.27, 0, .95], [-.2, 0, 1.45], [-.25, 0, 1.2], [-.27, 0, .95]])


def domain(arms_up: bool, frames=600, seed=0):
    """(F, 17, 3) a synthetic clip: standing with arms down, or with both arms raised overhead; slow sway."""
    pose = BASE.copy()
    if arms_up:
        for s, e, w in ((11, 12, 13), (14, 15, 16)):
            pose[e] = pose[s] + [0.02 * np.sign(pose[s, 0]), 0, 0.28]
            pose[w] = pose[e] + [0.02 * np.sign(pose[s, 0]), 0, 0.25]
    t = np.arange(frames)[:, None, None] / 30.0 + seed
    return (pose + 0.08 * np.sin(t * np.array([1.0, 1.3, 0.0]))).astype(np.float32)


def test_replay_buffer_keeps_the_requested_seconds_of_real_pieces():
    segs = [domain(False, 900), domain(False, 450, seed=3)]
    buf = incremental.replay_buffer(segs, 20.0, np.random.default_rng(0))
    assert sum(len(b) for b in buf) == 20 * 30 and all(len(b) == 150 for b in buf)
    flat = np.concatenate(segs)
    for piece in buf:   # each piece is a contiguous run of some segment
        hits = np.flatnonzero(np.all(flat == piece[0], axis=(1, 2)))
        assert any(np.array_equal(flat[h:h + len(piece)], piece) for h in hits)
    assert sum(len(b) for b in incremental.replay_buffer(segs, 1e6, np.random.default_rng(0))) == 1350
    a = incremental.replay_buffer(segs, 20.0, np.random.default_rng(1))
    assert [len(x) for x in a] == [len(x) for x in incremental.replay_buffer(segs, 20.0, np.random.default_rng(1))]


def test_replay_forgets_less_than_naive_fine_tuning():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    old, new = [domain(False)], [domain(True, seed=5)]
    old_val, new_val = [domain(False, 300, seed=9)], [domain(True, 300, seed=11)]
    model = build_model(TINY)

    def data(epoch):
        x, y, _ = make_windows(old, 2048, 3, np.random.default_rng(epoch))
        return x, y[:, -1]

    lifter_fit.fit(model, data, epochs=4, lr=3e-3)
    tuned, record = incremental.run(model, old, old_val, new, new_val, old_val, epochs=3, windows=1024,
                                    replay_fraction=0.5, replay_buffer_s=10.0, lr=2e-3, eval_windows=512,
                                    compare=('naive',), log=lambda *a: None)
    m = record['methods']
    assert set(m) == {'replay', 'naive'} and tuned is not model
    assert m['naive']['new_gain_mm'] > 0 and m['replay']['new_gain_mm'] > 0        # both learn the new domain
    assert m['replay']['forgetting_mm'] < m['naive']['forgetting_mm']            # replay forgets less
    assert record['forgetting_mm'] == m['replay']['forgetting_mm']


def test_zero_replay_is_naive_and_deterministic():
    old, new = [domain(False)], [domain(True, seed=5)]
    model = build_model(TINY)
    kwargs = dict(epochs=1, windows=512, replay_buffer_s=10.0, eval_windows=128, log=lambda *a: None)
    _, a = incremental.run(model, old, old, new, new, old, replay_fraction=0.0, compare=('naive',), **kwargs)
    assert a['methods']['replay']['after'] == a['methods']['naive']['after']
    with pytest.raises(ValueError, match='replay_fraction'):
        incremental.run(model, old, old, new, new, old, replay_fraction=1.0, **kwargs)


def test_cli_resume_on_a_new_clip(tmp_path, assets, capsys):
    base = tmp_path / 'base'
    common = ['--epochs', '1', '--windows', '256', '--eval-windows', '128', '--channels', '16',
              '--filter-widths', '3,3', '--model', 'temporal']
    assert train_lifter.main(common + ['--held-out', 'test2,test3', '--out', str(base)]) == 0
    capsys.readouterr()
    out = tmp_path / 'inc'
    assert train_lifter.main(['--resume', str(base / 'lifter_temporal.safetensors'), '--new-data', 'test3',
                              '--epochs', '1', '--windows', '256', '--eval-windows', '128', '--compare', 'naive',
                              '--replay-buffer-s', '20', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert "old domain ['test'], new ['test3'], test ['test2']" in text
    result = json.loads(text.strip().splitlines()[-1][len('RESULT '):])
    assert {'forgetting_mm', 'new_gain_mm', 'old_naive_mm', 'new_replay_mm'} <= set(result)
    meta = json.loads((out / 'lifter_temporal.json').read_text())
    assert meta['incremental']['new_clips'] == ['test3'] and meta['config']['channels'] == 16
    with pytest.raises(SystemExit):
        train_lifter.main(['--resume', str(base / 'lifter_temporal.safetensors'), '--new-data', 'nope',
                           '--out', str(out)])
