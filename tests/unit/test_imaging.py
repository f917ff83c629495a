"""Image buffers <-> numpy: every encoding, and one clear error family for bad input."""
import numpy as np
import pytest

from nvb_perception.errors import ImageError, PerceptionError
from nvb_perception.imaging import (
    ENCODINGS,
    decode_compressed,
    encode_compressed,
    image_to_numpy,
    numpy_to_image_fields,
    to_bgr8,
)

RNG = np.random.default_rng(0)


def sample(encoding, h=5, w=7):
    dtype, ch = ENCODINGS[encoding]
    if np.dtype(dtype).kind == 'f':
        return RNG.random((h, w) if ch == 1 else (h, w, ch)).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(0, info.max, size=(h, w) if ch == 1 else (h, w, ch), dtype=dtype)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
def test_roundtrip_every_encoding(encoding):
    h, w = (4, 6) if ENCODINGS[encoding][1] == 2 else (5, 7)
    arr = sample(encoding, h, w)
    f = numpy_to_image_fields(arr, encoding)
    back = image_to_numpy(f['encoding'], f['height'], f['width'], f['step'], f['data'], f['is_bigendian'])
    np.testing.assert_array_equal(back, arr)
    bgr = to_bgr8(back, encoding)
    assert bgr.shape == (h, w, 3) and bgr.dtype == np.uint8


def test_row_padding_is_skipped():
    arr = sample('rgb8')
    padded = np.zeros((5, 7 * 3 + 11), np.uint8)
    padded[:, :21] = arr.reshape(5, 21)
    back = image_to_numpy('rgb8', 5, 7, 32, padded.tobytes())
    np.testing.assert_array_equal(back, arr)


def test_big_endian_mono16():
    arr = np.arange(12, dtype=np.uint16).reshape(3, 4) * 300
    back = image_to_numpy('mono16', 3, 4, 8, arr.astype('>u2').tobytes(), is_bigendian=1)
    np.testing.assert_array_equal(back, arr)


def test_color_conversions_are_right():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255   # pure red
    assert to_bgr8(rgb, 'rgb8')[0, 0].tolist() == [0, 0, 255]
    bgra = np.dstack([rgb[..., ::-1], np.full((2, 2), 7, np.uint8)])
    assert to_bgr8(bgra, 'bgra8')[0, 0].tolist() == [0, 0, 255]
    # UYVY with U=V=128 is grey; BT.601 video range maps luma 200 to (200 - 16) * 255 / 219 = 214
    uyvy = np.array([[[128, 200], [128, 200]]], np.uint8)
    assert to_bgr8(uyvy, 'uyvy')[0, 0].tolist() == [214, 214, 214]
    yuyv = np.array([[[200, 128], [200, 128]]], np.uint8)
    assert to_bgr8(yuyv, 'yuyv')[0, 0].tolist() == [214, 214, 214]


@pytest.mark.parametrize('encoding, h, w, step, nbytes, match', [
    ('bayer_rggb8', 2, 2, 2, 4, 'unsupported image encoding'),
    ('rgb8', 0, 0, 0, 0, 'empty image'),
    ('rgb8', 2, 4, 11, 24, 'step 11 is invalid'),
    ('rgb8', 4, 4, 12, 40, 'truncated image data'),
    ('mono16', 2, 2, 3, 6, 'step 3 is invalid'),
    ('rgb8', 20000, 2, 6, 6, 'exceeds'),
])
def test_bad_buffers_raise_image_error(encoding, h, w, step, nbytes, match):
    with pytest.raises(ImageError, match=match):
        image_to_numpy(encoding, h, w, step, bytes(nbytes))


def test_image_error_is_a_perception_error():
    assert issubclass(ImageError, PerceptionError)


def test_numpy_to_fields_checks_shape_and_dtype():
    with pytest.raises(ImageError, match='needs a uint8 array with 3'):
        numpy_to_image_fields(np.zeros((4, 4), np.uint8), 'rgb8')
    with pytest.raises(ImageError, match='needs a uint16'):
        numpy_to_image_fields(np.zeros((4, 4), np.uint8), 'mono16')


def test_compressed_roundtrip_and_errors():
    bgr = sample('bgr8', 16, 16)
    png = encode_compressed(bgr, 'png')
    np.testing.assert_array_equal(decode_compressed('png', png), bgr)
    jpg = encode_compressed(bgr, 'jpeg')
    assert decode_compressed('bgr8; jpeg compressed bgr8', jpg).shape == (16, 16, 3)
    with pytest.raises(ImageError, match='corrupt compressed image'):
        decode_compressed('jpeg', jpg[: len(jpg) // 4])
    with pytest.raises(ImageError, match='empty compressed'):
        decode_compressed('jpeg', b'')
    with pytest.raises(ImageError, match='unsupported compressed format'):
        decode_compressed('webp', jpg)
