"""An aligned depth image sets each person's root depth and checks the lifted joints against the measured surface.

    depth = DepthImage(depth_to_metres(array, '16UC1'))            # metres, NaN where the sensor has no reading
    root, confidence = depth.place(positions, root, keypoints_raw, keypoints_px, confidence, k)

The monocular root (lifting/root.py) takes its depth from the lifted skeleton's size, so a person taller or
shorter than the mocap subjects lands proportionally too far or too near. A depth camera measures the distance
instead. Each visible torso joint (pelvis, hips, spine, thorax, shoulders) gives one root depth: the depth
sampled at its 2D keypoint (median of a small window, ignoring 0/NaN), plus `surface_offset_m` (the camera sees
the body's surface, the joint lies inside it), minus the joint's depth relative to the root in the lifted
skeleton. Their median is robust to a torso joint hidden behind an object or off the body. The root keeps the
monocular estimate's direction (or the root pixel's ray) and gets that depth.

Every seen joint whose sampled depth differs from where the placed skeleton puts its surface by more than
`tolerance_m` (occluded by something nearer, or its keypoint off the body) has its confidence multiplied by
DISAGREE_SCALE and is counted in `joints_disagreeing`. The depth must be registered to the camera image (same
size, same pixels): sampling uses the keypoints as detected, the geometry their undistorted pixels.
"""
from collections import deque
from dataclasses import dataclass

import numpy as np

from nvb_perception.lifting.camera import root_pixel
from nvb_perception.lifting.root import MIN_CONFIDENCE
from nvb_perception.skeleton import H36M

TORSO = (H36M.PELVIS, H36M.RIGHT_HIP, H36M.LEFT_HIP, H36M.SPINE, H36M.THORAX, H36M.LEFT_SHOULDER,
         H36M.RIGHT_SHOULDER)
MIN_TORSO_JOINTS = 2        # fewer sampled torso joints: the monocular root stays
DISAGREE_SCALE = 0.5        # confidence factor of a joint the depth image contradicts
ENCODING_SCALE = {'16UC1': 0.001, 'mono16': 0.001, '32FC1': 1.0}    # to metres (REP 118: mm or m)


def depth_to_metres(array: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W) depth -> float32 metres with NaN where there is no reading (0, NaN, inf, negative).

    Raises:
        ValueError: an encoding other than 16UC1/mono16 (millimetres) or 32FC1 (metres), or not one channel.
    """
    if encoding not in ENCODING_SCALE:
        raise ValueError(f'depth images must be 16UC1 (mm) or 32FC1 (m), got {encoding!r}')
    if np.ndim(array) != 2:
        raise ValueError(f'depth images have one channel, got shape {np.shape(array)}')
    metres = np.asarray(array, np.float32) * np.float32(ENCODING_SCALE[encoding])
    return np.where(np.isfinite(metres) & (metres > 0), metres, np.float32(np.nan))


@dataclass
class DepthImage:
    """One depth image in metres and how it is used; counts what it did over the people of its frame."""

    metres: np.ndarray                  # (H, W) float32, NaN = no reading
    surface_offset_m: float = 0.1       # torso joints lie about this far behind the surface the camera sees
    tolerance_m: float = 0.3            # a joint's surface further than this from its sampled depth disagrees
    window_px: int = 2                  # samples are medians of a (2w+1)^2 window around each keypoint
    roots_set: int = 0
    roots_missed: int = 0               # people with too few torso joints on valid depth
    joints_disagreeing: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) pixels."""
        return self.metres.shape[1], self.metres.shape[0]

    def sample(self, keypoints_px: np.ndarray) -> np.ndarray:
        """(J,) median depth (m) around each (J, 2) pixel; NaN outside the image or without a reading."""
        h, w = self.metres.shape
        r = self.window_px
        out = np.full(len(keypoints_px), np.nan)
        for j, (x, y) in enumerate(np.asarray(keypoints_px, np.float64)):
            if not (np.isfinite(x) and np.isfinite(y)) or not (0 <= x < w and 0 <= y < h):
                continue
            xi, yi = int(x), int(y)
            patch = self.metres[max(0, yi - r):yi + r + 1, max(0, xi - r):xi + r + 1]
            patch = patch[np.isfinite(patch)]
            if patch.size:
                out[j] = float(np.median(patch))
        return out

    def place(self, positions: np.ndarray, root: np.ndarray | None, keypoints_raw: np.ndarray,
              keypoints_px: np.ndarray, confidence: np.ndarray, camera_matrix: np.ndarray):
        """(root, confidence) of one person with the measured depth; unchanged when the torso has no depth.

        Args:
            positions: (17, 3) H36M root-relative joints, optical frame (metres).
            root: the monocular root (3,) or None.
            keypoints_raw: (17, 2) pixels as detected (where the depth image is sampled).
            keypoints_px: (17, 2) undistorted pixels (for the root's ray when there is no monocular root).
            confidence: (17,) 2D confidences.
            camera_matrix: (3, 3) K.
        """
        positions = np.asarray(positions, np.float64)
        confidence = np.asarray(confidence, np.float32)
        measured = self.sample(keypoints_raw)
        seen = (confidence >= MIN_CONFIDENCE) & np.isfinite(measured) & np.isfinite(positions).all(1)
        rel_z = positions[:, 2] - positions[H36M.PELVIS, 2]
        torso = np.zeros(len(positions), bool)
        torso[list(TORSO)] = True
        torso &= seen
        if torso.sum() < MIN_TORSO_JOINTS:
            self.roots_missed += 1
            return root, confidence
        z = float(np.median(measured[torso] + self.surface_offset_m - rel_z[torso]))
        if root is not None and np.isfinite(root).all() and root[2] > 1e-3:
            direction = np.asarray(root, np.float64)
        else:
            pixel = root_pixel(np.asarray(keypoints_px, np.float64), confidence)
            direction = np.linalg.solve(np.asarray(camera_matrix, np.float64), [pixel[0], pixel[1], 1.0])
        placed = direction * (z / direction[2]) - positions[H36M.PELVIS]
        surface = placed[2] + positions[:, 2] - self.surface_offset_m
        disagree = seen & (np.abs(measured - surface) > self.tolerance_m)
        self.roots_set += 1
        self.joints_disagreeing += int(disagree.sum())
        return placed, np.where(disagree, confidence * DISAGREE_SCALE, confidence).astype(np.float32)


class DepthFrames:
    """The newest depth images by stamp; pairs a skeleton frame with the nearest one within a tolerance."""

    def __init__(self, capacity: int = 8):
        self.frames: deque = deque(maxlen=capacity)      # (stamp_ns, payload), arrival order

    def add(self, stamp_ns: int, payload) -> None:
        """Keep one depth image (the oldest goes when full)."""
        self.frames.append((int(stamp_ns), payload))

    def nearest(self, stamp_ns: int, tolerance_ns: int):
        """The payload whose stamp is nearest stamp_ns (the newest on a tie), or None if none is within tolerance."""
        best, best_gap = None, None
        for stamp, payload in self.frames:
            gap = abs(stamp - stamp_ns)
            if gap <= tolerance_ns and (best_gap is None or gap <= best_gap):
                best, best_gap = payload, gap
        return best

    def clear(self) -> None:
        """Forget every image (time went backwards)."""
        self.frames.clear()
