"""Body cues of one person-frame as Evidence: self-touch, arm crossing, posture lean and openness, fidgeting.

Each function takes the frame's Body (2D, body.py), an optional Body3D and the cue config, and returns the
Evidence (value in the cue's unit, reliability, cited inputs, one phrase) for events.CueEvents. Cited
inputs: 'kp2d.<JOINT>' (2D joint confidence), 'kp3d.<JOINT>', 'hand.<side>' (hand-model presence),
'face.presence' (face-model presence), 'feat.<measure>_<unit>' (derived values), 'base.<name>' (baseline).
"""
from __future__ import annotations

import math

from nvb_perception.cues.body import SIDE, Body, Body3D
from nvb_perception.cues.definitions import CueConfig
from nvb_perception.cues.events import Evidence

NAN = Evidence(math.nan)
_JOINT = {'sh': 'SHOULDER', 'el': 'ELBOW', 'wr': 'WRIST', 'hip': 'HIP', 'knee': 'KNEE', 'ank': 'ANKLE'}


def joint_items(body: Body, *names: str) -> tuple[tuple[str, float], ...]:
    """('kp2d.LEFT_WRIST', conf) for short joint names like 'l_wr' that the body has."""
    out = []
    for n in names:
        if n in body.conf:
            side, part = n.split('_', 1)
            out.append((f'kp2d.{"LEFT" if side == "l" else "RIGHT"}_{_JOINT[part]}', body.conf[n]))
    return tuple(out)


def hand_items(body: Body, side: str) -> tuple[tuple[str, float], ...]:
    """The cited inputs of one hand: its hand-model presence, else its joints."""
    s = SIDE[side]
    if body.hand_from_model.get(side):
        return (f'hand.{side}', body.hand_conf[side]), *joint_items(body, f'{s}_wr')
    return joint_items(body, f'{s}_wr', f'{s}_el')


def face_items(body: Body) -> tuple[tuple[str, float], ...]:
    if body.face_poly is not None:
        return (('face.presence', body.face_conf),)
    return (('kp2d.HEAD', body.face_conf),)


def allowed_gap(body: Body, base: float, cfg: CueConfig, *sides: str) -> float:
    """The allowed 2D gap: `base`, plus a margin per hand seen only as joints (they miss the fingers)."""
    return base + sum(0.0 if body.hand_from_model.get(s) else cfg.joint_hand_margin_torso for s in sides)


def self_touch_face(body: Body, b3: Body3D | None, cfg: CueConfig) -> Evidence:
    """Ratio gap / allowed gap of the hand nearer to the face (<= 1: touching)."""
    best = None
    for side in SIDE:
        gap, rel = body.hand_face_gap(side)
        if not math.isfinite(gap):
            continue
        allowed = allowed_gap(body, cfg.face_gap_torso, cfg, side)
        ratio, items = gap / allowed, (*hand_items(body, side), *face_items(body),
                                       (f'feat.hand_face_gap_{side}_torso', gap))
        text = f'{side} hand {gap:.3f} torso lengths from the face (allowed {allowed:g})'
        dist, rel3 = b3.wrist_head_m(side) if b3 is not None else (math.nan, 0.0)
        if math.isfinite(dist):                   # 3D decides; a clear gap in the image vetoes it
            ratio = dist / cfg.head_dist_m if gap <= cfg.gap_2d_veto_torso else max(ratio, 1.5)
            rel = min(rel, rel3)
            items += ((f'kp3d.{side.upper()}_WRIST', rel3), (f'feat.wrist_head_{side}_m', dist))
            text += f', wrist {dist:.2f} m from the head centre in 3D (allowed {cfg.head_dist_m:g})'
        if best is None or ratio < best.value:
            best = Evidence(ratio, rel, items, text)
    return best or NAN


def self_touch_body(body: Body, b3: Body3D | None, cfg: CueConfig) -> Evidence:
    """Ratio gap / allowed gap of the hand nearer to the torso (above the hips) or the other arm."""
    best = None
    for side in SIDE:
        gap, rel, what = body.hand_body_gap(side)
        if not math.isfinite(gap):
            continue
        o = 'r' if side == 'left' else 'l'
        touched = ('l_sh', 'r_sh', 'l_hip', 'r_hip') if what == 'torso' else (f'{o}_sh', f'{o}_el', f'{o}_wr')
        allowed = allowed_gap(body, cfg.body_gap_torso, cfg, side)
        ratio = gap / allowed
        items = (*hand_items(body, side), *joint_items(body, *touched), (f'feat.hand_body_gap_{side}_torso',
                                                                          gap))
        text = f'{side} hand {gap:.3f} torso lengths from the {what.replace("_", " ")} (allowed {allowed:g})'
        if b3 is not None:
            depth = b3.wrist_body_depth_m(side, what)
            ratio = max(ratio, depth / cfg.body_depth_m)
            items += ((f'feat.hand_body_depth_{side}_m', depth),)
            text += f', {depth:.2f} m apart in depth (allowed {cfg.body_depth_m:g})'
        if best is None or ratio < best.value:
            best = Evidence(ratio, rel, items, text)
    return best or NAN


def self_touch_hands(body: Body, b3: Body3D | None, cfg: CueConfig) -> Evidence:
    """Ratio gap / allowed gap between the two hands."""
    gap, rel = body.hands_gap()
    if not math.isfinite(gap):
        return NAN
    allowed = allowed_gap(body, cfg.hands_gap_torso, cfg, 'left', 'right')
    ratio = gap / allowed
    items = (*hand_items(body, 'left'), *hand_items(body, 'right'), ('feat.hands_gap_torso', gap))
    text = f'hands {gap:.3f} torso lengths apart (allowed {allowed:g})'
    dist, rel3 = b3.wrists_m() if b3 is not None else (math.nan, 0.0)
    if math.isfinite(dist):                       # 3D decides; a clear gap in the image vetoes it
        ratio = dist / cfg.hands_dist_m if gap <= cfg.gap_2d_veto_torso else max(ratio, 1.5)
        rel = min(rel, rel3)
        items += (('feat.wrists_m', dist),)
        text += f', wrists {dist:.2f} m apart in 3D (allowed {cfg.hands_dist_m:g})'
    return Evidence(ratio, rel, items, text)


def arm_crossing(body: Body) -> Evidence:
    depth, rel = body.arm_crossing()
    if not math.isfinite(depth):
        return NAN
    return Evidence(depth, rel, (*joint_items(body, 'l_wr', 'r_wr', 'l_sh', 'r_sh'),
                                 ('feat.wrist_past_midline_sw', depth)),
                    f'both wrists at least {depth:.2f} shoulder widths past the body midline')


def arm_opening(body: Body, b3: Body3D | None) -> tuple[float, float, tuple, str]:
    """(mean signed arm angle deg, reliability, items, source) from 3D if given, else 2D."""
    angles, rels = [], []
    for side in SIDE:
        a, r = b3.arm_angle_deg(side) if b3 is not None else body.arm_angle_deg(side)
        if math.isfinite(a):
            angles.append(a)
            rels.append(r)
    if not angles:
        return math.nan, 0.0, (), ''
    mean = sum(angles) / len(angles)
    items = joint_items(body, 'l_wr', 'r_wr', 'l_sh', 'r_sh') if b3 is None else (
        ('kp3d.LEFT_WRIST', 1.0), ('kp3d.RIGHT_WRIST', 1.0))
    return mean, min(rels), items + (('feat.arm_opening_deg', mean),), '3D' if b3 is not None else '2D'


def _over_baseline(measured: tuple, baseline: float, base_key: str, what: str) -> Evidence:
    """Evidence of an angle (value, reliability, items, source) minus the person's baseline, citing both."""
    deg, rel, items, src = measured
    if not math.isfinite(deg):
        return NAN
    return Evidence(deg - baseline, rel, items + ((base_key, baseline),),
                    f'{what} {deg:.0f} deg ({src}) vs baseline {baseline:.0f} deg')


def posture(body: Body, b3: Body3D | None, baseline: float) -> Evidence:
    """Arm opening over the person's baseline, degrees (posture_open > 0, posture_closed < 0)."""
    return _over_baseline(arm_opening(body, b3), baseline, 'base.arm_opening_deg', 'arms open')


def lean_angle(body: Body, b3: Body3D | None) -> tuple[float, float, tuple, str]:
    """(trunk lean deg, reliability, items, source): 3D when given, else 2D side views only."""
    if b3 is not None:
        deg, rel = b3.lean_deg()
        return deg, rel, (('kp3d.PELVIS', 1.0), ('kp3d.THORAX', 1.0), ('feat.lean_deg', deg)), '3D'
    deg, rel = body.lean_2d_deg()
    return deg, rel, joint_items(body, 'l_sh', 'r_sh', 'l_hip', 'r_hip') + (('feat.lean_deg', deg),), \
        '2D side view'


def lean(body: Body, b3: Body3D | None, baseline: float) -> Evidence:
    """Trunk lean over the person's baseline, degrees (forward > 0)."""
    return _over_baseline(lean_angle(body, b3), baseline, 'base.lean_deg', 'trunk pitched')


def limb_points(body: Body) -> dict[str, tuple]:
    """{limb: (point in torso lengths relative to the mid-hip, reliability, cited joint)} for fidgeting."""
    hip = body.mid('l_hip', 'r_hip')
    if hip is None:
        hip = body.mid('l_sh', 'r_sh')
    torso = body.torso
    if hip is None or not torso > 0:
        return {}
    out = {}
    for limb, joint in (('left_hand', 'l_wr'), ('right_hand', 'r_wr'), ('left_foot', 'l_ank'),
                        ('right_foot', 'r_ank')):
        if joint in body.joints:
            out[limb] = ((body.joints[joint] - hip) / torso, body.conf[joint], joint)
    return out
