"""CueStage: real models on real stills (video mode), track ownership and life cycle, overlay and timeline."""
import dataclasses
import sys

import cv2
import numpy as np
import pytest

from nvb_perception.cues.baseline import BaselineConfig
from nvb_perception.cues.stage import CueStage, CueStageConfig
from nvb_perception.datasets.cue_synthetic import blazepose_person
from nvb_perception.types import Skeleton2DFrame, Stamp, TrackState

NS = 1_000_000_000
FIXED = BaselineConfig(mode='fixed')


@pytest.fixture(scope='module')
def stage(assets):
    models = assets / 'models'
    if not (models / 'face_landmarks_detector.onnx').exists():
        pytest.skip('face/hand models not exported: run nvb-export-face-hands')
    s = CueStage.from_config(CueStageConfig(model_dir=str(models), prefer=('onnxruntime',), threads=1,
                                            baseline=FIXED))
    yield s
    s.close()


@pytest.fixture(scope='module')
def pose(assets):
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    est = PoseEstimator.from_config(PoseConfig(max_people=2, prefer=('onnxruntime',), threads=1))
    yield est
    est.close()


def video(stage, pose, bgr, frames=12, fps=10):
    """Run pose + cue stage over `frames` copies of one still (a still 'video'); results per frame."""
    stage.tracks.clear()
    pose.reset()
    out = []
    for i in range(frames):
        skeletons = pose(bgr, int(i * NS / fps)).to_skeleton_frame('cam')
        out.append((skeletons, stage(bgr, skeletons)))
    return out


def photo(assets, name):
    sub = 'opencv' if name.endswith('messi5.jpg') else 'photos'
    return cv2.imread(str(assets / 'data' / sub / name))


def test_astronaut_smile_event_owned_by_her_track(stage, pose, assets):
    runs = video(stage, pose, photo(assets, 'astronaut.png'))
    skeletons, last = runs[-1]
    (tid,) = [s.track_id for s in skeletons.skeletons if s.track_state == TrackState.TRACKED]
    smiles = [c for c in last.cues.cues if c.name == 'smile' and c.active]
    assert smiles and smiles[0].track_id == tid and smiles[0].start_ns == 0
    assert last.people[tid].face.blendshape('mouthSmileLeft') > 0.8
    assert last.cues.stamp.stamp_ns == skeletons.stamp.stamp_ns and last.cues.stamp.frame_id == 'cam'
    assert last.face_ms > 0 and last.logic_ms > 0


def test_grace_hopper_does_not_smile(stage, pose, assets):
    _, last = video(stage, pose, photo(assets, 'grace_hopper.jpg'), frames=6)[-1]
    assert not [c for c in last.cues.cues if c.name == 'smile']
    assert all(v.face is not None for v in last.people.values())


def test_messi_hands_belong_to_his_body(stage, pose, assets):
    skeletons, last = video(stage, pose, photo(assets, 'messi5.jpg'), frames=6)[-1]
    (person,) = [s for s in skeletons.skeletons if s.track_state == TrackState.TRACKED]
    hands = last.people[person.track_id].hands
    assert set(hands) == {'left', 'right'}
    for side, wrist in (('left', 15), ('right', 16)):
        assert np.linalg.norm(hands[side].landmarks[0, :2] - person.keypoints[wrist]) < 20


def test_frame_without_face_or_image(stage, assets):
    """A body whose head is in a blank region: no face, no face cues; no image: body cues only."""
    stage.tracks.clear()
    blank = np.full((600, 640, 3), 120, np.uint8)
    for i in range(10):
        frame = Skeleton2DFrame(Stamp(int(i * NS / 10)), (640, 600), (blazepose_person(track_id=5),))
        result = stage(blank, frame)
        assert result.people[5].face is None
        assert not [c for c in result.cues.cues if c.name in ('smile', 'gaze_aversion', 'head_nod')]
    touch = (blazepose_person(track_id=6, left_wrist=(338, 118)),)
    for i in range(10):
        result = stage(None, Skeleton2DFrame(Stamp(int((1 + i / 10) * NS)), (640, 600), touch))
    assert result.face_ms < 0.1 and result.hands_ms < 0.1 and not result.people[6].hands
    assert [c for c in result.cues.cues if c.name == 'self_touch_face' and c.active and c.track_id == 6]


class FakeFaces:
    """The FaceLandmarker interface without models: no faces anywhere."""

    def __call__(self, bgr, rects):
        return [None] * len(rects)

    def detect(self, bgr, rect=None):
        return []

    def close(self):
        pass


def test_track_life_cycle_closes_events():
    stage = CueStage(CueStageConfig(face=False, hands=False, baseline=FIXED), face_model=FakeFaces())
    touching = blazepose_person(track_id=2, left_wrist=(338, 118))
    for i in range(15):
        out = stage(None, Skeleton2DFrame(Stamp(int(i * NS / 10)), (640, 600), (touching,)))
    assert [c for c in out.cues.cues if c.active and c.name == 'self_touch_face']
    lost = dataclasses.replace(touching, track_state=TrackState.LOST)
    out = stage(None, Skeleton2DFrame(Stamp(int(1.5 * NS)), (640, 600), (lost,)))
    assert [c for c in out.cues.cues if c.active and c.name == 'self_touch_face']     # held while briefly lost
    gone = dataclasses.replace(touching, track_state=TrackState.TERMINATED)
    out = stage(None, Skeleton2DFrame(Stamp(int(1.6 * NS)), (640, 600), (gone,)))
    ended = [c for c in out.cues.cues if c.name == 'self_touch_face']
    assert ended and not ended[0].active and 2 not in stage.tracks
    out = stage(None, Skeleton2DFrame(Stamp(int(10 * NS)), (640, 600), (blazepose_person(track_id=3),)))
    assert set(stage.tracks) == {3}


def test_overlay_and_timeline(stage, pose, assets, tmp_path):
    from nvb_perception.cues.overlay import draw_cues
    from nvb_perception.offline.cue_timeline import CueTimeline
    bgr = photo(assets, 'astronaut.png')
    runs = video(stage, pose, bgr, frames=8)
    timeline = CueTimeline()
    for _, result in runs:
        timeline.add(result.cues)
    skeletons, last = runs[-1]
    img = draw_cues(bgr, skeletons.skeletons, last)
    assert img.shape == bgr.shape and (img != bgr).any()
    csv_path, png_path = timeline.write(tmp_path)
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith('track_id,cue,start_s') and any(',smile,' in r for r in rows[1:])
    assert png_path.stat().st_size > 1000


@pytest.mark.slow
def test_eval_cues_quick_smoke(assets, capsys):
    from nvb_perception.evaluation.eval_cues import main
    if not (assets / 'models' / 'face_landmarks_detector.onnx').exists():
        pytest.skip('face/hand models not exported')
    assert main(['--quick', '--no-speed', '--seed', '2']) == 0
    import json
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith('RESULT ')
    result = json.loads(last[len('RESULT '):])
    assert {'macro_f1', 'onset_error_s', 'ms_cue_logic'} <= set(result) and result['macro_f1'] > 0.6
    assert sys.modules                                           # keep the import of sys used
