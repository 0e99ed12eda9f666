"""Hostile replacement values for each kind of header field."""

from __future__ import annotations

from bbzip.constants import IMAGE_BYTES
from tests.fuzz.common import MODEL_IDS
from tests.fuzz.fields import Field


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _varint_values(v: int) -> list[bytes]:
    from bbzip.container import MAX_BLOCK_PAYLOAD, MAX_BLOCK_RAW

    numbers = [
        0,
        1,
        v - 1,
        v + 1,
        2 * v + 1,
        127,
        128,
        1 << 16,
        MAX_BLOCK_RAW,
        MAX_BLOCK_RAW + 1,
        MAX_BLOCK_PAYLOAD,
        MAX_BLOCK_PAYLOAD + 1,
        1 << 32,
        (1 << 32) + v,
        1 << 40,
        (1 << 63) - 1,
        (1 << 64) - 1,
    ]
    raw = [
        bytes([(v & 0x7F) | 0x80]) + _varint(v >> 7) + (b"\x80\x00" if not v >> 7 else b"\x00"),
        b"\xff" * 10,  # 10 bytes that never end
        b"\xff" * 9 + b"\x01",  # 2**64 - 1
        b"\xff" * 9 + b"\x7f",  # past 64 bits
        b"\x80",  # a continuation into the next field
    ]
    return [_varint(n) for n in numbers if n >= 0] + raw


def _byte_values(v: int) -> list[bytes]:
    return [bytes([b]) for b in (0, 1, 2, 3, 4, 0x7E, 0x7F, 0x80, 0xFE, 0xFF, v ^ 1, v ^ 0x80)]


def _u32_values(v: int) -> list[bytes]:
    values = (
        v ^ 1,
        v ^ 0x80000000,
        0,
        0xFFFFFFFF,
        0xFFFF0000,
        0xFFFF,
        0x10000,
        int.from_bytes(v.to_bytes(4, "big"), "little"),
    )
    return [x.to_bytes(4, "little") for x in values]


def _u64_values(v: int) -> list[bytes]:
    low = 1 << 32  # a 64-bit rANS head must be at least this
    values = (v ^ 1, v ^ (1 << 63), v >> 1, 0, 1, low - 1, low, low + 1, 1 << 63, (1 << 64) - 1)
    return [x.to_bytes(8, "little") for x in values] + [v.to_bytes(8, "big")]


def _vae_raw_values(v: int) -> list[bytes]:
    """A VAE block's raw size: the usual values, and sizes that are a whole number of images
    after the header: none, one more, 25 (the most on one rANS lane), 26, 1000, and as many
    as the block limit holds (64 MiB: 85,598 digits on 512 lanes) over the seed's payload."""
    from bbzip.container import MAX_BLOCK_RAW

    header, images = v % IMAGE_BYTES, v // IMAGE_BYTES
    counts = (0, images + 1, 25, 26, 1000, (MAX_BLOCK_RAW - header) // IMAGE_BYTES)
    return _varint_values(v) + [_varint(header + IMAGE_BYTES * k) for k in counts]


def _dedupe(values: list[bytes], old: bytes) -> list[bytes]:
    return [v for v in dict.fromkeys(values) if v != old]


def field_values(f: Field, old: bytes) -> list[bytes]:
    """Replacement bytes for a header field: limits, off-by-ones, overflows, odd encodings."""
    if f.kind == "vae-raw-size":
        return _vae_raw_values(f.value)
    if f.kind == "model-id":  # another installed model, or one that is nowhere
        others = [m for m in MODEL_IDS if m != old]
        flips = [bytes([old[0] ^ 1]) + old[1:], old[:-1] + bytes([old[-1] ^ 0x80])]
        return flips + [bytes(8), b"\xff" * 8, old[::-1]] + others
    if f.kind == "vae-code":  # odd: a canonical header; even: 2 x a verbatim header's length
        from bbzip.vae.coder import MAX_HEADER

        codes = (0, 1, 2, 3, 5, 7, 9, 2 * 13, 2 * 16, 2 * MAX_HEADER, 2 * MAX_HEADER + 2, 1 << 40)
        # endless, cut short, non-canonical
        odd = [b"\xff" * 10, b"\x80", bytes([old[0] | 0x80]) + b"\x00"]
        return _dedupe([_varint(c) for c in codes] + odd, old)
    if f.kind == "nat-tile-flags":  # sides 32..256 (4..32) with and without each flag; others
        sides = [side | flags for side in (4, 8, 16, 32) for flags in (0, 0x01, 0x40, 0x80, 0xC1)]
        return _dedupe(_byte_values(f.value) + [bytes([b]) for b in sides + [0, 6, 0x3F, 0xFF]], old)
    if f.kind.startswith("nat-") and f.kind not in ("nat-channels", "nat-plain-coder"):
        return _dedupe(_varint_values(f.value) + [_varint(1 << 20), _varint(1 << 30)], old)
    if f.kind in ("nat-channels", "nat-plain-coder"):  # 1|3; a model-free coder ID
        return _dedupe(_byte_values(f.value) + [bytes([b]) for b in (1, 2, 3, 4, 5, 6, 0x7F)], old)
    if f.kind == "vae-ink":
        return _dedupe(_byte_values(f.value) + [b"\x01", b"\xff"], old)
    if f.kind == "vae-head":
        return _u64_values(f.value)
    if f.kind in ("vae-word-bottom", "vae-word-top"):
        return _u32_values(f.value)
    if f.kind == "magic":
        return [b"\xb8BY", b"8BZ", b"\x00\x00\x00", b"\x1f\x8b\x08", b"BZh", old[::-1]]
    if f.kind == "version":
        return [bytes([b]) for b in (0x00, 0x01, 0x11, 0x18, 0x1F, 0x20, 0x90, 0xF0, 0xFF)]
    if f.kind in ("raw-size", "payload-size", "end-total", "o0-lanes", "o0-freq"):
        return _varint_values(f.value)
    if f.kind in ("coder", "flags", "end-marker", "o0-precision"):
        return _byte_values(f.value) + (
            [bytes([16]), bytes([15])] if f.kind == "o0-precision" else []
        )
    if f.kind in ("block-crc", "end-crc", "o0-head"):
        return _u32_values(f.value)
    if f.kind == "o0-bitmap":
        first_set = next(i for i in range(256) if old[i // 8] >> (i % 8) & 1)
        first_clear = next((i for i in range(256) if not old[i // 8] >> (i % 8) & 1), 0)
        out = []
        for bit in (first_set, first_clear):
            b = bytearray(old)
            b[bit // 8] ^= 1 << (bit % 8)
            out.append(bytes(b))
        return out + [bytes(32), b"\xff" * 32]
    raise ValueError(f.kind)
