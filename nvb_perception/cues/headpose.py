"""Head pose from 478 face landmarks (MediaPipe's face geometry pipeline) and gaze from the irises.

    geometry = FaceGeometry.from_file('<assets>/models/face_geometry_landmarks.binarypb')
    matrix = geometry.pose_matrix(landmarks_px, (width, height))  # (4, 4) canonical face (cm) -> camera
    yaw, pitch, roll = euler_deg(matrix[:3, :3])                  # degrees; 0, 0, 0 = facing the camera
    gaze = gaze_angles(landmarks_px, yaw, pitch)                  # head + eye-in-head direction, degrees

`pose_matrix` reproduces MediaPipe Tasks' facial transformation matrix (FaceGeometryFromLandmarksGraph,
mediapipe 0.10.18): the first 468 landmarks, a perspective camera with a 63 degree vertical field of view
and near plane 1 cm, two rounds of weighted orthogonal Procrustes against the canonical face mesh to find
the depth scale, then the final Procrustes fit (Umeyama with MediaPipe's sqrt-weight arrangement). The
canonical mesh and the landmark weights come from `geometry_pipeline_metadata_landmarks.binarypb`
inside face_landmarker.task (a GeometryPipelineMetadata protobuf, decoded here without protobuf).

Angles, from the direction the face points (the canonical +z axis) and its up axis in the matrix's camera
frame (x right, y up, z towards the viewer): yaw > 0 = the face turns towards the image's right (the
person's left), pitch > 0 = face up, roll > 0 = the top of the head tilts towards the image's right; all
0 for a face looking straight down the camera axis. Gaze adds the iris offset within each eye, scaled to
degrees by EYE_DEG_PER_UNIT (a rough constant: the eyeball turns about 50 deg for the iris to move one
eye width; per-person baselines absorb the error).
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.errors import ModelFileError

VERTICAL_FOV_DEG = 63.0
NEAR_CM = 1.0
NUM_MESH = 468                     # the geometry pipeline ignores the 10 iris landmarks
# eye corners (outer, inner) and iris centres of the 478-point mesh, image-left eye first (person's right)
EYES = ((33, 133, 468), (362, 263, 473))
EYE_LIDS = ((159, 145), (386, 374))            # upper, lower lid midpoints per eye
EYE_DEG_PER_UNIT = 50.0            # deg of gaze per unit iris offset (fraction of the eye width from centre)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of a protobuf message (value: int or bytes)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f'unsupported wire type {wire}')
        yield number, wire, value


def parse_geometry_metadata(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """GeometryPipelineMetadata bytes -> canonical vertices (V, 3) cm and landmark weights (V,)."""
    vertices, weights = [], {}
    for number, _wire, value in _fields(data):
        if number == 1:                                  # canonical_mesh: Mesh3d
            for n, w, v in _fields(value):
                if n == 3:                               # vertex_buffer: packed or single floats
                    vertices += struct.unpack(f'<{len(v) // 4}f', v) if w == 2 else struct.unpack('<f', v)
        elif number == 2:                                # procrustes_landmark_basis
            ref = {n: v for n, _, v in _fields(value)}
            weights[ref.get(1, 0)] = struct.unpack('<f', ref[2])[0] if 2 in ref else 0.0
    mesh = np.asarray(vertices, np.float64).reshape(-1, 5)[:, :3]     # VERTEX_PT: x y z u v
    w = np.zeros(len(mesh))
    for i, value in weights.items():
        w[i] = value
    if len(mesh) != NUM_MESH or w.sum() <= 0:
        raise ValueError(f'expected {NUM_MESH} vertices and positive weights, got {len(mesh)}, sum {w.sum()}')
    return mesh, w


def procrustes(source: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """MediaPipe's weighted orthogonal Procrustes: (4, 4) scale*rotation + translation, source -> target.

    source, target: (3, N); weights: (N,) >= 0.
    """
    sw = np.sqrt(weights)
    ws, wt = source * sw, target * sw
    total = float((sw * sw).sum())
    centre = (ws * sw).sum(1) / total
    cws = ws - np.outer(centre, sw)
    u, _, vt = np.linalg.svd(wt @ cws.T)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        u[:, 2] *= -1
    rotation = u @ vt
    scale = float(((rotation @ cws) * wt).sum() / (cws * ws).sum())
    rs = scale * rotation
    translation = ((wt - rs @ ws) * sw).sum(1) / total
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rs, translation
    return out


@dataclass(frozen=True, eq=False)
class FaceGeometry:
    """The canonical face and the Procrustes weights of MediaPipe's geometry pipeline."""

    canonical: np.ndarray          # (3, 468) cm
    weights: np.ndarray            # (468,)

    @classmethod
    def from_file(cls, path: str | Path) -> FaceGeometry:
        """Load `geometry_pipeline_metadata_landmarks.binarypb` (ModelFileError if missing or unreadable)."""
        try:
            mesh, weights = parse_geometry_metadata(Path(path).read_bytes())
        except (OSError, ValueError, IndexError, KeyError, struct.error) as exc:
            raise ModelFileError(f'cannot read face geometry metadata {path}: {exc}; delete it and run `make setup` '
                                 '(or nvb-export-face-hands)') from exc
        return cls(mesh.T.copy(), weights)

    def pose_matrix(self, landmarks_px: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """(4, 4) facial transformation matrix (canonical cm -> camera, y up), as MediaPipe Tasks.

        Args:
            landmarks_px: (478 or 468, 3) x, y px and z px (relative depth, scale of x).
            image_size: (width, height) px.
        """
        w, h = image_size
        screen = np.asarray(landmarks_px, np.float64)[:NUM_MESH].T / w     # normalised by width (z too)
        screen[1] *= w / h
        height_near = 2.0 * NEAR_CM * math.tan(0.5 * math.radians(VERTICAL_FOV_DEG))
        width_near = w * height_near / h
        screen[1] = 1.0 - screen[1]                                          # TOP_LEFT_CORNER origin
        screen *= np.array([[width_near], [height_near], [width_near]])
        screen[0] -= 0.5 * width_near
        screen[1] -= 0.5 * height_near
        depth_offset = screen[2].mean()

        def scale_of(points):
            return float(np.linalg.norm(procrustes(self.canonical, points, self.weights)[:3, 0]))

        def metric(points, scale):
            out = points.copy()
            out[2] = (out[2] - depth_offset + NEAR_CM) / scale
            out[0] *= out[2] / NEAR_CM
            out[1] *= out[2] / NEAR_CM
            out[2] *= -1.0
            return out

        flipped = screen * np.array([[1.0], [1.0], [-1.0]])
        first = scale_of(flipped)
        second = scale_of(metric(screen, first))
        return procrustes(self.canonical, metric(screen, first * second), self.weights)


def euler_deg(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a facial rotation (see the module docstring for the signs)."""
    r = np.asarray(rotation, np.float64)
    r = r / np.cbrt(max(np.linalg.det(r), 1e-12))                       # drop the Procrustes scale
    forward, up = r[:, 2], r[:, 1]
    yaw = math.degrees(math.atan2(forward[0], forward[2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, forward[1]))))
    roll = math.degrees(math.atan2(up[0], up[1]))
    return yaw, pitch, roll


def iris_offsets(landmarks_px: np.ndarray) -> np.ndarray:
    """(2, 2) per eye (image-left first): iris offset from the eye centre, in eye widths (x right, y down).

    The eye centre is the midpoint of its corners horizontally and of its lid midpoints vertically; both
    offsets are divided by the corner-to-corner distance, so they do not depend on face size.
    """
    lm = np.asarray(landmarks_px, np.float64)[:, :2]
    out = np.zeros((2, 2))
    for k, ((a, b, iris), (up, down)) in enumerate(zip(EYES, EYE_LIDS)):
        axis = lm[b] - lm[a]
        width = float(np.linalg.norm(axis))
        if width <= 0:
            continue
        ux = axis / width
        uy = np.array([-ux[1], ux[0]])                                  # eye 'down' (y down image)
        centre = (lm[a] + lm[b]) / 2
        vertical_centre = (lm[up] + lm[down]) / 2
        d = lm[iris] - centre
        out[k] = (d @ ux / width, (lm[iris] - vertical_centre) @ uy / width)
    return out


def gaze_angles(landmarks_px: np.ndarray, yaw_deg: float, pitch_deg: float) -> tuple[float, float]:
    """(gaze yaw, gaze pitch) degrees: head angles plus the mean iris offset of both eyes, converted.

    The iris moving to the image's right means the eyes turn to the image's right (positive yaw, as the
    head); the iris moving down the image means looking down (negative pitch).
    """
    offset = iris_offsets(landmarks_px).mean(0)
    return yaw_deg + EYE_DEG_PER_UNIT * float(offset[0]), pitch_deg - EYE_DEG_PER_UNIT * float(offset[1])
