"""Image buffers <-> numpy, for sensor_msgs/Image and CompressedImage fields (no ROS needed).

Works on anything with the message's field names (rclpy messages, rosbags messages), so the live nodes and
the offline bag tools decode images the same way. Every failure is an ImageError with what was expected.
"""
import cv2
import numpy as np

from nvb_perception.errors import ImageError

# encoding -> (dtype, channels)
ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4), 'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1), '8UC1': (np.uint8, 1), '8UC3': (np.uint8, 3),
    '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
    'yuv422': (np.uint8, 2), 'uyvy': (np.uint8, 2), 'yuv422_yuy2': (np.uint8, 2), 'yuyv': (np.uint8, 2),
}
# 8K UHD is 7680x4320; anything far beyond that is a corrupt header, not a camera
MAX_SIDE_PX = 16384

_TO_BGR = {
    'rgb8': cv2.COLOR_RGB2BGR, 'rgba8': cv2.COLOR_RGBA2BGR, 'bgra8': cv2.COLOR_BGRA2BGR,
    'mono8': cv2.COLOR_GRAY2BGR, '8UC1': cv2.COLOR_GRAY2BGR,
    'yuv422': cv2.COLOR_YUV2BGR_UYVY, 'uyvy': cv2.COLOR_YUV2BGR_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2BGR_YUY2, 'yuyv': cv2.COLOR_YUV2BGR_YUY2,
}


def image_to_numpy(encoding: str, height: int, width: int, step: int, data, is_bigendian: int = 0) -> np.ndarray:
    """View an Image buffer as a numpy array (no copy when the layout allows it).

    Returns:
        (H, W) for one channel, (H, W, C) otherwise, in the buffer's own dtype and channel order.

    Raises:
        ImageError: unknown encoding, zero or absurd size, a step shorter than a row, or truncated data.
    """
    if encoding not in ENCODINGS:
        raise ImageError(f'unsupported image encoding {encoding!r}; supported: {sorted(ENCODINGS)}')
    if height <= 0 or width <= 0:
        raise ImageError(f'empty image ({width}x{height})')
    if height > MAX_SIDE_PX or width > MAX_SIDE_PX:
        raise ImageError(f'image {width}x{height} exceeds {MAX_SIDE_PX} px per side')
    dtype, channels = ENCODINGS[encoding]
    dtype = np.dtype(dtype).newbyteorder('>' if is_bigendian else '<')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes or step % dtype.itemsize:
        raise ImageError(f'step {step} is invalid for {width} px of {encoding} (needs >= {row_bytes})')
    buf = memoryview(data).cast('B') if not isinstance(data, np.ndarray) else data.view(np.uint8).reshape(-1)
    if len(buf) < step * height:
        raise ImageError(f'truncated image data: {len(buf)} bytes, expected {step * height} '
                         f'({height} rows x step {step})')
    rows = np.frombuffer(buf, dtype=dtype, count=step * height // dtype.itemsize).reshape(height, -1)
    arr = rows[:, :width * channels]
    if dtype.byteorder == '>':
        arr = arr.astype(dtype.newbyteorder('='))
    return arr.reshape(height, width) if channels == 1 else arr.reshape(height, width, channels)


def to_bgr8(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a decoded image to 8-bit BGR (what the models' preprocessing expects)."""
    if encoding == 'bgr8' or encoding == '8UC3':
        return array
    if encoding in _TO_BGR:
        return cv2.cvtColor(np.ascontiguousarray(array), _TO_BGR[encoding])
    if encoding in ('mono16', '16UC1'):
        return cv2.cvtColor((array >> 8).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if encoding == '32FC1':
        scaled = np.clip(np.nan_to_num(array) * 255.0, 0, 255).astype(np.uint8)
        return cv2.cvtColor(scaled, cv2.COLOR_GRAY2BGR)
    raise ImageError(f'cannot convert {encoding!r} to bgr8')


def image_fields_to_bgr8(msg) -> np.ndarray:
    """sensor_msgs/Image (any object with its fields) -> (H, W, 3) uint8 BGR."""
    arr = image_to_numpy(msg.encoding, msg.height, msg.width, msg.step, msg.data, msg.is_bigendian)
    return to_bgr8(arr, msg.encoding)


def numpy_to_image_fields(array: np.ndarray, encoding: str) -> dict:
    """Fields of a sensor_msgs/Image holding `array` (contiguous, little-endian, no row padding)."""
    if encoding not in ENCODINGS:
        raise ImageError(f'unsupported image encoding {encoding!r}; supported: {sorted(ENCODINGS)}')
    dtype, channels = ENCODINGS[encoding]
    array = np.ascontiguousarray(array)
    shape_ok = array.ndim == 2 if channels == 1 else (array.ndim == 3 and array.shape[2] == channels)
    if not shape_ok or array.dtype != dtype:
        raise ImageError(f'{encoding} needs a {np.dtype(dtype)} array with {channels} channel(s), '
                         f'got {array.dtype} {array.shape}')
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f'empty image {array.shape}')
    return dict(height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=0,
                step=array.shape[1] * channels * array.itemsize, data=array.tobytes())


def decode_compressed(fmt: str, data) -> np.ndarray:
    """sensor_msgs/CompressedImage payload (jpeg/png) -> (H, W, 3) uint8 BGR."""
    buf = np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8) if len(data) else np.zeros(0, np.uint8)
    kind = fmt.split(';')[0].strip().lower()
    if kind not in ('jpeg', 'jpg', 'png', 'rgb8', 'bgr8', 'mono8', ''):
        raise ImageError(f'unsupported compressed format {fmt!r}; supported: jpeg, png')
    if buf.size == 0:
        raise ImageError('empty compressed image')
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f'corrupt compressed image ({buf.size} bytes, format {fmt!r})')
    return image


def encode_compressed(bgr: np.ndarray, fmt: str = 'jpeg', quality: int = 90) -> bytes:
    """(H, W, 3) uint8 BGR -> jpeg/png bytes for a CompressedImage."""
    ext = {'jpeg': '.jpg', 'jpg': '.jpg', 'png': '.png'}.get(fmt)
    if ext is None:
        raise ImageError(f'unsupported compressed format {fmt!r}; supported: jpeg, png')
    ok, buf = cv2.imencode(ext, bgr, [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == '.jpg' else [])
    if not ok:
        raise ImageError(f'could not encode a {bgr.shape} image as {fmt}')
    return buf.tobytes()
