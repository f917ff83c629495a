"""Face Landmarker on our backends: 478 landmarks (iris included), 52 blendshapes, head pose and gaze.

    faces = FaceLandmarker.from_dir(model_dir())
    rect = face_rect_from_pose(pose_keypoints_px)          # Holistic: ROI from the body's face landmarks
    found = faces(bgr, [rect])                               # list[FaceObservation | None], one per rect
    found[0].blendshape('mouthSmileLeft'), found[0].yaw_deg, found[0].gaze_yaw_deg

    found = faces.detect_and_observe(bgr)                    # no body: the face detector finds the faces

Models (MediaPipe Face Landmarker, face_landmarker.task; exported by nvb-export-face-hands):
* face_detector (BlazeFace short range, 128x128, [-1, 1], BORDER_ZERO letterbox), 896 anchors (strides
  8, 16, 16, 16), 6 keypoints (0 = the image-left eye, 1 = the image-right eye, 2 nose, 3 mouth, 4-5 ears);
  weighted NMS 0.3; task ROI: the box rotated by the eyes (0 -> 1), scaled 1.5 (FaceDetectorGraph).
* face_landmarks_detector (256x256, [0, 1], BORDER_REPLICATE): Identity = 478 x (x, y, z) crop px,
  Identity_1 = face presence logit (sigmoid; kept if >= min_presence); next ROI from the landmarks' box,
  rotated by landmarks 33 -> 263, scaled 1.5, square_long (SingleFaceLandmarksDetectorGraph).
* face_blendshapes: 146 of the landmarks (BLENDSHAPE_INPUT) as x, y image px -> 52 scores in [0, 1].
Holistic's ROIs from the body (face_landmarks_from_pose): BlazePose landmarks 0-10, box rotated by the
right eye (5) -> left eye (2), scaled 3.0 square_long; then the face detector inside that ROI refines it
(USE_KEYPOINTS box, eyes, scale 2.0, shift_y -0.1, square_long) and RoiTracking keeps the previous
frame's landmark ROI while it agrees (rotation 15 deg, translation 0.1, scale 0.3, margin -0.2).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nvb_perception.cues.headpose import FaceGeometry, euler_deg, gaze_angles
from nvb_perception.cues.rects import (
    Rect,
    SsdDetection,
    SsdDetector,
    SsdSpec,
    rect_from_box,
    rect_from_points,
    transform,
)
from nvb_perception.pose2d.landmarks import sigmoid
from nvb_perception.pose2d.roi import warp

FACE_CROP = 256                    # px, landmark model input side
NUM_FACE_LANDMARKS = 478
FACE_DETECTOR = SsdSpec(128, (8, 16, 16, 16), 6, value_range=(-1.0, 1.0))
BLENDSHAPE_NAMES = (
    '_neutral browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff cheekSquintLeft '
    'cheekSquintRight eyeBlinkLeft eyeBlinkRight eyeLookDownLeft eyeLookDownRight eyeLookInLeft eyeLookInRight '
    'eyeLookOutLeft eyeLookOutRight eyeLookUpLeft eyeLookUpRight eyeSquintLeft eyeSquintRight eyeWideLeft '
    'eyeWideRight jawForward jawLeft jawOpen jawRight mouthClose mouthDimpleLeft mouthDimpleRight mouthFrownLeft '
    'mouthFrownRight mouthFunnel mouthLeft mouthLowerDownLeft mouthLowerDownRight mouthPressLeft mouthPressRight '
    'mouthPucker mouthRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper mouthSmileLeft '
    'mouthSmileRight mouthStretchLeft mouthStretchRight mouthUpperUpLeft mouthUpperUpRight noseSneerLeft '
    'noseSneerRight').split()
BLENDSHAPE_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
BLENDSHAPE_INPUT = (  # the landmarks the blendshape model reads (face_blendshapes_graph.cc)
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153,
    154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249,
    251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314,
    317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
    384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473,
    474, 475, 476, 477)
assert len(BLENDSHAPE_NAMES) == 52 and len(BLENDSHAPE_INPUT) == 146


@dataclass(frozen=True, eq=False)
class FaceObservation:
    """One face in one frame."""

    landmarks: np.ndarray          # (478, 3) float64: x, y image px; z px (relative depth, scale of x)
    presence: float                # [0, 1] face presence score of the landmark model
    blendshapes: np.ndarray        # (52,) float32 [0, 1], order BLENDSHAPE_NAMES
    matrix: np.ndarray             # (4, 4) facial transformation (canonical face cm -> camera, y up)
    rect: Rect                     # the ROI the landmarks came from
    yaw_deg: float = 0.0           # > 0: face turned towards the image's right (the person's left)
    pitch_deg: float = 0.0         # > 0: face up
    roll_deg: float = 0.0          # > 0: top of the head towards the image's right
    gaze_yaw_deg: float = 0.0      # head yaw + eye-in-head yaw from the irises
    gaze_pitch_deg: float = 0.0

    def blendshape(self, name: str) -> float:
        """Score of one blendshape by its ARKit name (KeyError for an unknown name)."""
        return float(self.blendshapes[BLENDSHAPE_INDEX[name]])

    def next_rect(self) -> Rect:
        """The ROI for the next frame (tracking), from these landmarks."""
        return face_rect_from_landmarks(self.landmarks)


def make_observation(landmarks_px: np.ndarray, presence: float, blendshapes: np.ndarray, geometry: FaceGeometry,
                     image_size: tuple[int, int], rect: Rect | None = None) -> FaceObservation:
    """A FaceObservation from landmarks and blendshapes: adds the head pose (geometry) and the gaze."""
    matrix = geometry.pose_matrix(landmarks_px, image_size)
    yaw, pitch, roll = euler_deg(matrix[:3, :3])
    gaze = gaze_angles(landmarks_px, yaw, pitch)
    rect = rect or face_rect_from_landmarks(landmarks_px)
    return FaceObservation(np.asarray(landmarks_px, np.float64), float(presence), np.asarray(blendshapes, np.float32),
                           matrix, rect, yaw, pitch, roll, *gaze)


def face_rect_from_pose(pose_px: np.ndarray) -> Rect:
    """Holistic: ROI around BlazePose landmarks 0-10 (nose, eyes, ears, mouth), (33+, 2+) px."""
    face = np.asarray(pose_px, np.float64)[:11, :2]
    return transform(rect_from_points(face, start=5, end=2, target_deg=0.0), scale=3.0)


def face_rect_from_detection(det: SsdDetection, task: bool = False) -> Rect:
    """ROI from a face detection: Holistic's re-crop (default) or the Face Landmarker task's (task=True)."""
    if task:
        return transform(rect_from_box(det.box, det.keypoints, 0, 1, 0.0), scale=1.5, square_long=False)
    return transform(rect_from_points(det.keypoints, start=0, end=1, target_deg=0.0), scale=2.0, shift_y=-0.1)


def face_rect_from_landmarks(landmarks_px: np.ndarray) -> Rect:
    """Next-frame ROI from 478 face landmarks (box, rotated by 33 -> 263, scale 1.5, square_long)."""
    return transform(rect_from_points(landmarks_px, start=33, end=263, target_deg=0.0), scale=1.5)


def roi_tracking_ok(prev: Rect, recrop: Rect, prev_points: np.ndarray, rotation_deg: float, translation: float,
                    scale: float, margin: float) -> bool:
    """MediaPipe RoiTrackingCalculator: keep the previous ROI if it agrees with the re-crop ROI.

    Agreement: rotations within `rotation_deg`, centres within `translation` x the re-crop size (in the
    re-crop's frame), sizes within `scale` x, and every previous landmark inside the re-crop ROI grown by
    `margin` (negative: shrunk) of its size.
    """
    diff = abs((np.degrees(prev.rotation - recrop.rotation) + 180.0) % 360.0 - 180.0)
    c, s = np.cos(-recrop.rotation), np.sin(-recrop.rotation)
    d = np.array([prev.center_x - recrop.center_x, prev.center_y - recrop.center_y])
    dx, dy = abs(c * d[0] - s * d[1]), abs(s * d[0] + c * d[1])
    ok = (diff <= rotation_deg and dx <= recrop.width * translation and dy <= recrop.height * translation
          and abs(prev.width - recrop.width) <= recrop.width * scale
          and abs(prev.height - recrop.height) <= recrop.height * scale)
    if not ok:
        return False
    p = np.asarray(prev_points, np.float64)[:, :2] - (recrop.center_x, recrop.center_y)
    u, v = p @ np.array([c, s]), p @ np.array([-s, c])
    half_w, half_h = recrop.width * (0.5 + margin), recrop.height * (0.5 + margin)
    return bool((np.abs(u) <= half_w).all() and (np.abs(v) <= half_h).all())


def _open(path: Path, prefer, threads):
    from nvb_perception.pose2d.estimator import _open as open_backend
    return open_backend(path, tuple(prefer), threads)


class FaceLandmarker:
    """Face detector + landmarks + blendshapes + geometry on our backends (see the module docstring)."""

    def __init__(self, detector_backend, landmark_backend, blendshape_backend, geometry: FaceGeometry,
                 min_presence: float = 0.5, min_detection: float = 0.5):
        self.detector = SsdDetector(detector_backend, replace(FACE_DETECTOR, min_score=min_detection))
        self.landmark_backend, self.blendshape_backend = landmark_backend, blendshape_backend
        self.geometry, self.min_presence = geometry, float(min_presence)
        self.batched = landmark_backend.inputs[next(iter(landmark_backend.inputs))].shape[0] is None

    @classmethod
    def from_dir(cls, model_dir: str | Path, prefer=('tensorrt', 'onnxruntime'), threads: int | None = None,
                 **kwargs) -> FaceLandmarker:
        """Open face_detector, face_landmarks_detector, face_blendshapes .onnx and the geometry metadata."""
        d = Path(model_dir)
        from nvb_perception.assets import require_file
        paths = [require_file(d / f'{n}.onnx', f'{n} model') for n in
                 ('face_detector', 'face_landmarks_detector', 'face_blendshapes')]
        geometry = FaceGeometry.from_file(require_file(d / 'face_geometry_landmarks.binarypb', 'face geometry'))
        return cls(*(_open(p, prefer, threads) for p in paths), geometry, **kwargs)

    def close(self) -> None:
        """Release the three backends."""
        for b in (self.detector.backend, self.landmark_backend, self.blendshape_backend):
            b.close()

    def _landmarks(self, bgr: np.ndarray, rects: list[Rect]) -> tuple[np.ndarray, np.ndarray]:
        """(N, 478, 3) px landmarks and (N,) presence for N rects."""
        crops = np.stack([warp(bgr, r, FACE_CROP, replicate=True)[..., ::-1] for r in rects])
        x = crops.astype(np.float32) * np.float32(1.0 / 255.0)
        name = next(iter(self.landmark_backend.inputs))
        if self.batched:
            outs = [self.landmark_backend({name: x})]
        else:
            outs = [self.landmark_backend({name: x[i:i + 1]}) for i in range(len(rects))]
        raw = np.concatenate([np.asarray(o['Identity'], np.float32).reshape(-1, NUM_FACE_LANDMARKS, 3) for o in outs])
        flag = np.concatenate([np.asarray(o['Identity_1'], np.float32).reshape(-1) for o in outs])
        points = np.empty(raw.shape, np.float64)
        for i, r in enumerate(rects):
            points[i, :, :2] = r.to_image(raw[i, :, :2] / FACE_CROP)
            points[i, :, 2] = raw[i, :, 2] / FACE_CROP * r.width
        return points, sigmoid(flag)

    def blendshapes(self, landmarks_px: np.ndarray) -> np.ndarray:
        """(52,) float32 blendshape scores of one face's (478, 2+) px landmarks."""
        x = np.asarray(landmarks_px, np.float32)[list(BLENDSHAPE_INPUT), :2][None]
        out = self.blendshape_backend({next(iter(self.blendshape_backend.inputs)): x})
        return np.asarray(next(iter(out.values())), np.float32).reshape(-1)

    def __call__(self, bgr: np.ndarray, rects: list[Rect]) -> list[FaceObservation | None]:
        """Landmarks, blendshapes and pose in each rect; None where the face presence is too low."""
        usable = [i for i, r in enumerate(rects) if r.usable()]
        found: list[FaceObservation | None] = [None] * len(rects)
        if not usable:
            return found
        points, presence = self._landmarks(bgr, [rects[i] for i in usable])
        size = (bgr.shape[1], bgr.shape[0])
        for k, i in enumerate(usable):
            if presence[k] < self.min_presence or not np.isfinite(points[k]).all():
                continue
            found[i] = make_observation(points[k], float(presence[k]), self.blendshapes(points[k]), self.geometry,
                                        size, rects[i])
        return found

    def detect(self, bgr: np.ndarray, rect: Rect | None = None) -> list[SsdDetection]:
        """Faces found by the detector in the whole image (letterboxed) or inside `rect`."""
        return self.detector(bgr, rect)

    def detect_and_observe(self, bgr: np.ndarray, max_faces: int = 4) -> list[FaceObservation]:
        """The Face Landmarker task on a still image: detect, then landmarks in each task ROI."""
        rects = [face_rect_from_detection(d, task=True) for d in self.detect(bgr)[:max_faces]]
        return [f for f in self(bgr, rects) if f is not None]
