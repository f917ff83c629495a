"""Overlay of the cue stage: face/hand landmarks and each person's active cues (node overlay, offline video).

    image = draw_cues(bgr, skeletons, result)        # result: stage.CueStageResult of the same frame
"""
from __future__ import annotations

import cv2
import numpy as np

from nvb_perception.draw import draw_skeletons, track_color
from nvb_perception.types import TrackState


def draw_cues(bgr: np.ndarray, skeletons, result, fps: float | None = None) -> np.ndarray:
    """Skeletons, face and hand landmarks, and a label list of active cues (with confidence) per person."""
    out = draw_skeletons(bgr, skeletons, fps)
    scale = max(1, round(max(out.shape[:2]) / 640))
    active: dict[int, list] = {}
    for c in result.cues.cues:
        if c.active:
            active.setdefault(c.track_id, []).append(f'{c.name} {c.confidence:.2f}')
    for tid, view in result.people.items():
        color = track_color(tid)
        if view.face is not None:
            for x, y in np.nan_to_num(view.face.landmarks[::4, :2]).astype(int):
                cv2.circle(out, (int(x), int(y)), 1, color, -1)
        for hand in view.hands.values():
            for x, y in np.nan_to_num(hand.landmarks[:, :2]).astype(int):
                cv2.circle(out, (int(x), int(y)), 2 * scale, (0, 255, 255), -1)
    for s in skeletons:
        if s.track_state not in (TrackState.NEW, TrackState.TRACKED) or s.track_id not in active:
            continue
        x, y = int(np.nan_to_num(s.bbox[2])) + 4, int(np.nan_to_num(s.bbox[1])) + 14 * scale
        for k, label in enumerate(sorted(active[s.track_id])):
            cv2.putText(out, label, (x, y + k * 16 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale,
                        track_color(s.track_id), scale, cv2.LINE_AA)
    return out
