"""What cue_node does with skeletons the cue logic cannot take: counted and logged, then made harmless.

A bad 2D skeleton becomes LOST (its events age as for a person out of view); a bad 3D skeleton is left out (the
person's cues then run on 2D only). Kept apart from the node so the node stays about topics.
"""
import dataclasses

import numpy as np

from nvb_perception.skeleton import JOINT_SETS, skeleton2d_problem
from nvb_perception.types import Skeleton2DFrame, Skeleton3DFrame, TrackState


def usable_2d(frame: Skeleton2DFrame, diagnostics) -> Skeleton2DFrame:
    """The frame with each live skeleton the cue logic cannot take (NaN/inf, joint set or count) made LOST."""
    skeletons = []
    for s in frame.skeletons:
        why = skeleton2d_problem(s) if s.track_state in (TrackState.NEW, TrackState.TRACKED) else ''
        if why:
            diagnostics.problem('skeletons_dropped', f'skeleton dropped: track {s.track_id}: {why}')
            s = dataclasses.replace(s, track_state=TrackState.LOST)
        skeletons.append(s)
    return dataclasses.replace(frame, skeletons=tuple(skeletons))


def usable_3d(frame: Skeleton3DFrame, diagnostics) -> Skeleton3DFrame:
    """The 3D frame without skeletons of an unknown joint set, a wrong joint count or NaN/inf positions."""
    ok = [len(s.positions) == len(JOINT_SETS.get(s.joint_set, ())) and bool(np.isfinite(s.positions).all())
          for s in frame.skeletons]
    for s in (s for s, good in zip(frame.skeletons, ok) if not good):
        diagnostics.problem('skeletons_dropped', f'skeleton dropped: 3D track {s.track_id}: joint set '
                            f'{s.joint_set!r} with {len(s.positions)} joints, or NaN/inf positions')
    return dataclasses.replace(frame, skeletons=tuple(s for s, good in zip(frame.skeletons, ok) if good))
