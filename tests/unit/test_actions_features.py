"""Crop windows (hysteresis, causal), crops, backbone cache round trip and sequence features in both directions."""
import numpy as np
import pytest

from nvb_perception.actions.features import CropWindows, FeatureConfig, crop_window
from nvb_perception.datasets.action_features import (
    BackboneCache,
    load_cache,
    save_cache,
    sequence_features,
    sequence_order,
    track_windows,
)
from nvb_perception.datasets.action_labels import Tracks


def box(cx, cy, h=80.0):
    return (cx - h / 4, cy - h / 2, cx + h / 4, cy + h / 2)


def test_window_stays_then_recentres_and_rescales():
    w = CropWindows(FeatureConfig(context=1.6, recenter=0.2, rescale=0.25))
    first, moved = w.update(box(300, 200))
    assert moved and first[2] == first[3] == pytest.approx(128.0)
    assert w.update(box(320, 200)) == (first, False)           # 20 px = 0.16 of the side: stays
    second, moved = w.update(box(330, 200))                    # 30 px = 0.23: re-centres
    assert moved and second[0] + second[2] / 2 == pytest.approx(330)
    third, moved = w.update(box(330, 200, h=110))              # +37 % height: re-sized
    assert moved and third[2] == pytest.approx(176.0)


def test_crop_is_the_window_content():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_window(image, (20, 30, 56, 56), 56), image[30:86, 20:76])
    big = crop_window(image, (-40, -40, 240, 240), 56)         # shrinking, partly outside: replicated border
    assert big.shape == (56, 56, 3) and big.dtype == np.uint8
    np.testing.assert_array_equal(big[0, 0], image[0, 0])
    small = crop_window(image, (100.5, 60.5, 28, 28), 168)     # enlarging with sub-pixel offsets
    assert small.shape == (168, 168, 3)


def synthetic_cache(n_frames=8, gap_at=5):
    """One track with a gap (frames 0-4, 6-7 -> two sequences) and a second short track, random 12 x 12 maps."""
    frames = np.array([f for f in range(n_frames) if f != gap_at] + [2, 3])
    ids = np.array([0] * (len(frames) - 2) + [1, 1])
    n = len(frames)
    boxes = np.array([box(300 + 5 * f, 200) for f in frames], np.float32)
    tracks = Tracks(frames, ids, boxes, np.zeros((n, 33, 2), np.float32), np.zeros((n, 33), np.float32),
                    (768, 576), 10.0, n_frames)
    rng = np.random.default_rng(0)
    att = rng.random((n, 12, 6, 12, 12)).astype(np.float16)
    cls = rng.normal(size=(n, 12, 384)).astype(np.float16)
    config = FeatureConfig(window_frames=4)
    return BackboneCache(att, cls, cls, track_windows(tracks, config), tracks, {'crop': config.crop_key()}), config


def test_sequences_split_at_gaps_and_reverse():
    cache, config = synthetic_cache()
    forward = sequence_order(cache.tracks, 'forward')
    assert [cache.tracks.frame[s].tolist() for s in forward] == [[0, 1, 2, 3, 4], [6, 7], [2, 3]]
    backward = sequence_order(cache.tracks, 'reversed')
    assert [cache.tracks.frame[s].tolist() for s in backward] == [[4, 3, 2, 1, 0], [7, 6], [3, 2]]
    with pytest.raises(ValueError):
        sequence_order(cache.tracks, 'sideways')


@pytest.mark.parametrize('direction', ['forward', 'reversed'])
def test_sequence_features_windows_and_flow_flags(direction):
    cache, config = synthetic_cache()
    seq = sequence_features(cache, config, 'diff', direction)
    frame = cache.tracks.frame
    assert seq.motion.shape == (len(frame), config.num_maps * 8)
    assert seq.tokens.shape == (len(frame), 3, 768)
    for rows in sequence_order(cache.tracks, direction):
        assert not seq.has_prev[rows[0]] and seq.has_prev[rows[1:]].all()
        assert not seq.motion[rows[0]].any()
        for i, r in enumerate(rows):
            win = seq.window[r]
            real = win[win >= 0]
            np.testing.assert_array_equal(real, rows[max(0, i - 3):i + 1])     # causal, oldest first, newest last
            assert (win[:4 - len(real)] == -1).all()


def test_reversed_flow_mirrors_forward_difference():
    """The temporal difference is antisymmetric: reversed playback gives minus the forward features, shifted."""
    cache, config = synthetic_cache(gap_at=99)
    fwd = sequence_features(cache, config, 'diff', 'forward')
    rev = sequence_features(cache, config, 'diff', 'reversed')
    rows = sequence_order(cache.tracks, 'forward')[0]
    checked = 0
    for a, b in zip(rows[:-1], rows[1:]):
        if np.allclose(cache.window[a], cache.window[b]):          # same window: no warp in between
            moments = [0, 1, 3, 4, 5, 6, 7]                          # every feature but sum |D|
            f = fwd.motion[b].reshape(-1, 8)[:, moments]
            r = rev.motion[a].reshape(-1, 8)[:, moments]
            np.testing.assert_allclose(r, -f, atol=1e-4)
            checked += 1
    assert checked >= 3


def test_cache_round_trip(tmp_path):
    cache, _ = synthetic_cache()
    save_cache(tmp_path / 'backbone_x.npz', cache)
    back = load_cache(tmp_path / 'backbone_x.npz')
    np.testing.assert_array_equal(back.attention, cache.attention)
    np.testing.assert_array_equal(back.tracks.frame, cache.tracks.frame)
    assert back.meta == cache.meta
    sub = back.select(np.array([0, 1, 2]))
    assert len(sub.tracks) == 3 and sub.attention.shape[0] == 3


@pytest.mark.parametrize('kwargs', [{'crop_px': 100}, {'context': 0.5}, {'recenter': 1.5}, {'window_frames': 0}],
                         ids=['crop_not_multiple_of_14', 'context', 'recenter', 'window'])
def test_bad_config(kwargs):
    with pytest.raises(ValueError):
        FeatureConfig(**kwargs)


def test_config_json_round_trip():
    config = FeatureConfig(flow_layers=(10, 12), flow_heads=(1,))
    assert FeatureConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError):
        FeatureConfig.from_json({**config.to_json(), 'unknown': 1})
