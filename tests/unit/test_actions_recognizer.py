"""Streaming recognizer on real vtest frames equals the offline feature path; evidence, gaps, bad input."""
import cv2
import numpy as np
import pytest

from nvb_perception.actions.backbone import BACKBONE_FILE, AttentionBackbone
from nvb_perception.actions.features import FeatureConfig
from nvb_perception.actions.recognizer import ActionRecognizer
from nvb_perception.datasets.action_features import extract_backbone_cache, sequence_features
from nvb_perception.datasets.action_labels import MOTION_CLASSES, Tracks

torch = pytest.importorskip('torch')

FRAMES = 6
PROB_TOLERANCE = 1e-4     # ONNX head vs PyTorch
CACHE_TOLERANCE = 1e-3    # probabilities: the offline cache stores attention and tokens as float16
# two real pedestrians of vtest.avi, frames 0-5 (boxes from the pose stage's tracks: ids 0 and 1 there)
BOXES = {0: [(258, 228, 280, 309), (261, 227, 298, 308), (262, 226, 305, 305), (275, 224, 305, 300),
             (282, 222, 312, 298), (285, 221, 318, 299)]}


@pytest.fixture(scope='module')
def setup(assets, tmp_path_factory):
    from nvb_perception.export.action_head import write_head
    from nvb_perception.io.video import iter_video_frames
    from nvb_perception.training.action_model import ActionModelConfig, build_action_model
    path = assets / 'models' / BACKBONE_FILE
    if not path.is_file():
        pytest.skip('backbone missing: python -m nvb_perception.export.extract_vit')
    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = FeatureConfig(window_frames=4)
    model = build_action_model(ActionModelConfig(kind='flow', motion_dim=config.num_maps * 8, window=4))
    for p in model.parameters():          # random but not tiny: probabilities spread out
        p.data.normal_(0, 0.2)
    head = tmp_path_factory.mktemp('head') / 'actions_flow.onnx'
    assert write_head(model, {'classes': list(MOTION_CLASSES), 'features': config.to_json(), 'flow': 'dis',
                              'fps': 10.0}, head) <= PROB_TOLERANCE
    frames = list(iter_video_frames(assets / 'data' / 'opencv' / 'vtest.avi', max_frames=FRAMES))
    return path, head, model.eval(), config, frames


def test_streaming_equals_offline_features(setup, tmp_path):
    path, head, model, config, frames = setup
    recognizer = ActionRecognizer.from_paths(path, head, threads=1)
    boxes = np.asarray(BOXES[0], np.float32)
    online = [recognizer(f.bgr, f.stamp_ns, [(0, boxes[i])]) for i, f in enumerate(frames)]
    assert all(len(r.frame.actions) == 1 and r.frame.actions[0].track_id == 0 for r in online)
    # offline: the same track through the cache + sequence_features + the PyTorch model
    n = len(frames)
    tracks = Tracks(np.arange(n), np.zeros(n, np.int64), boxes, np.zeros((n, 33, 2), np.float32),
                    np.zeros((n, 33), np.float32), (768, 576), 10.0, n)
    video = tmp_path / 'frames'     # the cache decodes a video itself: the same frames as lossless PNGs
    video.mkdir()
    for f in frames:
        cv2.imwrite(str(video / f'{f.index:04d}.png'), f.bgr)
    cache = extract_backbone_cache(video, tracks, AttentionBackbone.from_path(path, threads=1), config)
    seq = sequence_features(cache, config, 'dis', 'forward')
    motion = np.concatenate([seq.motion, seq.has_prev[:, None].astype(np.float32)], 1)
    with torch.no_grad():
        for i in range(n):
            win = seq.window[i]
            mask = (win >= 0).astype(np.float32)
            safe = np.where(win >= 0, win, 0)
            tokens = torch.from_numpy(seq.tokens[safe] * mask[:, None, None])[None]
            mot = torch.from_numpy(motion[safe] * mask[:, None])[None]
            want = torch.sigmoid(model(tokens, mot, torch.from_numpy(mask)[None]))[0].numpy()
            got = online[i].frame.actions[0].probabilities
            np.testing.assert_allclose(got, want, atol=CACHE_TOLERANCE)
    assert 0 < online[-1].frame.actions[0].probabilities.std()


def test_evidence_and_heatmap(setup):
    path, head, _, config, frames = setup
    recognizer = ActionRecognizer.from_paths(path, head, threads=1)
    boxes = BOXES[0]
    for i, f in enumerate(frames[:3]):
        result = recognizer(f.bgr, f.stamp_ns, [(0, boxes[i]), (5, (600, 300, 640, 400))])
    assert {a.track_id for a in result.frame.actions} == {0, 5}
    names = dict(result.frame.actions[0].evidence)
    assert {'top_map_layer', 'top_map_head', 'region0_x_px', 'region0_y_px', 'region0_score'} <= set(names)
    assert names['top_map_layer'] in config.flow_layers
    x0, y0, w, h = result.windows[0]
    assert x0 <= names['region0_x_px'] <= x0 + w and y0 <= names['region0_y_px'] <= y0 + h
    assert result.heatmaps[0].shape == (config.crop_px // 14,) * 2
    assert set(result.timings_ms) == {'backbone', 'flow', 'head', 'total'}


def test_gap_restarts_and_time_backwards_forgets(setup):
    path, head, _, _, frames = setup
    recognizer = ActionRecognizer.from_paths(path, head, threads=1)
    box = BOXES[0][0]
    recognizer(frames[0].bgr, 0, [(0, box)])
    recognizer(frames[1].bgr, 100_000_000, [(0, box)])
    assert len(recognizer.tracks[0].tokens) == 2
    recognizer(frames[2].bgr, 1_000_000_000, [(0, box)])          # 0.9 s gap: a new sequence
    assert len(recognizer.tracks[0].tokens) == 1
    recognizer(frames[2].bgr, 500_000_000, [(0, box)])            # time went backwards: forgotten, restarted
    assert len(recognizer.tracks[0].tokens) == 1
    empty = recognizer(frames[3].bgr, 600_000_000, [])
    assert empty.frame.actions == ()


@pytest.mark.parametrize('bad', ['gray', 'float', 'degenerate_box'])
def test_bad_input(setup, bad):
    path, head, _, _, frames = setup
    recognizer = ActionRecognizer.from_paths(path, head, threads=1)
    if bad == 'degenerate_box':       # skipped, not an error
        assert recognizer(frames[0].bgr, 0, [(1, (10, 10, 10, 50)), (2, (np.nan, 0, 5, 5))]).frame.actions == ()
        return
    image = frames[0].bgr[..., 0] if bad == 'gray' else frames[0].bgr.astype(np.float32)
    with pytest.raises(ValueError):
        recognizer(image, 0, [(0, BOXES[0][0])])


def test_whole_frame_mode(setup):
    path, head, _, _, frames = setup
    recognizer = ActionRecognizer.from_paths(path, head, threads=1, whole_frame=True)
    result = recognizer(frames[0].bgr, 0, [])
    assert [a.track_id for a in result.frame.actions] == [-1]
    x0, y0, w, h = result.windows[-1]
    assert w == h == 768 and x0 == 0


def test_runtime_imports_no_torch():
    """The streaming stage and its node run on ONNX Runtime only: torch stays in nvb_perception.training."""
    import subprocess
    import sys
    code = ('import sys, nvb_perception.actions.recognizer, nvb_perception.actions.features, '
            'nvb_perception.datasets.action_labels; print("torch" in sys.modules)')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == 'False', result.stderr
