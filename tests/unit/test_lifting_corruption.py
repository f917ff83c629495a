"""2D error model: determinism, each error kind, truncation, gaps and consistent confidences."""
from dataclasses import replace

import numpy as np
import pytest

from nvb_perception.datasets import corruption
from nvb_perception.datasets.corruption import CLEAN, MIRROR, CorruptionConfig, corrupt
from nvb_perception.skeleton import H36M

N, T = 64, 20
SIZE = np.tile([1000, 1000], (N, 1))


def person(rng=np.random.default_rng(0)):
    """(N, T, 17, 2) keypoints of a 400 px tall figure around the image centre, all in front."""
    base = np.random.default_rng(7).uniform(-0.5, 0.5, (17, 2)) * [160, 400] + 500
    kp = base + rng.normal(scale=5, size=(N, T, 17, 2))
    return kp, np.ones((N, T, 17), bool)


def test_clean_is_exact_with_confident_joints():
    kp, front = person()
    out, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), CLEAN)
    np.testing.assert_allclose(out, kp, atol=1e-3)
    assert conf.min() > 0.5 and conf.max() <= 1.0
    assert out.dtype == conf.dtype == np.float32


def test_same_generator_state_same_output():
    kp, front = person()
    a = corrupt(kp, front, SIZE, np.random.default_rng(3))
    b = corrupt(kp, front, SIZE, np.random.default_rng(3))
    c = corrupt(kp, front, SIZE, np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_jitter_has_the_requested_sigma():
    kp = np.zeros((20000, 17, 2))
    sigma = np.linspace(1, 5, 17)
    noisy = corruption.jitter(kp, sigma, np.random.default_rng(0))
    np.testing.assert_allclose(noisy.std(axis=(0, 2)), sigma, rtol=0.03)


def test_jitter_scales_with_person_height_and_lowers_confidence():
    kp, front = person()
    config = replace(CLEAN, sigma_scale=1.0)
    out, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), config)
    err = np.linalg.norm(out - kp, axis=-1)
    height = corruption.person_height_px(kp)[..., None]
    expected = np.sqrt(np.pi / 2) * corruption.SIGMA_FRACTION * height    # mean of a 2D Rayleigh
    assert np.mean(err) == pytest.approx(np.mean(expected), rel=0.1)
    big = err > np.percentile(err / height, 90) * height
    assert conf[big].mean() < conf[~big].mean()


def test_dropped_joints_have_zero_confidence():
    kp, front = person()
    _, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, drop_prob=0.3))
    assert np.mean(conf == 0) == pytest.approx(0.3, abs=0.03)


def test_swaps_exchange_left_and_right():
    kp, front = person()
    out, _ = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, swap_prob=1.0))
    np.testing.assert_allclose(out, kp[..., MIRROR, :], atol=1e-3)


def test_outliers_move_far_with_middling_confidence():
    kp, front = person()
    out, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, outlier_prob=1.0))
    moved = np.linalg.norm(out - kp, axis=-1)
    assert np.median(moved) > 50
    inside = conf > 0
    assert 0.1 <= conf[inside].min() and conf[inside].max() <= 0.8


def test_truncation_and_behind_camera_zero_the_confidence():
    kp, front = person()
    kp[:, :, H36M.LEFT_WRIST] = [-20, 500]                 # left of the image
    kp[:, :, H36M.RIGHT_ANKLE] = [500, 1000.5]             # just below it
    front[:, :, H36M.HEAD] = False
    _, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), CLEAN)
    assert not conf[..., [H36M.LEFT_WRIST, H36M.RIGHT_ANKLE, H36M.HEAD]].any()
    assert conf[..., H36M.PELVIS].all()


def test_gaps_blank_whole_frames_but_never_the_last():
    kp, front = person()
    _, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, gap_prob=1.0))
    assert not conf[:, :-1].any() and conf[:, -1].all()
    _, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, gap_prob=0.05))
    blank = ~conf.any(axis=-1)
    assert 0.02 < blank.mean() < 0.2


def test_occlusion_hides_a_limb_for_a_run_of_frames():
    kp, front = person()
    _, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, occlusion_prob=1.0))
    hidden = conf == 0
    assert hidden.any(axis=(1, 2)).all()                   # every window lost a limb somewhere
    assert not hidden[..., [H36M.THORAX, H36M.HEAD]].any()  # never the head or thorax


@pytest.mark.parametrize('fraction', [0.1, 0.3, 0.5])
def test_fraction_corrupted_touches_at_least_that_many_joints_per_frame(fraction):
    kp, front = person()
    out, conf = corrupt(kp, front, SIZE, np.random.default_rng(0), replace(CLEAN, fraction_corrupted=fraction))
    affected = (conf == 0) | (np.linalg.norm(out - kp, axis=-1) > 1e-3)
    count = affected.sum(axis=-1)
    assert count.min() >= round(fraction * 17) and count.max() <= 2 * round(fraction * 17)


def test_config_validation():
    with pytest.raises(ValueError, match='drop_prob'):
        CorruptionConfig(drop_prob=1.5)
    with pytest.raises(ValueError, match='sigma_fraction'):
        CorruptionConfig(sigma_fraction=np.ones(5))
