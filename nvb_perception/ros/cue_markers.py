"""cue_node's RViz markers: each person's active cues as one camera-facing text above the head.

One TEXT_VIEW_FACING marker per track in namespace `cues` (id = track id), e.g. '#3 smile, head_nod', placed
above the head of the track's 3D skeleton of the same stamp, higher than risk_node's RULA/REBA labels. A track
with no 3D skeleton this frame (LOST, or its 3D frame did not come in time) keeps its last head position; a
track never seen in 3D gets no marker. When a track has no active cue any more, or it ended (TERMINATED or
forgotten: then its events end too), its marker is deleted.
"""
import numpy as np
from visualization_msgs.msg import MarkerArray

from nvb_perception.ros.markers import delete_marker, text_marker
from nvb_perception.skeleton import H36M
from nvb_perception.types import TrackState

NAMESPACE = 'cues'
# camera y points down: risk_node's two labels sit 0.15 and 0.25 m above the head, the cues go over them
ABOVE_HEAD_M = np.array([0.0, -0.4, 0.0])


def cue_text(track_id: int, names) -> str:
    """The marker's single line (the PNG renderer, like many RViz fonts, has no line breaks)."""
    return f'#{track_id} ' + ', '.join(sorted(set(names)))


class CueMarkers:
    """Per frame, the MarkerArray that adds, moves and deletes the cue texts."""

    def __init__(self, marker_depth_m: float):
        self.marker_depth = marker_depth_m      # where root-relative skeletons are drawn (as lifting_node does)
        self.heads: dict[int, np.ndarray] = {}  # track id -> last head position (metres, optical frame)
        self.shown: set[int] = set()            # track ids whose text RViz has now

    def reset(self) -> None:
        """Forget every track (the cue stage started over); shown texts expire by their lifetime."""
        self.heads.clear()
        self.shown.clear()

    def update(self, header, cues, skeletons3d, known_tracks) -> MarkerArray:
        """Markers for one frame: `cues` (types.Cue) of the frame, its 3D frame (or None), the tracks still open."""
        for s in skeletons3d.skeletons if skeletons3d is not None else ():
            if s.track_state in (TrackState.NEW, TrackState.TRACKED) and s.joint_set == 'h36m17' \
                    and s.confidence[H36M.HEAD] > 0:     # LOST/TERMINATED notices carry zeros, not a head
                head = s.positions[H36M.HEAD].astype(np.float64)
                self.heads[s.track_id] = head + (np.array([0.0, 0.0, self.marker_depth]) if s.root_relative else 0)
        for track_id in [t for t in self.heads if t not in known_tracks]:
            del self.heads[track_id]
        active: dict[int, list[str]] = {}
        for c in cues:
            if c.active:
                active.setdefault(c.track_id, []).append(c.name)
        markers = MarkerArray()
        drawn = set()
        for track_id, names in sorted(active.items()):
            if track_id in self.heads:
                markers.markers.append(text_marker(header, NAMESPACE, track_id, self.heads[track_id] + ABOVE_HEAD_M,
                                                   cue_text(track_id, names)))
                drawn.add(track_id)
        for track_id in sorted(self.shown - drawn):
            markers.markers.append(delete_marker(header, NAMESPACE, track_id))
        self.shown = drawn
        return markers
