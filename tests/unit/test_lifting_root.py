"""Root placement from 2D + intrinsics: exact for a projected skeleton, None when unseen."""
import numpy as np

from nvb_perception.lifting.root import estimate_root

K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])


def project(points):
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def test_recovers_the_root_of_a_projected_skeleton():
    rng = np.random.default_rng(0)
    rel = rng.normal(scale=0.3, size=(17, 3))
    rel[0] = 0
    for root in (np.array([0.0, 0.0, 4.0]), np.array([1.2, -0.4, 6.5]), np.array([-2.0, 0.5, 3.0])):
        est = estimate_root(rel, project(rel + root), np.ones(17), K)
        assert np.linalg.norm(est - root) < 1e-3, (est, root)


def test_too_few_joints_or_degenerate():
    rel = np.random.default_rng(1).normal(scale=0.3, size=(17, 3))
    conf = np.zeros(17)
    conf[:3] = 1
    assert estimate_root(rel, project(rel + [0, 0, 4]), conf, K) is None
    assert estimate_root(np.zeros((17, 3)), np.zeros((17, 2)), np.ones(17), K) is None
