"""nvb-eval-ergonomics: the weighted kappa on known cases, the simulated camera views, and the quick run end to end."""
import json

import numpy as np
import pytest

from nvb_perception.evaluation import eval_ergonomics as ev


def textbook_kappa(a, b, categories, weights='quadratic'):
    """Cohen's weighted kappa from the k x k tables with w_ij = ((i - j) / (k - 1))^p, every category listed."""
    k = len(categories)
    idx = {c: n for n, c in enumerate(categories)}
    obs = np.zeros((k, k))
    for x, y in zip(a, b):
        obs[idx[x], idx[y]] += 1
    obs /= obs.sum()
    exp = np.outer(obs.sum(1), obs.sum(0))
    i, j = np.indices((k, k))
    w = (np.abs(i - j) / (k - 1)) ** (2 if weights == 'quadratic' else 1)
    return 1 - (w * obs).sum() / (w * exp).sum()


def test_kappa_perfect_agreement_is_one():
    assert ev.weighted_kappa([1, 2, 3, 7, 7], [1, 2, 3, 7, 7]) == 1.0
    assert ev.weighted_kappa([4, 4, 4], [4, 4, 4]) == 1.0          # constant but identical: 1, not 0/0
    assert ev.weighted_kappa([1, 2], [2, 1]) == pytest.approx(-1.0)  # perfectly reversed


def test_kappa_hand_computed():
    # a = 1 2 3, b = 1 2 2: observed mean (a-b)^2 = 1/3; chance mean over all 9 pairs (a_i - b_j)^2 = 9/9 = 1
    assert ev.weighted_kappa([1, 2, 3], [1, 2, 2]) == pytest.approx(1 - (1 / 3) / 1)
    # linear: observed mean |a-b| = 1/3, chance (2 + 1 + 4) / 9 = 7/9 -> 1 - 3/7
    assert ev.weighted_kappa([1, 2, 3], [1, 2, 2], weights='linear') == pytest.approx(4 / 7)
    # a rater always one higher: observed 1, chance = var + var + 1 = 2 * 2/3 + 1
    assert ev.weighted_kappa([1, 2, 3], [2, 3, 4]) == pytest.approx(1 - 1 / (4 / 3 + 1))


def test_kappa_matches_the_textbook_table_form_with_unused_categories():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 8, 200)
    b = np.clip(a + rng.integers(-2, 3, 200), 1, 7)
    for weights in ('quadratic', 'linear'):
        assert ev.weighted_kappa(a, b, weights) == pytest.approx(textbook_kappa(a, b, range(1, 8), weights))
        assert ev.weighted_kappa(a, b, weights) == pytest.approx(textbook_kappa(a, b, range(0, 16), weights))
    with pytest.raises(ValueError):
        ev.weighted_kappa([1, 2], [1])
    with pytest.raises(ValueError):
        ev.weighted_kappa([1], [1], weights='cubic')
    assert np.isnan(ev.weighted_kappa([], []))


def test_agreement_percentages():
    a = ev.agreement([1, 2, 3, 4], [1, 2, 4, 6], [1, 1, 2, 2], [1, 1, 2, 3])
    assert a['n'] == 4 and a['exact_agreement'] == 50.0 and a['level_agreement'] == 75.0
    assert a['within_one'] == 75.0 and a['mean_truth'] == 2.5 and a['mean_lifted'] == 3.25


def test_camera_views_keep_the_world_scores(assets):
    """Truth in the optical frame with the camera's up vector scores exactly as the world pose with +z up."""
    from nvb_perception.datasets.corruption import CLEAN
    from nvb_perception.ergonomics import assess_reba, assess_rula
    from nvb_perception.evaluation.eval_lifter import BANDS
    sequences, sources = ev.held_out_sequences(('test2',), ev.SEQ_FRAMES, quick=True)
    assert sources[0] == 'test' and len(sequences[0]) == 60
    for band in BANDS.values():
        views = ev.film(sequences, band, 1, np.random.default_rng(0), CLEAN)
        for v in views:
            assert band[0] <= v['elevation_deg'] <= band[1]
            world = sequences[v['sequence']]
            for t in (0, 30, 59):
                up = tuple(v['up'])
                assert assess_rula(v['truth'][t], up=up).segment_scores == \
                    assess_rula(world[t], up=(0, 0, 1)).segment_scores
                assert assess_reba(v['truth'][t], up=up).segment_scores == \
                    assess_reba(world[t], up=(0, 0, 1)).segment_scores
            assert np.all(v['confidence'] > 0)        # clean 2D: every joint seen (the person stays in the image)


def test_quick_run_prints_the_table_and_result(assets, capsys):
    from nvb_perception.export.lifter import default_onnx
    if not default_onnx().is_file():
        pytest.skip(f'{default_onnx()} missing: python -m nvb_perception.export.lifter')
    assert ev.main(['--quick']) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith('RESULT ')
    result = json.loads(last[len('RESULT '):])
    for key in ('kappa_rula', 'kappa_reba', 'level_agreement_rula', 'level_agreement_reba', 'ms_per_person_frame',
                'per_band', 'kappa_rula_per_band', 'kappa_reba_per_band', 'main_disagreement_source'):
        assert key in result, key
    assert set(result['per_band']) == {'-30..0', '0..30', '30..70'}
    for band in result['per_band'].values():
        assert band['n_rula'] > 0 and -1.0 <= band['kappa_reba'] <= 1.0
    assert 0.0 <= result['level_agreement_rula'] <= 100.0 and 0.0 <= result['level_agreement_reba'] <= 100.0
    assert 0.0 < result['ms_per_person_frame'] < 50.0
    assert result['quick'] and result['person_frames'] > 100
    assert 'band 0..30 deg' in out and 'overall (3 bands pooled)' in out
