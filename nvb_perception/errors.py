"""One exception family for everything a user can get wrong or a model can break."""


class PerceptionError(Exception):
    """Base class: a clear, user-facing error (bad input, bad configuration, missing file)."""


class ImageError(PerceptionError, ValueError):
    """An image or image message cannot be decoded (encoding, size, step, truncated data)."""


class BackendError(PerceptionError, RuntimeError):
    """A model backend cannot be loaded or run."""


class ConfigError(PerceptionError, ValueError):
    """A configuration value is out of range or inconsistent."""


class ModelFileError(PerceptionError, FileNotFoundError):
    """A model, engine or weight file is missing or corrupt; the message names the file and the fix."""
