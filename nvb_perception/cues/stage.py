"""CueStage: the pure per-frame entry point of the cue stage (used by cue_node and the offline tools).

    stage = CueStage.from_config(CueStageConfig(threads=2))
    result = stage(bgr, skeleton_frame, skeleton3d_frame)      # CueStageResult
    result.cues                                                 # types.CueFrame: every active or ending cue
    result.people[track_id].face / .hands                       # what the models saw (overlay, timelines)

Per frame, for every live body track (largest first, at most max_people):
1. Face (Holistic): the ROI from the body's face joints; every `face_refine_every_n` frames (or when the
   face was lost) the face detector runs inside it and refines the ROI, which RoiTracking compares with
   the previous frame's landmark ROI; in between, the previous landmark ROI is used. All faces of the
   frame go through the landmark model in one batch, then blendshapes, head pose and gaze.
2. Hands (Holistic): ROIs from the body's wrist/pinky/index; the re-crop model every
   `hand_recrop_every_n` frames (or for hands not tracked), then one landmark batch for all hands.
3. Cue logic per person (person.PersonCues) on the 2D skeleton, the 3D skeleton with the same track id
   (if given), the face and the hands. LOST tracks feed nothing (their events end after max_missing_s);
   TERMINATED tracks, or tracks unseen for `forget_after_s`, close their events and are forgotten.
Without an image (bgr=None) or with the models off, only the body cues run. With `parallel` the face and
hand models of a frame run in two threads at once (two cores: about the time of the slower one).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from nvb_perception.cues.baseline import BaselineConfig
from nvb_perception.cues.definitions import CueConfig
from nvb_perception.cues.face import face_rect_from_detection, face_rect_from_pose, roi_tracking_ok
from nvb_perception.cues.hands import hand_rects_from_pose
from nvb_perception.cues.person import PersonCues, PersonInput
from nvb_perception.params import param, validate
from nvb_perception.types import CueFrame, Skeleton2DFrame, Skeleton3DFrame, TrackState

BACKENDS = ('tensorrt', 'onnxruntime')
FACE_JOINTS_MIN_CONF = 0.5         # mean confidence of BlazePose 0-10 needed to look for a face


@dataclass(frozen=True)
class CueStageConfig:
    """Settings of the cue stage (models, rates, cue thresholds, baselines)."""

    model_dir: str = param('', 'Folder of the exported ONNX models (empty: $NVB_PERCEPTION_ASSETS/models)',
                           read_only=True)
    prefer: tuple[str, ...] = param(BACKENDS, 'Runtimes to try, in order', choices=BACKENDS, read_only=True,
                                    name='backends')
    threads: int = param(0, 'ONNX Runtime intra-op threads per model (0 = one per core)', low=0, high=1024,
                         read_only=True)
    face: bool = param(True, 'Run the face models', read_only=True)
    hands: bool = param(True, 'Run the hand models', read_only=True)
    hand_variant: str = param('full', 'Hand landmark model (lite: about 2x faster)', choices=('full', 'lite'),
                              read_only=True)
    max_people: int = param(4, 'People per frame that get face/hand models (largest first)', low=1, high=32)
    face_refine_every_n: int = param(10, 'Face detector inside the body ROI every N frames per person', low=1,
                                     high=10000)
    hand_recrop_every_n: int = param(5, 'Hand re-crop model every N frames per hand', low=1, high=10000)
    parallel: bool = param(True, 'Face and hand models of a frame in two threads at once')
    min_face_presence: float = param(0.5, 'Face model presence score below which a face is lost', low=0.0,
                                     high=1.0, read_only=True)
    min_hand_presence: float = param(0.5, 'Hand model presence score below which a hand is lost', low=0.0,
                                     high=1.0, read_only=True)
    min_roi_px: float = param(40.0, 'Face/hand regions (from the pose) smaller than this many pixels are not '
                                    'modelled (too small for landmarks)', low=0.0, high=10000.0)
    forget_after_s: float = param(5.0, 'A track not reported this long is closed (s)', low=0.0, high=3600.0)
    cues: CueConfig = field(default_factory=CueConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def __post_init__(self):
        if self.threads is None:                      # the Python API's "one per core"
            object.__setattr__(self, 'threads', 0)
        validate(self)


@dataclass
class PersonView:
    """What the stage saw of one person this frame."""

    face: object | None = None
    hands: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)   # per-frame measures (for timelines)


@dataclass(frozen=True, eq=False)
class CueStageResult:
    """One frame's output."""

    cues: CueFrame
    people: dict[int, PersonView]
    face_ms: float = 0.0           # face models (in their thread when parallel)
    hands_ms: float = 0.0          # hand models
    logic_ms: float = 0.0          # cue logic of every person
    models_ms: float = 0.0         # wall time of face + hand models (less than the sum when parallel)


class _Track:
    def __init__(self, track_id: int, config: CueStageConfig):
        self.cues = PersonCues(track_id, config.cues, config.baseline)
        self.face = None
        self.hands: dict = {}
        self.frames = 0
        self.last_ns = 0

    def reconfigure(self, config: CueStageConfig) -> None:
        """New thresholds and baseline settings for a running track (its open events keep going)."""
        person = self.cues
        person.config, person.baseline.config = config.cues, config.baseline
        for name, events in person.events.items():
            events.h = config.cues.hysteresis(name)
        for events in person.composite_events.values():
            events.h = config.cues.composite


class CueStage:
    """Face + hand models and cue logic for every person of a frame (see the module docstring)."""

    def __init__(self, config: CueStageConfig, face_model=None, hand_model=None):
        """Use the given models (any object with the FaceLandmarker / HandLandmarker interface), or none."""
        self.config, self.face_model, self.hand_model = config, face_model, hand_model
        self.tracks: dict[int, _Track] = {}
        self._pool = None

    @classmethod
    def from_config(cls, config: CueStageConfig) -> CueStage:
        """Open the face and hand models that the config enables (ModelFileError if they are missing)."""
        from nvb_perception.assets import model_dir
        from nvb_perception.cues.face import FaceLandmarker
        from nvb_perception.cues.hands import HandLandmarker
        d = config.model_dir or str(model_dir())
        threads = config.threads or None
        face = FaceLandmarker.from_dir(d, config.prefer, threads, min_presence=config.min_face_presence) \
            if config.face else None
        hands = HandLandmarker.from_dir(d, config.prefer, threads, palm=False, variant=config.hand_variant,
                                        min_presence=config.min_hand_presence) if config.hands else None
        return cls(config, face, hands)

    def reconfigure(self, config: CueStageConfig) -> None:
        """Settings changed while running (the live ones: rates, thresholds, baselines) reach every open track."""
        self.config = config
        for track in self.tracks.values():
            track.reconfigure(config)

    def close(self) -> None:
        """Release the models and the worker threads."""
        if self._pool is not None:
            self._pool.shutdown()
        for m in (self.face_model, self.hand_model):
            if m is not None:
                m.close()

    def __call__(self, bgr: np.ndarray | None, skeletons: Skeleton2DFrame,
                 skeletons3d: Skeleton3DFrame | None = None) -> CueStageResult:
        """Process one frame (bgr may be None: body cues only)."""
        t_ns = skeletons.stamp.stamp_ns
        live = [s for s in skeletons.skeletons if s.track_state in (TrackState.NEW, TrackState.TRACKED)]
        live.sort(key=lambda s: -float(np.prod(np.clip(s.bbox[2:] - s.bbox[:2], 0, None))))
        for s in live:
            if s.track_id not in self.tracks:
                self.tracks[s.track_id] = _Track(s.track_id, self.config)
        modelled = live[:self.config.max_people] if bgr is not None else []
        for s in modelled:
            self.tracks[s.track_id].frames += 1
        t0 = time.perf_counter()
        faces, hands, face_ms, hands_ms = self._models(bgr, modelled)
        t1 = time.perf_counter()
        cues, people = self._logic(t_ns, skeletons, skeletons3d, faces, hands)
        return CueStageResult(CueFrame(skeletons.stamp, tuple(cues)), people, face_ms, hands_ms,
                              (time.perf_counter() - t1) * 1e3, (t1 - t0) * 1e3)

    def _models(self, bgr, people) -> tuple[dict, dict, float, float]:
        """Face and hand observations by track id, and each one's ms; with `parallel`, the two run at once."""
        def timed(fn):
            t0 = time.perf_counter()
            out = fn(bgr, people)
            return out, (time.perf_counter() - t0) * 1e3
        jobs = [self._faces if self.face_model is not None and people else None,
                self._hands if self.hand_model is not None and people else None]
        if self.config.parallel and all(jobs):
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor
                self._pool = ThreadPoolExecutor(2, thread_name_prefix='cue_models')
            (faces, face_ms), (hands, hands_ms) = self._pool.map(timed, jobs)
        else:
            (faces, face_ms), (hands, hands_ms) = ((timed(j) if j else ({}, 0.0)) for j in jobs)
        return faces, hands, face_ms, hands_ms

    def _logic(self, t_ns: int, skeletons, skeletons3d, faces, hands):
        by_id3 = {s.track_id: s for s in skeletons3d.skeletons} if skeletons3d is not None else {}
        cues, people, seen = [], {}, set()
        for s in skeletons.skeletons:
            track = self.tracks.get(s.track_id)
            if track is None:
                continue
            seen.add(s.track_id)
            if s.track_state == TrackState.TERMINATED:
                cues += track.cues.finish(t_ns)
                del self.tracks[s.track_id]
                continue
            track.last_ns = t_ns
            if s.track_state == TrackState.LOST:
                cues += track.cues.update(t_ns, PersonInput())
                continue
            inp = PersonInput(s, by_id3.get(s.track_id), faces.get(s.track_id), hands.get(s.track_id, {}))
            cues += track.cues.update(t_ns, inp)
            people[s.track_id] = PersonView(inp.face, inp.hands, dict(track.cues.features))
        for tid in [t for t, tr in self.tracks.items() if t not in seen]:
            if t_ns - self.tracks[tid].last_ns > self.config.forget_after_s * 1e9:
                cues += self.tracks.pop(tid).cues.finish(t_ns)
        return cues, people

    def _faces(self, bgr: np.ndarray, people) -> dict:
        """Face observations by track id (Holistic ROIs, refined and tracked)."""
        rois, owners = [], []
        for s in people:
            track = self.tracks[s.track_id]
            if s.joint_set != 'blazepose33' or float(np.mean(s.confidence[:11])) < FACE_JOINTS_MIN_CONF:
                track.face = None
                continue
            pose_roi = face_rect_from_pose(s.keypoints)
            if min(pose_roi.width, pose_roi.height) < self.config.min_roi_px:
                track.face = None
                continue
            roi = self._face_roi(bgr, track, pose_roi)
            if roi is not None and roi.usable():
                rois.append(roi)
                owners.append(track)
        found = self.face_model(bgr, rois) if rois else []
        out = {}
        for track, face in zip(owners, found):
            track.face = face
            if face is not None:
                out[track.cues.track_id] = face
        return out

    def _face_roi(self, bgr, track: _Track, pose_roi):
        prev = track.face
        if prev is not None and track.frames % self.config.face_refine_every_n:
            return prev.next_rect()
        found = self.face_model.detect(bgr, pose_roi)
        if not found:
            return prev.next_rect() if prev is not None else None
        recrop = face_rect_from_detection(found[0])
        if prev is not None and roi_tracking_ok(prev.next_rect(), recrop, prev.landmarks, 15.0, 0.1, 0.3, -0.2):
            return prev.next_rect()
        return recrop

    def _hands(self, bgr: np.ndarray, people) -> dict:
        """{track id: {'left'/'right': HandObservation}} (Holistic ROIs, re-crop, tracking)."""
        slots, pose_rois = [], []
        for s in people:
            if s.joint_set != 'blazepose33':
                continue
            track = self.tracks[s.track_id]
            for side, roi in hand_rects_from_pose(s.keypoints, s.confidence).items():
                if min(roi.width, roi.height) < self.config.min_roi_px:
                    continue
                slots.append((track, side))
                pose_rois.append(roi)
        if not slots:
            return {}
        every = self.config.hand_recrop_every_n
        need = [i for i, (tr, side) in enumerate(slots) if side not in tr.hands or tr.frames % every == 0]
        recrops = dict(zip(need, self.hand_model.recrop(bgr, [pose_rois[i] for i in need])))
        rois = []
        for i, (track, side) in enumerate(slots):
            prev, roi = track.hands.get(side), recrops.get(i)
            if prev is not None:
                tracked = prev.next_rect()
                if roi is None or roi_tracking_ok(tracked, roi, prev.landmarks, 40.0, 0.2, 0.4, -0.1):
                    roi = tracked
            rois.append(roi)
        out: dict = {}
        for (track, side), h in zip(slots, self.hand_model(bgr, rois)):
            if h is None:
                track.hands.pop(side, None)
                continue
            h = replace(h, side=side)
            track.hands[side] = h
            out.setdefault(track.cues.track_id, {})[side] = h
        for s in people:                            # hands whose wrist is no longer visible are forgotten
            tr = self.tracks[s.track_id]
            found = out.get(s.track_id, {})
            tr.hands = {k: v for k, v in tr.hands.items() if k in found}
        return out
