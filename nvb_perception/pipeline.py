"""The graph's stages chained in one process: pose -> lifting -> ergonomic risk (-> cues), no ROS.

    pipeline = Pipeline.from_config(PipelineConfig(cues=True))
    out = pipeline(bgr, stamp)            # FrameOutputs: skeletons_2d, skeletons_3d, risks, cues

`lift_frame` and `score_frame` are the per-frame logic of lifting_node and risk_node (the nodes call them), so
the in-process pipeline and the node graph compute the same thing; the graph benchmark compares the two.
"""
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nvb_perception.errors import PerceptionError
from nvb_perception.lifting.distortion import as_camera_model
from nvb_perception.lifting.root import estimate_root
from nvb_perception.skeleton import H36M
from nvb_perception.types import ErgonomicRiskFrame, Skeleton2DFrame, Skeleton3D, Skeleton3DFrame, Stamp, TrackState

LIVE = (TrackState.NEW, TrackState.TRACKED)


def finite(s) -> bool:
    """NaN/inf keypoints make a skeleton unusable (not lifted, passed through as a notice)."""
    return bool(np.isfinite(s.keypoints).all() and np.isfinite(s.confidence).all())


def lift_frame(lifter, frame: Skeleton2DFrame, camera_matrix=None,
               usable=finite, depth=None) -> tuple[Skeleton3DFrame, set]:
    """Lift the live tracks of one frame; (3D frame, ids lifted).

    LOST/TERMINATED skeletons, and live ones `usable` rejects (default: non-finite), pass through with zero
    positions and confidence so consumers can end their tracks; a TERMINATED track's temporal window is reset.
    With calibrated intrinsics (a 3x3 K, or a lifting.distortion.CameraModel whose lens distortion is first
    removed from the keypoints) the estimated root position is added (optical frame, root_relative=False) when
    enough joints are seen; a lifting.depth.DepthImage of the same frame then sets the root depth and lowers the
    confidence of joints it contradicts.
    """
    from nvb_perception.lifting.lifter import to_h36m
    camera = as_camera_model(camera_matrix)
    k = None if camera is None else camera.k
    live = [s for s in frame.skeletons if s.track_state in LIVE and usable(s)]
    pinhole = [replace(s, keypoints=camera.undistort(s.keypoints)) if camera is not None and camera.distorted
               else s for s in live]
    lifted = {}
    for s2, s2u, s3 in zip(live, pinhole, lifter(pinhole, camera_matrix=k)):
        if k is not None:
            keypoints, confidence = to_h36m(s2u)
            root = estimate_root(s3.positions, keypoints, confidence, k)
            if depth is not None:
                root, confidence = depth.place(s3.positions, root, to_h36m(s2)[0], keypoints, confidence, k)
                s3 = replace(s3, confidence=confidence)
            if root is not None:
                s3 = replace(s3, positions=s3.positions + root.astype(np.float32), root_relative=False)
        lifted[s2.track_id] = s3
    out = []
    for s in frame.skeletons:
        if s.track_id in lifted:
            out.append(lifted[s.track_id])
            continue
        if s.track_state == TrackState.TERMINATED:
            lifter.reset(s.track_id)
        out.append(Skeleton3D(np.zeros((len(H36M), 3)), np.zeros(len(H36M)), track_id=s.track_id,
                              track_state=s.track_state))
    return Skeleton3DFrame(frame.stamp, tuple(out)), set(lifted)


@dataclass
class ScoredFrame:
    """What score_frame did with one 3D frame."""

    risks: ErgonomicRiskFrame
    scored: list = field(default_factory=list)       # (method, skeleton, risk) per score, for markers
    ended: list = field(default_factory=list)        # track ids that terminated
    problems: list = field(default_factory=list)     # why a skeleton could not be scored


def score_frame(trackers: dict, frame: Skeleton3DFrame) -> ScoredFrame:
    """Score every live h36m17 skeleton with each method's ExposureTracker; ended tracks are dropped."""
    result = ScoredFrame(ErgonomicRiskFrame(frame.stamp, ()))
    risks = []
    for s in frame.skeletons:
        if s.track_state == TrackState.TERMINATED:
            for tracker in trackers.values():
                tracker.drop(s.track_id)
            result.ended.append(s.track_id)
            continue
        if s.track_state == TrackState.LOST:
            continue
        if s.joint_set != 'h36m17' or len(s.positions) != len(H36M):
            result.problems.append(f'track {s.track_id}: joint set {s.joint_set!r} with {len(s.positions)} '
                                   'joints; expected h36m17')
            continue
        for method, tracker in trackers.items():
            try:
                risk = tracker.update(s.track_id, frame.stamp.stamp_ns, s.positions, s.confidence)
            except PerceptionError as error:
                result.problems.append(f'track {s.track_id}: {error}')
                continue
            risks.append(risk)
            result.scored.append((method, s, risk))
    result.risks = ErgonomicRiskFrame(frame.stamp, tuple(risks))
    return result


@dataclass(frozen=True)
class PipelineConfig:
    """Which stages run and their main settings (the nodes' parameters of the same names)."""

    max_people: int = 4
    landmark_variant: str = 'full'
    detector_tile_px: int = 0
    methods: tuple = ('RULA', 'REBA')
    cues: bool = True
    model_dir: str | None = None


@dataclass
class FrameOutputs:
    """Everything the pipeline produced for one frame."""

    skeletons_2d: Skeleton2DFrame
    skeletons_3d: Skeleton3DFrame
    risks: ErgonomicRiskFrame
    cues: object = None


class Pipeline:
    """The stages of the node graph called one after the other on each frame."""

    def __init__(self, pose, lifter, trackers: dict, cue_stage=None):
        self.pose, self.lifter, self.trackers, self.cue_stage = pose, lifter, trackers, cue_stage

    @classmethod
    def from_config(cls, config: PipelineConfig) -> 'Pipeline':
        """Open the shipped models (the same defaults the nodes use)."""
        from nvb_perception.assets import model_dir, require_file
        from nvb_perception.ergonomics import ExposureTracker
        from nvb_perception.lifting.lifter import Lifter
        from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
        models = Path(config.model_dir or model_dir())
        pose = PoseEstimator.from_config(PoseConfig(model_dir=str(models), max_people=config.max_people,
                                                    landmark_variant=config.landmark_variant,
                                                    detector_tile_px=config.detector_tile_px))
        lifter = Lifter.from_path(require_file(str(models / 'lifter_temporal.onnx'), 'lifter model'))
        trackers = {m: ExposureTracker(m) for m in config.methods}
        cue_stage = None
        if config.cues:
            from nvb_perception.cues.stage import CueStage, CueStageConfig
            cue_stage = CueStage.from_config(CueStageConfig(model_dir=str(models)))
        return cls(pose, lifter, trackers, cue_stage)

    def __call__(self, bgr: np.ndarray, stamp: Stamp) -> FrameOutputs:
        """Run every stage on one frame."""
        result = self.pose(bgr, stamp.stamp_ns)
        frame2d = Skeleton2DFrame(stamp=stamp, image_size=(bgr.shape[1], bgr.shape[0]),
                                  skeletons=tuple(p.skeleton for p in result.people))
        frame3d, _ = lift_frame(self.lifter, frame2d)
        risks = score_frame(self.trackers, frame3d).risks
        cues = self.cue_stage(bgr, frame2d, frame3d).cues if self.cue_stage else None
        return FrameOutputs(frame2d, frame3d, risks, cues)

    def close(self) -> None:
        """Free the models."""
        self.lifter.close()
        if self.cue_stage is not None:
            self.cue_stage.close()
