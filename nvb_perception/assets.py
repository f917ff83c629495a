"""Where fetched data, pretrained weights and exported models live (filled by `make setup`); file hashes.

Model, weight and metadata files are read through `require_file`, `read_json`, `read_safetensors` and
`read_npz`: a missing or corrupt file raises ModelFileError naming the file and the fix, never a traceback
from the parser. Nothing here unpickles (safetensors, JSON and npz with allow_pickle=False only).
"""
import hashlib
import json
import os
import zipfile
from pathlib import Path

from nvb_perception.errors import ModelFileError


def assets_dir() -> Path:
    """$NVB_PERCEPTION_ASSETS, else ./.assets of the source checkout, else ~/.cache/nvb_perception."""
    if os.environ.get('NVB_PERCEPTION_ASSETS'):
        return Path(os.environ['NVB_PERCEPTION_ASSETS'])
    checkout = Path(__file__).resolve().parents[1] / '.assets'
    return checkout if checkout.is_dir() else Path.home() / '.cache' / 'nvb_perception'


def model_dir() -> Path:
    """Folder of the exported ONNX models."""
    return assets_dir() / 'models'


SETUP_FIX = ('Run `make setup` (or nvb-export-models) to create it, or set NVB_PERCEPTION_ASSETS to the folder '
             'that holds it')


def require_file(path: str | Path, what: str, fix: str = SETUP_FIX) -> Path:
    """Return `path` if it is a file, else raise ModelFileError naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f'{what} not found: {path}. {fix}')
    return path


def corrupt_file_error(path: str | Path, what: str, error: Exception, fix: str = SETUP_FIX) -> ModelFileError:
    """The ModelFileError for a file that exists but cannot be parsed (one line: the parser's reason in it)."""
    why = ' '.join(str(error).split()) or type(error).__name__
    return ModelFileError(f'{what} {path} is corrupt or unreadable ({why}). Delete it, then {fix[:1].lower()}{fix[1:]}')


def read_json(path: str | Path, what: str, fix: str = SETUP_FIX) -> dict:
    """A JSON object from a file (model metadata, sidecars); ModelFileError if missing or not a JSON object."""
    path = require_file(path, what, fix)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise corrupt_file_error(path, what, error, fix) from None
    if not isinstance(data, dict):
        raise corrupt_file_error(path, what, ValueError(f'a JSON {type(data).__name__}, not an object'), fix)
    return data


def read_safetensors(path: str | Path, what: str, fix: str = SETUP_FIX) -> dict:
    """A torch state dict from a .safetensors file (no pickle); ModelFileError if missing or corrupt."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    path = require_file(path, what, fix)
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise corrupt_file_error(path, what, error, fix) from None


def read_npz(path: str | Path, what: str, fix: str = SETUP_FIX) -> dict:
    """Every array of an .npz file (allow_pickle=False); ModelFileError if missing, corrupt or pickled."""
    import numpy as np
    path = require_file(path, what, fix)
    try:
        archive = np.load(path, allow_pickle=False)
        if not hasattr(archive, 'files'):
            raise ValueError('a single .npy array, not an .npz archive')
        with archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise corrupt_file_error(path, what, error, fix) from None


HASH_CHUNK_BYTES = 1 << 20   # model files are tens to hundreds of MB: hash them in chunks, memory stays flat


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()
