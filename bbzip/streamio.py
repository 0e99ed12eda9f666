"""Exact reads and writes on file objects; the bottom of the stack (stdlib only).

Pipes and raw or non-blocking streams may return or accept less than asked; every layer
that needs "all of it" uses these two instead of repeating the loops.
"""

from __future__ import annotations

from typing import BinaryIO


def read_full(src: BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, retrying short reads; fewer only at the end of input."""
    first = src.read(size)
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    left = size - len(first)
    while left:
        chunk = src.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_all(dst: BinaryIO, data: bytes) -> None:
    """Write everything: a raw or non-blocking stream may accept only part of a write."""
    view = memoryview(data)
    while view:
        written = dst.write(view)
        if written is None or written <= 0:
            raise OSError("short write to the output")
        view = view[written:]
