"""Virtual cameras: look-at geometry, projection, sampling ranges, the root-ray frame and 2D normalisation."""
import numpy as np
import pytest

from nvb_perception.lifting import camera

RNG = np.random.default_rng(0)


def test_look_at_centres_the_target_and_keeps_up_up():
    position, target = np.array([[3.0, -2.0, 1.6]]), np.array([[0.0, 0.0, 1.0]])
    r = camera.look_at(position, target)
    np.testing.assert_allclose(r[0] @ r[0].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r[0]) == pytest.approx(1.0)
    points = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.5]]])            # target, and a point above it
    cam = camera.world_to_camera(points, r, position)
    pixels, in_front = camera.project(cam, np.array([[1000.0, 1000.0, 640.0, 360.0]]))
    np.testing.assert_allclose(pixels[0, 0], [640, 360], atol=1e-9)
    assert pixels[0, 1, 1] < 360 and in_front.all()                    # up in the world is up in the image (y down)


def test_roll_turns_the_image_about_the_centre():
    position, target = np.array([[0.0, -4.0, 1.0]]), np.array([[0.0, 0.0, 1.0]])
    k = np.array([[500.0, 500.0, 320.0, 240.0]])
    point = np.array([[[0.0, 0.0, 2.0]]])
    level = camera.project(camera.world_to_camera(point, camera.look_at(position, target), position), k)[0]
    rolled = camera.project(camera.world_to_camera(point, camera.look_at(position, target, np.pi / 2), position),
                            k)[0]
    assert np.linalg.norm(level - [320, 240]) == pytest.approx(np.linalg.norm(rolled - [320, 240]))
    assert abs(rolled[0, 0, 0] - 320) > 100 and abs(rolled[0, 0, 1] - 240) < 1e-6


def test_project_pinhole_and_behind_camera():
    pixels, in_front = camera.project(np.array([[[1.0, -0.5, 2.0], [0.0, 0.0, -1.0]]]),
                                      np.array([[800.0, 700.0, 100.0, 50.0]]))
    np.testing.assert_allclose(pixels[0, 0], [100 + 400, 50 - 175])
    assert in_front.tolist() == [[True, False]]


@pytest.mark.parametrize('kind', sorted(camera.CAMERA_KINDS))
def test_sample_cameras_respects_the_ranges(kind):
    spec = camera.CAMERA_KINDS[kind]
    target = np.tile([0.0, 0.0, 1.0], (500, 1))
    cams = camera.sample_cameras(np.random.default_rng(1), 500, target, spec, frames=9)
    assert np.all((cams.position[:, 2] >= spec.height_m[0]) & (cams.position[:, 2] <= spec.height_m[1]))
    assert np.all((cams.elevation_deg >= spec.elevation_deg[0]) & (cams.elevation_deg <= spec.elevation_deg[1]))
    fx_per_w = cams.intrinsics[:, 0] / cams.image_size[:, 0]
    assert np.all((fx_per_w >= spec.focal_per_width[0]) & (fx_per_w <= spec.focal_per_width[1]))
    assert cams.rotation.shape == ((500, 9, 3, 3) if spec.shake_deg else (500, 3, 3))
    again = camera.sample_cameras(np.random.default_rng(1), 500, target, spec, frames=9)
    np.testing.assert_array_equal(cams.rotation, again.rotation)


def test_sample_cameras_elevation_override():
    cams = camera.sample_cameras(RNG, 200, np.tile([0.0, 0.0, 1.0], (200, 1)), camera.ANY, elevation_deg=(50, 70))
    assert cams.elevation_deg.min() >= 50
    with pytest.raises(ValueError, match='no camera'):
        camera.sample_cameras(RNG, 10, np.tile([0.0, 0.0, 1.0], (10, 1)), camera.PHONE, elevation_deg=(80, 89))


def test_handheld_shake_is_small_and_zero_at_the_last_frame():
    shake = camera.handheld_shake(RNG, 4, 30, std_deg=0.2)
    np.testing.assert_allclose(shake[:, -1], np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-12)
    angle = np.degrees(np.arccos(np.clip((np.trace(shake, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert 0 < angle.max() < 10


def test_ray_rotation_points_z_at_the_root():
    roots = np.array([[0.0, 0.0, 3.0], [1.0, -0.5, 4.0]])
    r = camera.ray_rotation(roots)
    np.testing.assert_allclose(r[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(r[1] @ roots[1], [0, 0, np.linalg.norm(roots[1])], atol=1e-12)
    np.testing.assert_allclose(r[1] @ r[1].T, np.eye(3), atol=1e-12)
    k = np.array([[900.0, 0, 300], [0, 900.0, 200], [0, 0, 1]])
    pixel = roots[1, :2] / roots[1, 2] * 900 + [300, 200]
    np.testing.assert_allclose(camera.ray_rotation_from_pixel(pixel, k), r[1], atol=1e-12)


def test_normalize_keypoints_is_translation_and_scale_invariant():
    kp = RNG.uniform(100, 500, (5, 17, 2))
    conf = RNG.uniform(0.2, 1.0, (5, 17))
    conf[0, 3] = 0.0
    x = camera.normalize_keypoints(kp, conf)
    assert x.shape == (5, 17, 3) and x.dtype == np.float32
    np.testing.assert_allclose(camera.normalize_keypoints(kp * 3.0 + 40.0, conf), x, atol=1e-5)
    np.testing.assert_allclose(x[:, 0, :2], 0.0, atol=1e-6)          # pelvis-relative
    assert x[0, 3].tolist() == [0.0, 0.0, 0.0]                          # unseen joint: no position
    np.testing.assert_allclose(x[..., 2], conf, atol=1e-6)


def test_normalize_keypoints_without_pelvis_or_anything():
    kp = RNG.uniform(100, 500, (2, 17, 2))
    conf = np.ones((2, 17))
    conf[0, 0] = 0.0
    conf[1] = 0.0
    x = camera.normalize_keypoints(kp, conf)
    np.testing.assert_allclose(x[0, 1:, :2].mean(axis=0), 0.0, atol=1e-6)   # centred on the seen joints
    assert not x[1].any()
    with pytest.raises(ValueError, match=r'\(\.\.\., 17, 2\)'):
        camera.normalize_keypoints(np.zeros((16, 2)), np.zeros(16))
