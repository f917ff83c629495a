"""Benchmark the cue stage: face/hand model latency per person, stage FPS, cue logic per person-frame.

    python benchmarks/bench_cues.py [--frames 40] [--threads 1,2] [--people 1,2]

On messi5.jpg (one person with face and both hands visible) and basketball1.png (two players) in video
mode with the stage's default schedule (face detector every 10 frames, hand re-crop every 5):
per-model latency (ONNX Runtime, CPU), face + hands ms per person and the FPS per person they allow,
the whole stage per frame, and the cue logic alone (PersonCues.update) per person-frame on a full input
(2D + 3D skeleton, face, two hands). Prints a table; the last line is `RESULT {json}`. The machine's load
average is reported: on a shared machine other jobs slow every number.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from nvb_perception.netsafety import localhost_only_env


def _ms(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3


def model_table(bgr, skeleton, threads: int, n: int) -> dict:
    """Per-model latency (ms) for one person."""
    from nvb_perception.assets import model_dir
    from nvb_perception.cues.face import FaceLandmarker, face_rect_from_detection, face_rect_from_pose
    from nvb_perception.cues.hands import HandLandmarker, hand_rects_from_pose
    faces = FaceLandmarker.from_dir(model_dir(), ('onnxruntime',), threads)
    hands = HandLandmarker.from_dir(model_dir(), ('onnxruntime',), threads)
    roi = face_rect_from_pose(skeleton.keypoints)
    found = faces.detect(bgr, roi)
    face = faces(bgr, [face_rect_from_detection(found[0]) if found else roi])[0]
    rects = list(hand_rects_from_pose(skeleton.keypoints, skeleton.confidence).values())
    out = {
        'face_detector_roi': _ms(lambda: faces.detect(bgr, roi), n),
        'face_landmarks+blendshapes+pose': _ms(lambda: faces(bgr, [face.rect]), n),
        'face_blendshapes': _ms(lambda: faces.blendshapes(face.landmarks), n),
        'face_geometry': _ms(lambda: faces.geometry.pose_matrix(face.landmarks, (bgr.shape[1], bgr.shape[0])), n),
        'hand_recrop_x2': _ms(lambda: hands.recrop(bgr, rects), n),
        'hand_landmarks_x2': _ms(lambda: hands(bgr, rects), n),
        'palm_detector (not in the body path)': _ms(lambda: hands.palm(bgr), max(3, n // 4)),
    }
    faces.close()
    hands.close()
    return out


def stage_run(bgr, pose_frames, threads: int, hand_variant: str, parallel: bool) -> dict:
    """The whole stage in video mode over the pose frames: ms per frame, face+hands (wall) ms per person."""
    from nvb_perception.cues.stage import CueStage, CueStageConfig
    stage = CueStage.from_config(CueStageConfig(prefer=('onnxruntime',), threads=threads, hand_variant=hand_variant,
                                                parallel=parallel))
    face_hands, total, logic = [], [], []
    for k, frame in enumerate(pose_frames):
        t0 = time.perf_counter()
        r = stage(bgr, frame)
        if k >= 2:                                           # warm-up: sessions, first detections
            total.append((time.perf_counter() - t0) * 1e3)
            face_hands.append(r.models_ms / max(len(r.people), 1))
            logic.append(r.logic_ms / max(len(r.people), 1))
    stage.close()
    fh = np.asarray(face_hands)
    return {'stage_ms_per_frame': float(np.median(total)), 'face_hands_ms_per_person': float(np.median(fh)),
            'fps_face_hands_per_person': 1e3 / float(np.median(fh)),
            'fps_face_hands_per_person_best_quartile': 1e3 / float(np.percentile(fh, 25)),
            'stage_logic_ms_per_person': float(np.median(logic))}


def logic_only(frames: int = 3000) -> dict:
    """PersonCues.update alone on a full synthetic person-frame (body 2D + 3D, face, two hands)."""
    from nvb_perception.cues.baseline import BaselineConfig
    from nvb_perception.cues.hands import HandObservation
    from nvb_perception.cues.person import PersonCues, PersonInput
    from nvb_perception.cues.rects import Rect
    from nvb_perception.datasets.cue_synthetic import blazepose_person, face_observation
    from nvb_perception.skeleton import H36M
    from nvb_perception.types import Skeleton3D
    rng = np.random.default_rng(0)
    p3 = np.zeros((17, 3)) + (0, 0, 3)
    p3[:, 1] = np.linspace(-0.8, 0.9, 17)
    p3[H36M.LEFT_HIP, 0], p3[H36M.RIGHT_HIP, 0] = 0.1, -0.1
    p3[H36M.LEFT_SHOULDER, 0], p3[H36M.RIGHT_SHOULDER, 0] = 0.18, -0.18
    hand = {s: HandObservation(np.column_stack([rng.normal(300, 10, (21, 2)), np.zeros(21)]), np.zeros((21, 3)),
                               0.95, 0.5, Rect(300, 300, 80, 80), s) for s in ('left', 'right')}
    person = PersonCues(0, baseline=BaselineConfig())
    times = []
    for i in range(frames):
        inp = PersonInput(blazepose_person(shift=rng.normal(0, 1, 2)),
                          Skeleton3D(p3 + rng.normal(0, 0.01, p3.shape), np.ones(17), 'h36m17'),
                          face_observation(smile=0.1 + 0.5 * (i % 300 > 200), pitch_deg=rng.normal(0, 1)), hand)
        t0 = time.perf_counter()
        person.update(int(i * 1e9 / 30), inp)
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times[300:])
    return {'ms_cue_logic': float(np.mean(t)), 'ms_cue_logic_p50': float(np.median(t)),
            'ms_cue_logic_p95': float(np.percentile(t, 95))}


def main(argv=None) -> int:
    os.environ.update(localhost_only_env(force=True))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--frames', type=int, default=40)
    ap.add_argument('--threads', default='1', help='ONNX Runtime intra-op threads to try, e.g. 1,2')
    ap.add_argument('--hands', default='full,lite', help='hand landmark variants to try')
    args = ap.parse_args(argv)
    import cv2

    from nvb_perception.assets import assets_dir
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    photo = cv2.imread(str(assets_dir() / 'data' / 'opencv' / 'messi5.jpg'))
    load0 = os.getloadavg()[0]
    result = {'machine_cores': os.cpu_count(), 'loadavg_1min_start': load0}
    rows = []
    # one person (messi5: face and both hands) and two people (basketball1: two players)
    for people, name in ((1, 'messi5.jpg'), (2, 'basketball1.png')):
        bgr = photo if people == 1 else cv2.imread(str(assets_dir() / 'data' / 'opencv' / name))
        pose = PoseEstimator.from_config(PoseConfig(max_people=people, prefer=('onnxruntime',), threads=2))
        frames = [pose(bgr, int(i * 1e9 / 30)).to_skeleton_frame('cam') for i in range(args.frames)]
        pose.close()
        found = max(sum(s.track_state <= 1 for s in f.skeletons) for f in frames)
        for variant in args.hands.split(','):
            for threads in [int(t) for t in args.threads.split(',')]:
                for parallel in (True, False):
                    if people > 1 and (threads != 1 or variant != 'full' or not parallel):
                        continue
                    r = stage_run(bgr, frames, threads, variant, parallel)
                    rows.append((name, threads, variant, parallel, r))
                    print(f'{name} ({found} people) hands {variant} threads {threads} '
                          f'{"parallel" if parallel else "serial"}: stage {r["stage_ms_per_frame"]:.1f} ms/frame, '
                          f'face+hands {r["face_hands_ms_per_person"]:.1f} ms/person '
                          f'({r["fps_face_hands_per_person"]:.1f} FPS/person, best quartile '
                          f'{r["fps_face_hands_per_person_best_quartile"]:.1f})', flush=True)
    full = [r for n, _, v, _, r in rows if n == 'messi5.jpg' and v == 'full']
    best = max(full, key=lambda r: r['fps_face_hands_per_person'])
    lite = [r for n, _, v, _, r in rows if n == 'messi5.jpg' and v == 'lite']
    frame1 = PoseEstimator.from_config(PoseConfig(max_people=1, prefer=('onnxruntime',), threads=2))
    skeleton = frame1(photo, 0).visible[0].skeleton
    frame1.close()
    threads = 1
    models = model_table(photo, skeleton, threads, max(5, args.frames // 2))
    print(f'\nper-model latency, 1 person, {threads} thread(s):')
    for name, ms in models.items():
        print(f'  {name:<38} {ms:7.2f} ms')
    logic = logic_only()
    print(f'\ncue logic (PersonCues.update, full person-frame): mean {logic["ms_cue_logic"]:.3f} ms, p50 '
          f'{logic["ms_cue_logic_p50"]:.3f}, p95 {logic["ms_cue_logic_p95"]:.3f}')
    result.update({'fps_face_hands': best['fps_face_hands_per_person'],
                   'fps_face_hands_best_quartile': best['fps_face_hands_per_person_best_quartile'],
                   'fps_face_hands_lite': max((r['fps_face_hands_per_person'] for r in lite), default=None),
                   'ms_face_hands_per_person': best['face_hands_ms_per_person'], **logic,
                   'stage': [{'image': n, 'threads': t, 'hands': v, 'parallel': p, **r} for n, t, v, p, r in rows],
                   'models_ms': models, 'loadavg_1min_end': os.getloadavg()[0]})
    print(f'\nload average (1 min) {load0:.1f} at start, {result["loadavg_1min_end"]:.1f} at end on '
          f'{os.cpu_count()} cores')
    print('RESULT ' + json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
