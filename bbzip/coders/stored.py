"""Stored: the payload is the raw block, so no input grows by more than the container."""

from __future__ import annotations

from bbzip.errors import CorruptError


class StoredCoder:
    coder_id = 0x7F
    name = "stored"
    model_id = b""

    def encode(self, block: bytes) -> bytes:
        return bytes(block)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        if len(payload) != raw_size:
            raise CorruptError("stored block length does not match its header")
        return bytes(payload)
