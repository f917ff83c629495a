"""Time MediaPipe's own mp.solutions.pose on a folder of frames (runs in .venv-mediapipe, numpy<2).

    .venv-mediapipe/bin/python mediapipe_reference/pose_frames.py FRAMES_DIR OUT.npz

Prints one JSON line: fps, latency p50/p95 ms, peak RSS MB; writes per-frame landmarks (pixels) to OUT.npz.
"""
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np


def main(frames_dir: str, out: str) -> None:
    files = sorted(Path(frames_dir).glob('*.png'))
    frames = [cv2.imread(str(f)) for f in files]
    landmarks = np.full((len(frames), 33, 2), np.nan, np.float32)
    times = []
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                enable_segmentation=False) as pose:
        pose.process(cv2.cvtColor(frames[0], cv2.COLOR_BGR2RGB))     # warm-up (graph start)
        for i, bgr in enumerate(frames):
            start = time.perf_counter()
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            times.append(time.perf_counter() - start)
            if result.pose_landmarks:
                h, w = bgr.shape[:2]
                landmarks[i] = [(p.x * w, p.y * h) for p in result.pose_landmarks.landmark]
    np.savez_compressed(out, landmarks=landmarks)
    ms = np.asarray(times) * 1e3
    print(json.dumps({'fps': len(ms) / (ms.sum() / 1e3), 'p50_ms': float(np.percentile(ms, 50)),
                      'p95_ms': float(np.percentile(ms, 95)),
                      'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      'mediapipe': mp.__version__}))


if __name__ == '__main__':
    main(*sys.argv[1:3])
