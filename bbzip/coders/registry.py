"""Coder IDs as written in .bbz blocks. Assigned by hand; a retired ID is never reused.

    0x00  reserved: the container's end-of-stream marker
    0x01  order0   static order-0 rANS over bytes
    0x02  lzma     raw LZMA2, xz -6e settings
    0x03  vae      bits-back VAE coder for images (needs a model)
    0x04  (reserved for the fast LZ coder of the compression levels)
    0x05  (reserved for the digit VAE coder with seeded initial bits)
    0x06  (reserved for the natural-image coder: any size, gray and RGB)
    0x7F  stored   raw bytes
"""

from __future__ import annotations

from bbzip.coders.lzma_coder import LzmaCoder
from bbzip.coders.order0 import Order0Coder
from bbzip.coders.stored import StoredCoder
from bbzip.errors import UnsupportedError

VAE_CODER_ID = 0x03

MODEL_FREE = {coder.coder_id: coder for coder in (Order0Coder(), LzmaCoder(), StoredCoder())}
NAMES = {0x01: "order0", 0x02: "lzma", VAE_CODER_ID: "vae", 0x7F: "stored"}


def coder_name(coder_id: int) -> str:
    return NAMES.get(coder_id, f"unknown({coder_id:#04x})")


def model_free_coder(name: str):
    for coder in MODEL_FREE.values():
        if coder.name == name:
            return coder
    raise UnsupportedError(f"unknown coder {name!r}")


def decoder_for(coder_id: int, model_id: bytes, extra_models=()):
    """The coder able to decode a block with these IDs, or a clear error; ``extra_models``
    are model files to search besides the installed ones."""
    if coder_id in MODEL_FREE:
        if model_id:
            raise UnsupportedError(f"coder {coder_name(coder_id)} takes no model")
        return MODEL_FREE[coder_id]
    if coder_id == VAE_CODER_ID:
        from bbzip.vae.coder import vae_coder_for_model_id

        return vae_coder_for_model_id(model_id, extra_models)
    raise UnsupportedError(f"unknown coder ID {coder_id:#04x} (made by a newer bbzip?)")
