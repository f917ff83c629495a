"""The in-process pipeline (pose -> lifting -> risk -> cues) on real frames, and its shared stage functions."""
import cv2
import numpy as np

from nvb_perception.pipeline import Pipeline, PipelineConfig, lift_frame, score_frame
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState


def test_pipeline_on_real_frames(assets):
    frames = [cv2.imread(str(assets / 'data' / 'opencv' / n)) for n in ('basketball1.png', 'basketball2.png')]
    pipeline = Pipeline.from_config(PipelineConfig(max_people=2))
    try:
        outs = [pipeline(bgr, Stamp(i * 33_333_333, 'cam')) for i, bgr in enumerate(frames * 3)]
    finally:
        pipeline.close()
    last = outs[-1]
    live = [s.track_id for s in last.skeletons_2d.skeletons if s.track_state <= TrackState.TRACKED]
    assert live
    assert [s.track_id for s in last.skeletons_3d.skeletons] == [s.track_id for s in last.skeletons_2d.skeletons]
    assert sorted((r.track_id, r.method) for r in last.risks.risks) == \
        sorted((t, m) for t in live for m in ('RULA', 'REBA'))
    assert all(1 <= r.score <= 15 for r in last.risks.risks)
    assert last.cues is not None and last.cues.stamp.stamp_ns == 5 * 33_333_333


def _skeleton(track_id, state, value=0.5):
    return Skeleton2D(np.full((33, 2), value, np.float32) * 100 + np.arange(33)[:, None], np.ones(33, np.float32),
                      track_id=track_id, track_state=state)


def test_lift_frame_passes_notices_through_and_resets_ended_tracks(assets):
    from nvb_perception.assets import model_dir
    from nvb_perception.lifting.lifter import Lifter
    lifter = Lifter.from_path(model_dir() / 'lifter_temporal.onnx')
    ended = Skeleton2DFrame(Stamp(0, 'cam'), (640, 480), (_skeleton(2, TrackState.TRACKED),))
    lift_frame(lifter, ended)
    assert 2 in lifter._windows
    bad = _skeleton(4, TrackState.TRACKED)
    bad.keypoints[3] = np.nan
    frame = Skeleton2DFrame(Stamp(1, 'cam'), (640, 480), (_skeleton(1, TrackState.TRACKED),
                                                          _skeleton(2, TrackState.TERMINATED),
                                                          _skeleton(3, TrackState.LOST), bad))
    out, lifted = lift_frame(lifter, frame)
    assert lifted == {1}
    assert [s.track_id for s in out.skeletons] == [1, 2, 3, 4]
    assert out.skeletons[0].confidence.max() == 1 and all(s.confidence.max() == 0 for s in out.skeletons[1:])
    assert 2 not in lifter._windows and 1 in lifter._windows
    lifter.close()


def test_score_frame_reports_ended_tracks_and_problems():
    from nvb_perception.ergonomics import ExposureTracker
    from nvb_perception.types import Skeleton3D, Skeleton3DFrame
    trackers = {'RULA': ExposureTracker('RULA')}
    odd = Skeleton3D(np.zeros((33, 3)), np.ones(33), track_id=5, joint_set='blazepose33')
    frame = Skeleton3DFrame(Stamp(1, 'cam'), (Skeleton3D(np.zeros((17, 3)), np.zeros(17), track_id=2,
                                                         track_state=TrackState.TERMINATED), odd))
    result = score_frame(trackers, frame)
    assert result.ended == [2] and not result.risks.risks
    assert len(result.problems) == 1 and 'track 5' in result.problems[0]
