"""mpjpe / p_mpjpe on known cases; Procrustes invariance to similarity transforms, never to reflections."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nvb_perception.evaluation.lifting_metrics import mpjpe, p_mpjpe, procrustes_align

RNG = np.random.default_rng(0)
POSES = RNG.normal(size=(8, 17, 3))


def test_mpjpe_known_values():
    target = np.zeros((2, 3, 3))
    predicted = target.copy()
    predicted[0, 0] = [3, 4, 0]          # 5 mm error on one joint of one pose
    assert mpjpe(predicted, target) == pytest.approx(5 / 6)
    np.testing.assert_allclose(mpjpe(predicted, target, per_joint=True), [2.5, 0, 0])
    assert mpjpe(target, target) == 0.0


def test_p_mpjpe_is_invariant_to_similarity_transforms():
    rotation = Rotation.random(8, random_state=1).as_matrix()
    moved = 2.5 * np.einsum('nab,njb->nja', rotation, POSES) + RNG.normal(size=(8, 1, 3))
    assert p_mpjpe(moved, POSES) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(moved, POSES) > 1.0
    np.testing.assert_allclose(procrustes_align(moved, POSES), POSES, atol=1e-9)


def test_p_mpjpe_does_not_undo_a_reflection():
    mirrored = POSES * np.array([-1.0, 1.0, 1.0])
    assert p_mpjpe(mirrored, POSES) > 0.1


def test_p_mpjpe_never_exceeds_mpjpe():
    noisy = POSES + RNG.normal(scale=0.1, size=POSES.shape)
    assert p_mpjpe(noisy, POSES) <= mpjpe(noisy, POSES)
    assert p_mpjpe(noisy, POSES, per_joint=True).shape == (17,)


@pytest.mark.parametrize('a, b', [((17, 3), (16, 3)), ((17, 2), (17, 2)), ((3,), (3,))])
def test_shape_errors(a, b):
    with pytest.raises(ValueError, match=r'\(\.\.\., J, 3\)'):
        mpjpe(np.zeros(a), np.zeros(b))
