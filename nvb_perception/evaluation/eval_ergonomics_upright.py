"""Upright standing frames of real mocap, and the neutral neck offset / flag thresholds calibrated on them.

    python -m nvb_perception.evaluation.eval_ergonomics_upright      # calibrate on test3's first half, test the rest
    python -m nvb_perception.evaluation.eval_ergonomics_upright --json out.json

An **upright frame** is defined from joint positions and the mocap head joint's orientation only, never from the
angles or flags it is used to check (neck flexion from the thorax->head-top vector, upper-arm angles, abduction /
shoulder-raise / across-midline flags); world z up, metres:

* both ankles on the floor (within 10 cm of the clip's 5th-percentile ankle height) and level (< 5 cm apart);
* both legs straight: hip-knee-ankle angle < 15 deg, and the pelvis above 95 % of the clip's 95th-percentile height;
* trunk vertical: the thorax within 0.1 trunk lengths of the vertical through the pelvis (about 6 deg);
* arms hanging: each elbow below its shoulder by more than 0.95 upper-arm lengths (about 18 deg from vertical) and
  each wrist below its elbow (this excludes the T-pose, reaching and carrying);
* head level: the face direction of the BVH head joint (its rotation, as `datasets.bvh.to_h36m` derives it)
  within 10 deg of horizontal -- so frames where the person looks down or up are not "upright".

The BVH clips of `make setup` hold strictly upright frames only in test3 (test and test2 are dynamic: knees bent,
arms never hanging straight). So `calibrate` uses the upright frames of test3's FIRST half (by time) and `report`
tests on its second half; the neck offset is also checked on test and test2 on their "trunk vertical + head
level" frames (any legs and arms), which were never used to calibrate. Calibration: neutral neck offset = median raw
neck flexion (thorax->head-top vs the trunk axis); each flag's bound = the calibration frames' upright extreme
(1st / 99th percentile) plus their 1-99 spread, beyond which relaxed upright arms do not go. A `Heuristics`
threshold must lie beyond its bound: abduction 20 deg (the worksheets' +-20 deg neutral band) and shoulder gap
0.45 do; out to the side is set at its bound, rounded (1.75). NECK_NEUTRAL_DEG in ergonomics/angles.py is the
offset, rounded.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

CLIPS = ('test', 'test2', 'test3')
CALIBRATION_CLIP = 'test3'
UP = (0.0, 0.0, 1.0)
LEVEL_HEAD_DEG = 10.0
NAMES = ('neck_flexion_raw', 'neck_flexion', 'left_upper_arm_flexion', 'right_upper_arm_flexion',
         'left_upper_arm_abduction', 'right_upper_arm_abduction', 'left_shoulder_gap', 'right_shoulder_gap',
         'left_wrist_lateral', 'right_wrist_lateral')


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg) between row vectors."""
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def load_clip(assets: Path, clip: str, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(F, 17, 3) world z-up positions (float64) and (F,) face pitch (deg, + up) of a clip, every `step`-th frame.

    The pitch comes from the BVH head joint's rotation (the face direction `datasets.bvh.to_h36m` uses), not from
    the H36M joint positions.
    """
    from nvb_perception.datasets import bvh
    path = assets / 'data' / 'bvh' / f'{clip}.bvh'
    b = bvh.read_bvh(path)
    jm = bvh.find_joint_map(b.names)
    pos, rot = bvh.forward_kinematics(b)
    ankles = 0.5 * (pos[:, jm['LEFT_ANKLE']] + pos[:, jm['RIGHT_ANKLE']])
    world = bvh.up_rotation(np.mean(pos[:, jm['ears']] - ankles, axis=0))
    pos, rot = pos @ world.T, world @ rot
    left = (pos[:, jm['LEFT_HIP']] - pos[:, jm['RIGHT_HIP']]) + \
        (pos[:, jm['LEFT_SHOULDER']] - pos[:, jm['RIGHT_SHOULDER']])
    face = bvh._face_forward(rot[:, jm['ears']], np.cross(left, UP))
    pitch = np.degrees(np.arcsin(np.clip(face[:, 2], -1.0, 1.0)))
    return bvh.load_h36m(path).positions[::step].astype(np.float64), pitch[::step]


def trunk_head_mask(positions: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(F,) bool: trunk vertical (thorax within 0.1 trunk lengths of the pelvis vertical) and head level."""
    from nvb_perception.skeleton import H36M as J
    trunk = positions[:, J.THORAX] - positions[:, J.PELVIS]
    vertical = np.linalg.norm(trunk[:, :2], axis=1) < 0.1 * np.linalg.norm(trunk, axis=1)
    return vertical & (np.abs(pitch) <= LEVEL_HEAD_DEG)


def upright_mask(positions: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(F,) bool: upright standing frames of one clip (see the module doc)."""
    from nvb_perception.skeleton import H36M as J
    p = np.asarray(positions, dtype=np.float64)
    ankles_z = p[:, [J.LEFT_ANKLE, J.RIGHT_ANKLE], 2]
    grounded = np.all(ankles_z < np.percentile(ankles_z, 5) + 0.10, axis=1)
    level = np.abs(ankles_z[:, 0] - ankles_z[:, 1]) < 0.05
    knees = np.stack([_angle(p[:, k] - p[:, h], p[:, a] - p[:, k])
                      for h, k, a in ((J.LEFT_HIP, J.LEFT_KNEE, J.LEFT_ANKLE),
                                      (J.RIGHT_HIP, J.RIGHT_KNEE, J.RIGHT_ANKLE))], axis=1)
    pelvis_z = p[:, J.PELVIS, 2]
    tall = pelvis_z > 0.95 * np.percentile(pelvis_z, 95)
    hanging = np.ones(len(p), bool)
    for s, e, w in ((J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST), (J.RIGHT_SHOULDER, J.RIGHT_ELBOW, J.RIGHT_WRIST)):
        upper = np.linalg.norm(p[:, e] - p[:, s], axis=1)
        hanging &= (p[:, s, 2] - p[:, e, 2] > 0.95 * upper) & (p[:, w, 2] < p[:, e, 2])
    return grounded & level & np.all(knees < 15.0, axis=1) & tall & hanging & trunk_head_mask(p, pitch)


def measured(positions: np.ndarray) -> dict[str, np.ndarray]:
    """Every angle and measure of `ergonomics.angles.measure` over the frames, plus the raw neck flexion."""
    from nvb_perception.ergonomics import angles
    rows = [angles.measure(p, None, UP) for p in positions]
    out = {k: np.array([a[k] for a, _ in rows]) for k in rows[0][0]}
    out.update({k: np.array([m[k] for _, m in rows]) for k in rows[0][1]})
    out['neck_flexion_raw'] = out['neck_flexion'] + getattr(angles, 'NECK_NEUTRAL_DEG', 0.0)
    return out


def calibrate(values: dict[str, np.ndarray], margin: float = 1.0) -> dict[str, float]:
    """Neutral neck offset and flag thresholds from the calibration frames' values (`measured`, masked)."""
    def beyond(x, upper):
        lo, hi = np.percentile(x, [1, 99])
        return float(hi + margin * (hi - lo)) if upper else float(lo - margin * (hi - lo))
    both = {k: np.concatenate([values[f'{s}_{k}'] for s in ('left', 'right')])
            for k in ('upper_arm_abduction', 'shoulder_gap', 'wrist_lateral')}
    return {'neck_neutral_deg': float(np.median(values['neck_flexion_raw'])),
            'abduction_deg': beyond(both['upper_arm_abduction'], True),
            'shoulder_gap_ratio': beyond(both['shoulder_gap'], False),
            'out_to_side_ratio': beyond(both['wrist_lateral'], True), 'frames': int(len(values['neck_flexion_raw']))}


def _subset(assets: Path, clip: str, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, upright mask and trunk+head mask of a clip part ('all', 'first' or 'second' half by time)."""
    pos, pitch = load_clip(assets, clip)
    up, th = upright_mask(pos, pitch), trunk_head_mask(pos, pitch)
    half = np.arange(len(pos)) < len(pos) // 2
    keep = {'all': np.ones(len(pos), bool), 'first': half, 'second': ~half}[part]
    return pos, up & keep, th & keep


def report(assets: Path) -> dict[str, dict]:
    """Per clip part: upright frames, their values, arm-flag rates, RULA / REBA maxima; neck on trunk+head frames."""
    from nvb_perception.ergonomics import assess_reba, assess_rula
    from nvb_perception.ergonomics.angles import measure
    from nvb_perception.ergonomics.postures import posture_fields
    out = {}
    parts = [(c, 'all') for c in CLIPS if c != CALIBRATION_CLIP] + [(CALIBRATION_CLIP, 'first'),
                                                                    (CALIBRATION_CLIP, 'second')]
    for clip, part in parts:
        pos, up, th = _subset(assets, clip, part)
        vals = measured(pos)
        row = {'upright': int(up.sum()), 'values': {k: v[up] for k, v in vals.items()},
               'trunk_head_level': int(th.sum()),
               'neck_on_trunk_head_level_p1_p50_p99': [round(float(x), 1) for x in np.percentile(
                   vals['neck_flexion'][th], [1, 50, 99])] if th.any() else []}
        if up.any():
            frames = np.flatnonzero(up)
            flags = {'abducted': [], 'raised': [], 'across_or_out': []}
            for i in frames:
                _, arms = posture_fields(*measure(pos[i], None, UP))
                for name, key in (('abducted', 'upper_arm_abducted'), ('raised', 'shoulder_raised'),
                                  ('across_or_out', 'across_or_out')):
                    flags[name].append(any(a[key] for a in arms.values()))
            row['flag_pct'] = {k: round(100.0 * float(np.mean(v)), 1) for k, v in flags.items()}
            rula = [assess_rula(pos[i], up=UP).score for i in frames]
            row['rula_max'], row['rula_le2_pct'] = max(rula), round(100.0 * float(np.mean(np.array(rula) <= 2)), 1)
            row['reba_max'] = max(assess_reba(pos[i], up=UP).score for i in frames)
        out[f'{clip}:{part}'] = row
    return out


def _pct(x: np.ndarray) -> str:
    return '/'.join(f'{v:.2f}' for v in np.percentile(x, [1, 50, 99])) if len(x) else '-'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog='eval_ergonomics_upright', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--json', type=Path, default=None)
    args = p.parse_args(argv)
    import os
    rows = report(Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets')))
    cal = calibrate(rows[f'{CALIBRATION_CLIP}:first']['values'])
    for name, row in rows.items():
        role = 'calibration' if name == f'{CALIBRATION_CLIP}:first' else 'test'
        print(f'== {name} ({role}): {row["upright"]} upright frames; RULA max {row.get("rula_max", "-")} '
              f'(<= 2 on {row.get("rula_le2_pct", "-")} %), REBA max '
              f'{row.get("reba_max", "-")}, arm flags fired % {json.dumps(row.get("flag_pct", {}))}; neck on '
              f'{row["trunk_head_level"]} trunk-vertical head-level frames p1/p50/p99 '
              f'{row["neck_on_trunk_head_level_p1_p50_p99"]}')
        if row['upright']:
            for n in NAMES:
                print(f'   {n:28s} p1/p50/p99 {_pct(row["values"][n])}')
    print(f'calibrated on {CALIBRATION_CLIP} (first half) upright frames: {json.dumps(cal)}')
    result = {'calibration': cal, 'parts': {c: {k: v for k, v in r.items() if k != 'values'}
                                            for c, r in rows.items()}}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print('RESULT ' + json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
