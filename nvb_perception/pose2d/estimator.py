"""Multi-person 2D pose: BlazePose detector + landmark model + tracker + smoothing, MediaPipe-exact per person.

    estimator = PoseEstimator.from_config(PoseConfig(max_people=4))
    result = estimator(bgr, stamp_ns)           # PoseFrameResult
    for person in result.visible:               # NEW / TRACKED people of this frame
        person.skeleton.keypoints               # (33, 2) px, BlazePose order; .confidence = visibility

Per frame (video mode, as MediaPipe's pose graph but for up to max_people people):
1. Every live track carries the ROI its last landmarks gave (auxiliary landmarks 33/34, after smoothing).
2. The detector runs when there are fewer live tracks than max_people (a lost track counts as missing),
   and then at most every `detect_every_n_frames` frames, except that with no live track at all it runs
   every frame (as MediaPipe). Detections whose ROI overlaps a tracked ROI (IoU > DETECTION_OVERLAP) are
   skipped; the others fill the free places, best first.
3. The landmark model runs once on all ROIs (one batch).
4. A ROI whose pose flag is <= min_tracking_confidence gives nobody (MediaPipe's tracking-loss test);
   one with a non-finite model output is dropped and counted (`nan_dropped`).
5. The tracker (tracker.py) keeps IDs, states and suppresses duplicates; smoothing (smoothing.py) runs
   per track; the next ROI comes from the smoothed auxiliary landmarks.
static_image_mode: every frame is detected afresh, nothing is smoothed, no ROI is carried over; the
tracker still links people between frames by similarity (IDs are meaningless for unrelated images).
A stamp smaller than the previous one resets every track's smoothing (counted in `time_reset`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.errors import BackendError, ConfigError, ImageError
from nvb_perception.pose2d.config import BACKENDS, VARIANTS, PoseConfig  # noqa: F401 - also imported from here
from nvb_perception.pose2d.detector import PoseDetector
from nvb_perception.pose2d.landmarks import AUX_CENTER, AUX_SCALE, NUM_BODY, LandmarkModel, roi_from_landmarks
from nvb_perception.pose2d.roi import Roi, box_iou, roi_from_alignment
from nvb_perception.pose2d.smoothing import PoseSmoother
from nvb_perception.pose2d.tracker import Observation, Tracker
from nvb_perception.types import Skeleton2D, Skeleton2DFrame, Stamp, TrackState

DETECTION_OVERLAP = 0.6            # ROI IoU above which a detection is a person already tracked


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One person in one frame. LOST/TERMINATED tracks repeat their last pose with confidence 0."""

    skeleton: Skeleton2D           # joint_set 'blazepose33', px; confidence = visibility; score = pose flag
    world: np.ndarray              # (33, 3) float32 metres, hip-centred, camera-aligned (MediaPipe world)
    presence: np.ndarray           # (33,) float32 [0, 1] landmark-in-frame probability
    roi: Roi | None = None         # the ROI the landmarks came from (None when not observed)


@dataclass(frozen=True, eq=False)
class PoseFrameResult:
    """Everything the pose stage found in one frame."""

    stamp_ns: int
    image_size: tuple[int, int]                  # (width, height) px
    people: tuple[PersonPose, ...] = ()          # live tracks first (by ID), then LOST, TERMINATED
    detector_ms: float = 0.0                     # detector time this frame (0 if it did not run)
    landmark_ms: float = 0.0                     # landmark time for the whole batch
    detector_runs: int = 0                       # detector model calls this frame (0, 1, or 1 + tiles)
    landmark_batch: int = 0                      # ROIs sent to the landmark model
    nan_dropped: int = 0                         # people dropped for non-finite model output
    time_reset: bool = False                     # stamp went backwards: smoothing was reset

    @property
    def warnings(self) -> tuple[str, ...]:
        """Human-readable notes on this frame's anomalies (for logs and diagnostics)."""
        notes = [f'{self.nan_dropped} person(s) dropped: non-finite landmark model output'] if self.nan_dropped else []
        if self.time_reset:
            notes.append('image stamp went backwards: smoothing reset for every track')
        return tuple(notes)

    @property
    def visible(self) -> tuple[PersonPose, ...]:
        """People observed in this frame (NEW or TRACKED)."""
        live = (TrackState.NEW, TrackState.TRACKED)
        return tuple(p for p in self.people if p.skeleton.track_state in live)

    def to_skeleton_frame(self, frame_id: str = '') -> Skeleton2DFrame:
        """All people as a types.Skeleton2DFrame (the message-shaped data class)."""
        return Skeleton2DFrame(Stamp(self.stamp_ns, frame_id), self.image_size,
                               tuple(p.skeleton for p in self.people))


def _open(path: Path, prefer: tuple[str, ...], threads: int):
    """load_backend, except that ONNX Runtime gets `threads` (load_backend has no such option)."""
    from nvb_perception.backends import load_backend
    if not threads or 'onnxruntime' not in prefer:     # 0: the runtime's default (one per core)
        return load_backend(path, prefer=prefer)
    before = prefer[:prefer.index('onnxruntime')]
    if before:
        try:
            return load_backend(path, prefer=before)
        except BackendError:
            pass
    from nvb_perception.backends import onnxruntime_backend as ortb
    return ortb.OnnxRuntimeBackend(path, device='cuda' if ortb.cuda_available() else 'cpu', threads=threads)


def _usable(roi: Roi) -> bool:
    """A ROI the landmark model can run on: finite, at least a pixel wide."""
    return bool(np.isfinite([roi.center_x, roi.center_y, roi.size, roi.rotation]).all() and roi.size >= 1.0)


def check_image(bgr) -> None:
    """Raise ImageError unless `bgr` is a non-empty (H, W, 3) uint8 array."""
    if not isinstance(bgr, np.ndarray):
        raise ImageError(f'expected a numpy (H, W, 3) uint8 BGR image, got {type(bgr).__name__}')
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3 or min(bgr.shape[:2]) < 1:
        raise ImageError(f'expected a (H, W, 3) uint8 BGR image, got shape {bgr.shape} dtype {bgr.dtype}')


class PoseEstimator:
    """Find, track and smooth up to max_people BlazePose skeletons per frame (see the module docstring)."""

    def __init__(self, config: PoseConfig, detector_backend=None, landmark_backend=None):
        """Use the given backends, or open the config's models (ModelFileError/BackendError if impossible)."""
        self.config = config
        det = detector_backend or _open(config.model_path('pose_detection'), config.prefer, config.threads)
        lm = landmark_backend or _open(config.model_path(f'pose_landmark_{config.landmark_variant}'),
                                       config.prefer, config.threads)
        self.detector = PoseDetector(det, config.min_detection_confidence, tile_px=config.detector_tile_px)
        self.landmarks = LandmarkModel(lm)
        self.tracker = Tracker(config.max_people, config.lost_frames)
        # cumulative counters: frames, detector model calls, people dropped for NaN, backwards stamps
        self.stats = {'frames': 0, 'detector_runs': 0, 'nan_dropped': 0, 'time_resets': 0}
        self.reset()

    def reconfigure(self, config: PoseConfig) -> None:
        """Take new settings while running (the models stay: model_dir, variant, runtimes and threads are fixed)."""
        fixed = ('model_dir', 'landmark_variant', 'prefer', 'threads')
        changed = [name for name in fixed if getattr(config, name) != getattr(self.config, name)]
        if changed:
            raise ConfigError(f'{", ".join(changed)} cannot change while the models are open')
        self.detector.min_confidence = config.min_detection_confidence
        self.detector.tile_px = config.detector_tile_px
        self.tracker.max_people, self.tracker.lost_frames = config.max_people, config.lost_frames
        self.config = config

    @classmethod
    def from_config(cls, config: PoseConfig) -> PoseEstimator:
        """Open the config's models with the first runtime in config.prefer that works."""
        return cls(config)

    def reset(self) -> None:
        """Forget all tracks and time (IDs keep counting up, stats are kept)."""
        self.tracker.reset()
        self.last_stamp_ns: int | None = None
        self.frames_since_detection = self.config.detect_every_n_frames   # so the first frame may detect

    @property
    def backend_name(self) -> str:
        """Runtimes in use, e.g. 'onnxruntime' or 'detector tensorrt, landmarks onnxruntime'."""
        det, lm = (getattr(b, 'name', type(b).__name__) for b in (self.detector.backend, self.landmarks.backend))
        return det if det == lm else f'detector {det}, landmarks {lm}'

    def close(self) -> None:
        """Release both model backends."""
        for backend in (self.detector.backend, self.landmarks.backend):
            backend.close()

    def _rois(self, bgr: np.ndarray) -> tuple[list[tuple[int, Roi]], float]:
        """(source track id or -1, ROI) to run the landmark model on, and detector ms (0 if not run)."""
        cfg = self.config
        tracked = [] if cfg.static_image_mode else [
            (t.track_id, t.payload['roi']) for t in self.tracker.live_tracks() if t.payload.get('roi') is not None]
        self.frames_since_detection += 1
        due = self.frames_since_detection >= cfg.detect_every_n_frames or not tracked
        if len(tracked) >= cfg.max_people or not due:
            return tracked, 0.0
        t0 = time.perf_counter()
        detections = self.detector(bgr)
        ms = (time.perf_counter() - t0) * 1e3
        self.frames_since_detection = 0
        boxes = np.array([r.bbox() for _, r in tracked]).reshape(-1, 4)
        for d in detections:
            if len(tracked) >= cfg.max_people:
                break
            roi = roi_from_alignment(d.keypoints[0], d.keypoints[1])
            if not _usable(roi):
                continue
            if not len(boxes) or box_iou(roi.bbox(), boxes).max() <= DETECTION_OVERLAP:
                tracked.append((-1, roi))
        return tracked, ms

    def __call__(self, bgr: np.ndarray, stamp_ns: int) -> PoseFrameResult:
        """Process one frame.

        Args:
            bgr: (H, W, 3) uint8 BGR image.
            stamp_ns: source image time, ns.

        Returns:
            PoseFrameResult (people, timings, counters).

        Raises:
            ImageError: not a non-empty (H, W, 3) uint8 array.
        """
        check_image(bgr)
        stamp_ns, runs_before = int(stamp_ns), self.detector.runs
        time_reset = self.last_stamp_ns is not None and stamp_ns < self.last_stamp_ns
        if time_reset:
            for t in self.tracker.tracks.values():
                if 'smoother' in t.payload:
                    t.payload['smoother'].reset()
        self.last_stamp_ns = stamp_ns
        rois, det_ms = self._rois(bgr)
        t0 = time.perf_counter()
        batch = self.landmarks(bgr, [r for _, r in rois]) if rois else None
        lm_ms = (time.perf_counter() - t0) * 1e3
        observations, sources, nan_dropped = [], [], 0
        for i, (sid, roi) in enumerate(rois):
            if not batch.valid[i]:
                nan_dropped += 1
            elif batch.pose_flag[i] > self.config.min_tracking_confidence:
                kp = batch.points[i, :NUM_BODY, :2]
                bbox = np.concatenate([kp.min(0), kp.max(0)])
                observations.append(Observation(kp, batch.visibility[i, :NUM_BODY], bbox,
                                                float(batch.pose_flag[i]), sid))
                sources.append((i, roi))
        people = tuple(self._person(r, batch, sources, stamp_ns) for r in self.tracker.update(observations))
        runs = self.detector.runs - runs_before
        self._count(runs, nan_dropped, time_reset)
        return PoseFrameResult(stamp_ns, (bgr.shape[1], bgr.shape[0]), people, det_ms, lm_ms, runs,
                               len(rois), nan_dropped, time_reset)

    def _count(self, runs: int, nan_dropped: int, time_reset: bool) -> None:
        self.stats['frames'] += 1
        self.stats['detector_runs'] += runs
        self.stats['nan_dropped'] += nan_dropped
        self.stats['time_resets'] += int(time_reset)

    def _person(self, report, batch, sources, stamp_ns: int) -> PersonPose:
        """PersonPose of one tracker report; updates the track's smoother and next ROI."""
        track, state = report.track, report.track.state
        if report.observation < 0:                  # LOST / TERMINATED: last pose, not observed now
            track.payload.pop('roi', None)
            if 'smoother' in track.payload:
                track.payload['smoother'].reset()   # MediaPipe resets its filters when the pose is lost
            last = track.payload['last']
            skeleton = Skeleton2D(last.skeleton.keypoints, np.zeros(NUM_BODY, np.float32), 'blazepose33',
                                  track.track_id, state, 0.0, last.skeleton.bbox)
            return PersonPose(skeleton, last.world, np.zeros(NUM_BODY, np.float32), None)
        i, roi = sources[report.observation]
        points, world, vis = batch.points[i], batch.world[i], batch.visibility[i, :NUM_BODY]
        body, aux = points[:NUM_BODY], points[AUX_CENTER:AUX_SCALE + 1]
        if self.config.smoothing and not self.config.static_image_mode:
            smoother = track.payload.setdefault('smoother', PoseSmoother())
            body, aux, world, vis = smoother(stamp_ns, body, aux, world, vis)
        if not self.config.static_image_mode:     # a degenerate ROI ends tracking: the track goes LOST
            roi_next = roi_from_landmarks(aux)
            track.payload['roi'] = roi_next if _usable(roi_next) else None
        kp = body[:, :2]
        skeleton = Skeleton2D(kp, vis, 'blazepose33', track.track_id, state, float(batch.pose_flag[i]),
                              np.concatenate([kp.min(0), kp.max(0)]))
        person = PersonPose(skeleton, np.asarray(world, np.float32), batch.presence[i, :NUM_BODY].copy(), roi)
        track.payload['last'] = person
        return person
