"""Summarise a demo run: overlay video, latency, people per frame, skipped frames, and the bag read back."""
from pathlib import Path

import cv2
import numpy as np

from nvb_perception.draw import draw_skeletons
from nvb_perception.imaging import image_fields_to_bgr8
from nvb_perception.io.bag import BagReader, deserialize


def _stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def summarise(messages: dict, bag: Path, out: Path) -> int:
    """Print the summary; 0 if skeletons came back for the frames, else 1."""
    from nvb_perception.ros.convert import skeleton2d_frame_from_msg
    images = {_stamp_ns(m.header): m for _, m in messages['image']}
    results = [(t, skeleton2d_frame_from_msg(m)) for t, m in messages['skeletons_2d']]
    if not results:
        print('demo: no skeletons received', flush=True)
        return 1
    latency_ms = np.asarray([(t - f.stamp.stamp_ns) / 1e6 for t, f in results])
    people = np.asarray([sum(s.track_state <= 1 for s in f.skeletons) for _, f in results])
    tracks = {s.track_id for _, f in results for s in f.skeletons}
    span_s = (results[-1][0] - results[0][0]) / 1e9
    video = None
    for _, frame in results:
        image = images.get(frame.stamp.stamp_ns)
        if image is None:
            continue
        bgr = draw_skeletons(image_fields_to_bgr8(image), frame.skeletons)
        if video is None:
            video = cv2.VideoWriter(str(out / 'overlay.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 10.0,
                                    (bgr.shape[1], bgr.shape[0]))
        video.write(bgr)
    if video is not None:
        video.release()
    counts, levels = {}, {}
    for record in BagReader(bag).messages():
        counts[record.topic] = counts.get(record.topic, 0) + 1
        if record.topic == '/ergonomic_risk':
            for risk in deserialize(record).risks:
                levels.setdefault(risk.method, []).append(risk.action_level)
    print(f'frames published {len(images)}, skeleton messages {len(results)} '
          f'(skipped by pose_node to stay current: {len(images) - len(results)})')
    print(f'people per frame: mean {people.mean():.2f}, max {people.max()}; {len(tracks)} track ids')
    print(f'pose_node output rate {(len(results) - 1) / max(span_s, 1e-9):.1f} FPS; latency camera stamp -> '
          f'skeleton received p50 {np.percentile(latency_ms, 50):.1f} ms, p95 {np.percentile(latency_ms, 95):.1f} ms')
    for method, values in sorted(levels.items()):
        share = {lvl: values.count(lvl) / len(values) for lvl in sorted(set(values))}
        print(f'{method}: {len(values)} person-frames scored; action levels ' +
              ', '.join(f'{lvl}: {100 * v:.0f} %' for lvl, v in share.items()))
    print(f'bag {bag}: ' + ', '.join(f'{t} {n}' for t, n in sorted(counts.items())))
    print(f'overlay video {out / "overlay.mp4"}')
    return 0 if counts.get('/skeletons_2d') else 1
