"""The coder interface: a block of bytes in, a payload out, and back.

Coder IDs are written into every .bbz block; they are assigned by hand and never reused,
so a retired coder keeps its number forever (see docs/FORMAT.md).
"""

from __future__ import annotations

from typing import Protocol


class Coder(Protocol):
    coder_id: int
    name: str
    #: Content hash of the model this coder needs; b"" for model-free coders.
    model_id: bytes

    def encode(self, block: bytes) -> bytes:
        """Return the payload for ``block``."""

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        """Invert ``encode``; raise CorruptError on any inconsistency, never guess."""
