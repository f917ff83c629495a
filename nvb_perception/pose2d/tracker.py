"""Multi-person track bookkeeping: stable IDs, explicit states, duplicate suppression.

    tracker = Tracker(max_people=4, lost_frames=15)
    reports = tracker.update([Observation(keypoints, visibility, bbox, score, source_id), ...])
    for r in reports:        # every track to report this frame, NEW/TRACKED with their observation index
        ...                  # LOST / TERMINATED with observation -1

Per frame:
1. Duplicates: when two observations are the same person (OKS >= duplicate_oks, or box IoU >=
   duplicate_iou; e.g. two ROIs that converged on one person, or a detection of a tracked person), only
   the first by priority is kept: observations that came from an existing track's ROI first, the one most
   similar to its own track's last pose first (a track whose ROI drifted onto a neighbour loses), then
   detector-born ones by score.
2. An observation made from a track's own ROI (source_id) continues that track.
3. The rest are matched to the remaining tracks (including LOST ones, so a person found again keeps the
   ID) with scipy.optimize.linear_sum_assignment on similarity = max(box IoU, OKS); pairs below
   min_similarity stay unmatched.
4. Unmatched observations open NEW tracks while fewer than max_people tracks are live (NEW or TRACKED);
   IDs count up from 0 and are never reused.
5. States: a new track is NEW for its first frame, then TRACKED while observed. An unobserved track is
   LOST for up to lost_frames frames (a match makes it TRACKED again), then TERMINATED: reported once,
   then forgotten.
OKS here: the COCO object keypoint similarity with one constant per-joint falloff (KAPPA) over the joints
visible (> 0.5) in both poses, scale = sqrt(area of the track's box).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from nvb_perception.pose2d.roi import box_iou
from nvb_perception.types import TrackState

KAPPA = 0.1                        # OKS falloff per joint, fraction of the person scale
VISIBLE = 0.5                      # visibility above which a joint counts for OKS


@dataclass(frozen=True, eq=False)
class Observation:
    """One person found in the current frame."""

    keypoints: np.ndarray          # (J, 2) px
    visibility: np.ndarray         # (J,) [0, 1]
    bbox: np.ndarray               # (4,) px x0, y0, x1, y1
    score: float = 1.0             # [0, 1]
    source_id: int = -1            # track whose ROI produced it; -1 = from the detector


@dataclass(eq=False)
class Track:
    """A person over time. `payload` is the owner's (the estimator keeps its ROI and smoother there)."""

    track_id: int
    state: TrackState
    keypoints: np.ndarray          # (J, 2) px, last observed
    visibility: np.ndarray         # (J,)
    bbox: np.ndarray               # (4,) px
    lost_count: int = 0            # consecutive frames unobserved
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.state in (TrackState.NEW, TrackState.TRACKED)


@dataclass(frozen=True)
class Report:
    """A track's state this frame and the index of its observation (-1 when LOST or TERMINATED)."""

    track: Track
    observation: int


def oks(kp_a: np.ndarray, vis_a: np.ndarray, kp_b: np.ndarray, vis_b: np.ndarray, scale_px: float) -> float:
    """Object keypoint similarity in [0, 1] over joints visible in both; 0 if none are."""
    both = (vis_a > VISIBLE) & (vis_b > VISIBLE)
    if not both.any() or scale_px <= 0:
        return 0.0
    d2 = np.sum((kp_a[both] - kp_b[both]) ** 2, axis=-1)
    return float(np.mean(np.exp(-d2 / (2.0 * (KAPPA * scale_px) ** 2))))


def _scale(bbox: np.ndarray) -> float:
    w, h = max(float(bbox[2] - bbox[0]), 0.0), max(float(bbox[3] - bbox[1]), 0.0)
    return float(np.sqrt(w * h))


def similarity(obs: Observation, track: Track) -> float:
    """max(box IoU, OKS) between an observation and a track's last pose."""
    iou = float(box_iou(obs.bbox, track.bbox)[0, 0])
    return max(iou, oks(obs.keypoints, obs.visibility, track.keypoints, track.visibility, _scale(track.bbox)))


class Tracker:
    """Assign stable IDs to per-frame observations; see the module docstring for the rules."""

    def __init__(self, max_people: int = 4, lost_frames: int = 15, min_similarity: float = 0.3,
                 duplicate_oks: float = 0.7, duplicate_iou: float = 0.85):
        self.max_people, self.lost_frames = max_people, lost_frames
        self.min_similarity = min_similarity
        self.duplicate_oks, self.duplicate_iou = duplicate_oks, duplicate_iou
        self.tracks: dict[int, Track] = {}
        self.next_id = 0

    def reset(self) -> None:
        """Drop every track (IDs still never repeat)."""
        self.tracks.clear()

    def live_tracks(self) -> list[Track]:
        return [t for t in self.tracks.values() if t.live]

    def _is_duplicate(self, a: Observation, b: Observation) -> bool:
        if box_iou(a.bbox, b.bbox)[0, 0] >= self.duplicate_iou:
            return True
        scale = max(_scale(a.bbox), _scale(b.bbox))
        return oks(a.keypoints, a.visibility, b.keypoints, b.visibility, scale) >= self.duplicate_oks

    def deduplicate(self, observations: list[Observation]) -> list[int]:
        """Indices of the observations to keep, in priority order (see the module docstring)."""
        def priority(i):
            o = observations[i]
            if o.source_id in self.tracks:          # the track that moved least keeps the person
                return (0, -similarity(o, self.tracks[o.source_id]))
            return (1, -o.score)
        kept: list[int] = []
        for i in sorted(range(len(observations)), key=priority):
            if not any(self._is_duplicate(observations[i], observations[k]) for k in kept):
                kept.append(i)
        return kept

    def _match(self, observations: list[Observation], free_obs: list[int], free_tracks: list[Track]):
        """Hungarian matching of unsourced observations to unclaimed tracks -> [(obs index, track)]."""
        if not free_obs or not free_tracks:
            return []
        sim = np.array([[similarity(observations[i], t) for t in free_tracks] for i in free_obs])
        rows, cols = linear_sum_assignment(-sim)
        return [(free_obs[r], free_tracks[c]) for r, c in zip(rows, cols) if sim[r, c] >= self.min_similarity]

    def update(self, observations: list[Observation]) -> list[Report]:
        """Advance one frame; returns every track to report, live ones first (by ID), then LOST, TERMINATED."""
        kept = self.deduplicate(observations)
        matched: dict[int, int] = {}                       # track id -> observation index
        for i in kept:
            sid = observations[i].source_id
            if sid in self.tracks and sid not in matched:
                matched[sid] = i
        free_obs = [i for i in kept if i not in matched.values()]
        free_tracks = [t for t in self.tracks.values() if t.track_id not in matched]
        for i, track in self._match(observations, free_obs, free_tracks):
            matched[track.track_id] = i
            free_obs.remove(i)
        for tid, i in matched.items():
            self._observe(self.tracks[tid], observations[i])
        for track in list(self.tracks.values()):
            if track.track_id not in matched:
                self._miss(track)
        for i in sorted(free_obs, key=lambda i: -observations[i].score):
            if len(self.live_tracks()) >= self.max_people:
                break
            track = Track(self.next_id, TrackState.NEW, observations[i].keypoints, observations[i].visibility,
                          observations[i].bbox)
            self.next_id += 1
            self.tracks[track.track_id] = track
            matched[track.track_id] = i
        reports = [Report(t, matched.get(t.track_id, -1)) for t in self.tracks.values()]
        reports.sort(key=lambda r: (r.track.state == TrackState.LOST, r.track.state == TrackState.TERMINATED,
                                    r.track.track_id))
        self.tracks = {k: t for k, t in self.tracks.items() if t.state != TrackState.TERMINATED}
        return reports

    @staticmethod
    def _observe(track: Track, obs: Observation) -> None:
        track.state = TrackState.TRACKED
        track.keypoints, track.visibility, track.bbox = obs.keypoints, obs.visibility, obs.bbox
        track.lost_count = 0

    def _miss(self, track: Track) -> None:
        track.lost_count += 1
        track.state = TrackState.LOST if track.lost_count <= self.lost_frames else TrackState.TERMINATED
