"""The .bbz container and the model-free coders (docs/FORMAT.md), from the document alone."""

from __future__ import annotations

import lzma
import zlib

MAGIC = b"\xb8BZ"


class SpecError(Exception):
    """The input is not a valid .bbz stream (the reference decoder's one error)."""


def varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos >= len(data):
            raise SpecError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte == 0 and i:
                raise SpecError("varint not in its shortest form")
            return value, pos
    raise SpecError("varint longer than 10 bytes")


def decode_stream(data: bytes, natural_block) -> bytes:
    """All streams of ``data``; ``natural_block(payload, raw_size, model_id)`` decodes 0x06."""
    out, pos = bytearray(), 0
    while pos < len(data):
        if data[pos : pos + 3] != MAGIC or data[pos + 3] != 0x10:
            raise SpecError("not a version-1 stream")
        pos += 4
        stream = bytearray()
        while True:
            coder = data[pos]
            pos += 1
            if coder == 0:
                total, pos = varint(data, pos)
                crc = int.from_bytes(data[pos : pos + 4], "little")
                pos += 4
                if total != len(stream) or crc != zlib.crc32(stream):
                    raise SpecError("end marker does not match the stream")
                break
            flags = data[pos]
            pos += 1
            model_id = b""
            if flags & 1:
                model_id, pos = data[pos : pos + 8], pos + 8
            raw_size, pos = varint(data, pos)
            size, pos = varint(data, pos)
            crc = int.from_bytes(data[pos : pos + 4], "little")
            payload = data[pos + 4 : pos + 4 + size]
            pos += 4 + size
            block = natural_block(payload, raw_size, model_id) if coder == 0x06 else plain(coder, payload, raw_size)
            if len(block) != raw_size or zlib.crc32(block) != crc:
                raise SpecError("block does not match its size or CRC")
            stream += block
        out += stream
    return bytes(out)


def plain(coder: int, payload: bytes, raw_size: int) -> bytes:
    """The model-free coders: stored, lzma (raw LZMA2), zstd (one frame), order0."""
    if coder == 0x7F:
        return bytes(payload)
    if coder == 0x02:
        dict_size = min(max(1 << max(raw_size - 1, 1).bit_length(), 64 << 10), 8 << 20)
        filters = [{"id": lzma.FILTER_LZMA2, "dict_size": dict_size}]
        return lzma.decompress(payload, format=lzma.FORMAT_RAW, filters=filters)
    if coder == 0x04:
        import zstandard  # the frame is RFC 8878's; any zstd decoder reads it

        return zstandard.ZstdDecompressor().decompress(payload, max_output_size=raw_size)
    if coder == 0x01:
        return order0(payload, raw_size)
    raise SpecError(f"coder {coder:#x} is not a model-free coder")


def order0(payload: bytes, raw_size: int) -> bytes:
    lanes, pos = varint(payload, 0)
    precision = payload[pos]
    bitmap = payload[pos + 1 : pos + 33]
    pos += 33
    symbols = [s for s in range(256) if bitmap[s // 8] >> (s % 8) & 1]
    freqs = []
    for _ in symbols[:-1]:
        f, pos = varint(payload, pos)
        freqs.append(f)
    freqs.append((1 << precision) - sum(freqs))
    starts = [sum(freqs[:i]) for i in range(len(freqs))]
    heads = [int.from_bytes(payload[pos + 4 * j : pos + 4 * j + 4], "little") for j in range(lanes)]
    pos += 4 * lanes
    words = [int.from_bytes(payload[p : p + 2], "little") for p in range(pos, len(payload), 2)]
    out = bytearray()
    for start in range(0, raw_size, lanes):
        step = range(start, min(start + lanes, raw_size))
        needy = []
        for i in step:
            lane = i % lanes
            slot = heads[lane] % (1 << precision)
            s = max(j for j in range(len(starts)) if starts[j] <= slot)
            out.append(symbols[s])
            heads[lane] = freqs[s] * (heads[lane] >> precision) + slot - starts[s]
            if heads[lane] < 1 << 16:
                needy.append(lane)
        take = words[len(words) - len(needy) :]
        del words[len(words) - len(needy) :]
        for lane, word in zip(needy, take):
            heads[lane] = heads[lane] << 16 | word
    if any(h != 1 << 16 for h in heads) or words:
        raise SpecError("order0 message not back in its initial state")
    return bytes(out)
