"""Body-part angles and measures for RULA / REBA from 3D H36M-17 joints (`postures` thresholds them).

Frames (all derived per frame; positions in metres, any frame, e.g. the camera optical frame x right, y down,
z forward, in which the world "up" is -y -- that is `DEFAULT_UP`; pass the real up vector whenever the camera is
tilted or rolled, since trunk flexion is measured against it):

* world up ``u`` = normalised `up` argument.
* pelvis frame: lateral ``l_p`` = right hip -> left hip, made horizontal (perpendicular to ``u``); forward
  ``f_p = l_p x u``; up ``u``. (If a hip is missing the shoulder line gives the heading.)
* trunk frame: up ``u_t`` = pelvis -> thorax; lateral ``l_t`` = right -> left shoulder made perpendicular to
  ``u_t``; forward ``f_t = l_t x u_t``.

Angles (degrees; NaN when a joint they need is missing):

* ``trunk_flexion`` = atan2(t.f_p, t.u), t = pelvis->thorax: flexion relative to the vertical, measured in the
  pelvis' sagittal plane; + forward, - extension. ``trunk_side_bend`` = asin(t^.l_p), + towards the left.
  ``trunk_twist`` = signed angle from the hip line to the shoulder line about ``u_t``, + = shoulders turned left.
* ``neck_flexion`` = atan2(h.f_t, h.u_t) - NECK_NEUTRAL_DEG, h = thorax->head top, i.e. the head axis relative to
  the trunk, zero for a neutral upright head: in the H36M convention of this project (thorax = mid-shoulder, head
  top = ears + half the thorax->ears vector, as `datasets.bvh.to_h36m` and `blazepose_to_h36m` build them) the
  head top of an upright head sits ahead of the pelvis->thorax line by NECK_NEUTRAL_DEG (the cervical lordosis and
  the ears ahead of the shoulders), measured on upright mocap frames (`evaluation.eval_ergonomics_upright`);
  + flexion, - extension. ``neck_side_bend`` = asin(h^.l_t). Neck twist is not observable from the 17 joints.
* ``<side>_upper_arm_flexion``, v = shoulder->elbow: in front of the trunk's frontal plane (v.f_t >= 0) the
  elevation of v from the trunk's downward axis (0 hanging, 90 horizontal, 180 overhead; a sideways raise counts
  as its elevation, as the worksheets are applied); behind it, the elevation of v's projection on the frontal
  plane minus the angle of v behind that plane, asin(-v^.f_t). Both agree on the frontal plane, so the angle is
  continuous: straight back by e reads -e (extension), back-and-out hanging arms read near 0, an arm overhead and
  slightly behind reads its elevation. ``<side>_upper_arm_abduction`` = asin(v^.out), the angle out of the
  sagittal plane (out = away from the body's midline); negative = across the body.
* ``<side>_elbow_flexion``, ``<side>_knee_flexion``: 0 = straight.  ``hip_trunk``: angle between pelvis->thorax and
  the mean thigh (180 standing, 90 sitting upright).

Measures (not angles): ``<side>_shoulder_gap`` = how far the head top would be above the shoulder with the neck
straightened onto the trunk axis, |thorax->head| + (thorax - shoulder).u_t, over the trunk length |pelvis->thorax|
(shrugging shrinks it; neck flexion does not). It works for both H36M conventions seen in this project: mocap-style
lifter output (thorax a spine point: a shrug raises the shoulder relative to it) and `blazepose_to_h36m` (thorax =
mid-shoulder: a shrug lifts the thorax towards the head); both give about 0.5 upright and relaxed.
``<side>_wrist_lateral`` = the wrist's distance from the trunk midline along the outward axis divided by the
shoulder's (< 0: across the midline). ``ankle_height_diff_m`` = |left - right ankle| along ``u``.
"""
import math
from functools import lru_cache

import numpy as np

from ..skeleton import H36M

DEFAULT_UP = (0.0, -1.0, 0.0)   # camera optical frame: y points down
NECK_NEUTRAL_DEG = 24.0         # raw thorax->head-top flexion of an upright head (module doc; eval_ergonomics_upright)
NAN = float('nan')


def check_up(up) -> np.ndarray:
    """The `up` vector as a unit float64 (3,) array; ValueError if it is not a finite non-zero 3-vector."""
    u = np.asarray(up, dtype=np.float64)
    if u.shape != (3,) or not np.all(np.isfinite(u)) or np.linalg.norm(u) < 1e-9:
        raise ValueError(f'up must be a finite non-zero 3-vector, got {up!r}')
    return u / np.linalg.norm(u)


@lru_cache(maxsize=32)
def _cached_up(up: tuple) -> tuple:
    return tuple(check_up(up).tolist())


def _up_tuple(up) -> tuple:
    """check_up as an (x, y, z) tuple; memoised for tuples (DEFAULT_UP, configured values): ~10 us per call saved."""
    if type(up) is tuple:
        try:
            return _cached_up(up)
        except TypeError:          # an unhashable element: no memo, check_up reports it as usual
            pass
    return tuple(check_up(up).tolist())


def prepare_joints(joints3d, confidence=None, min_confidence: float = 0.3) -> np.ndarray:
    """(17, 3) float64 copy of H36M joints with missing ones (NaN/inf or confidence < min_confidence) set to NaN."""
    j = np.array(joints3d, dtype=np.float64)
    if j.shape != (len(H36M), 3):
        raise ValueError(f'joints3d must have shape ({len(H36M)}, 3) (H36M-17, metres), got {j.shape}')
    bad = ~np.all(np.isfinite(j), axis=1)
    if confidence is not None:
        c = np.asarray(confidence, dtype=np.float64)
        if c.shape != (len(H36M),):
            raise ValueError(f'confidence must have shape ({len(H36M)},), got {c.shape}')
        bad |= ~(c >= min_confidence)          # NaN confidence counts as missing
    j[bad] = np.nan
    return j


# 3-vectors are plain (x, y, z) float tuples here: numpy's per-call overhead (np.cross alone ~20 us) made
# `measure` ~0.8 ms per skeleton; pure-Python arithmetic on 3 floats is ~20x faster (benchmarks/bench_ergonomics.py).
NAN3 = (NAN, NAN, NAN)


def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norm(v):
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _finite(v):
    return math.isfinite(v[0]) and math.isfinite(v[1]) and math.isfinite(v[2])


def _unit(v):
    n = _norm(v)
    return (v[0] / n, v[1] / n, v[2] / n) if n > 1e-9 else NAN3   # NaN norm also lands here


def _perp(v, axis):
    """Unit component of v perpendicular to the unit `axis`."""
    d = _dot(v, axis)
    return _unit((v[0] - d * axis[0], v[1] - d * axis[1], v[2] - d * axis[2]))


def _deg_between(a, b):
    """Unsigned angle between two vectors, degrees; atan2 form because acos loses precision near 0 and 180."""
    a, b = _unit(a), _unit(b)
    return math.degrees(math.atan2(_norm(_cross(a, b)), _dot(a, b))) if _finite(a) and _finite(b) else NAN


def _asin_deg(x):
    return math.degrees(math.asin(min(1.0, max(-1.0, x)))) if math.isfinite(x) else NAN


def _atan2_deg(y, x):
    return math.degrees(math.atan2(y, x)) if math.isfinite(y) and math.isfinite(x) else NAN


def _first_finite(*vectors):
    for v in vectors:
        if _finite(v):
            return v
    return vectors[-1]


# (side, outward sign along the trunk's left axis, joint indices), looked up once: Enum name look-ups are slow.
_SIDE_JOINTS = tuple((side, sign, tuple(int(H36M[f'{side.upper()}_{n}'])
                                        for n in ('SHOULDER', 'ELBOW', 'WRIST', 'HIP', 'KNEE', 'ANKLE')))
                     for side, sign in (('left', 1.0), ('right', -1.0)))


def measure(joints3d, confidence=None, up=DEFAULT_UP, min_confidence: float = 0.3):
    """Angles (degrees) and measures (ratios, metres) of one H36M-17 skeleton; see the module doc.

    Args:
        joints3d: (17, 3) joints in metres, H36M order; NaN rows = missing.
        confidence: optional (17,) confidences; joints below `min_confidence` count as missing.
        up: the world up direction in the joints' frame (default: camera optical frame, -y).
        min_confidence: joints whose confidence is below it count as missing.

    Returns:
        (angles_deg, measures): two dicts name -> float, NaN where not observable.

    """
    u = _up_tuple(up)
    j = [tuple(p) for p in prepare_joints(joints3d, confidence, min_confidence).tolist()]
    J = H36M
    hip_line = _sub(j[J.LEFT_HIP], j[J.RIGHT_HIP])
    sh_line = _sub(j[J.LEFT_SHOULDER], j[J.RIGHT_SHOULDER])
    t = _sub(j[J.THORAX], j[J.PELVIS])
    l_p = _first_finite(_perp(hip_line, u), _perp(sh_line, u))
    f_p = _cross(l_p, u)
    u_t = _unit(t)
    l_t = _first_finite(_perp(sh_line, u_t), _perp(hip_line, u_t))
    f_t = _cross(l_t, u_t)

    a = {'trunk_flexion': _atan2_deg(_dot(t, f_p), _dot(t, u)), 'trunk_side_bend': _asin_deg(_dot(u_t, l_p))}
    hp, sp = _perp(hip_line, u_t), _perp(sh_line, u_t)
    a['trunk_twist'] = _atan2_deg(_dot(_cross(hp, sp), u_t), _dot(hp, sp))
    h = _sub(j[J.HEAD], j[J.THORAX])
    a['neck_flexion'] = _atan2_deg(_dot(h, f_t), _dot(h, u_t)) - NECK_NEUTRAL_DEG
    a['neck_side_bend'] = _asin_deg(_dot(_unit(h), l_t))
    thighs = [_sub(j[k], j[hip]) for hip, k in ((J.LEFT_HIP, J.LEFT_KNEE), (J.RIGHT_HIP, J.RIGHT_KNEE))]
    seen = [v for v in thighs if _finite(v)]
    mean_thigh = tuple(sum(c) / len(seen) for c in zip(*seen)) if seen else NAN3
    a['hip_trunk'] = _deg_between(t, mean_thigh) if seen else NAN

    m = {}
    trunk_len = _norm(t)
    down_t = (-u_t[0], -u_t[1], -u_t[2])
    head_len = _norm(h)
    for side, sign, (i_s, i_e, i_w, i_hip, i_knee, i_ankle) in _SIDE_JOINTS:
        s, e, w = j[i_s], j[i_e], j[i_w]
        out = (sign * l_t[0], sign * l_t[1], sign * l_t[2])
        v = _sub(e, s)
        vn = _unit(v)
        back = -_dot(vn, f_t)
        if back > 0.0:         # behind the frontal plane: frontal-plane elevation minus the angle behind it
            fr = (vn[0] + back * f_t[0], vn[1] + back * f_t[1], vn[2] + back * f_t[2])
            fr = fr if _norm(fr) > 1e-9 else down_t          # straight back, horizontal: pure extension
            a[f'{side}_upper_arm_flexion'] = _deg_between(fr, down_t) - _asin_deg(back)
        else:
            a[f'{side}_upper_arm_flexion'] = _deg_between(v, down_t)
        a[f'{side}_upper_arm_abduction'] = _asin_deg(_dot(vn, out))
        a[f'{side}_elbow_flexion'] = _deg_between(v, _sub(w, e))
        hip, knee, ankle = j[i_hip], j[i_knee], j[i_ankle]
        a[f'{side}_knee_flexion'] = _deg_between(_sub(knee, hip), _sub(ankle, knee))
        gap = head_len + _dot(_sub(j[J.THORAX], s), u_t)
        m[f'{side}_shoulder_gap'] = float(gap / trunk_len) if trunk_len > 1e-6 else NAN
        s_off = _dot(_sub(s, j[J.THORAX]), out)
        m[f'{side}_wrist_lateral'] = float(_dot(_sub(w, j[J.THORAX]), out) / s_off) if s_off > 1e-3 else NAN
    m['ankle_height_diff_m'] = abs(_dot(_sub(j[J.LEFT_ANKLE], j[J.RIGHT_ANKLE]), u))
    return a, m
