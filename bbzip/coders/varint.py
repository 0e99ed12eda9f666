"""LEB128 unsigned varints shared by the container and coder headers."""

from __future__ import annotations

from bbzip.errors import CorruptError


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes | memoryview, pos: int, limit: int = (1 << 64) - 1) -> tuple[int, int]:
    """Return (value, next position); at most 10 bytes, and the value must be <= limit."""
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise CorruptError("truncated length field")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > limit:
                raise CorruptError(f"length field {value} exceeds the limit {limit}")
            if i and byte == 0:
                raise CorruptError("non-canonical length field")
            return value, pos + i + 1
        shift += 7
    raise CorruptError("length field too long")
