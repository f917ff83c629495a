"""Motion labels from tracks (synthetic walks with known speeds, real vtest tracks), reversal, annotations, mAP."""
import numpy as np
import pytest

from nvb_perception.datasets import action_labels as lab
from nvb_perception.errors import PerceptionError
from nvb_perception.evaluation.action_metrics import average_precision, frame_map

FPS = 10.0
HEIGHT_PX = 80.0


def walk(track_id, frames, x0, y0, vx_hps, vy_hps, growth=0.0):
    """Boxes of a person walking at (vx, vy) person heights per second; height grows by `growth` per second."""
    t = np.asarray(frames) / FPS
    h = HEIGHT_PX * np.exp(growth * t)
    cx = x0 + vx_hps * HEIGHT_PX * t
    feet = y0 + vy_hps * HEIGHT_PX * t
    return np.stack([cx - h / 4, feet - h, cx + h / 4, feet], 1).astype(np.float32)


def make_tracks(boxes: dict[int, tuple[np.ndarray, np.ndarray]], num_frames=60) -> lab.Tracks:
    frame = np.concatenate([f for f, _ in boxes.values()])
    tid = np.concatenate([np.full(len(f), k) for k, (f, _) in boxes.items()])
    bbox = np.concatenate([b for _, b in boxes.values()])
    n = len(frame)
    return lab.Tracks(frame.astype(np.int64), tid.astype(np.int64), bbox, np.zeros((n, 33, 2), np.float32),
                      np.zeros((n, 33), np.float32), (768, 576), FPS, num_frames)


def classes_of(row):
    return {c for c, v in zip(lab.MOTION_CLASSES, row) if v}


def test_synthetic_walks_get_their_labels():
    f = np.arange(30)
    tracks = make_tracks({
        1: (f, walk(1, f, 600, 300, -0.8, 0.0)),          # left
        2: (f, walk(2, f, 100, 300, 0.8, 0.0)),           # right
        3: (f, walk(3, f, 300, 200, 0.0, 0.3, 0.1)),      # toward: feet down + growing
        4: (f, walk(4, f, 300, 500, 0.0, -0.3, -0.1)),    # away
        5: (f, walk(5, f, 400, 500, 0.0, 0.0)),           # standing
    })
    labels = lab.motion_labels(tracks)
    mid = {int(tracks.track_id[r]): classes_of(labels[r]) for r in range(len(tracks)) if tracks.frame[r] == 15}
    assert mid[1] == {'walk_left'}
    assert mid[2] == {'walk_right'}
    assert mid[3] == {'walk_toward'}
    assert mid[4] == {'walk_away'}
    assert mid[5] == {'standing', 'close_to_other'} or mid[5] == {'standing'}


def test_close_to_other_and_concurrent_labels():
    f = np.arange(20)
    tracks = make_tracks({1: (f, walk(1, f, 300, 300, 0.8, 0.0)), 2: (f, walk(2, f, 330, 300, 0.8, 0.0))})
    labels = lab.motion_labels(tracks)
    assert all(classes_of(labels[r]) == {'walk_right', 'close_to_other'} for r in range(len(tracks))
               if 3 <= tracks.frame[r] <= 16)


def test_short_tracks_are_unlabelled():
    f = np.arange(2)
    tracks = make_tracks({1: (f, walk(1, f, 300, 300, 0.8, 0.0))})
    assert not lab.labelled(tracks).any()
    assert not lab.motion_labels(tracks)[:, :5].any()


def test_reversal_swaps_directions_exactly():
    f = np.arange(40)
    tracks = make_tracks({1: (f, walk(1, f, 600, 300, -0.8, 0.2, 0.1)), 7: (f[5:], walk(7, f[5:], 100, 400, 0.5, 0))},
                         num_frames=40)
    fwd = lab.motion_labels(tracks)
    rev_tracks = lab.reverse_tracks(tracks)
    rev = lab.motion_labels(rev_tracks)
    # match rows: reversed frame = num_frames - 1 - frame
    key = {(int(t), int(fr)): i for i, (t, fr) in enumerate(zip(rev_tracks.track_id, rev_tracks.frame))}
    order = [key[(int(t), 39 - int(fr))] for t, fr in zip(tracks.track_id, tracks.frame)]
    np.testing.assert_array_equal(rev[order], lab.reversed_labels(fwd))
    assert fwd[:, 0].any() and lab.reversed_labels(fwd)[:, 1].any()


def test_real_vtest_tracks(assets):
    """The pose stage's tracks of the first 20 frames of vtest.avi: people are found and mostly walking."""
    tracks = lab.track_video(assets / 'data' / 'opencv' / 'vtest.avi', max_frames=20)
    assert tracks.num_frames == 20 and tracks.fps == pytest.approx(10.0)
    assert len(tracks.segments()) >= 3
    labels = lab.motion_labels(tracks)
    known = lab.labelled(tracks)
    assert known.mean() > 0.8
    walking = labels[known][:, :4].any(1).mean()
    assert walking > 0.5, f'only {walking:.0%} of the observed pedestrians walk'
    rev = lab.reversed_labels(labels)
    np.testing.assert_array_equal(rev[:, 0], labels[:, 1])


def test_tracks_round_trip(tmp_path):
    f = np.arange(5)
    tracks = make_tracks({3: (f, walk(3, f, 300, 300, 0.5, 0.0))})
    lab.save_tracks(tmp_path / 't.npz', tracks)
    back = lab.load_tracks(tmp_path / 't.npz')
    np.testing.assert_array_equal(back.bbox, tracks.bbox)
    assert back.image_size == (768, 576) and back.num_frames == 60


def test_annotations(tmp_path):
    csv = tmp_path / 'a.csv'
    csv.write_text('video,label,start_s,end_s,track_id\nclip.mp4,nod,0.0,0.45,2\nclip.mp4,smile,0.2,0.3,-1\n'
                   'other.mp4,nod,0,9,\n')
    ann = lab.read_annotations(csv)
    assert len(ann) == 3 and ann[2].track_id == -1
    frame = np.array([0, 1, 2, 3, 4, 5, 2])
    tid = np.array([2, 2, 2, 2, 2, 2, 9])
    y = lab.annotation_labels(ann, 'clip.mp4', ('nod', 'smile'), frame, tid, fps=10.0)
    np.testing.assert_array_equal(y[:, 0], [1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(y[:, 1], [0, 0, 1, 1, 0, 0, 1])


@pytest.mark.parametrize('text', ['video,label,start\nx,y,1\n', 'video,label,start_s,end_s\nx,y,2,1\n',
                                  'video,label,start_s,end_s\nx,y,a,1\n'], ids=['header', 'backwards', 'number'])
def test_bad_annotations(tmp_path, text):
    (tmp_path / 'a.csv').write_text(text)
    with pytest.raises(PerceptionError):
        lab.read_annotations(tmp_path / 'a.csv')


def test_average_precision_known_values():
    assert average_precision([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert average_precision([0.9, 0.8, 0.1], [0, 0, 1]) == pytest.approx(1 / 3)
    assert average_precision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(average_precision([0.1, 0.2], [0, 0]))
    m, ap = frame_map(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[1, 0], [0, 0]], bool))
    assert m == 1.0 and np.isnan(ap[1])
    with pytest.raises(ValueError):
        frame_map(np.zeros((2, 3)), np.zeros((2, 2), bool))
