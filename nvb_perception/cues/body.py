"""Body geometry for the cues: named joints from any joint set, hand/face regions, per-frame measures.

    body = Body.from_inputs(skeleton2d, hands={'left': HandObservation, ...}, face=FaceObservation)
    body.hand_face_gap('left')      # torso lengths from the hand to the face outline (0 = overlapping)
    body.arm_angle_deg('left')      # signed arm opening, outward positive

2D measures are in torso lengths (mid-shoulder to mid-hip, px) so they do not depend on image size or
distance. Joint sets: 'blazepose33' (the pose stage), 'coco17', 'h36m17' (e.g. mocap rendered to 2D).
Hands: the 21 hand landmarks when the hand model found the hand, else the wrist, index, pinky and thumb
joints (BlazePose) or a point 35% of the forearm beyond the wrist (COCO/H36M: the middle of the hand).
Face: the face-oval landmarks when the face model found the face, else a circle from the head joints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from nvb_perception.cues.body3d import Body3D
from nvb_perception.cues.landmarks import ENUMS, FACE_OVAL, HAND_OUTLINE, LIMB_NAMES, SIDE, VISIBLE
from nvb_perception.skeleton import H36M, BlazePose, Coco

# Body3D is re-exported: callers take both body classes from this module.
__all__ = ['FAR_TORSO', 'SIDE', 'VISIBLE', 'Body', 'Body3D', 'point_segment_distance', 'polygon_distance']


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points p (N, D) to the segment a-b (D,)."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=-1)


def polygon_distance(p: np.ndarray, poly: np.ndarray, far: float = math.inf) -> np.ndarray:
    """Distance of points p (N, 2) to a closed polygon (K, 2): 0 inside, else to the nearest edge.

    Points farther than `far` from the polygon's bounding box get their distance to that box instead (a lower
    bound, cheap): callers only need exact values near their thresholds.
    """
    lo, hi = poly.min(0), poly.max(0)
    box = np.linalg.norm(np.maximum(np.maximum(lo - p, p - hi), 0.0), axis=-1)
    if box.min() > far:
        return box
    a, b = poly, np.concatenate([poly[1:], poly[:1]])
    ab = b - a                                                           # (K, 2)
    ap = p[:, None, :] - a[None]                                         # (N, K, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    d = np.linalg.norm(ap - t[..., None] * ab, axis=-1).min(1)
    x, y = p[:, 0:1], p[:, 1:2]
    x0, y0, x1, y1 = a[:, 0][None], a[:, 1][None], b[:, 0][None], b[:, 1][None]
    with np.errstate(divide='ignore', invalid='ignore'):
        cross = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / (y1 - y0) + x0)
    return np.where(cross.sum(1) % 2 == 1, 0.0, d)


FAR_TORSO = 0.5                    # torso lengths: beyond this, distances need not be exact (thresholds ~0.1)


@dataclass(eq=False)
class Body:
    """One person's body in one frame, in image pixels (see the module docstring)."""

    joints: dict[str, np.ndarray]                  # name -> (2,) px, only joints observed (conf >= VISIBLE)
    conf: dict[str, float]
    hands: dict[str, np.ndarray] = field(default_factory=dict)     # 'left'/'right' -> (M, 2) px
    hand_conf: dict[str, float] = field(default_factory=dict)
    hand_from_model: dict[str, bool] = field(default_factory=dict)
    face_poly: np.ndarray | None = None            # (K, 2) px face outline, or None
    face_circle: tuple[np.ndarray, float] | None = None   # (centre px, radius px) when no outline
    face_conf: float = 0.0
    nose_px: np.ndarray | None = None
    ears_px: np.ndarray | None = None              # (2, 2) left, right ear

    @classmethod
    def from_inputs(cls, skeleton, hands=None, face=None) -> Body:
        """Build from a types.Skeleton2D, optional {'left'/'right': HandObservation} and a FaceObservation."""
        enum = ENUMS.get(skeleton.joint_set)
        if enum is None:
            raise ValueError(f'joint set {skeleton.joint_set!r} not supported; use one of {sorted(ENUMS)}')
        kp, cf = skeleton.keypoints.astype(np.float64), skeleton.confidence
        joints, conf = {}, {}
        for short, name in LIMB_NAMES.items():
            i = enum[name]
            if cf[i] >= VISIBLE and np.isfinite(kp[i]).all():
                joints[short], conf[short] = kp[i], float(cf[i])
        body = cls(joints, conf)
        body._hands(enum, kp, cf, hands or {})
        body._face(enum, kp, cf, face)
        return body

    def _hands(self, enum, kp, cf, hands) -> None:
        for side, s in SIDE.items():
            h = hands.get(side)
            if h is not None:               # the outline points: distances need no inner landmarks
                self.hands[side], self.hand_conf[side] = h.landmarks[HAND_OUTLINE, :2], float(h.presence)
                self.hand_from_model[side] = True
                continue
            wrist = f'{s}_wr'
            if wrist not in self.joints:
                continue
            if enum is BlazePose:
                up = side.upper()
                idx = [enum[f'{up}_{n}'] for n in ('WRIST', 'INDEX', 'PINKY', 'THUMB')]
                ok = [i for i in idx if cf[i] >= VISIBLE]
                self.hands[side], self.hand_conf[side] = kp[ok], float(min(cf[i] for i in ok))
            elif f'{s}_el' in self.joints:
                w, e = self.joints[wrist], self.joints[f'{s}_el']
                self.hands[side] = np.stack([w, w + 0.35 * (w - e)])
                self.hand_conf[side] = min(self.conf[wrist], self.conf[f'{s}_el'])
            self.hand_from_model[side] = False

    def _face(self, enum, kp, cf, face) -> None:
        if face is not None and np.ptp(face.landmarks[:, :2], axis=0).min() > 1.0:   # a real outline
            self.face_poly = face.landmarks[list(FACE_OVAL), :2]
            self.face_conf = float(face.presence)
        if enum in (BlazePose, Coco):
            head = [i for i in range(11 if enum is BlazePose else 5) if cf[i] >= VISIBLE]
            if enum[('LEFT_EAR')] in head and enum['RIGHT_EAR'] in head:
                self.ears_px = kp[[enum.LEFT_EAR, enum.RIGHT_EAR]]
            if cf[0] >= VISIBLE:
                self.nose_px = kp[0]
            if self.face_poly is None and len(head) >= 3:
                pts = kp[head]
                centre = pts.mean(0)
                spread = float(np.max(np.linalg.norm(pts - centre, axis=1)))
                self.face_circle, self.face_conf = (centre, 1.3 * spread), float(np.mean(cf[head]))
        elif self.face_poly is None and min(cf[H36M.HEAD], cf[H36M.NECK]) >= VISIBLE:
            top, chin = kp[H36M.HEAD], kp[H36M.NECK]
            self.face_circle = ((top + chin) / 2, 0.55 * float(np.linalg.norm(top - chin)))
            self.face_conf = float(min(cf[H36M.HEAD], cf[H36M.NECK]))

    # --- scales ---------------------------------------------------------------------------------------
    def mid(self, a: str, b: str) -> np.ndarray | None:
        if a in self.joints and b in self.joints:
            return (self.joints[a] + self.joints[b]) / 2
        return None

    @cached_property
    def shoulder_width(self) -> float:
        m = self.mid('l_sh', 'r_sh')
        return float(np.linalg.norm(self.joints['l_sh'] - self.joints['r_sh'])) if m is not None else math.nan

    @cached_property
    def torso(self) -> float:
        """Torso length px (mid-shoulder to mid-hip); 1.6 shoulder widths when the hips are not seen."""
        sh, hip = self.mid('l_sh', 'r_sh'), self.mid('l_hip', 'r_hip')
        if sh is not None and hip is not None:
            return float(np.linalg.norm(sh - hip))
        return 1.6 * self.shoulder_width

    # --- measures (torso lengths) ---------------------------------------------------------------------
    def hand_face_gap(self, side: str) -> tuple[float, float]:
        """(gap hand -> face outline in torso lengths, reliability); NaN if either is missing."""
        hand = self.hands.get(side)
        if hand is None or not (self.face_poly is not None or self.face_circle is not None) or not self.torso > 0:
            return math.nan, 0.0
        if self.face_poly is not None:
            gap = float(polygon_distance(hand, self.face_poly, FAR_TORSO * self.torso).min())
        else:
            centre, radius = self.face_circle
            gap = max(0.0, float(np.linalg.norm(hand - centre, axis=1).min()) - radius)
        return gap / self.torso, min(self.hand_conf[side], self.face_conf)

    def hand_body_gap(self, side: str) -> tuple[float, float, str]:
        """(gap hand -> torso above the hips or the other arm, torso lengths; reliability; what it touches)."""
        hand, other = self.hands.get(side), 'right' if side == 'left' else 'left'
        names = ('l_sh', 'r_sh', 'r_hip', 'l_hip')
        if hand is None or any(n not in self.joints for n in names) or not self.torso > 0:
            return math.nan, 0.0, ''
        quad = np.stack([self.joints[n] for n in names])
        hip_mid, sh_mid = (quad[2] + quad[3]) / 2, (quad[0] + quad[1]) / 2
        down = (hip_mid - sh_mid) / max(float(np.linalg.norm(hip_mid - sh_mid)), 1e-9)
        high = hand[(hand - hip_mid) @ down <= -0.15 * self.torso]         # 0.15 torso above the hip line
        best, what = math.inf, ''
        if len(high):
            best, what = float(polygon_distance(high, quad, FAR_TORSO * self.torso).min()), 'torso'
        o = SIDE[other]
        for a, b in ((f'{o}_sh', f'{o}_el'), (f'{o}_el', f'{o}_wr')):
            if a in self.joints and b in self.joints:
                end = self.joints[b] if b.endswith('el') else self.joints[a] + 0.7 * (self.joints[b] - self.joints[a])
                # the forearm stops short of the wrist: touching the other hand is self_touch_hands
                d = float(point_segment_distance(hand, self.joints[a], end).min())
                if d < best:
                    best, what = d, f'{other}_arm'
        if not math.isfinite(best):
            return math.inf, self.hand_conf[side], ''
        return best / self.torso, min(self.hand_conf[side], min(self.conf[n] for n in names)), what

    def hands_gap(self) -> tuple[float, float]:
        """(gap between the two hands in torso lengths, reliability)."""
        a, b = self.hands.get('left'), self.hands.get('right')
        if a is None or b is None or not self.torso > 0:
            return math.nan, 0.0
        d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).min()
        return float(d) / self.torso, min(self.hand_conf['left'], self.hand_conf['right'])

    @cached_property
    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        return self._compute_frame()

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(mid-shoulder px, lateral unit towards the person's left shoulder, down unit along the trunk)."""
        return self._frame

    def _compute_frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        sh = self.mid('l_sh', 'r_sh')
        if sh is None:
            return None
        lateral = self.joints['l_sh'] - self.joints['r_sh']
        lateral = lateral / max(float(np.linalg.norm(lateral)), 1e-9)
        hip = self.mid('l_hip', 'r_hip')
        down = hip - sh if hip is not None else np.array([-lateral[1], lateral[0]])
        down = down / max(float(np.linalg.norm(down)), 1e-9)
        return sh, lateral, down

    def arm_crossing(self) -> tuple[float, float]:
        """(how far each wrist is past the midline on the other side, min of both, shoulder widths; reliability)."""
        f = self.frame()
        if f is None or 'l_wr' not in self.joints or 'r_wr' not in self.joints:
            return math.nan, 0.0
        sh, lateral, down = f
        sw, torso = self.shoulder_width, self.torso
        if not sw > 0.35 * torso:                               # side view: left/right overlap, undecidable
            return math.nan, 0.0
        depth = []
        for side, sign in (('l_wr', -1.0), ('r_wr', 1.0)):
            rel = self.joints[side] - sh
            height = float(rel @ down) / torso
            across = sign * float(rel @ lateral) / sw
            depth.append(across if 0.05 <= height <= 1.1 else -1.0)
        return min(depth), min(self.conf[n] for n in ('l_wr', 'r_wr', 'l_sh', 'r_sh'))

    def arm_angle_deg(self, side: str) -> tuple[float, float]:
        """(signed angle between shoulder->wrist and the trunk's down direction, outward positive; reliability)."""
        f = self.frame()
        s = SIDE[side]
        if f is None or f'{s}_wr' not in self.joints:
            return math.nan, 0.0
        _, lateral, down = f
        arm = self.joints[f'{s}_wr'] - self.joints[f'{s}_sh']
        outward = lateral if side == 'left' else -lateral
        return (math.degrees(math.atan2(float(arm @ outward), float(arm @ down))),
                min(self.conf[f'{s}_wr'], self.conf[f'{s}_sh']))

    def lean_2d_deg(self) -> tuple[float, float]:
        """(trunk lean towards the face's side in a side view, degrees; reliability); NaN for frontal views."""
        sh, hip = self.mid('l_sh', 'r_sh'), self.mid('l_hip', 'r_hip')
        if sh is None or hip is None or self.nose_px is None or self.ears_px is None:
            return math.nan, 0.0
        if self.shoulder_width > 0.35 * self.torso:
            return math.nan, 0.0
        facing = np.sign(self.nose_px[0] - self.ears_px.mean(0)[0]) or 1.0
        trunk = sh - hip
        return math.degrees(math.atan2(facing * trunk[0], -trunk[1])), 0.7 * min(self.conf.values())
