"""Measure the per-joint 2D jitter of the pose stage (BlazePose, ours) for the lifting simulator's error model.

    nice -n 10 python -m nvb_perception.datasets.calibrate_jitter [--frames 300] [--repeats 12] [--out runs/jitter.json]

Everything runs PoseEstimator(PoseConfig(static_image_mode=False, smoothing=False, threads=1)) - the raw
per-frame landmarks the lifter would see without One-Euro smoothing - mapped to H36M-17 with
skeleton.blazepose_to_h36m, and every sigma is a per-axis standard deviation divided by the person's height in
pixels (corruption.person_height_px of the H36M keypoints: the longer side of their bounding box), which is the
unit of corruption.SIGMA_FRACTION. Three estimators, each defensible for a different part of the error:

A. `temporal`: tracked people in .assets/data/opencv/vtest.avi (10 fps pedestrians, detector_tile_px=288).
   Per track and joint, the second difference d2 = x[t+1] - 2 x[t] + x[t-1] of the raw trajectory over runs of
   three consecutive confident frames; white noise gives var(d2) = 6 sigma^2, so sigma = 1.4826 MAD(d2) / sqrt(6)
   (the MAD ignores the occasional swap or jump). Real motion inflates it (walking feet at 10 fps: ankle
   accelerations of tens of m/s^2), so it is an upper bound for limbs and close to exact for the torso.
B. `retest`: test-retest on still images (messi5, basketball1/2, astronaut, grace_hopper and vtest frames 0,
   100, ..., 700): the image is fed `--repeats` times as a video (tracking carries the ROI from frame to frame, as
   in use), each time moved by a random sub-pixel/few-pixel shift, a +-3 % scale and a +-2 degree rotation; the
   keypoints are mapped back to the original image and the robust per-axis std (MAD) around each person's
   median is the noise a static person would show. No motion at all, but also no error the model makes
   consistently: a lower bound.
C. `flip`: every still image and its mirror image; the mirror's keypoints mapped back (x -> W - x, left/right
   relabelled). A model error that is not mirror-symmetric appears as a difference d, std(d) = sqrt(2) sigma if
   the two errors were independent: sigma_flip = 1.4826 MAD(d) / sqrt(2). It sees part of the consistent (bias-like)
   errors B misses, e.g. which side of a hip BlazePose puts a hip on.

Each estimator is made left/right symmetric (the variances of a joint and its mirror joint averaged: a mirrored
person is an equally likely input, and it halves the sampling noise). The table shipped in
corruption.SIGMA_FRACTION is, per joint, the root-sum-square of B and C (independent
frame-to-frame noise plus the mirror-asymmetric part of the consistent error), capped from above by A where A
is smaller (A includes everything that changes between frames, so a larger B+C would be double counting).
The output JSON has every estimator per joint with the number of samples; the printout is a table and a
ready-to-paste SIGMA_FRACTION. Errors this does not see (the offset between BlazePose's surface keypoints and a
mocap skeleton's joint centres, identical in the image and its mirror) need labelled data; the simulator's
outliers/swaps/drops cover the gross errors separately.
"""
import argparse
import json
import logging
import os
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from nvb_perception.datasets.corruption import MIRROR, SIGMA_FRACTION, person_height_px
from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
from nvb_perception.skeleton import H36M, blazepose_to_h36m

ASSETS = Path(os.environ.get('NVB_PERCEPTION_ASSETS', '.assets'))
STILLS = [ASSETS / 'data' / 'opencv' / n for n in ('messi5.jpg', 'basketball1.png', 'basketball2.png')] + \
         [ASSETS / 'data' / 'photos' / n for n in ('astronaut.png', 'grace_hopper.jpg')]
VIDEO = ASSETS / 'data' / 'opencv' / 'vtest.avi'
MIN_CONF = 0.5           # joints below this visibility are not measured
MAD_TO_STD = 1.4826


def estimator(tile_px: int = 0) -> PoseEstimator:
    """Raw per-frame BlazePose in video mode (tracking on, smoothing off)."""
    return PoseEstimator.from_config(PoseConfig(static_image_mode=False, smoothing=False, max_people=8,
                                                detector_tile_px=tile_px, threads=1))


def people_h36m(result) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(track id, (17, 2) px, (17,) confidence) of every visible person."""
    out = []
    for p in result.visible:
        kp, conf = blazepose_to_h36m(np.asarray(p.skeleton.keypoints, np.float64),
                                     np.asarray(p.skeleton.confidence, np.float64))
        out.append((p.skeleton.track_id, kp, conf))
    return out


def read_video(path: Path, frames: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < frames:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    return out


def temporal(images: list[np.ndarray], tile_px: int) -> dict:
    """Estimator A on a video: per-joint robust second-difference sigma over tracks, / height."""
    est = estimator(tile_px)
    tracks: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for t, img in enumerate(images):
        for tid, kp, conf in people_h36m(est(img, int(t * 1e8))):
            tracks.setdefault(tid, {})[t] = (kp, conf)
    est.close()
    d2_all = []   # rows: (17, 2) second differences / height, nan where not measurable
    for frames in tracks.values():
        for t in sorted(frames):
            if t - 1 in frames and t + 1 in frames:
                (a, ca), (b, cb), (c, cc) = frames[t - 1], frames[t], frames[t + 1]
                h = person_height_px(b)
                d2 = (a - 2 * b + c) / h
                ok = (ca > MIN_CONF) & (cb > MIN_CONF) & (cc > MIN_CONF)
                d2_all.append(np.where(ok[:, None], d2, np.nan))
    d2 = np.asarray(d2_all)                                                  # (S, 17, 2)
    med = np.nanmedian(d2, axis=0, keepdims=True)
    sigma = MAD_TO_STD * np.nanmedian(np.abs(d2 - med), axis=(0, 2)) / np.sqrt(6)
    heights = [person_height_px(kp) for f in tracks.values() for kp, _ in f.values()]
    return {'sigma': sigma.tolist(), 'samples': np.sum(~np.isnan(d2[..., 0]), axis=0).tolist(),
            'tracks': len(tracks), 'median_height_px': float(np.median(heights)) if heights else None}


def _match(reference: list, found: list, max_frac: float = 0.25) -> dict[int, int]:
    """Map each reference index to a found index by nearest pelvis within max_frac x height."""
    out = {}
    for i, (_, kp, _) in enumerate(reference):
        h = person_height_px(kp)
        dists = [np.linalg.norm(f[1][H36M.PELVIS] - kp[H36M.PELVIS]) for f in found]
        if dists and min(dists) < max_frac * h:
            out[i] = int(np.argmin(dists))
    return out


def _warp(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def retest(images: list[np.ndarray], repeats: int, rng: np.random.Generator, tile_px: int) -> dict:
    """Estimator B: per-axis std of keypoints mapped back from perturbed copies, pooled over people."""
    res = []
    for img in images:
        est = estimator(tile_px)
        ref = people_h36m(est(img, 0))
        samples = {i: [] for i in range(len(ref))}
        cx, cy = img.shape[1] / 2, img.shape[0] / 2
        for k in range(repeats):
            m = cv2.getRotationMatrix2D((cx, cy), rng.uniform(-2, 2), rng.uniform(0.97, 1.03))
            m[:, 2] += rng.uniform(-3, 3, 2)
            found = people_h36m(est(_warp(img, m), int((k + 1) * 1e8)))
            inv = cv2.invertAffineTransform(m)
            found = [(tid, kp @ inv[:, :2].T + inv[:, 2], c) for tid, kp, c in found]
            for i, j in _match(ref, found).items():
                samples[i].append(found[j][1:])
        est.close()
        for s in samples.values():
            if len(s) < repeats // 2:
                continue
            kp = np.stack([x[0] for x in s])
            conf = np.stack([x[1] for x in s])
            h = np.median(person_height_px(kp))
            ok = conf > MIN_CONF
            with warnings.catch_warnings():   # a joint never confident: all-NaN median
                warnings.simplefilter('ignore', RuntimeWarning)
                centre = np.nanmedian(np.where(ok[..., None], kp, np.nan), axis=0)
            res.append(np.where(ok[..., None], kp - centre, np.nan) / h)
    dev = np.concatenate(res)                                      # (S, 17, 2)
    n = np.sum(~np.isnan(dev[..., 0]), axis=0)
    # robust (MAD about each person's median; gross errors are the simulator's outliers/swaps), corrected for
    # the median's own degree of freedom: n / (n - people) in variance
    m = np.sum([~np.all(np.isnan(r[..., 0]), axis=0) for r in res], axis=0)
    sigma = MAD_TO_STD * np.nanmedian(np.abs(dev), axis=(0, 2)) * np.sqrt(n / np.maximum(n - m, 1))
    return {'sigma': sigma.tolist(), 'samples': n.tolist(), 'people': len(res)}


def flip(images: list[np.ndarray], tile_px: int) -> dict:
    """Estimator C: the image vs its mirror image, keypoints mapped back and relabelled."""
    diffs = []
    for img in images:
        w = img.shape[1]
        est = estimator(tile_px)
        ref = people_h36m(est(img, 0))
        est.close()
        est = estimator(tile_px)
        mirrored = [(tid, np.stack([w - kp[MIRROR, 0], kp[MIRROR, 1]], -1), c[MIRROR])
                    for tid, kp, c in people_h36m(est(np.ascontiguousarray(img[:, ::-1]), 0))]
        est.close()
        for i, j in _match(ref, mirrored).items():
            a, ca = ref[i][1:]
            b, cb = mirrored[j][1:]
            ok = (ca > MIN_CONF) & (cb > MIN_CONF)
            diffs.append(np.where(ok[:, None], (a - b) / person_height_px(a), np.nan))
    d = np.asarray(diffs)                                          # (P, 17, 2)
    sigma = MAD_TO_STD * np.nanmedian(np.abs(d), axis=(0, 2)) / np.sqrt(2)   # robust, as A and B
    return {'sigma': sigma.tolist(), 'samples': np.sum(~np.isnan(d[..., 0]), axis=0).tolist(),
            'people': len(d)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frames', type=int, default=300, help='vtest.avi frames for the temporal estimator')
    p.add_argument('--repeats', type=int, default=12, help='perturbed copies per still image')
    p.add_argument('--tile-px', type=int, default=288, help='detector tiles for vtest (small pedestrians)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', type=Path, default=Path('runs/jitter.json'))
    args = p.parse_args(argv)
    logging.getLogger('nvb_perception.backends').setLevel(logging.ERROR)   # 'tensorrt skipped' per image
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    video = read_video(VIDEO, max(args.frames, 701))
    stills = [cv2.imread(str(s)) for s in STILLS]
    vframes = [video[i] for i in range(0, 701, 100) if i < len(video)]

    a = temporal(video[:args.frames], args.tile_px)
    print(f'A temporal: {a["tracks"]} tracks, median height {a["median_height_px"]:.0f} px '
          f'({time.perf_counter() - start:.0f} s)', flush=True)
    b_still = retest(stills, args.repeats, rng, 0)
    b_video = retest(vframes, args.repeats, rng, args.tile_px)
    print(f'B retest: {b_still["people"]} + {b_video["people"]} people ({time.perf_counter() - start:.0f} s)',
          flush=True)
    c_still = flip(stills, 0)
    c_video = flip(vframes, args.tile_px)
    print(f'C flip: {c_still["people"]} + {c_video["people"]} people ({time.perf_counter() - start:.0f} s)',
          flush=True)

    def pooled(x, y):
        nx, ny = np.asarray(x['samples'], float), np.asarray(y['samples'], float)
        v = (nx * np.square(x['sigma']) + ny * np.square(y['sigma'])) / np.maximum(nx + ny, 1)
        return np.sqrt(v)

    def symmetric(sigma):   # the mirror image of a person is as likely an input: pool left/right variances
        sigma = np.asarray(sigma)
        return np.sqrt(0.5 * (sigma ** 2 + sigma[MIRROR] ** 2))

    sa = symmetric(a['sigma'])
    sb, sc = symmetric(pooled(b_still, b_video)), symmetric(pooled(c_still, c_video))
    shipped = np.minimum(np.sqrt(sb ** 2 + sc ** 2), sa)
    rows = []
    print(f'{"joint":16s} {"A temporal":>10s} {"B retest":>9s} {"C flip":>8s} {"shipped":>8s} {"prior":>7s}')
    for j in H36M:
        print(f'{j.name:16s} {sa[j]:10.4f} {sb[j]:9.4f} {sc[j]:8.4f} {shipped[j]:8.4f} {SIGMA_FRACTION[j]:7.3f}')
        rows.append({'joint': j.name, 'temporal': sa[j], 'retest': sb[j], 'flip': sc[j], 'shipped': shipped[j]})
    print('mean', f'{sa.mean():.4f} {sb.mean():.4f} {sc.mean():.4f} {shipped.mean():.4f} '
          f'{SIGMA_FRACTION.mean():.4f}')
    print('SIGMA_FRACTION = np.array([' + ', '.join(f'{v:.4f}' for v in shipped) + '])')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        'temporal': a, 'retest_stills': b_still, 'retest_video': b_video, 'flip_stills': c_still,
        'flip_video': c_video, 'table': rows, 'shipped': shipped.tolist(), 'args': {k: str(v) for k, v in
                                                                                    vars(args).items()},
        'seconds': time.perf_counter() - start}, indent=1, default=float))
    print(f'wrote {args.out} ({time.perf_counter() - start:.0f} s)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
