"""TensorRT engine cache: deterministic file names, verified loads, atomic saves (no tensorrt import).

An engine is only valid for one ONNX file, TensorRT version, GPU, precision and set of optimization-profile
shapes, so all of them go into the `EngineKey`, the file name and a JSON sidecar. A cache hit needs the sidecar
key to match and the engine bytes to match the SHA-256 recorded in the sidecar, so a stale or truncated engine
is never deserialized. Building is injected (`build_fn`) so this module is testable without TensorRT:

    key = EngineKey(file_sha256(onnx), '10.3.0', 'Orin', '8.7', 'fp16', {'x': ((1, 4), (8, 4), (32, 4))})
    data = load_or_build_engine(onnx, 'engines', key, build_engine_bytes, allow_build=True)
"""
import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from nvb_perception.assets import file_sha256  # noqa: F401 - part of this module's API
from nvb_perception.errors import BackendError, ConfigError, ModelFileError

PRECISIONS = ('fp32', 'fp16')
DEFAULT_ENGINE_DIR = Path('engines')   # relative to the working directory, as for `nvb-build-engines`
ENGINE_SUFFIX = '.engine'
SIDECAR_SUFFIX = '.json'

Shape = tuple[int, ...]
ShapeRanges = tuple[tuple[str, Shape, Shape, Shape], ...]   # (input name, min, opt, max), sorted by name
BuildFn = Callable[[Path, str, Mapping[str, tuple[Shape, Shape, Shape]]], bytes]

_log = logging.getLogger('nvb_perception.backends')


def normalize_shapes(shapes: Mapping[str, Sequence[Sequence[int]]] | ShapeRanges | None) -> ShapeRanges:
    """Validate optimization-profile shapes and put them in one canonical, hashable order.

    Args:
        shapes: input name -> (min, opt, max) shapes, or an already normalized tuple, or None (static model).

    Returns:
        ((name, min, opt, max), ...) sorted by name, every shape a tuple of ints.

    Raises:
        ConfigError: ranks differ, a dimension is not positive, or min <= opt <= max does not hold.

    """
    if not shapes:
        return ()
    items = shapes.items() if isinstance(shapes, Mapping) else ((s[0], s[1:]) for s in shapes)
    result = []
    for name, ranges in items:
        if len(ranges) != 3:
            raise ConfigError(f'shapes[{name!r}] must be (min, opt, max), got {ranges!r}')
        low, opt, high = (tuple(int(d) for d in shape) for shape in ranges)
        if not len(low) == len(opt) == len(high) or min(low + opt + high, default=1) < 1:
            raise ConfigError(f'shapes[{name!r}]: min/opt/max need the same rank and positive dims, got {ranges!r}')
        if not all(a <= b <= c for a, b, c in zip(low, opt, high, strict=True)):
            raise ConfigError(f'shapes[{name!r}]: need min <= opt <= max in every dim, got {ranges!r}')
        result.append((str(name), low, opt, high))
    return tuple(sorted(result))


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialized TensorRT engine depends on."""

    onnx_sha256: str          # hex digest of the ONNX file
    trt_version: str          # e.g. '10.3.0'
    gpu_name: str             # e.g. 'Orin' or 'NVIDIA GeForce RTX 4090'
    compute_capability: str   # e.g. '8.7'
    precision: str            # one of PRECISIONS
    shapes: ShapeRanges = ()  # optimization profile; a mapping is accepted and normalized

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ConfigError(f'precision must be one of {PRECISIONS}, got {self.precision!r}')
        if not re.fullmatch(r'[0-9a-f]{64}', self.onnx_sha256):
            raise ConfigError(f'onnx_sha256 must be 64 lowercase hex digits, got {self.onnx_sha256!r}')
        # frozen: normalizing in place needs object.__setattr__
        object.__setattr__(self, 'shapes', normalize_shapes(self.shapes))

    def shapes_dict(self) -> dict[str, tuple[Shape, Shape, Shape]]:
        """Return the shapes as name -> (min, opt, max), the form `build_fn` takes."""
        return {name: (low, opt, high) for name, low, opt, high in self.shapes}

    def shapes_digest(self) -> str:
        """Return 8 hex digits identifying the shapes (stable across runs and Python versions)."""
        text = json.dumps([[n, list(a), list(b), list(c)] for n, a, b, c in self.shapes], separators=(',', ':'))
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def to_json(self) -> dict:
        """Return a JSON-serializable dict (tuples become lists)."""
        data = asdict(self)
        data['shapes'] = {name: [list(s) for s in ranges] for name, ranges in self.shapes_dict().items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> 'EngineKey':
        """Inverse of `to_json`; raises KeyError/TypeError/ConfigError on a malformed dict."""
        return cls(**{**data, 'shapes': data.get('shapes') or {}})


def _slug(text: str) -> str:
    return re.sub(r'[^a-z0-9.]+', '_', text.lower()).strip('_.') or 'unknown'


def engine_path(onnx_path: str | os.PathLike, engine_dir: str | os.PathLike, key: EngineKey) -> Path:
    """Return the deterministic engine file for `key`.

    Args:
        onnx_path: the ONNX model; only its stem is used (the content is in `key.onnx_sha256`).
        engine_dir: folder holding engines and their sidecars.
        key: what the engine depends on.

    Returns:
        e.g. engines/pose-0123456789ab-trt10.3.0-orin-sm87-fp16-s1a2b3c4d.engine

    """
    return Path(engine_dir) / f'{_name_prefix(onnx_path, key)}-s{key.shapes_digest()}{ENGINE_SUFFIX}'


def _name_prefix(onnx_path: str | os.PathLike, key: EngineKey) -> str:
    """Return the engine file name up to (not including) the shapes part."""
    parts = (Path(onnx_path).stem, key.onnx_sha256[:12], 'trt' + _slug(key.trt_version), _slug(key.gpu_name),
             'sm' + _slug(key.compute_capability).replace('.', ''), key.precision)
    return '-'.join(parts)


def sidecar_path(path: str | os.PathLike) -> Path:
    """Return the JSON metadata file that goes with an engine file."""
    return Path(path).with_suffix(SIDECAR_SUFFIX)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one.

    A temporary file in the same folder (os.replace is only atomic within one file system) is fsynced and
    then renamed over `path`; on any error the temporary file is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as stream:
            os.fchmod(stream.fileno(), 0o644)   # mkstemp makes 0600; nodes may run as another user
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # Make the rename itself durable (power loss on a robot); folders cannot be fsynced on every platform.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_engine(path: str | os.PathLike, data: bytes, key: EngineKey) -> None:
    """Atomically write an engine, then its sidecar (written last, so it marks a complete engine)."""
    meta = {'key': key.to_json(), 'engine_sha256': hashlib.sha256(data).hexdigest(), 'engine_bytes': len(data)}
    atomic_write_bytes(path, data)
    atomic_write_bytes(sidecar_path(path), (json.dumps(meta, indent=2, sort_keys=True) + '\n').encode())


def read_sidecar(path: str | os.PathLike) -> tuple[dict | None, str]:
    """Return (metadata, '') for an engine's sidecar, or (None, reason) if it is missing or unreadable."""
    meta_file = sidecar_path(path)
    try:
        meta = json.loads(meta_file.read_text())
        EngineKey.from_json(meta['key'])
        return meta, ''
    except FileNotFoundError:
        return None, f'missing metadata {meta_file.name}'
    except (OSError, ValueError, KeyError, TypeError) as error:   # ConfigError is a ValueError
        return None, f'corrupt metadata {meta_file.name} ({error})'


def load_cached_engine(path: str | os.PathLike, key: EngineKey) -> tuple[bytes | None, str]:
    """Return (engine bytes, 'hit') if the cached engine matches `key` and its recorded hash.

    Returns:
        (None, reason) with reason 'missing ...', 'stale: ...' (key mismatch) or 'corrupt: ...'.

    """
    path = Path(path)
    if not path.is_file():
        return None, f'missing {path.name}'
    meta, reason = read_sidecar(path)
    if meta is None:
        return None, f'stale: {reason}'
    cached = EngineKey.from_json(meta['key'])
    if cached != key:
        diff = [f'{f}: {getattr(cached, f)!r} != {getattr(key, f)!r}' for f in key.__dataclass_fields__
                if getattr(cached, f) != getattr(key, f)]
        return None, 'stale: key mismatch (' + '; '.join(diff) + ')'
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get('engine_sha256'):
        return None, f'corrupt: {path.name} does not match the sha256 in its metadata'
    return data, 'hit'


def find_engine_keys(onnx_path: str | os.PathLike, engine_dir: str | os.PathLike, key: EngineKey) -> list[EngineKey]:
    """Return the keys of cached engines that match `key` in everything except the shapes.

    Lets a runtime that was not told the build shapes find the engine `nvb-build-engines --shapes` made.
    """
    pattern = glob.escape(_name_prefix(onnx_path, key)) + '-s*' + ENGINE_SUFFIX
    found = []
    for candidate in sorted(Path(engine_dir).glob(pattern)):
        meta, _ = read_sidecar(candidate)
        if meta is not None:
            cached = EngineKey.from_json(meta['key'])
            if _without_shapes(cached) == _without_shapes(key):
                found.append(cached)
    return found


def _without_shapes(key: EngineKey) -> dict:
    return {f: getattr(key, f) for f in key.__dataclass_fields__ if f != 'shapes'}


def load_or_build_engine(onnx_path: str | os.PathLike, engine_dir: str | os.PathLike, key: EngineKey,
                         build_fn: BuildFn, force: bool = False, allow_build: bool = False) -> bytes:
    """Return a verified cached engine, or build and cache one when that is allowed.

    Never builds silently: a TensorRT build takes minutes, so a node must not start one unasked.

    Args:
        onnx_path: ONNX model the key was computed from.
        engine_dir: engine cache folder (created when saving).
        key: what the engine must match.
        build_fn: (onnx_path, precision, shapes) -> serialized engine bytes, e.g. `build_engine_bytes`.
        force: rebuild even if a valid engine is cached (implies building).
        allow_build: build when no valid engine is cached.

    Returns:
        The serialized engine.

    Raises:
        ModelFileError: no valid engine and building not allowed; names the file and the command to run.
        BackendError: `build_fn` returned no bytes.

    """
    onnx_path, path = Path(onnx_path), engine_path(onnx_path, engine_dir, key)
    if force:
        reason = 'forced rebuild'
    else:
        data, reason = load_cached_engine(path, key)
        if data is not None:
            _log.info('engine cache hit: %s', path)
            return data
    if not (force or allow_build):
        shapes = ''.join(f' --shapes {n}:{_dims(a)}:{_dims(b)}:{_dims(c)}' for n, a, b, c in key.shapes)
        raise ModelFileError(
            f'no usable TensorRT engine for {onnx_path} ({reason}): expected {path}. Build it on this device with '
            f'`nvb-build-engines {onnx_path} --precision {key.precision} --engine-dir {Path(engine_dir)}{shapes}`')
    _log.info('building TensorRT engine %s (%s); this can take minutes', path, reason)
    data = build_fn(onnx_path, key.precision, key.shapes_dict())
    if not data:
        raise BackendError(f'TensorRT build of {onnx_path} returned no engine')
    save_engine(path, bytes(data), key)
    _log.info('saved engine %s (%d bytes)', path, len(data))
    return bytes(data)


def _dims(shape: Shape) -> str:
    return 'x'.join(str(d) for d in shape)
