"""The numcodecs codec ``bbzip`` (extra ``bbzip[zarr]``), found by numcodecs through the
``numcodecs.codecs`` entry point: ``numcodecs.get_codec({"id": "bbzip"})``.

    zarr.create_array(store, shape=..., chunks=(256, 256, 3), dtype="uint8",
                      zarr_format=2, compressor=Bbzip(level=6))

Each chunk becomes one self-describing payload (chunks.py): image chunks get the learned
coder, everything else the generic ones. Zarr format 3 takes the same codec as a serializer
through bbzip.integrations.zarr3.
"""

from __future__ import annotations

from bbzip import api
from bbzip.integrations import chunks, require

_numcodecs_abc = require("numcodecs.abc", "zarr")
_compat = require("numcodecs.compat", "zarr")

CODEC_ID = "bbzip"


class Bbzip(_numcodecs_abc.Codec):
    """``level`` 1..9 as the CLI's (the learned coder from 4 up); ``coder`` "auto" or a forced
    coder name; ``model`` a model file for image chunks instead of the shipped one (it must
    be reachable when reading too, or be on BBZIP_MODEL_PATH). The output never depends on
    the machine or on how many chunks are coded at once."""

    codec_id = CODEC_ID

    def __init__(self, level: int = api.DEFAULT_LEVEL, coder: str = "auto", model: str | None = None):
        error = chunks.config_error(level, coder)
        if error is not None:
            raise error
        self.level, self.coder, self.model = level, coder, model

    def encode(self, buf) -> bytes:
        return chunks.encode_chunk(_compat.ensure_ndarray_like(buf), self.level, self.coder, self.model)

    def decode(self, buf, out=None):
        models = () if self.model is None else (self.model,)
        return _compat.ndarray_copy(chunks.decode_chunk(_compat.ensure_bytes(buf), models), out)

    def get_config(self) -> dict:
        config = {"id": self.codec_id, "level": self.level, "coder": self.coder}
        if self.model is not None:
            config["model"] = str(self.model)
        return config

    def __repr__(self) -> str:
        model = "" if self.model is None else f", model={str(self.model)!r}"
        return f"Bbzip(level={self.level}, coder={self.coder!r}{model})"
