"""2D pose stage: geometry, NMS, exact warp, heatmap refinement, tracker, One-Euro, inputs, real frames.

Real-model tests use .assets/models and .assets/data (skipped with the reason when absent); the 30-frame
vtest.avi test is marked slow.
"""
import math
import os
from pathlib import Path

import numpy as np
import pytest

from nvb_perception.errors import ConfigError, ImageError
from nvb_perception.pose2d.anchors import ssd_anchors
from nvb_perception.pose2d.detector import letterbox_roi, preprocess, tile_origins, weighted_nms
from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
from nvb_perception.pose2d.landmarks import LandmarkModel, refine_from_heatmap
from nvb_perception.pose2d.roi import Roi, roi_from_alignment, warp
from nvb_perception.pose2d.smoothing import OneEuroFilter
from nvb_perception.pose2d.tracker import Observation, Tracker
from nvb_perception.types import TrackState

ASSETS = Path(os.environ.get('NVB_PERCEPTION_ASSETS') or Path(__file__).resolve().parents[2] / '.assets')
MODELS = ASSETS / 'models'
S = TrackState


def test_anchors_count_and_layout():
    a = ssd_anchors()
    assert a.shape == (2254, 2) and a.dtype == np.float32
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_array_equal(a[0], a[1])                        # 2 anchors per cell at stride 8
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])        # stride 16 starts after 28*28*2
    np.testing.assert_allclose(a[1960:1966], [[0.5 / 7, 0.5 / 7]] * 6)   # 3 stride-32 layers share 6/cell
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


@pytest.mark.parametrize('w,h', [(548, 342), (342, 548), (8, 8), (7680, 4320), (1, 5)])
def test_letterbox_is_exact_and_round_trips(w, h):
    roi = letterbox_roi(w, h)
    m = roi.matrix(224)
    corners = np.array([[0, 0, 1], [w, h, 1]], np.float64) @ m.T
    side = max(w, h)
    off = np.array([(side - w) / 2, (side - h) / 2]) * 224 / side    # unrounded bar widths
    np.testing.assert_allclose(corners[:, :2] / corners[:, 2:], [off, 224 - off], atol=2e-3)
    pts = np.random.default_rng(0).uniform(0, 1, (5, 2))
    back = roi.to_image(pts)
    fwd = np.c_[back, np.ones(5)] @ m.T
    np.testing.assert_allclose(fwd[:, :2] / fwd[:, 2:] / 224, pts, atol=1e-5)


def test_detector_input_has_black_bars_and_range():
    x, _ = preprocess(np.full((342, 548, 3), 255, np.uint8))
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    assert x[0, :41].max() == -1.0 and x[0, -41:].max() == -1.0 and x[0, 60:160].min() == 1.0


def _reference_warp(img, roi, size, replicate):
    """OpenCV 4 warpPerspective(INTER_LINEAR) on uint8, written out in plain numpy (slow, obvious)."""
    m = np.linalg.inv(roi.matrix(size)).reshape(-1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    w = (m[7] * ys + m[8]) + m[6] * xs
    w = np.where(w != 0, 32 / np.where(w != 0, w, 1), 0.0)
    x = np.rint(((m[1] * ys + m[2]) + m[0] * xs) * w).astype(np.int64)
    y = np.rint(((m[4] * ys + m[5]) + m[3] * xs) * w).astype(np.int64)
    acc = np.zeros((size, size, img.shape[2]), np.int64)
    for dy, wy in ((0, 32 - (y & 31)), (1, y & 31)):
        for dx, wx in ((0, 32 - (x & 31)), (1, x & 31)):
            px, py = (x >> 5) + dx, (y >> 5) + dy
            v = img[np.clip(py, 0, img.shape[0] - 1), np.clip(px, 0, img.shape[1] - 1)].astype(np.int64)
            if not replicate:
                v *= ((px >= 0) & (px < img.shape[1]) & (py >= 0) & (py < img.shape[0]))[..., None]
            acc += v * (wx * wy)[..., None]
    return ((acc + 512) >> 10).astype(np.uint8)


def test_warp_is_opencv4_bit_exact():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    for i in range(6):
        roi = Roi(*rng.uniform([0, 0, 10], [120, 90, 200]), rotation=rng.uniform(-3, 3))
        np.testing.assert_array_equal(warp(img, roi, 64, i % 2 == 0), _reference_warp(img, roi, 64, i % 2 == 0))


def test_weighted_nms_cases():
    assert weighted_nms(np.zeros(0), np.zeros((0, 4)), np.zeros((0, 4, 2))) == []
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 13.6]], np.float64)
    kps = boxes[:, None, :2].repeat(4, 1)
    out = weighted_nms(np.array([0.9, 0.6, 0.8, 0.7]), boxes, kps)
    # box 3 has IoU 10/13.6 = 0.735 with box 0 -> merged; box 1 IoU 0.82 -> merged; box 2 alone
    assert [round(s, 2) for s, _, _ in out] == [0.9, 0.8]
    w = np.array([0.9, 0.6, 0.7])
    np.testing.assert_allclose(out[0][1], (boxes[[0, 1, 3]] * w[:, None]).sum(0) / w.sum())
    np.testing.assert_allclose(out[0][2], (kps[[0, 1, 3]] * w[:, None, None]).sum(0) / w.sum())
    np.testing.assert_allclose(out[1][1], boxes[2])
    near = weighted_nms(np.array([0.9, 0.8]), np.array([[0, 0, 10, 10], [5, 0, 15, 10]], float), kps[:2])
    apart = weighted_nms(np.array([0.9, 0.8]), np.array([[0, 0, 10, 10], [6, 0, 16, 10]], float), kps[:2])
    assert len(near) == 1 and len(apart) == 2                         # IoU 1/3 > 0.3 merges, 1/4 does not


def test_roi_geometry():
    up = roi_from_alignment((100, 200), (100, 150))                   # scale point straight above the hip
    assert (up.center_x, up.center_y, up.size) == (100, 200, 125.0) and up.rotation == 0.0
    right = roi_from_alignment((100, 200), (140, 200))
    assert right.rotation == pytest.approx(math.pi / 2) and right.size == pytest.approx(100.0)
    # in the crop the body always points up: the scale point lands above the centre
    for roi, p, dist in ((up, (100, 150), 50), (right, (140, 200), 40)):
        q = roi.matrix(256) @ [*p, 1]
        np.testing.assert_allclose(q[:2] / q[2], [128, 128 - dist / roi.size * 256], atol=1e-3)
        np.testing.assert_allclose(roi.to_image([0.5, 0.5]), [100, 200])
    np.testing.assert_allclose(Roi(0, 0, 2, math.pi / 4).bbox(), [-math.sqrt(2), -math.sqrt(2)] + [math.sqrt(2)] * 2)


def test_heatmap_refinement():
    hm = np.full((1, 64, 64, 3), -20.0, np.float32)
    hm[0, 10, 20, 0] = hm[0, 10, 22, 0] = 5.0                         # two equal peaks: mean col 21
    hm[0, 30, 30, 1] = 0.0                                            # max confidence 0.5: refined
    hm[0, 0, 0, 2] = 5.0
    xy = np.array([[[20.5 / 64, 9.9 / 64], [28 / 64, 28 / 64], [-0.01, 0.01]]], np.float32)
    out = refine_from_heatmap(xy, hm)[0]
    np.testing.assert_allclose(out[0], [21 / 64, 10 / 64], atol=1e-6)
    np.testing.assert_allclose(out[1], [30 / 64, 30 / 64], atol=2e-3)   # peak plus the uniform 2e-9 floor
    np.testing.assert_allclose(out[2], [0, 0], atol=1e-6)              # x = -0.64 cells truncates to col 0
    xy[0, 2, 0] = -0.02                                               # -1.28 cells truncates to -1: outside
    np.testing.assert_array_equal(refine_from_heatmap(xy, hm)[0, 2], xy[0, 2])
    hm[0, 30, 30, 1] = -0.1                                           # below 0.5: left alone
    np.testing.assert_array_equal(refine_from_heatmap(xy, hm)[0, 1], xy[0, 1])
    xy[0, 0] = [1.2, 0.5]                                             # outside the map: left alone
    np.testing.assert_array_equal(refine_from_heatmap(xy, hm)[0, 0], xy[0, 0])


def _obs(x, y, source=-1, score=0.9, size=40.0):
    kp = np.array([[x, y]], float) + np.random.default_rng(int(x * 7 + y)).normal(0, size / 8, (33, 2))
    return Observation(kp, np.ones(33), np.array([x - size / 2, y - size, x + size / 2, y + size]), score, source)


def _states(reports):
    return [(r.track.track_id, r.track.state) for r in reports]


def test_tracker_states_ids_and_termination():
    tr = Tracker(max_people=4, lost_frames=2)
    assert _states(tr.update([_obs(100, 100), _obs(300, 100)])) == [(0, S.NEW), (1, S.NEW)]
    # order of observations does not matter; slight motion keeps the IDs
    assert _states(tr.update([_obs(305, 102), _obs(103, 101)])) == [(0, S.TRACKED), (1, S.TRACKED)]
    assert _states(tr.update([_obs(106, 102)])) == [(0, S.TRACKED), (1, S.LOST)]
    assert _states(tr.update([_obs(109, 103)])) == [(0, S.TRACKED), (1, S.LOST)]
    assert _states(tr.update([_obs(112, 103)])) == [(0, S.TRACKED), (1, S.TERMINATED)]   # reported once
    assert _states(tr.update([_obs(115, 104), _obs(300, 100)])) == [(0, S.TRACKED), (2, S.NEW)]  # no reuse


def test_tracker_refinds_lost_track_and_caps_people():
    tr = Tracker(max_people=2, lost_frames=5)
    tr.update([_obs(100, 100), _obs(300, 100)])
    tr.update([_obs(100, 100)])
    assert _states(tr.update([_obs(100, 100), _obs(302, 101)])) == [(0, S.TRACKED), (1, S.TRACKED)]
    assert _states(tr.update([_obs(100, 100), _obs(300, 100), _obs(500, 100)])) == [(0, S.TRACKED), (1, S.TRACKED)]


def test_tracker_suppresses_duplicates():
    tr = Tracker()
    tr.update([_obs(100, 100), _obs(300, 100)])
    same = _obs(300, 100)
    twin = Observation(same.keypoints + 1.0, same.visibility, same.bbox + 1.0, 0.99, 0)  # track 0's ROI drifted
    reports = tr.update([_obs(300, 100, source=1), twin])
    assert _states(reports) == [(1, S.TRACKED), (0, S.LOST)]         # one person: the track that stayed keeps it
    assert sum(r.observation >= 0 for r in reports) == 1


def test_one_euro_filter():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, derivate_cutoff=1.0)
    assert f(np.array([5.0]), 0)[0] == 5.0                           # first sample passes
    a = 1 / (1 + 1 / (2 * math.pi * 1.0) * 30)                      # alpha at 30 Hz, cutoff 1 Hz
    assert f(np.array([6.0]), 33_333_333)[0] == pytest.approx(5 + a, rel=1e-6)
    assert f(np.array([9.0]), 33_333_333)[0] == 9.0                 # same stamp: unfiltered (MediaPipe)
    outs = [f(np.array([6.0]), 33_333_333 * k)[0] for k in range(2, 200)]
    assert outs[-1] == pytest.approx(6.0, abs=1e-6) and all(np.diff(outs) >= -1e-12)
    slow, fast = OneEuroFilter(0.05, 0.0, 1.0), OneEuroFilter(0.05, 80.0, 1.0)   # beta: less lag when moving
    for k in range(10):
        ys = [g(np.array([10.0 * k]), k * 33_333_333, 1 / 100)[0] for g in (slow, fast)]
    assert abs(ys[1] - 90) < abs(ys[0] - 90)


def test_config_validation_names_value_and_range():
    for kwargs, text in [({'max_people': 0}, 'max_people must be an integer in [1, 32], got 0'),
                         ({'min_detection_confidence': 1.5}, 'min_detection_confidence must be a number in [0, 1]'),
                         ({'landmark_variant': 'tiny'}, "'tiny'"), ({'prefer': ('torch',)}, "('torch',)"),
                         ({'lost_frames': -1}, 'got -1'), ({'threads': -1}, 'threads'),
                         ({'detector_tile_px': 10}, 'detector_tile_px'), ({'max_people': True}, 'True')]:
        with pytest.raises(ConfigError, match=text.replace('(', r'\(').replace(')', r'\)').replace('[', r'\[')):
            PoseConfig(**kwargs)
    assert PoseConfig(prefer=['onnxruntime']).prefer == ('onnxruntime',)
    assert tile_origins(768, 576, 288) == [(x, y) for y in (0, 144, 288) for x in (0, 120, 240, 360, 480)]


# ---------------------------------------------------------------- real models and frames
@pytest.fixture(scope='module')
def backends():
    from nvb_perception.backends import load_backend
    if not (MODELS / 'pose_landmark_full.onnx').is_file():
        pytest.skip(f'models missing in {MODELS}: run `make setup` / `nvb-export-models`')
    return (load_backend(MODELS / 'pose_detection.onnx', prefer=('onnxruntime',)),
            load_backend(MODELS / 'pose_landmark_full.onnx', prefer=('onnxruntime',)))


def _estimator(backends, **kwargs):
    return PoseEstimator(PoseConfig(model_dir=str(MODELS), **kwargs), *backends)


def _image(rel):
    import cv2
    img = cv2.imread(str(ASSETS / 'data' / rel), cv2.IMREAD_COLOR)
    if img is None:
        pytest.skip(f'{rel} missing: run `make setup`')
    return img


def test_bad_inputs_and_degenerate_frames(backends):
    est = _estimator(backends)
    assert est.backend_name == 'onnxruntime'
    for bad in (np.zeros((48, 64, 3), np.float32), np.zeros((48, 64), np.uint8), np.zeros((48, 64, 4), np.uint8),
                np.zeros((0, 64, 3), np.uint8), [[0]]):
        with pytest.raises(ImageError):
            est(bad, 0)
    assert est(np.zeros((480, 640, 3), np.uint8), 1).people == ()
    assert est(np.full((8, 8, 3), 128, np.uint8), 2).people == ()


def test_8k_frame(backends):
    import cv2
    big = cv2.resize(_image('opencv/messi5.jpg'), (7680, 4320), interpolation=cv2.INTER_LINEAR)
    people = _estimator(backends, static_image_mode=True, max_people=1)(big, 0).visible
    assert len(people) == 1 and np.ptp(people[0].skeleton.keypoints[:, 0]) > 1000


class _NaNFirst:
    """Landmark backend wrapper that poisons row 0 of every batch."""

    def __init__(self, backend):
        self.backend, self.inputs, self.outputs = backend, backend.inputs, backend.outputs

    def __call__(self, feed):
        out = {k: np.array(v) for k, v in self.backend(feed).items()}
        out['Identity'][0, 7] = np.nan
        return out


def test_nan_person_is_dropped_and_counted(backends):
    est = PoseEstimator(PoseConfig(model_dir=str(MODELS)), backends[0], _NaNFirst(backends[1]))
    result = est(_image('opencv/basketball2.png'), 0)
    assert result.landmark_batch == 2 and result.nan_dropped == 1 and len(result.visible) == 1
    assert est.stats['nan_dropped'] == 1 and 'non-finite' in result.warnings[0]


def test_time_going_backwards_resets_smoothing(backends):
    frame = _image('opencv/messi5.jpg')
    est = _estimator(backends)
    for k, stamp in enumerate((1_000_000_000, 1_033_000_000, 1_066_000_000)):
        result = est(np.roll(frame, 4 * k, axis=1), stamp)               # the person moves right
    smoother = est.tracker.tracks[0].payload['smoother'].landmarks
    assert not np.allclose(smoother.x.value, smoother.x.raw)          # smoothing is active
    back = est(np.roll(frame, 12, axis=1), 500_000_000)               # time goes backwards
    assert back.time_reset and not result.time_reset and est.stats['time_resets'] == 1 and back.warnings
    assert back.visible[0].skeleton.track_id == 0 and smoother.last_ns == 500_000_000
    # the filter restarted: this frame's landmarks pass through unfiltered
    np.testing.assert_array_equal(smoother.x.value, smoother.x.raw)
    np.testing.assert_allclose(back.visible[0].skeleton.keypoints, smoother.x.raw[:, :2], atol=1e-4)


def test_batch_equals_single_calls(backends, tmp_path):
    from nvb_perception.backends.onnxruntime_backend import OnnxRuntimeBackend
    from nvb_perception.export.tflite_to_onnx import convert
    tfl = ASSETS / 'tflite' / 'pose_landmark_full.tflite'
    if not tfl.is_file():
        pytest.skip(f'{tfl} missing')
    convert(tfl, tmp_path / 'static.onnx')
    model = convert(tfl, tmp_path / 'dynamic.onnx', dynamic_batch=True)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ['batch', 256, 256, 3] and {p.key: p.value for p in model.metadata_props}['dynamic_batch'] == 'true'
    single = LandmarkModel(OnnxRuntimeBackend(tmp_path / 'static.onnx'))
    batched = LandmarkModel(OnnxRuntimeBackend(tmp_path / 'dynamic.onnx'))
    assert not single.batched and batched.batched
    frame = _image('opencv/basketball2.png')
    rois = [Roi(300, 250, 400, 0.1), Roi(100, 260, 450, -0.2), Roi(500, 200, 120, 2.0)]
    a, b = batched(frame, rois), single(frame, rois)
    for name in ('points', 'visibility', 'presence', 'world', 'pose_flag'):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-4, err_msg=name)


def test_basketball_ids_survive_consecutive_frames(backends):
    est = _estimator(backends, detect_every_n_frames=1)
    first = est(_image('opencv/basketball1.png'), 0).visible
    second = est(_image('opencv/basketball2.png'), 33_000_000).visible
    assert len(first) >= 1 and len(second) == 2
    hips = {p.skeleton.track_id: p.skeleton.keypoints[23:25].mean(0) for p in second}
    for p in first:     # each person of frame 1 is, in frame 2, the one nearest to where it was
        near = min(hips, key=lambda tid: np.linalg.norm(hips[tid] - p.skeleton.keypoints[23:25].mean(0)))
        assert near == p.skeleton.track_id


@pytest.mark.slow
def test_vtest_multi_person_ids_stable_over_30_frames(backends):
    import cv2
    cap = cv2.VideoCapture(str(ASSETS / 'data' / 'opencv' / 'vtest.avi'))
    est = _estimator(backends, max_people=8, detector_tile_px=288, detect_every_n_frames=10)
    hips: dict[int, list] = {}
    for i in range(30):
        ok, frame = cap.read()
        assert ok
        result = est(frame, i * 40_000_000)
        if i == 0:
            assert len(result.visible) >= 3, 'several people in the first frame'
        for p in result.visible:
            hips.setdefault(p.skeleton.track_id, []).append((i, p.skeleton.keypoints[23:25].mean(0)))
    steady = [tid for tid, seen in hips.items() if len(seen) == 30]
    assert len(steady) >= 2, f'tracks seen in all 30 frames: {steady}'
    for tid in steady:   # an ID never jumps to another person: walking speed is a few px per frame
        step = np.linalg.norm(np.diff([h for _, h in hips[tid]], axis=0), axis=1)
        assert step.max() < 25, (tid, step.max())
    assert len(hips) <= 8, f'ID churn: {sorted(hips)}'
