"""Speed of RULA / REBA scoring per person-frame (target <= 0.2 ms per method), on synthetic but realistic postures.

    python benchmarks/bench_ergonomics.py [--postures 2000] [--repeats 3] [--seed 0]

Postures: a standing H36M-17 skeleton (1.7 m person) with random rotations at the trunk, neck, shoulders, elbows and
knees, 1 cm joint noise and ~5 % missing joints, seen by a level camera (optical frame). Two streams:

* random: every posture independent (the score memo in ergonomics.assess rarely helps: near worst case);
* video: a smooth random walk of the same angles at 30 frames/s, 4 people (what a camera stream gives).

Each is timed with the score memo on (normal use) and off (every frame scored from scratch); the memo's results are
first checked to be identical to the unmemoised ones. ExposureTracker.update (filtering, hysteresis, static /
repetition detection, exposure accounting on top of scoring) is timed on the video stream. Times are the best of
`--repeats` passes (shared machines add noise, never remove it). Last line: RESULT {json}; ms_per_person_frame_rula /
_reba are the random stream with the memo on, ms_per_person_frame their max.
"""
import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nvb_perception.netsafety import localhost_only_env  # noqa: E402

localhost_only_env(force=True)       # project rule for every benchmark, although this one makes no ROS node

import numpy as np  # noqa: E402

from nvb_perception.ergonomics import ExposureTracker, assess_reba, assess_rula  # noqa: E402
from nvb_perception.ergonomics.assess import set_score_cache_size  # noqa: E402

DEFAULT_CACHE = 1024                 # nvb_perception.ergonomics.assess._score_cache_size
from nvb_perception.skeleton import H36M as J  # noqa: E402

TARGET_MS = 0.2
UPPER = [J.SPINE, J.THORAX, J.NECK, J.HEAD, J.LEFT_SHOULDER, J.LEFT_ELBOW, J.LEFT_WRIST, J.RIGHT_SHOULDER,
         J.RIGHT_ELBOW, J.RIGHT_WRIST]
# Angle ranges (deg) the random postures draw from: from upright to deeply bent, arms from hanging to overhead.
RANGES = {'trunk_flex': (-20, 90), 'trunk_side': (-25, 25), 'trunk_twist': (-30, 30), 'neck_flex': (-20, 45),
          'neck_side': (-20, 20), 'l_arm_flex': (-30, 170), 'r_arm_flex': (-30, 170), 'l_arm_abd': (0, 90),
          'r_arm_abd': (0, 90), 'l_elbow': (0, 140), 'r_elbow': (0, 140), 'l_knee': (0, 100), 'r_knee': (0, 100)}


def rot(axis, deg):
    """Rotation matrix about a unit axis (Rodrigues)."""
    a = np.asarray(axis, float)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = math.radians(deg)
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def standing():
    """Body frame (x = person's left, y up, z forward), metres, pelvis at the origin, arms hanging."""
    p = np.zeros((17, 3))
    for side, x in (('LEFT', 1), ('RIGHT', -1)):
        p[J[f'{side}_HIP']], p[J[f'{side}_KNEE']], p[J[f'{side}_ANKLE']] = (.13 * x, 0, 0), (.13 * x, -.44, 0), \
            (.13 * x, -.88, 0)
        p[J[f'{side}_SHOULDER']], p[J[f'{side}_ELBOW']], p[J[f'{side}_WRIST']] = (.17 * x, .46, 0), \
            (.17 * x, .18, 0), (.17 * x, -.07, 0)
    p[J.SPINE], p[J.THORAX], p[J.NECK], p[J.HEAD] = (0, .23, 0), (0, .48, 0), (0, .60, .03), (0, .72, 0)
    return p


def turn(p, joints, centre, matrix):
    p[joints] = (p[joints] - p[centre]) @ matrix.T + p[centre]


def posture(a: dict, rng, noise_m=0.01, missing=0.05):
    """Skeleton in a level camera's optical frame from the angles in `a` (see RANGES)."""
    p = standing()
    for side, name, x in (('l', 'LEFT', 1), ('r', 'RIGHT', -1)):
        turn(p, [J[f'{name}_ANKLE']], J[f'{name}_KNEE'], rot((1, 0, 0), a[f'{side}_knee']))
        turn(p, [J[f'{name}_WRIST']], J[f'{name}_ELBOW'], rot((1, 0, 0), -a[f'{side}_elbow']))
        arm = rot((0, 0, 1), x * a[f'{side}_arm_abd']) @ rot((1, 0, 0), -a[f'{side}_arm_flex'])
        turn(p, [J[f'{name}_ELBOW'], J[f'{name}_WRIST']], J[f'{name}_SHOULDER'], arm)
    turn(p, [J.NECK, J.HEAD], J.THORAX, rot((0, 0, 1), a['neck_side']) @ rot((1, 0, 0), a['neck_flex']))
    trunk = rot((0, 1, 0), a['trunk_twist']) @ rot((0, 0, 1), -a['trunk_side']) @ rot((1, 0, 0), a['trunk_flex'])
    turn(p, UPPER, J.PELVIS, trunk)
    p = p @ np.diag([1.0, -1.0, -1.0]) + rng.normal(0.0, noise_m, p.shape)   # facing a level camera
    p[rng.random(17) < missing] = np.nan
    return p


def random_stream(n, rng):
    return [posture({k: rng.uniform(*r) for k, r in RANGES.items()}, rng) for _ in range(n)]


def video_stream(n, rng, people=4, fps=30.0):
    """(track, stamp_ns, joints) of `people` persons moving smoothly (random walk of the angles, ~40 deg/s)."""
    state = [{k: rng.uniform(*r) for k, r in RANGES.items()} for _ in range(people)]
    out = []
    for i in range(n // people):
        for track, a in enumerate(state):
            for k, (lo, hi) in RANGES.items():
                a[k] = float(np.clip(a[k] + rng.normal(0.0, 40.0 / fps), lo, hi))
            out.append((track, int(i / fps * 1e9), posture(a, rng)))
    return out


def per_frame_ms(fn, items, repeats):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items) * 1e3)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--postures', type=int, default=2000, help='person-frames per stream')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    random_postures = random_stream(args.postures, rng)
    video = video_stream(args.postures, rng)
    video_postures = [p for _, _, p in video]
    scorers = {'RULA': assess_rula, 'REBA': assess_reba}

    # the memo must not change a single result
    for method, fn in scorers.items():
        set_score_cache_size(0)
        plain = [fn(p) for p in random_postures[:500] + video_postures[:500]]
        set_score_cache_size(DEFAULT_CACHE)
        memo = [fn(p) for p in random_postures[:500] + video_postures[:500]]
        for a, b in zip(plain, memo):
            assert (a.score, a.score_min, a.score_max, a.action, a.segment_scores, a.assumed_inputs) == \
                (b.score, b.score_min, b.score_max, b.action, b.segment_scores, b.assumed_inputs), method

    rows, result = [], {}
    for method, fn in scorers.items():
        for stream, items in (('random', random_postures), ('video', video_postures)):
            for memo in (True, False):
                set_score_cache_size(DEFAULT_CACHE if memo else 0)
                ms = per_frame_ms(fn, items, args.repeats)
                rows.append((f'assess_{method.lower()}', stream, 'on' if memo else 'off', ms))
                result[f'ms_{method.lower()}_{stream}_memo_{"on" if memo else "off"}'] = round(ms, 4)
        set_score_cache_size(DEFAULT_CACHE)
        best = math.inf
        for _ in range(args.repeats):
            tracker = ExposureTracker(method)          # fresh per pass: time must move forward within a track
            start = time.perf_counter()
            for track, stamp, joints in video:
                tracker.update(track, stamp, joints)
            best = min(best, (time.perf_counter() - start) / len(video) * 1e3)
        rows.append((f'ExposureTracker({method}).update', 'video', 'on', best))
        result[f'ms_tracker_{method.lower()}_video'] = round(best, 4)

    print(f'{"function":32s} {"stream":7s} {"memo":5s} {"ms/person-frame":>16s}')
    for name, stream, memo, ms in rows:
        flag = '' if ms <= TARGET_MS else f'  > {TARGET_MS} ms target'
        print(f'{name:32s} {stream:7s} {memo:5s} {ms:16.4f}{flag}')
    result.update(ms_per_person_frame_rula=result['ms_rula_random_memo_on'],
                  ms_per_person_frame_reba=result['ms_reba_random_memo_on'],
                  person_frames=len(random_postures), repeats=args.repeats, python=platform.python_version())
    result['ms_per_person_frame'] = max(result['ms_per_person_frame_rula'], result['ms_per_person_frame_reba'])
    result['target_ms'] = TARGET_MS
    print('RESULT ' + json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
