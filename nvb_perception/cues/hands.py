"""Hand landmarks on our backends, with ROIs from the body (MediaPipe Holistic) or from the palm detector.

    hands = HandLandmarker.from_dir(model_dir())
    rois = hand_rects_from_pose(pose_px, visibility)     # {'left': Rect, 'right': Rect} of one body track
    found = hands.track(bgr, rois, state)                  # {'left': HandObservation | None, ...}, owned by the track
    loose = hands.detect_and_observe(bgr)                  # palm detector path (no body), like mp.solutions.hands
    owner = associate_hands(loose, skeletons)              # which body track each loose hand belongs to

Holistic (mediapipe 0.10.18, hand_landmarks_from_pose): BlazePose wrist, pinky, index (15, 17, 19 for
the left hand, 16, 18, 20 for the right) give a box centred on the estimated middle finger,
(2 index + pinky) / 3, of side 2 |middle - wrist|, rotated so wrist -> middle points up, scaled 2.7 with
shift_y -0.1 (skipped if the wrist visibility is <= 0.1); the hand_recrop model (256x256, [0, 1]) then
predicts two points: centre and a scale point of the hand, giving the re-crop ROI (side 2 |p1 - p0|,
p0 -> p1 turned to -90 deg, shift_y -0.1); RoiTracking keeps the previous frame's landmark ROI while it agrees
(rotation 40 deg, translation 0.2, scale 0.4, margin -0.1).
Hand landmark model (224x224, [0, 1], BORDER_REPLICATE): Identity = 21 x (x, y, z) crop px,
Identity_1 = hand presence (a probability; kept if >= 0.5), Identity_2 = handedness (probability of the
label 'Left' for a mirrored image), Identity_3 = 21 x 3 world metres. Next ROI: HandLandmarksToRect over
the palm landmarks, rotated by wrist -> middle of the finger bases, scaled 2.0, shift_y -0.1.
Palm detector (192x192, [0, 1], BORDER_ZERO letterbox, 2016 anchors, 7 keypoints): ROI from its box
rotated by keypoints 0 (wrist) -> 2 (middle finger base) to 90 deg, scaled 2.6, shift_y -0.5.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from nvb_perception.cues.face import _open, roi_tracking_ok
from nvb_perception.cues.rects import (
    Rect,
    SsdDetection,
    SsdDetector,
    SsdSpec,
    rect_from_alignment,
    rect_from_box,
    rotation_between,
    transform,
)
from nvb_perception.pose2d.roi import normalize_radians, warp

HAND_CROP, RECROP_CROP = 224, 256  # px, model input sides
PALM_DETECTOR = SsdSpec(192, (8, 16, 16, 16), 7)
POSE_HAND = {'left': (15, 17, 19), 'right': (16, 18, 20)}   # BlazePose wrist, pinky, index per side
PALM_SUBSET = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)      # hand_landmark_landmarks_to_roi
MIN_WRIST_VISIBILITY = 0.1
# hand landmarks: 0 wrist, 4 thumb tip, 8 index tip, 12 middle tip, 16 ring tip, 20 pinky tip
FINGERTIPS = (4, 8, 12, 16, 20)


@dataclass(frozen=True, eq=False)
class HandObservation:
    """One hand in one frame."""

    landmarks: np.ndarray          # (21, 3) float64 x, y image px; z px (relative depth)
    world: np.ndarray              # (21, 3) float32 metres, hand-centred
    presence: float                # [0, 1]
    handedness: float              # [0, 1] model's 'Left' probability (MediaPipe assumes a mirrored image)
    rect: Rect                     # the ROI the landmarks came from
    side: str = ''                 # 'left' | 'right' when it belongs to a body (the body's side), else ''

    def next_rect(self) -> Rect:
        """The ROI for the next frame (tracking), from these landmarks."""
        return hand_rect_from_landmarks(self.landmarks)


def hand_rect_from_pose(wrist, pinky, index) -> Rect:
    """Holistic: ROI of one hand from the BlazePose wrist, pinky and index points (px)."""
    wrist, pinky, index = (np.asarray(p, np.float64)[:2] for p in (wrist, pinky, index))
    middle = (2.0 * index + pinky) / 3.0
    side = 2.0 * float(np.linalg.norm(middle - wrist))
    rect = Rect(*middle, side, side, rotation_between(wrist, middle, 90.0))
    return transform(rect, scale=2.7, shift_y=-0.1)


def hand_rects_from_pose(pose_px: np.ndarray, visibility: np.ndarray) -> dict[str, Rect]:
    """{'left', 'right'}: Holistic ROIs of the hands whose wrist is visible (> 0.1), from 33 BlazePose points."""
    out = {}
    for side, (w, p, i) in POSE_HAND.items():
        if visibility[w] > MIN_WRIST_VISIBILITY:
            rect = hand_rect_from_pose(pose_px[w], pose_px[p], pose_px[i])
            if rect.usable():
                out[side] = rect
    return out


def hand_rect_from_landmarks(landmarks_px: np.ndarray) -> Rect:
    """HandLandmarksToRect on the palm landmarks, then scale 2.0, shift_y -0.1, square_long."""
    pts = np.asarray(landmarks_px, np.float64)[list(PALM_SUBSET), :2]
    far = ((pts[4] + pts[8]) / 2 + pts[6]) / 2             # index/ring/middle finger bases (subset 4, 8, 6)
    rotation = rotation_between(pts[0], far, 90.0)
    centre = (pts.min(0) + pts.max(0)) / 2
    c, s = np.cos(-rotation), np.sin(-rotation)
    d = pts - centre
    proj = np.stack([d[:, 0] * c - d[:, 1] * s, d[:, 0] * s + d[:, 1] * c], axis=1)
    lo, hi = proj.min(0), proj.max(0)
    mid = (lo + hi) / 2
    cr, sr = np.cos(rotation), np.sin(rotation)
    centre = centre + (mid[0] * cr - mid[1] * sr, mid[0] * sr + mid[1] * cr)
    return transform(Rect(*centre, *(hi - lo), normalize_radians(rotation)), scale=2.0, shift_y=-0.1)


def hand_rect_from_palm(det: SsdDetection) -> Rect:
    """ROI from a palm detection (wrist -> middle finger base up, scale 2.6, shift_y -0.5)."""
    return transform(rect_from_box(det.box, det.keypoints, 0, 2, 90.0), scale=2.6, shift_y=-0.5)


class HandLandmarker:
    """Hand re-crop + landmark models (and the palm detector) on our backends."""

    def __init__(self, landmark_backend, recrop_backend=None, palm_backend=None, min_presence: float = 0.5):
        self.landmark_backend, self.recrop_backend = landmark_backend, recrop_backend
        self.palm = SsdDetector(palm_backend, PALM_DETECTOR) if palm_backend is not None else None
        self.min_presence = float(min_presence)

    @classmethod
    def from_dir(cls, model_dir: str | Path, prefer=('tensorrt', 'onnxruntime'), threads: int | None = None,
                 palm: bool = True, variant: str = 'full', **kwargs) -> HandLandmarker:
        """Open hand_landmark_<variant> (full | lite), hand_recrop (and palm_detection_full) .onnx."""
        from nvb_perception.assets import require_file
        if variant not in ('full', 'lite'):
            raise ValueError(f"hand landmark variant must be 'full' or 'lite', got {variant!r}")
        d = Path(model_dir)
        names = (f'hand_landmark_{variant}', 'hand_recrop') + (('palm_detection_full',) if palm else ())
        backends = [_open(require_file(d / f'{n}.onnx', f'{n} model'), prefer, threads) for n in names]
        return cls(*backends, **kwargs)

    def close(self) -> None:
        """Release the backends."""
        for b in (self.landmark_backend, self.recrop_backend, self.palm and self.palm.backend):
            if b is not None:
                b.close()

    @staticmethod
    def _run(backend, x: np.ndarray) -> list[dict]:
        name = next(iter(backend.inputs))
        if backend.inputs[name].shape[0] is None:
            return [backend({name: x})]
        return [backend({name: x[i:i + 1]}) for i in range(len(x))]

    @staticmethod
    def _crops(bgr: np.ndarray, rects: list[Rect], size: int) -> np.ndarray:
        crops = np.stack([warp(bgr, r, size, replicate=True)[..., ::-1] for r in rects])
        return crops.astype(np.float32) * np.float32(1.0 / 255.0)

    def recrop(self, bgr: np.ndarray, rects: list[Rect]) -> list[Rect]:
        """Holistic's re-crop ROI for each ROI from the body."""
        if not rects:
            return []
        outs = self._run(self.recrop_backend, self._crops(bgr, rects, RECROP_CROP))
        raw = np.concatenate([np.asarray(next(iter(o.values())), np.float32).reshape(-1, 2, 2) for o in outs])
        found = []
        for r, pts in zip(rects, raw):
            p = r.to_image(pts / RECROP_CROP)
            found.append(transform(rect_from_alignment(p[0], p[1], -90.0), scale=1.0, shift_y=-0.1))
        return found

    def __call__(self, bgr: np.ndarray, rects: list[Rect]) -> list[HandObservation | None]:
        """Landmarks in each ROI (one batch); None where the hand presence is below min_presence."""
        found: list[HandObservation | None] = [None] * len(rects)
        usable = [i for i, r in enumerate(rects) if r.usable()]
        if not usable:
            return found
        outs = self._run(self.landmark_backend, self._crops(bgr, [rects[i] for i in usable], HAND_CROP))
        cat = {k: np.concatenate([np.asarray(o[k], np.float32).reshape(len(o[k]), -1) for o in outs])
               for k in outs[0]}
        raw, world = cat['Identity'].reshape(-1, 21, 3), cat['Identity_3'].reshape(-1, 21, 3)
        for k, i in enumerate(usable):
            presence = float(cat['Identity_1'][k, 0])
            if presence < self.min_presence or not np.isfinite(raw[k]).all():
                continue
            r = rects[i]
            pts = np.empty((21, 3))
            pts[:, :2] = r.to_image(raw[k, :, :2] / HAND_CROP)
            pts[:, 2] = raw[k, :, 2] / HAND_CROP * r.width
            found[i] = HandObservation(pts, world[k], presence, float(cat['Identity_2'][k, 0]), r)
        return found

    def from_pose(self, bgr: np.ndarray, pose_px: np.ndarray, visibility: np.ndarray,
                  previous: dict[str, HandObservation] | None = None,
                  use_recrop: bool = True) -> dict[str, HandObservation | None]:
        """Holistic hands of one body: {'left': ..., 'right': ...} (None where not found).

        `previous` (this track's hands of the last frame) enables RoiTracking; with use_recrop=False a
        tracked hand skips the re-crop model and keeps its landmark ROI (faster, as between detections).
        """
        previous = previous or {}
        pose_rois = hand_rects_from_pose(pose_px, visibility)
        sides = list(pose_rois)
        need = [s for s in sides if use_recrop or s not in previous]
        recrops = dict(zip(need, self.recrop(bgr, [pose_rois[s] for s in need])))
        rois = []
        for s in sides:
            prev = previous.get(s)
            roi = recrops.get(s)
            if prev is not None:
                tracked = prev.next_rect()
                if roi is None or roi_tracking_ok(tracked, roi, prev.landmarks, 40.0, 0.2, 0.4, -0.1):
                    roi = tracked
            rois.append(roi)
        out: dict[str, HandObservation | None] = {s: None for s in POSE_HAND}
        for s, h in zip(sides, self(bgr, rois)):
            out[s] = None if h is None else HandObservation(h.landmarks, h.world, h.presence, h.handedness, h.rect, s)
        return out

    def detect_and_observe(self, bgr: np.ndarray, max_hands: int = 4) -> list[HandObservation]:
        """Palm detector on the whole image, then landmarks in each palm ROI (mp.solutions.hands, static)."""
        if self.palm is None:
            raise ValueError('HandLandmarker was opened without the palm detector')
        rects = [hand_rect_from_palm(d) for d in self.palm(bgr)[:max_hands]]
        return [h for h in self(bgr, rects) if h is not None]


def associate_hands(hands: list[HandObservation], skeletons, max_distance: float = 0.6) -> list[tuple[int, str]]:
    """Assign hands found without a body to body tracks: [(track_id or -1, side)] per hand.

    Cost = distance from the hand's wrist (landmark 0) to a BlazePose wrist, in units of that hand's ROI
    size; Hungarian assignment over (track, side) slots; pairs costlier than `max_distance` stay unowned.
    """
    slots = [(s.track_id, side, s.keypoints[POSE_HAND[side][0]]) for s in skeletons
             if s.joint_set == 'blazepose33' for side in POSE_HAND if s.confidence[POSE_HAND[side][0]] > 0.1]
    out = [(-1, '')] * len(hands)
    if not hands or not slots:
        return out
    cost = np.array([[np.linalg.norm(h.landmarks[0, :2] - w) / max(h.rect.size, 1.0) for _, _, w in slots]
                     for h in hands])
    for r, c in zip(*linear_sum_assignment(cost)):
        if cost[r, c] <= max_distance:
            out[r] = slots[c][:2]
    return out
