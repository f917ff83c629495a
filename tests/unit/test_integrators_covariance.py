"""Per-joint covariance: data class checks, frames (long axis along the ray), the lifter's output, calibration."""
from types import SimpleNamespace

import numpy as np
import pytest

from nvb_perception.lifting import uncertainty
from nvb_perception.lifting.camera import ray_rotation_from_pixel
from nvb_perception.lifting.lifter import Lifter
from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton2D, Skeleton3D, TrackState

K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])


@pytest.mark.integrators
def test_skeleton3d_covariance_shape_is_checked():
    s = Skeleton3D(np.zeros((17, 3)), np.ones(17), covariance=np.ones(17 * 6))
    assert s.covariance.shape == (17, 6) and s.covariance.dtype == np.float32
    assert Skeleton3D(np.zeros((17, 3)), np.ones(17)).covariance.shape == (0, 6)
    with pytest.raises(ValueError, match='covariance'):
        Skeleton3D(np.zeros((17, 3)), np.ones(17), covariance=np.ones((3, 6)))


@pytest.mark.integrators
def test_ray_frame_covariance_is_diagonal_with_the_calibrated_scales():
    std = np.full((1, 17), 0.05)
    cov = uncertainty.covariance_matrices(uncertainty.joint_covariance(std)[0])
    np.testing.assert_allclose(cov[:, 0, 0], (0.05 * uncertainty.PLANE_SCALE) ** 2, rtol=1e-5)
    np.testing.assert_allclose(cov[:, 2, 2], (0.05 * uncertainty.RAY_SCALE) ** 2, rtol=1e-5)
    assert np.abs(cov[:, [0, 0, 1], [1, 2, 2]]).max() == 0


@pytest.mark.integrators
def test_optical_frame_covariance_has_its_long_axis_along_the_ray():
    """Rotating the covariance equals the covariance of rotated samples; the long axis is the ray."""
    rng = np.random.default_rng(0)
    pixel = np.array([[600.0, 60.0]])                                    # far off the optical axis
    r = ray_rotation_from_pixel(pixel, K)                                 # (1, 3, 3)
    std = np.full((1, 17), 0.04)
    cov = uncertainty.covariance_matrices(uncertainty.joint_covariance(std, r)[0])
    var = uncertainty.ray_frame_variances(std)[0]
    samples = rng.normal(size=(200_000, 3)) * np.sqrt(var[H36M.LEFT_WRIST])    # ray frame
    np.testing.assert_allclose(np.cov((samples @ r[0]).T), cov[H36M.LEFT_WRIST], atol=2e-5)
    ray = np.linalg.solve(K, [600.0, 60.0, 1.0])
    ray /= np.linalg.norm(ray)
    values, vectors = np.linalg.eigh(cov[H36M.LEFT_WRIST])
    assert abs(vectors[:, -1] @ ray) > 0.999 or uncertainty.RAY_SCALE[H36M.LEFT_WRIST] <= \
        uncertainty.PLANE_SCALE[H36M.LEFT_WRIST]


class FakeBackend:
    """A lifter backend stand-in: fixed pose and log-variance."""

    name = 'fake'
    inputs = {'keypoints_2d': SimpleNamespace(shape=(None, 9, 17, 3))}
    outputs = {'pose_3d': None, 'log_var': None}

    def __call__(self, feeds):
        n = feeds['keypoints_2d'].shape[0]
        pose = np.tile(np.linspace(-0.5, 0.5, 51, dtype=np.float32).reshape(1, 17, 3), (n, 1, 1))
        return {'pose_3d': pose, 'log_var': np.full((n, 17), 2 * np.log(0.03), np.float32)}

    def close(self):
        pass


@pytest.mark.integrators
def test_lifter_output_carries_the_covariance_in_the_frame_of_its_positions():
    rng = np.random.default_rng(1)
    person = Skeleton2D(rng.uniform(500, 620, (17, 2)), np.ones(17), joint_set='h36m17', track_id=1,
                        track_state=TrackState.NEW)
    lifter = Lifter(FakeBackend())
    plain, = lifter([person])
    lifter.reset()
    optical, = lifter([person], camera_matrix=K)
    assert plain.covariance.shape == optical.covariance.shape == (17, 6)
    c_plain = uncertainty.covariance_matrices(plain.covariance)
    c_opt = uncertainty.covariance_matrices(optical.covariance)
    # same ellipsoid, rotated: the same eigenvalues, and the optical one no longer diagonal
    np.testing.assert_allclose(np.linalg.eigvalsh(c_opt), np.linalg.eigvalsh(c_plain), rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(np.trace(c_plain, axis1=1, axis2=2), 0.03 ** 2 * (
        2 * uncertainty.PLANE_SCALE ** 2 + uncertainty.RAY_SCALE ** 2), rtol=1e-4)
    assert np.abs(c_opt[:, 0, 2]).max() > 0


@pytest.mark.integrators
@pytest.mark.slow
def test_calibration_sanity_on_the_evaluation_windows():
    """A fresh measurement (other windows) agrees with the shipped scales; depth is the uncertain direction."""
    pytest.importorskip('torch')
    from nvb_perception.evaluation import calibrate_covariance as cc
    from nvb_perception.evaluation.eval_lifter import bvh_dir, test_set
    from nvb_perception.training.lifter_io import DEFAULT_WEIGHTS, load_lifter
    if not sorted(bvh_dir().glob('*.bvh')):
        from tests.conftest import skip_missing_asset
        skip_missing_asset(f'no BVH files in {bvh_dir()}: run `make setup`')
    model, _ = load_lifter(DEFAULT_WEIGHTS)
    err, std = cc.errors(model, test_set(seed=5, n=1024))
    plane, ray = cc.fit_scales(err, std)
    moving = [j for j in range(17) if j != H36M.PELVIS]
    ratio = (ray / plane)[moving]
    assert np.median(ratio) > 1.2                                         # depth error dominates
    np.testing.assert_allclose(plane[moving], uncertainty.PLANE_SCALE[moving], rtol=0.25)
    np.testing.assert_allclose(ray[moving], uncertainty.RAY_SCALE[moving], rtol=0.25)
    shipped = cc.coverage(err, std, uncertainty.PLANE_SCALE, uncertainty.RAY_SCALE)
    isotropic = cc.coverage(err, std, 1.0, 1.0)
    assert 0.55 <= shipped[2] <= 0.95, shipped
    assert abs(shipped[2] - cc.GAUSSIAN_3D[2]) <= abs(isotropic[2] - cc.GAUSSIAN_3D[2]) + 0.02, (shipped, isotropic)
