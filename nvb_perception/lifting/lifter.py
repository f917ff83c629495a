"""Runtime 2D -> 3D lifting: per-track causal windows, normalisation and the exported lifter on a backend.

    with Lifter.from_path('runs/lifter/lifter_temporal.onnx') as lifter:
        for frame in frames:                                   # types.Skeleton2DFrame, in time order
            skeletons_3d = lifter(frame.skeletons, camera_matrix=K)   # list[types.Skeleton3D]

Call it once per image with every person of that image: a track missing from a call gets an empty
(zero-confidence) frame, as the lifter saw detection gaps in training, and is forgotten after `max_gap_frames`
missed images. A new track (or one whose state is NEW) starts with its first frame repeated over the window;
people without a track id (-1) are lifted in single-frame mode (their frame repeated). The window length is the
model's input length (backend.inputs), never a separate setting.

Output: H36M-17 positions relative to the pelvis in metres. With `camera_matrix` (3x3 K) they are in the camera
optical frame; without it in the root-ray frame (lifting.camera), which differs from the optical frame by the
angle between the optical axis and the ray through the pelvis (0 for a person in the image centre).
`position_std` is the predicted per-axis standard deviation of each joint (metres); `covariance` splits it into
calibrated depth (along the ray through the pelvis) and image-plane parts, in the frame of the positions
(lifting/uncertainty.py).
"""
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nvb_perception.backends import Backend, load_backend
from nvb_perception.errors import ConfigError
from nvb_perception.lifting.camera import normalize_keypoints, ray_rotation_from_pixel, root_pixel
from nvb_perception.lifting.uncertainty import joint_covariance
from nvb_perception.skeleton import H36M, blazepose_to_h36m
from nvb_perception.types import Skeleton2D, Skeleton3D, TrackState

INPUT, POSE, LOG_VAR = 'keypoints_2d', 'pose_3d', 'log_var'


def to_h36m(skeleton: Skeleton2D) -> tuple[np.ndarray, np.ndarray]:
    """(17, 2) pixels and (17,) confidences of a 'blazepose33' or 'h36m17' skeleton.

    Raises:
        ValueError: another joint set.
    """
    if skeleton.joint_set == 'blazepose33':
        return blazepose_to_h36m(skeleton.keypoints, skeleton.confidence)
    if skeleton.joint_set == 'h36m17':
        return skeleton.keypoints, skeleton.confidence
    raise ValueError(f"the lifter takes 'blazepose33' or 'h36m17' skeletons, got {skeleton.joint_set!r}")


class Lifter:
    """Lift 2D skeletons to root-relative 3D with a causal window per track."""

    def __init__(self, backend: Backend, max_gap_frames: int = 5):
        """Wrap an open backend of an exported lifter (train_lifter.py's ONNX file).

        Args:
            backend: inputs {'keypoints_2d': (batch, T, 17, 3)}, outputs 'pose_3d' and 'log_var'.
            max_gap_frames: missed images after which a track's window is dropped.

        Raises:
            ValueError: the backend does not look like a lifter (names or shapes), or max_gap_frames < 0.
        """
        spec = backend.inputs.get(INPUT)
        if spec is None or len(spec.shape) != 4 or tuple(spec.shape[2:]) != (len(H36M), 3) or not spec.shape[1]:
            raise ValueError(f'expected a lifter with input {INPUT!r} (batch, T, 17, 3) and fixed T, got '
                             f'{ {k: v.shape for k, v in backend.inputs.items()} }')
        if not {POSE, LOG_VAR} <= set(backend.outputs):
            raise ValueError(f'expected outputs {POSE!r} and {LOG_VAR!r}, got {sorted(backend.outputs)}')
        if max_gap_frames < 0:
            raise ValueError(f'max_gap_frames must be >= 0, got {max_gap_frames}')
        self.backend = backend
        self.window = int(spec.shape[1])
        self.max_gap_frames = max_gap_frames
        self._windows: dict[int, np.ndarray] = {}    # track id -> (T, 17, 3) normalised inputs, newest last
        self._missed: dict[int, int] = {}

    @classmethod
    def from_path(cls, path: str | Path, prefer: Sequence[str] = ('onnxruntime',), **kwargs) -> 'Lifter':
        """Open an exported lifter with backends.load_backend (kwargs go to Lifter).

        Raises:
            ModelFileError, BackendError: the file is missing, corrupt or no runtime can load it.
            ConfigError: the file is a valid model but not a lifter (e.g. another model's ONNX).
        """
        backend = load_backend(path, prefer=prefer)
        try:
            return cls(backend, **kwargs)
        except ValueError as error:
            backend.close()
            raise ConfigError(f'{path} is not a usable lifter: {error}. Give the ONNX file nvb-export-lifter or '
                              'nvb-train-lifter wrote') from None

    def reset(self, track_id: int | None = None) -> None:
        """Forget one track's window, or every track's."""
        if track_id is None:
            self._windows.clear()
            self._missed.clear()
        else:
            self._windows.pop(track_id, None)
            self._missed.pop(track_id, None)

    def _advance(self, track_id: int, frame: np.ndarray, restart: bool) -> np.ndarray:
        """Append one normalised (17, 3) frame to a track's window and return the (T, 17, 3) window."""
        if track_id < 0:
            return np.repeat(frame[None], self.window, axis=0)
        window = self._windows.get(track_id)
        if window is None or restart:
            window = np.repeat(frame[None], self.window, axis=0)   # pad the start by repeating the first frame
        else:
            window = np.concatenate([window[1:], frame[None]])
        self._windows[track_id], self._missed[track_id] = window, 0
        return window

    def _age_missing(self, present: set[int]) -> None:
        """Give tracks absent from this image an empty frame; drop those missing for too long."""
        for track_id in list(self._windows):
            if track_id in present:
                continue
            self._missed[track_id] += 1
            if self._missed[track_id] > self.max_gap_frames:
                self.reset(track_id)
            else:
                window = self._windows[track_id]
                self._windows[track_id] = np.concatenate([window[1:], np.zeros_like(window[:1])])

    def __call__(self, skeletons: Sequence[Skeleton2D], camera_matrix: np.ndarray | None = None) -> list[Skeleton3D]:
        """Lift every person of one image.

        Args:
            skeletons: all 2D skeletons of the image ('blazepose33' or 'h36m17'), pixels.
            camera_matrix: optional (3, 3) intrinsics K; with it the output is in the camera optical frame.

        Returns:
            One Skeleton3D per input, same order: joint_set 'h36m17', root_relative, metres, confidence = the
            2D confidence of each joint, position_std = predicted per-axis std (metres), covariance = (17, 6)
            calibrated per-joint covariance (m^2) in the frame of the positions.

        Raises:
            ValueError: an unsupported joint set, or camera_matrix not a calibrated 3x3 matrix.
        """
        if camera_matrix is not None:
            camera_matrix = np.asarray(camera_matrix, np.float64).reshape(3, 3)
            if camera_matrix[0, 0] <= 0 or camera_matrix[1, 1] <= 0:
                raise ValueError(f'camera_matrix is not calibrated (fx, fy <= 0): {camera_matrix.tolist()}')
        ids = [s.track_id for s in skeletons]
        if len({i for i in ids if i >= 0}) != sum(i >= 0 for i in ids):
            raise ValueError(f'track ids must be unique within one image, got {ids}')
        self._age_missing({i for i in ids if i >= 0})
        if not skeletons:
            return []
        joints = [to_h36m(s) for s in skeletons]
        frames = [normalize_keypoints(np.asarray(k, np.float64), np.asarray(c, np.float64)) for k, c in joints]
        batch = np.stack([self._advance(s.track_id, f, s.track_state == TrackState.NEW)
                          for s, f in zip(skeletons, frames)]).astype(np.float32)   # (B, T, 17, 3)
        out = self.backend({INPUT: batch})
        poses, stds = out[POSE].copy(), np.exp(0.5 * out[LOG_VAR])                      # (B, 17, 3), (B, 17)
        rotations = None
        if camera_matrix is not None:
            roots = np.stack([root_pixel(k, c) for k, c in joints])
            rotations = ray_rotation_from_pixel(roots, camera_matrix)
            poses = np.einsum('nja,nab->njb', poses, rotations)                       # R^T p
        covs = joint_covariance(stds, rotations)                                      # (B, 17, 6)
        return [Skeleton3D(positions=p, confidence=c, joint_set='h36m17', track_id=s.track_id,
                           track_state=s.track_state, root_relative=True, position_std=sd, covariance=cv)
                for s, (_, c), p, sd, cv in zip(skeletons, joints, poses, stds, covs)]

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()

    def __enter__(self) -> 'Lifter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
