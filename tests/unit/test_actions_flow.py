"""Attention-map flow: known synthetic motions (units: patches per frame), window warps, selection, real crops."""
import numpy as np
import pytest

from nvb_perception.actions import flow

SHIFT_TOLERANCE = 0.05     # patches per frame


def blob(cx, cy, gh=12, gw=12, sigma=1.5):
    """A normalised Gaussian attention map centred at (cx, cy) in patch units (patch i spans [i, i+1))."""
    y, x = np.mgrid[0:gh, 0:gw] + 0.5
    a = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))
    return (a / a.sum()).astype(np.float32)


SHIFTS = [(0.5, 0.0), (-1.0, 0.0), (0.0, 0.7), (1.2, -0.8)]


@pytest.mark.parametrize('method', ['dis', 'farneback'])
def test_flow_recovers_blob_motion(method):
    prev = np.stack([blob(6, 6)] * len(SHIFTS))
    cur = np.stack([blob(6 + dx, 6 + dy) for dx, dy in SHIFTS])
    f = flow.attention_flow(prev, cur, method)
    assert f.shape == (len(SHIFTS), 2, 12, 12)
    feats = flow.flow_features(f, cur)
    assert feats.shape == (len(SHIFTS), flow.FLOW_FEATURES)
    # per-map flow on 24 x 24 px images: large shifts are slightly underestimated (~10 % at 1.4 patches)
    np.testing.assert_allclose(feats[:, :2], np.array(SHIFTS), rtol=0.12, atol=SHIFT_TOLERANCE)


def test_difference_moments_follow_the_motion_sign():
    prev = np.stack([blob(6, 6)] * len(SHIFTS))
    cur = np.stack([blob(6 + dx, 6 + dy) for dx, dy in SHIFTS])
    d = flow.difference_features(prev, cur)
    signs = np.sign(np.array(SHIFTS))
    assert (np.sign(np.round(d[:, :2], 6)) == signs).all()
    np.testing.assert_allclose(flow.difference_features(prev, prev), 0, atol=1e-6)


def test_static_maps_give_zero_flow():
    maps = np.stack([blob(4, 7), blob(8, 3)])
    for method in ('dis', 'farneback'):
        # Farneback leaves ~0.1-patch noise where the maps are flat; the attention-weighted mean is ~0
        assert np.abs(flow.flow_features(flow.attention_flow(maps, maps, method), maps)[:, :4]).max() < 0.005


def test_warp_moves_maps_with_the_window():
    # the window moves right by one patch (14 px of a 168 px window over 12 patches): content moves left by 1
    prev = blob(6, 6)[None]
    warped = flow.warp_maps(prev, (0, 0, 168, 168), (14, 0, 168, 168))
    x = (np.arange(12) + 0.5)[None]
    assert abs((warped[0] * x).sum() / warped[0].sum() - 5.0) < 0.01   # patches (edge truncation)
    # same window: unchanged
    np.testing.assert_array_equal(flow.warp_maps(prev, (0, 0, 168, 168), (0, 0, 168, 168)), prev)


def test_window_warp_turns_window_motion_into_image_motion():
    """A static person seen through a window that moved: after the warp, no flow."""
    person = blob(6, 6)
    shifted_window_view = blob(5, 6)                      # window moved +1 patch, so the person is 1 patch left
    prev = flow.warp_maps(person[None], (0, 0, 168, 168), (14, 0, 168, 168))
    f = flow.attention_flow(prev, shifted_window_view[None], 'farneback')
    assert abs(flow.flow_features(f, shifted_window_view[None])[0, 0]) < SHIFT_TOLERANCE


def test_select_maps_layers_and_heads():
    att = np.arange(12 * 6 * 2 * 2, dtype=np.float32).reshape(12, 6, 2, 2)
    sel = flow.select_maps(att, layers=(1, 12), heads=(0, 5))
    assert sel.shape == (4, 2, 2)
    np.testing.assert_array_equal(sel[1], att[0, 5])
    np.testing.assert_array_equal(sel[2], att[11, 0])
    assert flow.select_maps(att[None]).shape == (1, 72, 2, 2)
    with pytest.raises(ValueError):
        flow.select_maps(att, layers=(0,))
    with pytest.raises(ValueError):
        flow.select_maps(att, heads=(6,))


@pytest.mark.parametrize('bad', ['method', 'shape'])
def test_bad_inputs(bad):
    a = np.zeros((2, 4, 4), np.float32)
    with pytest.raises(ValueError):
        if bad == 'method':
            flow.motion_features(a, a, 'lucas')
        else:
            flow.attention_flow(a, np.zeros((3, 4, 4), np.float32))


def test_track_start_has_zero_motion():
    maps = np.stack([blob(6, 6)] * 3)
    assert not flow.motion_features(None, maps).any()
    assert flow.motion_features(None, maps).shape == (3 * 8,)


def test_flow_on_real_vtest_crops(assets):
    """A pedestrian of vtest.avi walking right inside a fixed window: the attention of the last layers moves right.

    Needs the exported backbone; the crops are real consecutive frames (track 0 of the video, frames 0 and 1).
    """
    from nvb_perception.actions.backbone import BACKBONE_FILE, AttentionBackbone
    from nvb_perception.actions.features import crop_window
    from nvb_perception.io.video import iter_video_frames
    path = assets / 'models' / BACKBONE_FILE
    if not path.is_file():
        pytest.skip('backbone missing: python -m nvb_perception.export.extract_vit')
    frames = [f.bgr for f in iter_video_frames(assets / 'data' / 'opencv' / 'vtest.avi', max_frames=5)]
    # track 0, a man of ~80 px walking right at ~6 px per frame (box x0 258 -> 282 px over frames 0-4)
    window = (221.0, 201.0, 128.0, 128.0)
    crops = np.stack([crop_window(frames[i], window, 168) for i in (0, 1)])
    out = AttentionBackbone.from_path(path, threads=1)(crops)
    maps = flow.select_maps(out.attention, layers=(10, 11, 12))            # (2, 18, 12, 12)
    for method in ('dis', 'farneback'):
        feats = flow.flow_features(flow.attention_flow(maps[0], maps[1], method), maps[1])
        dx = np.median(feats[:, 0])
        # ~6 px per frame in a 128 px window of 12 patches = 0.56 patches per frame (measured 0.4-0.55)
        assert 0.25 < dx < 1.0, f'{method}: median dx {dx:.2f} patches per frame, expected ~0.56 (rightward)'
    assert np.median(flow.difference_features(maps[0], maps[1])[:, 0]) > 0
