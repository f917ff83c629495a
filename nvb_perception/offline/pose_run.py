"""Run the pose stage over every frame of a video or bag, deterministically, and write bag + overlay + CSV.

Shared by `nvb-process-video` and `nvb-process-bag`; the nodes use the same PoseEstimator, so for the same
frames the live graph and these tools produce the same skeletons.
"""
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from nvb_perception.draw import draw_skeletons
from nvb_perception.types import Skeleton2DFrame, Stamp

SKELETON_TOPIC = '/skeletons_2d'
SKELETON_TYPE = 'nvb_perception_msgs/msg/Skeleton2DArray'


@dataclass
class RunSummary:
    """What one offline run did."""

    frames: int = 0
    people_per_frame: list = field(default_factory=list)
    processing_ms: list = field(default_factory=list)
    track_ids: set = field(default_factory=set)

    def text(self) -> str:
        """One human-readable paragraph."""
        if not self.frames:
            return 'no frames processed'
        ms = np.asarray(self.processing_ms)
        people = np.asarray(self.people_per_frame)
        return (f'{self.frames} frames, people per frame mean {people.mean():.2f} (max {people.max()}), '
                f'{len(self.track_ids)} track ids, processing p50 {np.percentile(ms, 50):.1f} ms / '
                f'p95 {np.percentile(ms, 95):.1f} ms ({1e3 / ms.mean():.1f} FPS)')


def estimate_frames(estimator, frames: Iterable[tuple[Stamp, np.ndarray]]
                    ) -> Iterator[tuple[np.ndarray, Skeleton2DFrame, float]]:
    """Yield (bgr, Skeleton2DFrame, processing ms) for each (stamp, bgr)."""
    for stamp, bgr in frames:
        start = time.perf_counter()
        result = estimator(bgr, stamp.stamp_ns)
        ms = (time.perf_counter() - start) * 1e3
        skeletons = tuple(p.skeleton for p in result.people)
        yield bgr, Skeleton2DFrame(stamp=stamp, image_size=(bgr.shape[1], bgr.shape[0]), skeletons=skeletons), ms


class Outputs:
    """The three outputs of an offline run; each is optional."""

    def __init__(self, bag: Path | None, video: Path | None, csv_path: Path | None, fps: float,
                 storage: str = 'mcap'):
        self.bag = self.video = self.csv = None
        self.fps = fps
        self.video_path = video
        if bag:
            from nvb_perception.io.bag import BagWriter
            self.bag = BagWriter(bag, storage=storage)
            self.bag.add_topic(SKELETON_TOPIC, SKELETON_TYPE)
        if csv_path:
            self._csv_file = open(csv_path, 'w', newline='')
            self.csv = csv.writer(self._csv_file)
            self.csv.writerow(['stamp_ns', 'track_id', 'track_state', 'joint', 'x_px', 'y_px', 'confidence'])

    def write(self, bgr: np.ndarray, frame: Skeleton2DFrame) -> None:
        """Append one frame to every output."""
        if self.bag:
            # rclpy serialization (no DDS): the same CDR the live node publishes
            from nvb_perception.ros.convert import skeleton2d_frame_to_cdr
            self.bag.write(SKELETON_TOPIC, frame.stamp.stamp_ns, skeleton2d_frame_to_cdr(frame))
        if self.video_path:
            if self.video is None:
                h, w = bgr.shape[:2]
                self.video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (w, h))
            self.video.write(draw_skeletons(bgr, frame.skeletons))
        if self.csv:
            for s in frame.skeletons:
                for j, ((x, y), c) in enumerate(zip(s.keypoints, s.confidence)):
                    self.csv.writerow([frame.stamp.stamp_ns, s.track_id, int(s.track_state), j,
                                       f'{x:.3f}', f'{y:.3f}', f'{c:.4f}'])

    def close(self) -> None:
        """Flush and close everything."""
        if self.bag:
            self.bag.close()
        if self.video is not None:
            self.video.release()
        if self.csv:
            self._csv_file.close()


def run(estimator, frames, outputs: Outputs, progress_every: int = 0, cue_recorder=None) -> RunSummary:
    """Process every frame into the outputs and return the summary (cues too when a CueRecorder is given)."""
    summary = RunSummary()
    try:
        for bgr, frame, ms in estimate_frames(estimator, frames):
            outputs.write(bgr, frame)
            if cue_recorder is not None:
                cue_recorder(bgr, frame)
            summary.frames += 1
            active = [s for s in frame.skeletons if s.track_state <= 1]
            summary.people_per_frame.append(len(active))
            summary.track_ids.update(s.track_id for s in active)
            summary.processing_ms.append(ms)
            if progress_every and summary.frames % progress_every == 0:
                print(f'  {summary.frames} frames ...', flush=True)
    finally:
        outputs.close()
    return summary
