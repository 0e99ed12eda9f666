"""The ``bbzip`` codec for Zarr format 3 (extra ``bbzip[zarr]``): an array-to-bytes codec
(a serializer, since it needs the chunk's shape) named ``numcodecs.bbzip``, built on the
numcodecs wrappers that zarr-python ships (``zarr.codecs.numcodecs`` from zarr 3.1.3; before
that they lived in ``numcodecs.zarr3``). zarr finds it through the ``zarr.codecs`` entry point,
so reading needs no import:

    zarr.create_array(store, shape=..., chunks=(256, 256, 3), dtype="uint8",
                      serializer=Bbzip(level=6), compressors=None)

Metadata: ``{"name": "numcodecs.bbzip", "configuration": {"level": 6, "coder": "auto"}}``.
"""

from __future__ import annotations

import importlib
import warnings

from bbzip import api
from bbzip.errors import UnsupportedError
from bbzip.integrations import chunks, require

_NOT_IN_SPEC = "Numcodecs codecs are not in the Zarr version 3 specification"


def _wrapper_base():
    require("zarr", "zarr")
    require("numcodecs", "zarr")
    for module in ("zarr.codecs.numcodecs", "numcodecs.zarr3"):
        try:
            base = getattr(importlib.import_module(module), "_NumcodecsArrayBytesCodec", None)
        except ImportError:
            continue
        if base is not None:
            return base
    raise UnsupportedError("this zarr has no numcodecs wrappers for format 3: pip install 'zarr>=3.1.3'")


class Bbzip(_wrapper_base(), codec_name="bbzip"):
    """Configuration as bbzip.integrations.numcodecs_codec.Bbzip's: level, coder, model."""

    def __init__(self, **config) -> None:
        # Checked here, not at the first chunk: the wrapper makes its numcodecs codec lazily.
        error = chunks.config_error(config.get("level", api.DEFAULT_LEVEL), config.get("coder", "auto"))
        if error is not None:
            raise error
        # zarr warns on every numcodecs wrapper it builds that other Zarr implementations may
        # not know the codec; for bbzip that is what the codec name already says, and the
        # warning came on every array opened. Silenced here, for this one message only.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _NOT_IN_SPEC)
            super().__init__(**config)
