"""The public parser API of the fuzzer: every stream, block and payload header field of a
valid .bbz file, with its offsets (docs/FORMAT.md, docs/VAE.md, docs/SPEC-natural.md).

    layout(packed) -> Layout(units, fields, stream_ends, coder_ids, model_ids)
    order0_fields(packed, pos), vae_fields(packed, pos, end, item), natural_fields(packed, pos, end)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from bbzip.constants import IMAGE_BYTES
from tests.fuzz.common import NATURAL_CODER_ID, VAE_CODER_IDS


@dataclass(frozen=True)
class Field:
    kind: str
    start: int
    end: int
    value: int


@dataclass(frozen=True)
class Unit:
    kind: str  # "header" | "block" | "end"
    start: int
    end: int


@dataclass
class Layout:
    """Where everything of a valid .bbz file lies."""

    units: list[Unit] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    # (offset in packed, bytes of data decoded so far) at the end of each stream
    stream_ends: list[tuple[int, int]] = field(default_factory=list)
    coder_ids: set[int] = field(default_factory=set)
    model_ids: set[bytes] = field(default_factory=set)  # of the models its VAE blocks use


def layout(packed: bytes) -> Layout:
    """Every stream header, block, end marker and header field of a valid file."""
    from bbzip.coders.varint import encode_varint
    from bbzip.container import StreamEnd, StreamReader

    seed = Layout()
    reader = StreamReader(io.BytesIO(packed))
    decoded = 0
    while True:
        start = reader.consumed
        if not reader.next_stream():
            break
        seed.units.append(Unit("header", start, reader.consumed))
        seed.fields += [
            Field("magic", start, start + 3, 0),
            Field("version", start + 3, start + 4, packed[start + 3]),
        ]
        while True:
            start = reader.consumed
            item = reader.next_block()
            if isinstance(item, StreamEnd):
                n = len(encode_varint(item.raw_size))
                seed.fields += [
                    Field("end-marker", start, start + 1, 0),
                    Field("end-total", start + 1, start + 1 + n, item.raw_size),
                    Field("end-crc", start + 1 + n, start + 5 + n, item.crc),
                ]
                seed.units.append(Unit("end", start, reader.consumed))
                seed.stream_ends.append((reader.consumed, decoded))
                break
            pos = start + 2 + len(item.model_id)
            vae = item.coder_id in VAE_CODER_IDS
            seed.fields += [
                Field("coder", start, start + 1, item.coder_id),
                Field("flags", start + 1, start + 2, packed[start + 1]),
            ]
            if item.model_id:
                seed.fields.append(
                    Field("model-id", start + 2, pos, int.from_bytes(item.model_id, "big"))
                )
            raw_kind = "vae-raw-size" if vae else "raw-size"
            for kind, value in ((raw_kind, item.raw_size), ("payload-size", item.payload_size)):
                n = len(encode_varint(value))
                seed.fields.append(Field(kind, pos, pos + n, value))
                pos += n
            seed.fields.append(Field("block-crc", pos, pos + 4, item.crc))
            reader.skip_payload(item)
            if item.coder_id == 1:
                seed.fields += order0_fields(packed, pos + 4)
            if vae:
                seed.fields += vae_fields(packed, pos + 4, reader.consumed, item)
                seed.model_ids.add(item.model_id)
            if item.coder_id == NATURAL_CODER_ID:
                seed.fields += natural_fields(packed, pos + 4, reader.consumed)
            seed.coder_ids.add(item.coder_id)
            seed.units.append(Unit("block", start, reader.consumed))
            decoded += item.raw_size
    assert reader.consumed == len(packed)
    return seed




def order0_fields(packed: bytes, pos: int) -> list[Field]:
    from bbzip.coders.varint import decode_varint

    lanes, after = decode_varint(packed, pos)
    fields = [
        Field("o0-lanes", pos, after, lanes),
        Field("o0-precision", after, after + 1, packed[after]),
        Field("o0-bitmap", after + 1, after + 33, 0),
    ]
    present = sum(b.bit_count() for b in packed[after + 1 : after + 33])
    pos = after + 33
    for _ in range(present - 1):
        value, end = decode_varint(packed, pos)
        if len(fields) == 3:
            fields.append(Field("o0-freq", pos, end, value))
        pos = end
    fields.append(Field("o0-head", pos, pos + 4, int.from_bytes(packed[pos : pos + 4], "little")))
    return fields


def vae_fields(packed: bytes, pos: int, end: int, item) -> list[Field]:
    """The fields of a VAE payload packed[pos:end] (docs/VAE.md): the header code, the ink
    byte of a binary model, the first lane's rANS head, and the tail's first and last words
    (the last is popped first)."""
    from bbzip.coders.varint import decode_varint
    from bbzip.vae.bitsback import choose_lanes
    from bbzip.vae.coder import CANONICAL_HEADERS
    from bbzip.vae.model import find_model

    code, after = decode_varint(packed, pos)
    fields = [Field("vae-code", pos, after, code)]
    header = len(CANONICAL_HEADERS[code >> 1]) if code & 1 else code >> 1
    at = after + (0 if code & 1 else header)
    if find_model(item.model_id).binary:
        fields.append(Field("vae-ink", at, at + 1, packed[at]))
        at += 1
    lanes = choose_lanes((item.raw_size - header) // IMAGE_BYTES)
    fields.append(Field("vae-head", at, at + 8, int.from_bytes(packed[at : at + 8], "little")))
    words = at + 8 * lanes
    def word(at: int) -> int:
        return int.from_bytes(packed[at : at + 4], "little")

    if end - words >= 8:
        fields.append(Field("vae-word-bottom", words, words + 4, word(words)))
    if end - words >= 4:
        fields.append(Field("vae-word-top", end - 4, end, word(end - 4)))
    return fields


def natural_fields(packed: bytes, pos: int, end: int) -> list[Field]:
    """The fields of a natural-image payload packed[pos:end] (docs/FORMAT.md): the run count,
    the first run's gap, count, height, width and channels, the plain bytes' coder and size,
    the first group's size and its first byte (tile side and calibration flags)."""
    from bbzip.coders.varint import decode_varint

    runs, at = decode_varint(packed, pos)
    fields = [Field("nat-runs", pos, at, runs)]
    for run in range(runs):
        for kind in ("nat-gap", "nat-count", "nat-height", "nat-width"):
            value, after = decode_varint(packed, at)
            if not run:
                fields.append(Field(kind, at, after, value))
            at = after
        if not run:
            fields.append(Field("nat-channels", at, at + 1, packed[at]))
        at += 1
    fields.append(Field("nat-plain-coder", at, at + 1, packed[at]))
    size, after = decode_varint(packed, at + 1)
    fields.append(Field("nat-plain-size", at + 1, after, size))
    at = after + size
    if at < end:
        size, after = decode_varint(packed, at)
        fields.append(Field("nat-group-size", at, after, size))
        if after < end:  # the model's payload: tile side and calibration flags (docs/IMAGES.md)
            fields.append(Field("nat-tile-flags", after, after + 1, packed[after]))
    return fields
