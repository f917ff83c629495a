"""Where fetched data, pretrained weights and exported models live (filled by `make setup`); file hashes."""
import hashlib
import os
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


def require_file(path: str | Path, what: str) -> Path:
    """Return `path` if it is a file, else raise ModelFileError naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f'{what} not found: {path}. Run `make setup` (or nvb-export-models) to create it, '
                             'or set NVB_PERCEPTION_ASSETS to the folder that holds it')
    return path


HASH_CHUNK_BYTES = 1 << 20   # model files are tens to hundreds of MB: hash them in chunks, memory stays flat


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()
