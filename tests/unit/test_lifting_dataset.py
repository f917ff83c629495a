"""Splits by file and time segment, augmentation and simulated windows."""
from dataclasses import replace

import numpy as np
import pytest

from nvb_perception.datasets import lifting_windows as dataset
from nvb_perception.datasets.bvh import MocapClip
from nvb_perception.datasets.corruption import CLEAN
from nvb_perception.datasets.lifting_windows import PARENTS, SimulationConfig
from nvb_perception.skeleton import H36M

# A standing skeleton (world z up, metres), facing +y: its left is -x (left x up = forward).
STAND = np.array([[0, 0, 1.0], [0.1, 0, 1.0], [0.1, 0, 0.55], [0.1, 0, 0.1], [-0.1, 0, 1.0], [-0.1, 0, 0.55],
                  [-0.1, 0, 0.1], [0, 0, 1.25], [0, 0, 1.5], [0, 0.05, 1.55], [0, 0.03, 1.8], [-0.18, 0, 1.48],
                  [-0.2, 0, 1.2], [-0.2, 0.1, 0.98], [0.18, 0, 1.48], [0.2, 0, 1.2], [0.2, 0.1, 0.98]], np.float32)


def walking(frames=600, name='walk', fps=30.0):
    """A clip whose pelvis x encodes the frame index (to detect leaks), with swinging arms."""
    t = np.arange(frames)
    pos = np.tile(STAND, (frames, 1, 1))
    pos[..., 0] += (t * 1e-3)[:, None]
    pos[:, [H36M.LEFT_WRIST, H36M.RIGHT_WRIST], 1] += 0.2 * np.sin(t / 10)[:, None]
    return MocapClip(name, pos, fps)


def test_resample_changes_the_rate_linearly():
    clip = walking(241, fps=24.0)
    out = dataset.resample(clip, 30.0)
    assert out.fps == 30.0 and len(out.positions) == 301
    np.testing.assert_allclose(out.positions[::5, 0, 0], clip.positions[::4, 0, 0], atol=1e-6)


def test_split_by_file_and_time_segment_never_shares_frames():
    clips = [walking(3000, 'a'), walking(1000, 'held')]
    splits = dataset.split_clips(clips, held_out=('held',), segment_s=10.0, val_every=3, guard_s=1.0)
    assert len(splits['test']) == 1 and len(splits['test'][0]) == 1000
    index = {name: np.concatenate([np.round(s[:, 0, 0] * 1000).astype(int) for s in segs])
             for name, segs in splits.items() if name != 'test'}
    assert set(index['train']).isdisjoint(index['val'])
    gaps = np.abs(index['train'][:, None] - index['val'][None]).min()
    assert gaps > 30                                     # a guard of 1 s between train and val frames
    assert 0.2 < len(index['val']) / 3000 < 0.4 and len(index['train']) > 1500


def test_scale_bones_scales_each_bone():
    pos = np.tile(STAND, (2, 3, 1, 1))
    same = dataset.scale_bones(pos, np.ones((2, 17)))
    np.testing.assert_allclose(same, pos, atol=1e-6)
    factors = np.ones((2, 17))
    factors[1] = 1.5
    scaled = dataset.scale_bones(pos, factors)
    bones = np.linalg.norm(pos[..., 1:, :] - pos[..., PARENTS[1:], :], axis=-1)
    new = np.linalg.norm(scaled[..., 1:, :] - scaled[..., PARENTS[1:], :], axis=-1)
    np.testing.assert_allclose(new[1], 1.5 * bones[1], rtol=1e-5)
    np.testing.assert_allclose(scaled[..., 0, :], pos[..., 0, :])


def test_mirror_relabels_and_is_an_involution():
    m = dataset.mirror(STAND)
    np.testing.assert_allclose(dataset.mirror(m), STAND)
    # after mirroring the left joints are still on the subject's left (-x when facing +y)
    assert m[H36M.LEFT_HIP, 0] < 0 < m[H36M.RIGHT_HIP, 0]


def test_rotate_vertical_keeps_heights_and_lengths():
    pos = np.tile(STAND, (4, 1, 1))
    out = dataset.rotate_vertical(pos, np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out[..., 2], pos[..., 2], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(pos, axis=-1), atol=1e-5)


def test_draw_windows_respects_segments_and_speed():
    seg = walking(300).positions
    win = dataset.draw_windows([seg], 50, 27, np.random.default_rng(0), speed=(0.5, 2.0))
    assert win.shape == (50, 27, 17, 3)
    steps = np.diff(win[:, :, 0, 0], axis=1) * 1000          # source frames per output frame
    assert steps.min() >= 0.5 - 1e-3 and steps.max() <= 2.0 + 1e-3
    with pytest.raises(ValueError, match='long enough'):
        dataset.draw_windows([seg[:20]], 5, 27, np.random.default_rng(0))


def test_make_windows_shapes_determinism_and_frames():
    segs = [walking(400).positions]
    x, y, info = dataset.make_windows(segs, 64, 9, np.random.default_rng(0))
    assert x.shape == y.shape == (64, 9, 17, 3) and x.dtype == y.dtype == np.float32
    assert info['elevation_deg'].shape == (64,)
    np.testing.assert_allclose(y[..., H36M.PELVIS, :], 0.0, atol=1e-6)
    assert not x[..., :2][x[..., 2] == 0].any()               # unseen joints carry no position
    again = dataset.make_windows(segs, 64, 9, np.random.default_rng(0))
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(y, again[1])


def test_clean_inputs_agree_with_the_targets():
    """Normalised 2D x/y must look like the target's x/y (optical/ray frame: x right, y down)."""
    config = SimulationConfig(corruption=CLEAN)
    x, y, _ = dataset.make_windows([walking(400).positions], 256, 3, np.random.default_rng(1), config, False)
    for axis in (0, 1):
        assert np.corrcoef(x[:, -1, :, axis].ravel(), y[:, -1, :, axis].ravel())[0, 1] > 0.9
    head_above = y[:, -1, H36M.HEAD, 1] < y[:, -1, H36M.PELVIS, 1]    # y down: the head has smaller y
    assert head_above.mean() > 0.95


def test_static_windows_repeat_the_last_frame():
    config = replace(SimulationConfig(), static_prob=1.0)
    x, y, _ = dataset.make_windows([walking(400).positions], 8, 5, np.random.default_rng(2), config)
    np.testing.assert_array_equal(x, np.repeat(x[:, -1:], 5, axis=1))


def test_real_split_holds_out_a_whole_file(assets):
    from nvb_perception.datasets.bvh import load_h36m
    clips = [dataset.resample(load_h36m(assets / 'data' / 'bvh' / f'{n}.bvh')) for n in ('test', 'test2')]
    splits = dataset.split_clips(clips, held_out=('test2',))
    assert sum(len(s) for s in splits['test']) == len(clips[1].positions)
    assert sum(len(s) for s in splits['train']) + sum(len(s) for s in splits['val']) < len(clips[0].positions)
