"""Every coder, one entry each: the ID written in .bbz blocks, the name users type, and
where the code lives. Names and IDs everywhere else derive from this table.

IDs are assigned by hand; a retired ID is never reused. 0x00 is the container's
end-of-stream marker.
0x03 and 0x05 are one coder, the digit VAE, with zero and with seeded initial bits: the
table has its entry under 0x03 and VARIANTS the other ID (compression picks per model).

The table names modules rather than importing them, so that coders may import their IDs
from here without a circle, and a command only loads the coders it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import NamedTuple

from bbzip.constants import VAE_CODER_ID
from bbzip.errors import UnsupportedError

SEEDED_VAE_CODER_ID = 0x05
VAE_CODER_IDS = (VAE_CODER_ID, SEEDED_VAE_CODER_ID)


class Entry(NamedTuple):
    coder_id: int
    name: str
    home: str  # "module:attribute": a coder class (model-free) or a function(model_id, extra)
    needs_model: bool


ENTRIES = (
    Entry(0x01, "order0", "bbzip.coders.order0:Order0Coder", False),
    Entry(0x02, "lzma", "bbzip.coders.lzma_coder:LzmaCoder", False),
    Entry(0x04, "zstd", "bbzip.coders.zstd_coder:ZstdCoder", False),
    Entry(VAE_CODER_ID, "vae", "bbzip.vae.coder:vae_coder_for_model_id", True),
    Entry(0x06, "natural", "bbzip.images.coder:natural_coder_for_model_id", True),
    Entry(0x07, "jpeg", "bbzip.images.jpeg:LeptonCoder", False),
    Entry(0x08, "png", "bbzip.images.png_coder:png_coder_for_model_id", True),
    Entry(0x09, "imagefile", "bbzip.images.filecoder:imagefile_coder_for_model_id", True),
    Entry(0x7F, "stored", "bbzip.coders.stored:StoredCoder", False),
)
BY_ID = {entry.coder_id: entry for entry in ENTRIES}
BY_NAME = {entry.name: entry for entry in ENTRIES}
NAMES = tuple(BY_NAME)
NATURAL_CODER_ID = BY_NAME["natural"].coder_id
# Other IDs of a coder in ENTRIES (same name, another variant of its format).
VARIANTS = {SEEDED_VAE_CODER_ID: Entry(SEEDED_VAE_CODER_ID, "vae", "bbzip.vae.coder:seeded_vae_coder_for_model_id", True)}
MODEL_CODER_IDS = frozenset(entry.coder_id for entry in (*ENTRIES, *VARIANTS.values()) if entry.needs_model)

_instances: dict[int, object] = {}


def _load(entry: Entry):
    module, attribute = entry.home.split(":")
    return getattr(import_module(module), attribute)


def coder_name(coder_id: int) -> str:
    entry = BY_ID.get(coder_id) or VARIANTS.get(coder_id)
    return entry.name if entry else f"unknown({coder_id:#04x})"


def model_free(coder_id: int):
    """The shared instance of a model-free coder."""
    if coder_id not in _instances:
        entry = BY_ID[coder_id]
        if entry.needs_model:
            raise UnsupportedError(f"coder {entry.name} needs a model")
        _instances[coder_id] = _load(entry)()
    return _instances[coder_id]


def model_free_coder(name: str):
    entry = BY_NAME.get(name)
    if entry is None or entry.needs_model:
        raise UnsupportedError(f"unknown coder {name!r}")
    return model_free(entry.coder_id)


def __getattr__(name: str):
    if name == "MODEL_FREE":  # {coder_id: instance} for every model-free coder
        return {e.coder_id: model_free(e.coder_id) for e in ENTRIES if not e.needs_model}
    raise AttributeError(name)


def decoder_for(coder_id: int, model_id: bytes, extra_models=()):
    """The coder able to decode a block with these IDs, or a clear error; ``extra_models``
    are model files to search besides the installed ones."""
    entry = BY_ID.get(coder_id) or VARIANTS.get(coder_id)
    if entry is None:
        raise UnsupportedError(f"unknown coder ID {coder_id:#04x} (made by a newer bbzip?)")
    if not entry.needs_model:
        if model_id:
            raise UnsupportedError(f"coder {entry.name} takes no model")
        return model_free(coder_id)
    return _load(entry)(model_id, extra_models)
