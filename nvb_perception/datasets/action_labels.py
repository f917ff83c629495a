"""Person tracks of a video, motion labels derived from them, and Charades/TSU-style annotation files.

    tracks = track_video('vtest.avi', PoseConfig(detector_tile_px=288, max_people=8))   # runs the pose stage
    save_tracks('out/actions/tracks.npz', tracks); tracks = load_tracks('out/actions/tracks.npz')
    labels = motion_labels(tracks, fps=10.0)            # (N, C) bool, one row per (frame, track) observation
    rev = reverse_tracks(tracks)                        # the same observations in reversed time
    labels_rev = motion_labels(rev, fps=10.0)           # their true labels (left <-> right, toward <-> away)

Motion labels (MOTION_CLASSES, several can hold at once) come from each track's bounding box over a centred
window of +-LABEL_HALF_WINDOW_S seconds, in units of the person's own height so they do not depend on the
distance to the camera:
- walk_left / walk_right: horizontal speed of the box centre above WALK_SPEED (heights per second);
- walk_toward / walk_away: vertical speed of the feet (box bottom) plus the relative growth/shrink rate of the
  box height, above WALK_SPEED; for a camera looking down at a floor (vtest.avi), coming closer moves the feet
  down the image and makes the person bigger;
- standing: speed (both axes) below STAND_SPEED;
- close_to_other: another tracked person's box centre within CLOSE_DISTANCE heights in the same frame.
Reversing time maps every velocity to its opposite, so the reversed labels swap left/right and toward/away,
while standing and close_to_other are kept: the same frames, different true labels.

Annotation files for users' own data (Charades/TSU style, CSV with a header):
    video,label,start_s,end_s[,track_id]        # track_id -1 or missing = the whole frame
read by `read_annotations` and turned into per-frame multi-label rows by `annotation_labels`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.errors import PerceptionError

MOTION_CLASSES = ('walk_left', 'walk_right', 'walk_toward', 'walk_away', 'standing', 'close_to_other')
# the classes that swap under time reversal, by index in MOTION_CLASSES
REVERSED_CLASS = (1, 0, 3, 2, 4, 5)
LABEL_HALF_WINDOW_S = 0.5     # seconds each side of a frame for the velocity fit
WALK_SPEED = 0.25             # person heights per second: slower is not walking in that direction
STAND_SPEED = 0.12            # person heights per second: slower (both axes) is standing
CLOSE_DISTANCE = 0.75         # person heights between box centres
MIN_TRACK_FRAMES = 3          # shorter tracks get no motion labels (no velocity)


@dataclass(frozen=True, eq=False)
class Tracks:
    """Every observation (frame, track) of the tracked people of one video, sorted by track then frame."""

    frame: np.ndarray        # (N,) int64 frame index in the source video
    track_id: np.ndarray     # (N,) int64
    bbox: np.ndarray         # (N, 4) float32 px x0, y0, x1, y1
    keypoints: np.ndarray    # (N, 33, 2) float32 px (BlazePose order)
    confidence: np.ndarray   # (N, 33) float32 [0, 1]
    image_size: tuple[int, int]   # (width, height) px
    fps: float
    num_frames: int          # frames in the source (the frame index range is [0, num_frames))

    def __post_init__(self):
        n = len(self.frame)
        for name, shape in (('track_id', (n,)), ('bbox', (n, 4))):
            if getattr(self, name).shape != shape:
                raise ValueError(f'{name} must have shape {shape}, got {getattr(self, name).shape}')

    def __len__(self) -> int:
        return len(self.frame)

    def segments(self) -> list[np.ndarray]:
        """Row indices of each track, in time order (one array per track id)."""
        order = np.lexsort((self.frame, self.track_id))
        ids = self.track_id[order]
        cuts = np.flatnonzero(np.diff(ids)) + 1
        return [order[s] for s in np.split(np.arange(len(order)), cuts)] if len(order) else []

    def select(self, rows: np.ndarray) -> Tracks:
        """A subset of the observations."""
        return Tracks(self.frame[rows], self.track_id[rows], self.bbox[rows], self.keypoints[rows],
                      self.confidence[rows], self.image_size, self.fps, self.num_frames)


def track_video(path: str | Path, config=None, max_frames: int | None = None, progress=None) -> Tracks:
    """Run the 2D pose stage (detector + landmarks + tracker) over a video and keep the observed people.

    Args:
        path: video file or image folder (io.video.iter_video_frames).
        config: pose2d.estimator.PoseConfig; default PoseConfig(detector_tile_px=288, max_people=8), which finds
            the small pedestrians of vtest.avi.
        max_frames: stop after this many frames.
        progress: optional callable(frame_index) called after each frame.

    Returns:
        Tracks of the NEW/TRACKED people (LOST/TERMINATED repeats are left out).
    """
    from nvb_perception.io.video import iter_video_frames, video_fps
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    estimator = PoseEstimator.from_config(config or PoseConfig(detector_tile_px=288, max_people=8))
    rows = {'frame': [], 'track_id': [], 'bbox': [], 'keypoints': [], 'confidence': []}
    size, count = (0, 0), 0
    for video_frame in iter_video_frames(path, max_frames=max_frames):
        result = estimator(video_frame.bgr, video_frame.stamp_ns)
        size = result.image_size
        count = video_frame.index + 1
        for person in result.visible:
            s = person.skeleton
            rows['frame'].append(video_frame.index)
            rows['track_id'].append(s.track_id)
            rows['bbox'].append(s.bbox)
            rows['keypoints'].append(s.keypoints)
            rows['confidence'].append(s.confidence)
        if progress:
            progress(video_frame.index)
    tracks = Tracks(np.asarray(rows['frame'], np.int64), np.asarray(rows['track_id'], np.int64),
                    np.asarray(rows['bbox'], np.float32).reshape(-1, 4),
                    np.asarray(rows['keypoints'], np.float32).reshape(-1, 33, 2),
                    np.asarray(rows['confidence'], np.float32).reshape(-1, 33), tuple(size),
                    float(video_fps(path)), count)
    return tracks.select(np.lexsort((tracks.frame, tracks.track_id)))


def frame_tracks(path: str | Path, max_frames: int | None = None) -> Tracks:
    """One observation per frame for whole-frame actions: track -1, a square box of side max(width, height).

    With FeatureConfig(context=1.0) the crop window is then the whole frame (padded to a square).
    """
    from nvb_perception.io.video import iter_video_frames, video_fps
    count, size = 0, (0, 0)
    for vf in iter_video_frames(path, max_frames=max_frames):
        count, size = vf.index + 1, (vf.bgr.shape[1], vf.bgr.shape[0])
    w, h = size
    side = max(w, h)
    box = np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2], np.float32)
    return Tracks(np.arange(count, dtype=np.int64), np.full(count, -1, np.int64), np.tile(box, (count, 1)),
                  np.zeros((count, 33, 2), np.float32), np.zeros((count, 33), np.float32), size,
                  float(video_fps(path)), count)


def ensure_tracks(video: str | Path, cache_dir: str | Path, config=None, log=None) -> Tracks:
    """Tracks of a video, computed once and kept in cache_dir/tracks_<hash of the video file>.npz."""
    import hashlib
    video = Path(video)
    if not video.exists():
        raise PerceptionError(f'video not found: {video}')
    h = hashlib.sha256()
    if video.is_file():
        with open(video, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
    else:
        h.update(str(sorted(p.name for p in video.iterdir())).encode())
    h.update(repr(config).encode())
    path = Path(cache_dir) / f'tracks_{h.hexdigest()[:16]}.npz'
    if path.is_file():
        return load_tracks(path)
    if log:
        log(f'tracking people in {video} (pose stage, once; cached in {path})')
    tracks = track_video(video, config)
    save_tracks(path, tracks)
    return tracks


def save_tracks(path: str | Path, tracks: Tracks) -> None:
    """Write tracks to .npz (plain arrays, no pickle)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, frame=tracks.frame, track_id=tracks.track_id, bbox=tracks.bbox,
                        keypoints=tracks.keypoints, confidence=tracks.confidence,
                        image_size=np.asarray(tracks.image_size, np.int64), fps=np.float64(tracks.fps),
                        num_frames=np.int64(tracks.num_frames))


def load_tracks(path: str | Path) -> Tracks:
    """Read tracks written by save_tracks."""
    from nvb_perception.assets import read_npz
    z = read_npz(path, 'tracks', 'The next run computes it again')
    return Tracks(z['frame'], z['track_id'], z['bbox'], z['keypoints'], z['confidence'],
                  tuple(int(v) for v in z['image_size']), float(z['fps']), int(z['num_frames']))


def reverse_tracks(tracks: Tracks) -> Tracks:
    """The same observations in reversed time: frame f becomes num_frames - 1 - f."""
    rev = Tracks(tracks.num_frames - 1 - tracks.frame, tracks.track_id, tracks.bbox, tracks.keypoints,
                 tracks.confidence, tracks.image_size, tracks.fps, tracks.num_frames)
    return rev.select(np.lexsort((rev.frame, rev.track_id)))


def _fit_velocity(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of values (T, K) over times t (T,), per column."""
    tc = t - t.mean()
    denom = float(tc @ tc)
    return (tc @ (values - values.mean(axis=0))) / denom if denom > 0 else np.zeros(values.shape[1])


def track_velocities(tracks: Tracks, half_window_s: float = LABEL_HALF_WINDOW_S) -> np.ndarray:
    """Per observation (N, 3): horizontal centre speed, feet vertical speed, relative height growth rate.

    Speeds are in person heights per second (the median box height of the window), positive = right, down
    (toward the camera for a camera looking down at the floor) and growing. NaN where the track is too short.
    """
    out = np.full((len(tracks), 3), np.nan)
    half = max(1, int(round(half_window_s * tracks.fps)))
    for rows in tracks.segments():
        if len(rows) < MIN_TRACK_FRAMES:
            continue
        frames = tracks.frame[rows]
        box = tracks.bbox[rows].astype(np.float64)
        cx = (box[:, 0] + box[:, 2]) / 2
        feet = box[:, 3]
        height = np.maximum(box[:, 3] - box[:, 1], 1.0)
        for i in range(len(rows)):
            sel = np.abs(frames - frames[i]) <= half
            if sel.sum() < MIN_TRACK_FRAMES:
                continue
            t = frames[sel] / tracks.fps
            h = float(np.median(height[sel]))
            vx, vy = _fit_velocity(t, np.stack([cx[sel], feet[sel]], axis=1)) / h
            growth = _fit_velocity(t, np.log(height[sel])[:, None])[0]
            out[rows[i]] = (vx, vy, growth)
    return out


def motion_labels(tracks: Tracks, half_window_s: float = LABEL_HALF_WINDOW_S) -> np.ndarray:
    """Multi-label motion classes per observation.

    Returns:
        (N, len(MOTION_CLASSES)) bool; rows whose velocity is unknown (too short a track) are all False.
    """
    vel = track_velocities(tracks, half_window_s)
    known = np.isfinite(vel[:, 0])
    vx, vy, growth = (np.nan_to_num(v) for v in vel.T)
    depth = vy + growth           # both positive when coming closer
    labels = np.zeros((len(tracks), len(MOTION_CLASSES)), bool)
    labels[:, 0] = known & (vx < -WALK_SPEED)
    labels[:, 1] = known & (vx > WALK_SPEED)
    labels[:, 2] = known & (depth > WALK_SPEED)
    labels[:, 3] = known & (depth < -WALK_SPEED)
    labels[:, 4] = known & (np.hypot(vx, depth) < STAND_SPEED)
    labels[:, 5] = close_to_other(tracks)
    return labels


def labelled(tracks: Tracks, half_window_s: float = LABEL_HALF_WINDOW_S) -> np.ndarray:
    """(N,) bool: observations whose motion is known (their track is long enough around them)."""
    return np.isfinite(track_velocities(tracks, half_window_s)[:, 0])


def close_to_other(tracks: Tracks, distance: float = CLOSE_DISTANCE) -> np.ndarray:
    """(N,) bool: another person's box centre is within `distance` person heights in the same frame."""
    out = np.zeros(len(tracks), bool)
    centre = np.stack([(tracks.bbox[:, 0] + tracks.bbox[:, 2]) / 2, (tracks.bbox[:, 1] + tracks.bbox[:, 3]) / 2], 1)
    height = np.maximum(tracks.bbox[:, 3] - tracks.bbox[:, 1], 1.0)
    order = np.argsort(tracks.frame, kind='stable')
    frames = tracks.frame[order]
    cuts = np.flatnonzero(np.diff(frames)) + 1
    for rows in np.split(order, cuts):
        if len(rows) < 2:
            continue
        d = np.linalg.norm(centre[rows, None] - centre[None, rows], axis=-1)
        scale = np.maximum(height[rows, None], height[None, rows])
        near = d / scale < distance
        np.fill_diagonal(near, False)
        out[rows] = near.any(axis=1)
    return out


def reversed_labels(labels: np.ndarray) -> np.ndarray:
    """Labels of the time-reversed observation: swap left/right and toward/away (columns of MOTION_CLASSES)."""
    if labels.ndim != 2 or labels.shape[1] != len(MOTION_CLASSES):
        raise ValueError(f'labels must have shape (N, {len(MOTION_CLASSES)}), got {labels.shape}')
    return labels[:, list(REVERSED_CLASS)]


@dataclass(frozen=True)
class Annotation:
    """One labelled time interval (Charades/TSU style)."""

    video: str
    label: str
    start_s: float
    end_s: float
    track_id: int = -1       # -1 = the whole frame


def read_annotations(path: str | Path) -> list[Annotation]:
    """Read a CSV with the header video,label,start_s,end_s[,track_id].

    Raises:
        PerceptionError: missing file or columns, or a row with end_s < start_s.
    """
    path = Path(path)
    if not path.is_file():
        raise PerceptionError(f'annotation file not found: {path}')
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        need = {'video', 'label', 'start_s', 'end_s'}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise PerceptionError(f'{path}: header must have {sorted(need)} (+ optional track_id), '
                                  f'got {reader.fieldnames}')
        out = []
        for line, row in enumerate(reader, start=2):
            try:
                a = Annotation(row['video'], row['label'], float(row['start_s']), float(row['end_s']),
                               int(row.get('track_id') or -1))
            except ValueError as error:
                raise PerceptionError(f'{path}:{line}: {error}') from None
            if a.end_s < a.start_s:
                raise PerceptionError(f'{path}:{line}: end_s {a.end_s} < start_s {a.start_s}')
            out.append(a)
    return out


def annotation_labels(annotations: list[Annotation], video: str, classes: tuple[str, ...], frame: np.ndarray,
                      track_id: np.ndarray, fps: float) -> np.ndarray:
    """Per-observation multi-label rows (N, C) bool from interval annotations of one video.

    A whole-frame annotation (track_id -1) labels every observation of its frames; a per-track one only that
    track's. Frame f covers the time f / fps.
    """
    labels = np.zeros((len(frame), len(classes)), bool)
    t = np.asarray(frame) / fps
    index = {c: i for i, c in enumerate(classes)}
    for a in annotations:
        if a.video != video or a.label not in index:
            continue
        sel = (t >= a.start_s) & (t <= a.end_s)
        if a.track_id >= 0:
            sel &= np.asarray(track_id) == a.track_id
        labels[sel, index[a.label]] = True
    return labels
