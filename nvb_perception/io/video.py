"""Read frames from a video file or an image folder, with timestamps, deterministically.

    for frame in iter_video_frames('vtest.avi', max_frames=300):
        frame.index, frame.stamp_ns, frame.bgr   # (H, W, 3) uint8
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from nvb_perception.errors import PerceptionError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded frame."""

    index: int           # 0-based frame number in the source
    stamp_ns: int        # nanoseconds from the start of the source (index / fps)
    bgr: np.ndarray      # (H, W, 3) uint8


def video_fps(path: str | Path, default: float = 30.0) -> float:
    """Frame rate stored in a video file (image folders use `default`)."""
    path = Path(path)
    if path.is_dir():
        return default
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    return fps if fps and fps > 0 else default


def iter_video_frames(path: str | Path, max_frames: int | None = None, fps: float | None = None,
                      start: int = 0) -> Iterator[VideoFrame]:
    """Yield the frames of a video file, or of the images of a folder in name order.

    Args:
        path: video file (anything OpenCV's FFmpeg backend reads) or a folder of images.
        max_frames: stop after this many frames (None = all).
        fps: frame rate for the timestamps; default = the file's own rate (30 for folders).
        start: index of the first frame to yield.

    Raises:
        PerceptionError: the path does not exist, cannot be opened, or holds no frames.
    """
    path = Path(path)
    if not path.exists():
        raise PerceptionError(f'video source not found: {path}')
    rate = fps or video_fps(path)
    period_ns = int(round(1e9 / rate))
    count = 0
    for index, bgr in _decode(path, start):
        if max_frames is not None and count >= max_frames:
            return
        yield VideoFrame(index=index, stamp_ns=index * period_ns, bgr=bgr)
        count += 1
    if count == 0:
        raise PerceptionError(f'no frames could be read from {path}')


def _decode(path: Path, start: int):
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for index, file in enumerate(files[start:], start):
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                raise PerceptionError(f'cannot decode image {file}')
            yield index, bgr
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise PerceptionError(f'cannot open video {path} (not a video file, or a codec OpenCV lacks)')
    try:
        if start:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        index = start
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield index, bgr
            index += 1
    finally:
        cap.release()
