"""bbzip: lossless compression with bits-back VAE coding for images and rANS for the rest.

The public functions are imported lazily so that `import bbzip.cli` stays cheap.
"""

from bbzip.errors import BBZError, CorruptError, FormatError, ModelError, UnsupportedError

__all__ = [
    "BBZError",
    "CorruptError",
    "FormatError",
    "ModelError",
    "UnsupportedError",
    "compress",
    "compress_stream",
    "decompress",
    "decompress_stream",
]
__version__ = "0.1.0"

_API = {"compress", "decompress", "compress_stream", "decompress_stream"}


def __getattr__(name: str):
    if name in _API:
        from bbzip import api

        return getattr(api, name)
    raise AttributeError(f"module 'bbzip' has no attribute {name!r}")
