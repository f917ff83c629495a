"""Face/hand models are skipped for people too small for landmarks (min_roi_px), and run when allowed."""
import cv2

from nvb_perception.cues.stage import CueStage, CueStageConfig
from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
from nvb_perception.types import Skeleton2DFrame, Stamp


def _vtest_frames(assets, n=6):
    cap = cv2.VideoCapture(str(assets / 'data' / 'opencv' / 'vtest.avi'))
    frames = [cv2.resize(cap.read()[1], (640, 480)) for _ in range(n)]
    cap.release()
    return frames


def test_small_people_skip_face_and_hand_models(assets):
    pose = PoseEstimator.from_config(PoseConfig(detector_tile_px=288))
    frames = []
    for i, bgr in enumerate(_vtest_frames(assets)):
        people = tuple(p.skeleton for p in pose(bgr, i * 100_000_000).people)
        frames.append((bgr, Skeleton2DFrame(Stamp(i * 100_000_000, 'cam'), (640, 480), people)))
    assert any(f.skeletons for _, f in frames), 'vtest pedestrians should be detected'
    calls = {}
    for min_px in (40.0, 0.0):
        stage = CueStage.from_config(CueStageConfig(min_roi_px=min_px, parallel=False))
        stage.hand_model = _CountingModel(stage.hand_model)
        for bgr, frame in frames:
            stage(bgr, frame)
        calls[min_px] = stage.hand_model.rois
        stage.close()
    assert calls[40.0] == 0 and calls[0.0] > 0, calls


class _CountingModel:
    """The real hand model, counting the regions it is asked to run on."""

    def __init__(self, model):
        self.model, self.rois = model, 0

    def __call__(self, bgr, rois):
        self.rois += len(rois)
        return self.model(bgr, rois)

    def __getattr__(self, name):
        return getattr(self.model, name)
