"""Lens distortion: CameraInfo models undone exactly, unknown ones left alone, and the root error on a wide lens."""
import numpy as np
import pytest

from nvb_perception.lifting.distortion import CameraModel, as_camera_model
from nvb_perception.pipeline import lift_frame
from nvb_perception.skeleton import H36M
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Skeleton3D, Stamp, TrackState

pytestmark = pytest.mark.integrators

SIZE = (1280, 800)
NOISE_PX = 1.5                     # 2D keypoint noise (std per axis), as a good detector has
K = np.array([[420.0, 0, 640.0], [0, 420.0, 400.0], [0, 0, 1]])        # about 113 deg horizontal field of view
LENSES = {'plumb_bob': [-0.30, 0.08, 0.0, 0.0, -0.006],
          'rational_polynomial': [-0.30, 0.08, 0.001, -0.001, -0.006, 0.0, 0.0, 0.0],
          'equidistant': [0.02, -0.01, 0.0, 0.0]}
# a standing person, pelvis-relative, optical axes (x right, y down, z away from the camera), metres
POSE = np.array([[0, 0, 0], [-0.12, 0, 0], [-0.13, 0.45, 0.02], [-0.14, 0.88, 0.05], [0.12, 0, 0],
                 [0.13, 0.45, -0.03], [0.14, 0.88, 0], [0, -0.23, 0.02], [0, -0.48, 0.03], [0, -0.58, -0.02],
                 [0, -0.72, 0], [0.18, -0.45, 0.03], [0.26, -0.2, 0.05], [0.3, 0.02, -0.05], [-0.18, -0.45, 0.03],
                 [-0.28, -0.22, -0.08], [-0.25, -0.02, -0.25]])


def pinhole(points):
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


class TrueLifter:
    """A perfect lifter: returns each track's true root-relative pose (the error left is the root's)."""

    def __init__(self, poses):
        self.poses = poses

    def __call__(self, skeletons, camera_matrix=None):
        return [Skeleton3D(self.poses[s.track_id], s.confidence, joint_set='h36m17', track_id=s.track_id,
                           track_state=s.track_state) for s in skeletons]

    def reset(self, track_id=None):
        pass


@pytest.mark.parametrize('model', sorted(LENSES))
def test_undistort_inverts_the_lens(model):
    camera = CameraModel.from_fields(K.reshape(-1), LENSES[model], model)
    grid = np.stack(np.meshgrid(np.linspace(-300, 300, 9), np.linspace(-250, 250, 7)), -1).reshape(-1, 2) + K[:2, 2]
    seen = camera.distort(grid)
    assert np.abs(seen - grid).max() > 20                     # a strong lens
    np.testing.assert_allclose(camera.undistort(seen), grid, atol=0.05)
    bad = np.array([[np.nan, 3.0], [640.0, 400.0]])
    out = camera.undistort(bad)
    assert np.isnan(out[0, 0]) and np.allclose(out[1], [640, 400], atol=1e-6)


def test_unknown_or_missing_distortion_leaves_pixels_alone():
    points = np.array([[10.0, 20.0], [1200.0, 700.0]])
    unknown = CameraModel.from_fields(K, [0.3, 0.1, 0, 0, 0], 'kannala_brandt_weird')
    assert not unknown.known and not unknown.distorted
    np.testing.assert_array_equal(unknown.undistort(points), points)
    for model, d in (('', ()), ('plumb_bob', [0, 0, 0, 0, 0]), ('plumb_bob', ())):
        camera = CameraModel.from_fields(K, d, model)
        assert camera.known and not camera.distorted
        np.testing.assert_array_equal(camera.undistort(points), points)
    short = CameraModel.from_fields(K, [-0.2], 'plumb_bob')        # missing coefficients count as 0
    assert short.coefficients().tolist() == [-0.2, 0, 0, 0, 0]
    assert CameraModel.from_fields(np.zeros(9), [0.1], 'plumb_bob') is None
    assert as_camera_model(None) is None and as_camera_model(K).k is not None and not as_camera_model(K).distorted


def people(camera):
    """People over the whole wide field of view (up to 52 deg off-axis, where a lens bends most), noisy 2D."""
    poses, frames, roots = {}, [], {}
    rng = np.random.default_rng(0)
    track = 0
    for z in (2.5, 3.5, 5.0):
        for x in np.linspace(-1.3, 1.3, 11) * z:
            for yaw in (0.0, 0.8):
                c, s = np.cos(yaw), np.sin(yaw)
                pose = POSE @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T
                root = np.array([x, 0.25, z])
                seen = camera.distort(pinhole(pose + root)) + rng.normal(0.0, NOISE_PX, (17, 2))
                if not ((seen >= 0) & (seen < SIZE)).all():
                    continue
                poses[track], roots[track] = pose, root
                frames.append(Skeleton2D(seen, np.ones(17), joint_set='h36m17', track_id=track,
                                         track_state=TrackState.TRACKED))
                track += 1
    return TrueLifter(poses), Skeleton2DFrame(Stamp(0, 'cam'), SIZE, tuple(frames)), roots


def root_errors(lifter, frame, roots, camera):
    out, _ = lift_frame(lifter, frame, camera)
    return np.array([np.linalg.norm(s.positions[H36M.PELVIS] - roots[s.track_id]) for s in out.skeletons])


@pytest.mark.parametrize('model', ['plumb_bob', 'equidistant'])
def test_undistortion_fixes_the_root_on_a_wide_lens(model):
    camera = CameraModel.from_fields(K, LENSES[model], model)
    lifter, frame, roots = people(camera)
    assert len(roots) >= 20
    with_undistortion = root_errors(lifter, frame, roots, camera)
    without = root_errors(lifter, frame, roots, K)
    print(f'\n{model}: {len(roots)} people, 3D root error with undistortion mean {with_undistortion.mean():.3f} m '
          f'median {np.median(with_undistortion):.3f} max {with_undistortion.max():.3f}; without mean '
          f'{without.mean():.3f} m median {np.median(without):.3f} max {without.max():.3f}')
    assert with_undistortion.mean() <= without.mean() / 3
    assert with_undistortion.mean() < 0.1                       # what is left comes from the 2D noise
