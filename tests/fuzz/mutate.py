"""Mutation fuzzing of the .bbz decoder (`make fuzz`).

    python -m tests.fuzz.mutate [--cases 10000] [--seed 1] [--jobs 1] [--timeout 5]
                                [--memory-mb 1024] [--only ID ...] [--save DIR]

Seed files: valid .bbz files of every coder. The model-free ones (stored, order0, lzma, and
auto's mixes) are made from small inputs of several kinds: empty, one byte, text, random,
skewed, constant, an extremely skewed run, multi-block (api.BLOCK_SIZE patched small) and
concatenated streams. The VAE ones (coder 3) are made with the shipped models from the
digit fixtures in tests/data: one PGM digit, two IDX digits in one block, three in three
blocks, a digit followed by text (a VAE block and a model-free one), two VAE streams; and,
once models/manifest.json lists mnist-binary-vae, binary digits with that model (ink 1 and
ink 255). VAE seeds get VAE_SHARE of the randomly drawn cases, whatever their number.
The natural-image ones (coder 6) are made from small synthetic PGM, PPM, NPY and tar
inputs, with the shipped natural model when there is one and otherwise with the lossless
stand-in of tests/natural_fake.py (the block framing, docs/FORMAT.md, is the same).
Each case mutates one seed (see CLASSES) and decodes the result.

The oracle: a case must end with exactly the bytes the mutant legitimately holds (the
original data for almost every class; a prefix for a cut at a stream boundary; the
concatenation for concatenated valid streams) or with a typed bbzip error (a subclass of
bbzip.errors.BBZError, with a message). A mutant that is still valid must decode; one that
cannot be valid (a truncation inside a stream, random bytes after the magic) must fail.
Every case is decoded from an in-memory buffer and walked by api.stream_info; one in four
is also decoded through a reader that returns 1 to 7 bytes at a time (a slow pipe). Failures:

  wrong-data      decoded, without an error, to bytes that are not acceptable
  rejected-valid  a valid mutant was refused
  exception       any exception that is not a BBZError (a user would see a traceback)
  no-message      a BBZError with an empty message
  hang            the case ran past --timeout seconds
  crash           the worker process died (a signal, a hard exit)
  memory          MemoryError under the worker's address-space limit (--memory-mb)
  info            stream_info raised a non-BBZError, or disagreed with a successful decode
  paths           the trickling reader and the in-memory buffer disagreed

Cases run in worker subprocesses under RLIMIT_AS. A timer in the worker reports hangs in
Python code; the parent kills a worker whose case runs past --timeout plus a grace period
(a hang inside C code), records that case, and starts a fresh worker after it. The run
prints a table (cases per mutation class and their outcomes) and exits 1 on any failure.
Cases are numbered and fully determined by (--seed, --cases, ID): `--only ID` re-runs one
in this process with its traceback, and `--save DIR` writes every failing mutant to DIR.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bbzip.constants import IMAGE_BYTES, VAE_CODER_ID

ROOT = Path(__file__).resolve().parents[2]

ERROR_NAMES = ("FormatError", "CorruptError", "UnsupportedError", "ModelError")
FAILURES = (
    "wrong-data",
    "rejected-valid",
    "exception",
    "no-message",
    "hang",
    "crash",
    "memory",
    "info",
    "paths",
)
# Mutation classes, in table order. Weights apply to the randomly drawn part of a plan;
# "truncate" and "field" also have a systematic part (every offset, every field x value).
CLASSES = {
    "truncate": 0,  # cut at an offset (systematic: every offset of each small seed, and
    # every boundary between streams, blocks and header fields of the larger ones)
    "field": 2,  # rewrite one header field with a hostile value (systematic too)
    "field-pair": 2,  # a block's raw size and one of its payload's fields, both rewritten
    "bitflip": 4,  # flip 1..4 bits
    "byte-set": 3,  # set 1..3 bytes to interesting or random values
    "insert": 2,  # insert random bytes or a copy of a slice
    "delete": 2,  # delete a range
    "dup-block": 1,  # repeat a block
    "drop-block": 1,  # remove a block
    "swap-blocks": 1,  # exchange two blocks (within or across streams)
    "transplant": 1,  # replace a block with one from another seed
    "garbage-tail": 2,  # append garbage: random, zeros, a magic, a partial stream
    "magic-random": 2,  # random bytes, or random block headers, after the magic
    "concat-valid": 1,  # valid streams back to back, with empty streams between
}
SMALL_SEED = 420  # seeds up to this size are cut at every offset
# Stream framing, which no coder touches: the systematic field cases cover these kinds on
# the model-free seeds only (random draws still hit them on every seed).
STREAM_FIELDS = ("magic", "version", "end-marker", "end-total", "end-crc")
# Randomly drawn cases that go to seeds holding a VAE block: the VAE is one coder of four,
# and its decoder, not the framing, is what these seeds add. (A VAE case that decodes a
# whole block costs about 0.1 s an image, so seeds hold one to three digits.)
VAE_SHARE = 0.25
NATURAL_CODER_ID = 6
VAE_CODER_IDS = (VAE_CODER_ID, 5)  # zero and seeded initial bits (docs/FORMAT.md)
DATA = ROOT / "tests" / "data"
BINARY_MODEL = "mnist-binary-vae"
# The IDs of the models the seeds use, in a fixed order (set by build_seeds): model-ID
# replacements and random VAE blocks draw from these.
MODEL_IDS: list[bytes] = []
BINARY_IDS: set[bytes] = set()  # those of them for binary images (an ink byte in each block)


# ------------------------------------------------------------------------------ seed files


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
class Seed:
    name: str
    raw: bytes
    packed: bytes
    units: list[Unit] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    # (offset in packed, bytes of data decoded so far) at the end of each stream
    stream_ends: list[tuple[int, int]] = field(default_factory=list)
    coder_ids: set[int] = field(default_factory=set)
    model_ids: set[bytes] = field(default_factory=set)  # of the models its VAE blocks use

    @property
    def vae(self) -> bool:
        return bool(self.coder_ids & set(VAE_CODER_IDS))

    @property
    def natural(self) -> bool:
        return NATURAL_CODER_ID in self.coder_ids

    @property
    def blocks(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "block"]


def _inputs() -> list[tuple[str, bytes]]:
    rng = random.Random(20261123)
    text = b"".join(b"%d green bottles, hanging on the wall\n" % i for i in range(10, 0, -1))
    skewed = bytes(min(15, int(rng.expovariate(0.6))) + 0x41 for _ in range(1500))
    rare = bytearray(b"a" * 20000)
    rare[12345] = ord("b")
    return [
        ("one", b"x"),
        ("text", text),
        ("random", rng.randbytes(256)),
        ("skewed", skewed),
        ("constant", bytes(600)),
        ("rare", bytes(rare)),
    ]


def shipped_models() -> dict[str, bytes]:
    """Name -> model ID of every model models/manifest.json lists (no model is loaded)."""
    from bbzip.vae.model import MODEL_ID_BYTES, manifest

    return {e["name"]: bytes.fromhex(e["sha256"])[:MODEL_ID_BYTES] for e in manifest()}


def _idx(images: bytes) -> bytes:
    """An MNIST IDX file of these 28x28 images."""
    count = len(images) // IMAGE_BYTES
    return b"\x00\x00\x08\x03" + count.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images


def binary_model_present() -> bool:
    """Whether the binary-image model ships (models/manifest.json). A campaign's workers are
    told the parent's answer (BBZIP_FUZZ_BINARY), so a model landing mid-run cannot make
    them build other seeds than the parent, and so another plan."""
    pinned = os.environ.get("BBZIP_FUZZ_BINARY")
    if pinned is not None:
        return pinned == "1"
    return BINARY_MODEL in shipped_models()


def _vae_inputs(binary: bool) -> list[tuple[str, bytes, str, int | None, str]]:
    """(name, data, coder, block size, model name) of the VAE seeds: a few digits each, as
    a VAE decode costs about 0.1 s an image. Binary seeds only when the binary model ships."""
    digits = (DATA / "t10k-first8-idx3-ubyte").read_bytes()[16:]
    text = b"".join(b"%d green bottles, hanging on the wall\n" % i for i in range(10, 0, -1))
    d0 = (DATA / "digit0.pgm").read_bytes()
    out = [
        ("digit0/vae", d0, "vae", None, "mnist-vae"),  # a canonical PGM header: code 1
        ("idx2/vae", _idx(digits[: 2 * IMAGE_BYTES]), "vae", None, "mnist-vae"),  # verbatim header
        # one digit a block: the IDX header goes with the first, the others have none
        ("idx3-blocks/vae", _idx(digits[: 3 * IMAGE_BYTES]), "vae", 800, "mnist-vae"),
        ("digit0+text/auto", d0 + text[:150], "auto", None, "mnist-vae"),  # VAE, then lzma
    ]
    if binary:
        binary_digits = (DATA / "binarized-first8-idx3-ubyte").read_bytes()[16:]
        out += [
            # maxval 1: canonical header code 5, ink 1
            ("binary-digit0/vae", (DATA / "binary-digit0.pgm").read_bytes(), "vae", None,
             BINARY_MODEL),
            ("binary-idx2/vae", _idx(binary_digits[: 2 * IMAGE_BYTES]), "vae", None, BINARY_MODEL),
            ("binary255-digit1/vae", (DATA / "binary255-digit1.pgm").read_bytes(), "vae", None,
             BINARY_MODEL),  # ink 255
        ]
    return out


def natural_stand_in() -> bool:
    """Whether the natural seeds use the stand-in (no natural model ships); workers are told
    the parent's answer (BBZIP_FUZZ_NATURAL_FAKE), as for the binary model."""
    pinned = os.environ.get("BBZIP_FUZZ_NATURAL_FAKE")
    if pinned is not None:
        return pinned == "1"
    from bbzip.images import coder

    natural = coder.backend()
    return natural is None or natural.default_model() is None


@contextmanager
def natural_coder():
    """Within: the natural-image coder the seeds are made and decoded with."""
    from bbzip.images import coder

    saved = coder.backend
    if natural_stand_in():
        from tests import natural_fake

        coder.backend = natural_fake.backend
    try:
        yield
    finally:
        coder.backend = saved


def _natural_inputs() -> list[tuple[str, bytes, str]]:
    """(name, data, coder) of the natural-image seeds: tiny images, so each decodes fast."""
    import tarfile

    import numpy as np

    rng = np.random.default_rng(6)
    # At least 8x8: the natural-image model codes nothing smaller.
    gray = (np.add.outer(np.arange(9), np.arange(11)) * 9 + rng.integers(0, 4, (9, 11))).astype(np.uint8)
    rgb = (np.arange(8 * 10 * 3).reshape(8, 10, 3) * 5 % 256).astype(np.uint8)
    pgm = b"P5\n# gray\n11 9\n255\n" + gray.tobytes()
    ppm = b"P6 10 8 255\n" + rgb.tobytes()
    buffer = io.BytesIO()
    np.save(buffer, np.stack([rgb, rgb[::-1], rgb[:, ::-1]]))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("a.pgm", pgm), ("notes", b"plain text\n" * 3), ("b.ppm", ppm), ("c.pgm", pgm)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return [
        ("pgm/natural", pgm, "natural"),  # one run, the header as stored plain bytes
        ("ppm+text/auto", ppm + b"and some trailing text", "auto"),
        ("npy3/natural", buffer.getvalue(), "natural"),  # one run of three RGB images
        ("tar/natural", archive.getvalue(), "natural"),  # runs of two shapes, LZMA plain bytes
    ]


def _compress(data: bytes, coder: str, block_size: int | None = None) -> bytes:
    from bbzip import api

    saved = api.BLOCK_SIZE
    if block_size is not None:
        api.BLOCK_SIZE = block_size
    try:
        return api.compress(data, coder)
    finally:
        api.BLOCK_SIZE = saved


def build_seeds(binary: bool | None = None) -> list[Seed]:
    """The valid files every mutation starts from (deterministic); binary: whether to make
    seeds with the binary-image model (default: when it ships)."""
    inputs = dict(_inputs())
    made: list[tuple[str, bytes, bytes]] = [("empty", b"", _compress(b"", "auto"))]
    for coder in ("stored", "order0", "lzma", "zstd"):
        for name, data in inputs.items():
            made.append((f"{name}/{coder}", data, _compress(data, coder)))
    mixed = inputs["text"][:200] + inputs["random"] + bytes(300) + inputs["skewed"][:500]
    for coder in ("stored", "order0", "lzma", "auto"):
        made.append((f"multi/{coder}", mixed, _compress(mixed, coder, block_size=256)))
    a, b = inputs["text"], inputs["skewed"][:700]
    for coder in ("order0", "lzma", "auto"):
        made.append(
            (
                f"concat/{coder}",
                a + b,
                _compress(a, coder) + _compress(b, "stored" if coder == "auto" else coder),
            )
        )
    vae = _vae_inputs(binary_model_present() if binary is None else binary)
    for name, data, coder, block_size, _ in vae:
        made.append((name, data, _compress(data, coder, block_size)))
    with natural_coder():
        for name, data, coder in _natural_inputs():
            made.append((name, data, _compress(data, coder)))
    seeds = []
    for name, raw, packed in made:
        seed = Seed(name, raw, packed)
        _layout(seed)
        seeds.append(seed)
    shipped = shipped_models()
    vae_seeds = seeds[len(seeds) - len(vae) - len(_natural_inputs()) : len(seeds) - len(_natural_inputs())]
    for seed, (_, _, _, _, model) in zip(vae_seeds, vae, strict=True):
        # Each VAE seed must really hold VAE blocks, of the model it is meant for.
        assert seed.vae and seed.model_ids == {shipped[model]}, (seed.name, seed.coder_ids)
    MODEL_IDS[:] = sorted(set().union(*(s.model_ids for s in seeds)))
    BINARY_IDS.clear()
    BINARY_IDS.update(m for m in MODEL_IDS if m == shipped.get(BINARY_MODEL))
    return seeds


def _layout(seed: Seed) -> None:
    """Find every stream header, block, end marker and header field of a valid seed."""
    from bbzip.coders.varint import encode_varint
    from bbzip.container import StreamEnd, StreamReader

    packed = seed.packed
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
                seed.fields += _order0_fields(packed, pos + 4)
            if vae:
                seed.fields += _vae_fields(packed, pos + 4, reader.consumed, item)
                seed.model_ids.add(item.model_id)
            if item.coder_id == NATURAL_CODER_ID:
                seed.fields += natural_fields(packed, pos + 4, reader.consumed)
            seed.coder_ids.add(item.coder_id)
            seed.units.append(Unit("block", start, reader.consumed))
            decoded += item.raw_size
    assert reader.consumed == len(packed)


def _order0_fields(packed: bytes, pos: int) -> list[Field]:
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


def _vae_fields(packed: bytes, pos: int, end: int, item) -> list[Field]:
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


# --------------------------------------------------------------------------- field values


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


# --------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One mutant, fully determined by its description (so it can be rebuilt anywhere)."""

    cls: str
    seed: int  # index into the seed list
    arg: tuple = ()  # class-specific: an offset, (field index, value index), an RNG seed


@dataclass
class Mutant:
    data: bytes
    acceptable: tuple[bytes, ...]  # outputs that are right; empty: the case must fail
    valid: bool = False  # True: a typed error is wrong too (the mutant is a valid file)


def make_plan(n: int, seed: int, seeds: list[Seed]) -> list[Case]:
    """n cases: the systematic ones (all of them when n allows) and random draws."""
    rng = random.Random(seed)
    truncations = [
        Case("truncate", i, (cut,))
        for i, s in enumerate(seeds)
        if len(s.packed) <= SMALL_SEED
        for cut in range(len(s.packed))
    ]
    # Larger seeds are cut at every boundary between streams, blocks and their headers.
    truncations += [
        Case("truncate", i, (cut,))
        for i, s in enumerate(seeds)
        if len(s.packed) > SMALL_SEED
        for cut in sorted({u.start for u in s.units} | {f.start for f in s.fields} - {0})
    ]
    fields = []
    for i, s in enumerate(seeds):
        firsts = {}
        for j, f in enumerate(s.fields):
            if s.vae and f.kind in STREAM_FIELDS:
                continue  # the same framing as every model-free seed's: drawn at random only
            firsts.setdefault(f.kind, j)  # the first instance of each kind of field
        for j in firsts.values():
            f = s.fields[j]
            count = len(field_values(f, s.packed[f.start : f.end]))
            fields += [Case("field", i, (j, k)) for k in range(count)]
    systematic = []
    for group, share in ((truncations, 0.33), (fields, 0.42)):
        take = min(len(group), int(n * share))
        systematic += group if take == len(group) else rng.sample(group, take)
    weighted = [c for c, w in CLASSES.items() for _ in range(w)]
    multi_block = [i for i, s in enumerate(seeds) if len(s.blocks) >= 2]
    with_blocks = [i for i, s in enumerate(seeds) if s.blocks]
    drawn = []
    while len(systematic) + len(drawn) < n:
        cls = rng.choice(weighted)
        pool = (
            multi_block
            if cls == "swap-blocks"
            else with_blocks
            if cls in ("dup-block", "drop-block", "transplant", "field", "field-pair")
            else range(len(seeds))
        )
        i = _pick_seed(rng, pool, seeds)
        if cls == "field":
            j = rng.randrange(len(seeds[i].fields))
            f = seeds[i].fields[j]
            k = rng.randrange(len(field_values(f, seeds[i].packed[f.start : f.end])))
            drawn.append(Case(cls, i, (j, k)))
        elif cls == "field-pair":
            drawn.append(Case(cls, i, _pick_pair(seeds[i], rng)))
        elif cls == "truncate":
            drawn.append(Case(cls, i, (rng.randrange(len(seeds[i].packed)),)))
        else:
            drawn.append(Case(cls, i, (rng.getrandbits(48),)))
    plan = systematic + drawn
    rng.shuffle(plan)  # mixes classes across workers and across a partial run
    return plan[:n]


def _pick_seed(rng: random.Random, pool, seeds: list[Seed]) -> int:
    """A seed from pool: one holding a VAE block with probability VAE_SHARE."""
    vae = [i for i in pool if seeds[i].vae]
    other = [i for i in pool if not seeds[i].vae]
    if vae and (not other or rng.random() < VAE_SHARE):
        return rng.choice(vae)
    return rng.choice(other)


def _pick_pair(s: Seed, rng: random.Random) -> tuple[int, int, int, int]:
    """A raw-size field and another field after it in the same block (its payload's when the
    block is order0 or VAE), each with a value index: (field, value, field, value)."""
    sizes = [j for j, f in enumerate(s.fields) if f.kind in ("raw-size", "vae-raw-size")]
    a = rng.choice(sizes)
    block_end = next(
        (u.end for u in s.blocks if u.start < s.fields[a].start < u.end), len(s.packed)
    )
    later = [j for j, f in enumerate(s.fields) if s.fields[a].end <= f.start < block_end]
    inner = [j for j in later if s.fields[j].kind.startswith(("o0-", "vae-", "nat-"))]
    b = rng.choice(inner or later)
    counts = [
        len(field_values(s.fields[j], s.packed[s.fields[j].start : s.fields[j].end]))
        for j in (a, b)
    ]
    return a, rng.randrange(counts[0]), b, rng.randrange(counts[1])


_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xB8, 0x10)


def materialise(case: Case, seeds: list[Seed]) -> Mutant:
    s = seeds[case.seed]
    packed, original = s.packed, s.raw
    same = Mutant(b"", (original,))
    if case.cls == "truncate":
        (cut,) = case.arg
        prefix = [raw for end, raw in s.stream_ends if end == cut]
        if prefix:  # a cut between streams leaves valid streams
            return Mutant(packed[:cut], (original[: prefix[0]],), valid=True)
        return Mutant(packed[:cut], ())
    if case.cls in ("field", "field-pair"):
        data = packed
        pairs = list(zip(case.arg[::2], case.arg[1::2]))
        for j, k in sorted(pairs, key=lambda p: -s.fields[p[0]].start):  # last first: offsets hold
            f = s.fields[j]
            new = field_values(f, packed[f.start : f.end])[k]
            data = data[: f.start] + new + data[f.end :]
        same.data = data
        return same
    rng = random.Random(case.arg[0])
    data = bytearray(packed)
    if case.cls == "bitflip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif case.cls == "byte-set":
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            data[pos] = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
    elif case.cls == "insert":
        pos = rng.randint(0, len(data))
        if rng.random() < 0.5:
            piece = rng.randbytes(rng.randint(1, 16))
        else:
            a = rng.randrange(len(data))
            piece = bytes(data[a : a + rng.randint(1, 64)])
        data[pos:pos] = piece
    elif case.cls == "delete":
        pos = rng.randrange(len(data))
        del data[pos : pos + rng.randint(1, 16)]
    elif case.cls == "dup-block":
        u = rng.choice(s.blocks)
        data[u.end : u.end] = packed[u.start : u.end]
    elif case.cls == "drop-block":
        u = rng.choice(s.blocks)
        del data[u.start : u.end]
    elif case.cls == "swap-blocks":
        a, b = sorted(rng.sample(s.blocks, 2), key=lambda u: u.start)
        data = bytearray(
            packed[: a.start]
            + packed[b.start : b.end]
            + packed[a.end : b.start]
            + packed[a.start : a.end]
            + packed[b.end :]
        )
    elif case.cls == "transplant":
        u = rng.choice(s.blocks)
        donor = rng.choice([d for d in seeds if d.blocks])
        v = rng.choice(donor.blocks)
        data[u.start : u.end] = donor.packed[v.start : v.end]
    elif case.cls == "garbage-tail":
        from bbzip.container import STREAM_HEADER

        kind = rng.randrange(5)
        tail = [
            rng.randbytes(rng.randint(1, 40)),
            bytes(rng.randint(1, 16)),
            STREAM_HEADER[: rng.randint(1, 4)],
            STREAM_HEADER + rng.randbytes(rng.randint(0, 24)),
            _cut(rng.choice(seeds).packed, rng),
        ][kind]
        data += tail
    elif case.cls == "magic-random":
        return Mutant(_random_stream(rng), ())
    elif case.cls == "concat-valid":
        from bbzip.container import STREAM_HEADER

        empty = STREAM_HEADER + b"\x00\x00" + b"\x00" * 4
        other = rng.choice(seeds)
        parts = [packed, empty * rng.randint(0, 2), other.packed]
        if rng.random() < 0.5:
            parts.insert(0, empty)
        return Mutant(b"".join(parts), (original + other.raw,), valid=True)
    else:
        raise ValueError(case.cls)
    same.data = bytes(data)
    return same


def _cut(packed: bytes, rng: random.Random) -> bytes:
    """A proper prefix of a valid file (never a whole stream, which would be valid)."""
    return packed[: rng.randint(1, min(30, len(packed) - 1))]


def _random_stream(rng: random.Random) -> bytes:
    """The magic, then either random bytes or plausible block headers with random payloads
    (a third of those start with a VAE block for an installed model, so that random data
    reaches the VAE decoder itself)."""
    from bbzip.container import MAGIC

    if rng.random() < 0.4:
        return MAGIC + rng.randbytes(rng.randint(0, 64))
    out = bytearray(MAGIC + bytes([0x10]))
    if MODEL_IDS and rng.random() < 1 / 3:
        out += _random_vae_block(rng)
    for _ in range(rng.randint(0, 3)):
        coder = rng.choice((1, 2, 3, 0x7F, rng.randint(1, 255)))
        flags = 1 if coder == 3 and rng.random() < 0.7 else 0
        raw = rng.choice((1, rng.randint(1, 300), rng.randint(1, 1 << 20), 64 << 20))
        payload = rng.randbytes(rng.randint(0, 80))
        if coder == 1 and rng.random() < 0.7:  # an order0-shaped payload
            payload = (
                _varint(rng.randint(1, 4))
                + bytes([rng.randint(1, 15)])
                + rng.randbytes(32 + rng.randint(0, 40))
            )
        out += bytes([coder, flags]) + (rng.randbytes(8) if flags else b"")
        out += _varint(raw) + _varint(len(payload)) + rng.randbytes(4) + payload
    if rng.random() < 0.8:
        out += b"\x00" + _varint(rng.randint(0, 400)) + rng.randbytes(4)
    return bytes(out)


def _random_vae_block(rng: random.Random) -> bytes:
    """A VAE block of an installed model claiming whole digits (1 to 85,598, on 1 to 512
    lanes) after a header, with mostly well-formed payload framing (header code, ink byte
    for a binary model, one head per lane, whole words) around random rANS data. Few words
    when the digits are on one or two lanes: each costs about 0.1 s to decode there."""
    from bbzip.vae.bitsback import choose_lanes

    model = rng.choice(MODEL_IDS)
    code = rng.choice((1, 3, 5, 0, 2 * 16))
    header = 13 if code in (1, 3) else 11 if code == 5 else code >> 1
    images = rng.choice((1, 2, rng.randint(1, 30), rng.randint(1, 85_598)))
    lanes = choose_lanes(images)
    if rng.random() < 0.9:
        ink = bytes([rng.choice((1, 255))]) if model in BINARY_IDS else b""
    else:
        ink = rng.choice((b"", b"\x00", b"\x01", b"\xff"))
    words = rng.randint(0, 60)
    if lanes > 2 and rng.random() < 0.5:
        words = rng.randint(0, 2000)
    payload = (
        _varint(code)
        + rng.randbytes(0 if code & 1 else code >> 1)
        + ink
        + rng.randbytes(8 * rng.choice((lanes, lanes, lanes, 1, 2 * lanes)))
        + rng.randbytes(4 * words + rng.choice((0, 0, 0, 0, 1, 3)))
    )
    raw = header + IMAGE_BYTES * images + rng.choice((0, 0, 0, 0, 0, 0, 1))
    return bytes([3, 1]) + model + _varint(raw) + _varint(len(payload)) + rng.randbytes(4) + payload


# ---------------------------------------------------------------------------------- running


class _CaseTimeout(BaseException):
    """Raised by the worker's timer: not an Exception, so decoder code cannot swallow it."""


class Trickle(io.RawIOBase):
    """A pipe that delivers 1 to 7 bytes per read."""

    def __init__(self, data: bytes):
        self._data, self._pos, self._n = data, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._n += 1
        n = min(len(buffer), 1 + self._n % 7, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def _decode(data: bytes, trickle: bool, sabotage: str | None) -> bytes:
    from bbzip import api

    if sabotage == "wrong-data":  # a decoder that returns bytes where it should have failed
        return b"!"
    if sabotage:
        _sabotage(sabotage)
    if not trickle:
        return api.decompress(data)
    sink = io.BytesIO()
    api.decompress_stream(Trickle(data), sink)
    return sink.getvalue()


def _sabotage(kind: str) -> None:
    """Deliberate faults, for the tests that check this harness catches each kind."""
    if kind == "exception":
        raise ValueError("sabotaged")
    if kind == "hang":
        time.sleep(3600)
    if kind == "hang-c":  # the worker's timer cannot interrupt it: the parent must
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "memory":
        bytearray(4 << 30)


def _attempt(data: bytes, trickle: bool, sabotage: str | None) -> tuple[str, bytes | None, str]:
    """('data', output, '') or ('error:Name', None, message) or (failure, None, detail)."""
    from bbzip.errors import BBZError

    try:
        out = _decode(data, trickle, sabotage)
    except BBZError as e:
        if not str(e):
            return "no-message", None, type(e).__name__
        # a subclass (MissingModelError) counts as the listed class it derives from
        name = next(c.__name__ for c in type(e).__mro__ if c.__name__ in (*ERROR_NAMES, "BBZError"))
        return f"error:{name}", None, str(e)
    except MemoryError:
        return "memory", None, _where()
    except _CaseTimeout:
        return "hang", None, _where()
    except Exception as e:  # noqa: BLE001 - exactly what this harness looks for
        return "exception", None, f"{type(e).__name__}: {e} @ {_where()}"
    return "data", out, ""


def _where() -> str:
    frames = traceback.extract_tb(sys.exc_info()[2])
    return " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-3:]))


def run_case(
    case: Case, index: int, seeds: list[Seed], timeout: float, sabotage: str | None = None
) -> tuple[str, str]:
    """Decode one mutant; return (outcome, detail). Outcome is 'original', 'decoded' (other
    acceptable data, e.g. a prefix), 'error:Name', or one of FAILURES."""
    from bbzip import api
    from bbzip.errors import BBZError

    m = materialise(case, seeds)
    # Deliberate faults (harness tests): the i-th listed kind breaks case 7 + i.
    kinds = sabotage.split(",") if sabotage else []
    wreck = kinds[index - 7] if 0 <= index - 7 < len(kinds) else None
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        outcome, out, detail = _attempt(m.data, False, wreck)
        if outcome in FAILURES:
            return outcome, detail
        if outcome == "data" and out not in m.acceptable:
            return (
                "wrong-data",
                f"{len(out)} bytes decoded, expected one of {[len(a) for a in m.acceptable]}",
            )
        if m.valid and outcome != "data":
            return "rejected-valid", detail
        try:
            info = api.stream_info(io.BytesIO(m.data))
        except BBZError:
            info = None
        except (Exception, MemoryError) as e:  # noqa: BLE001
            return "info", f"{type(e).__name__}: {e} @ {_where()}"
        if outcome == "data" and (
            info is None or info.raw_size != len(out) or info.compressed_size != len(m.data)
        ):
            return "info", "stream_info disagrees with the decoded data"
        if index % 4 == 0:
            other, out2, detail2 = _attempt(m.data, True, wreck)
            if other in FAILURES:
                return other, "trickle: " + detail2
            if (other == "data") != (outcome == "data") or out2 != out:
                return "paths", f"buffer: {outcome} {detail!r}; trickle: {other} {detail2!r}"
    except _CaseTimeout:
        return "hang", _where()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome == "data":
        return ("original" if out == seeds[case.seed].raw else "decoded"), ""
    return outcome, detail


def _on_alarm(signum, frame):
    raise _CaseTimeout


def worker(args) -> None:
    """Run plan[start:stop]; one JSON line per case on stdout: [index, outcome, detail, seconds]."""
    import resource

    limit = args.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    seeds = build_seeds()
    plan = make_plan(args.cases, args.seed, seeds)
    sabotage = os.environ.get("BBZIP_FUZZ_SABOTAGE") or None
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for index in range(args.start, args.stop):
        t = time.perf_counter()
        with natural_coder():
            outcome, detail = run_case(plan[index], index, seeds, args.timeout, sabotage)
        out.write(
            json.dumps([index, outcome, detail[:300], round(time.perf_counter() - t, 4)]) + "\n"
        )
        out.flush()


@dataclass
class _Worker:
    proc: subprocess.Popen
    next: int  # the case it is on (or will start next)
    stop: int
    ready: bool = False
    since: float = 0.0
    buffer: bytes = b""


def _spawn(args, start: int, stop: int) -> _Worker:
    env = {
        **os.environ,
        "BBZIP_FUZZ_BINARY": "1" if args.binary else "0",  # the parent's seeds, whatever lands
        "BBZIP_FUZZ_NATURAL_FAKE": "1" if args.natural_fake else "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "tests.fuzz.mutate",
        "--worker",
        "--cases",
        str(args.cases),
        "--seed",
        str(args.seed),
        "--timeout",
        str(args.timeout),
        "--memory-mb",
        str(args.memory_mb),
        "--start",
        str(start),
        "--stop",
        str(stop),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    return _Worker(proc, start, stop, since=time.monotonic())


@dataclass
class Report:
    results: dict[int, tuple[str, str, float]] = field(default_factory=dict)
    plan: list[Case] = field(default_factory=list)
    seeds: list[Seed] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[tuple[int, str, str]]:
        return [(i, o, d) for i, (o, d, _) in sorted(self.results.items()) if o in FAILURES]


def run_campaign(
    cases: int = 10000,
    seed: int = 1,
    jobs: int = 1,
    timeout: float = 5.0,
    memory_mb: int = 1024,
    grace: float = 5.0,
    sabotage: str | None = None,
    quiet: bool = False,
) -> Report:
    """Run `cases` cases in `jobs` worker processes; every case gets a result."""
    report = Report(seeds=build_seeds())
    binary = shipped_models().get(BINARY_MODEL) in set(MODEL_IDS)
    args = argparse.Namespace(
        cases=cases, seed=seed, timeout=timeout, memory_mb=memory_mb, binary=binary,
        natural_fake=natural_stand_in(),
    )
    report.plan = make_plan(cases, seed, report.seeds)
    if sabotage:
        os.environ["BBZIP_FUZZ_SABOTAGE"] = sabotage
    started = time.monotonic()
    bounds = [cases * k // jobs for k in range(jobs + 1)]
    sel = selectors.DefaultSelector()
    try:
        for a, b in itertools.pairwise(bounds):
            if a < b:
                w = _spawn(args, a, b)
                sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        while sel.get_map():
            for key, _ in sel.select(timeout=0.5):
                w = key.data
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    w.buffer += chunk
                    *lines, w.buffer = w.buffer.split(b"\n")
                    for line in lines:
                        if line == b"ready":
                            w.ready = True
                        else:
                            index, outcome, detail, secs = json.loads(line)
                            report.results[index] = (outcome, detail, secs)
                            w.next = index + 1
                        w.since = time.monotonic()
                    continue
                # The worker is gone: finished, or died on case w.next.
                sel.unregister(key.fileobj)
                rc = w.proc.wait()
                if w.next < w.stop:
                    what = (
                        f"worker exited with status {rc}"
                        if rc >= 0
                        else f"worker killed by signal {-rc}"
                    )
                    report.results[w.next] = ("crash", what, 0.0)
                    _restart(sel, args, w.next + 1, w.stop)
            now = time.monotonic()
            for key in list(sel.get_map().values()):
                w = key.data
                budget = timeout + grace + (60 if not w.ready else 0)
                if now - w.since > budget:
                    sel.unregister(key.fileobj)
                    w.proc.kill()
                    w.proc.wait()
                    report.results[w.next] = (
                        "hang",
                        f"killed after {now - w.since:.0f} s",
                        now - w.since,
                    )
                    _restart(sel, args, w.next + 1, w.stop)
            if not quiet:
                _progress(len(report.results), cases, started)
    finally:
        for key in list(sel.get_map().values()):
            key.data.proc.kill()
            key.data.proc.wait()
        if sabotage:
            os.environ.pop("BBZIP_FUZZ_SABOTAGE", None)
    if not quiet and sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 60 + "\r")
    report.seconds = time.monotonic() - started
    return report


def _restart(sel, args, start: int, stop: int) -> None:
    if start < stop:
        w = _spawn(args, start, stop)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)


def _progress(done: int, total: int, started: float) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{done}/{total} cases, {time.monotonic() - started:.0f} s")
        sys.stderr.flush()


# --------------------------------------------------------------------------------- reports


def summary(report: Report) -> str:
    """Cases per mutation class ("vae": how many of them mutate a seed with a VAE block;
    magic-random uses no seed) and their outcomes."""
    columns = ["original", "decoded", *ERROR_NAMES, "failures", "max s"]
    rows: dict[str, Counter] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    for index, (outcome, _, secs) in report.results.items():
        case = report.plan[index]
        rows[case.cls]["cases"] += 1
        rows[case.cls]["vae"] += report.seeds[case.seed].vae and case.cls != "magic-random"
        key = outcome.removeprefix("error:") if outcome.startswith("error:") else outcome
        if key not in columns and key not in FAILURES:
            columns.insert(-2, key)  # a BBZError of no listed class: shown, not lost
        rows[case.cls]["failures" if outcome in FAILURES else key] += 1
        slowest[case.cls] = max(slowest[case.cls], secs)
    order = [c for c in CLASSES if c in rows]
    total = sum(rows.values(), Counter())
    head = f"{'class':<14}{'cases':>7}{'vae':>6}" + "".join(
        f"{c.removesuffix('Error'):>12}" for c in columns
    )
    lines = [head, "-" * len(head)]
    for name, counts, secs in [
        *((c, rows[c], slowest[c]) for c in order),
        ("total", total, max(slowest.values(), default=0.0)),
    ]:
        if name == "total":
            lines.append("-" * len(head))
        cells = [f"{counts[c]:>12}" for c in columns[:-1]] + [f"{secs:>12.2f}"]
        lines.append(f"{name:<14}{counts['cases']:>7}{counts['vae']:>6}" + "".join(cells))
    kinds = Counter(o for _, o, _ in report.failures)
    seeds = report.seeds
    coders = sorted({n.split("/")[-1] for n in (s.name for s in seeds) if "/" in n})
    lines.append("")
    lines.append(
        f"{len(report.results)} cases in {report.seconds:.1f} s from {len(seeds)} seed files "
        f"({', '.join(coders)}; {sum(len(s.blocks) for s in seeds)} blocks, "
        f"{sum(len(s.stream_ends) for s in seeds)} streams; "
        f"{sum(s.vae for s in seeds)} seeds with {_vae_blocks(seeds)} VAE blocks); "
        f"failures: {sum(kinds.values())}" + (f" ({dict(kinds)})" if kinds else "")
    )
    return "\n".join(lines)


def _vae_blocks(seeds: list[Seed]) -> int:
    return sum(s.packed[u.start] in VAE_CODER_IDS for s in seeds for u in s.blocks)


def _generic(message: str) -> str:
    """A message with its numbers and IDs as #, so that like errors count together."""
    import re

    return re.sub(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{16}\b|\d+", "#", message)


def seed_summary(report: Report, vae_only: bool = True) -> str:
    """Per seed (the VAE ones by default): size, cases that mutate it (magic-random uses no
    seed), outcomes, the slowest case; then the VAE seeds' errors by message."""
    rows: dict[int, Counter] = defaultdict(Counter)
    classes: dict[int, set] = defaultdict(set)
    slowest: dict[int, float] = defaultdict(float)
    messages: Counter = Counter()
    for index, (outcome, detail, secs) in report.results.items():
        case = report.plan[index]
        if case.cls == "magic-random":
            continue
        i = case.seed
        rows[i]["cases"] += 1
        classes[i].add(case.cls)
        if outcome in ("original", "decoded"):
            rows[i]["decoded"] += 1
        elif outcome in FAILURES:
            rows[i]["failures"] += 1
        else:
            rows[i]["errors"] += 1
            if report.seeds[i].vae:
                messages[f"{outcome.removeprefix('error:')}: {_generic(detail)}"] += 1
        slowest[i] = max(slowest[i], secs)
    head = (
        f"{'seed':<22}{'bytes':>7}{'blocks':>7}{'cases':>7}{'classes':>8}{'decoded':>9}"
        f"{'errors':>8}{'failures':>9}{'max s':>7}"
    )
    lines = [head, "-" * len(head)]
    for i, s in enumerate(report.seeds):
        if vae_only and not s.vae:
            continue
        c = rows[i]
        lines.append(
            f"{s.name:<22}{len(s.packed):>7}{len(s.blocks):>7}{c['cases']:>7}"
            f"{len(classes[i]):>8}{c['decoded']:>9}{c['errors']:>8}{c['failures']:>9}"
            f"{slowest[i]:>7.2f}"
        )
    lines += ["", "errors on the VAE seeds, by message:"]
    lines += [f"{n:>7}  {m[:90]}" for m, n in messages.most_common()]
    return "\n".join(lines)


def _replay(args, seeds, plan) -> int:
    """Run chosen cases in this process, with full tracebacks."""
    status = 0
    signal.signal(signal.SIGALRM, _on_alarm)
    for index in args.only:
        case = plan[index]
        m = materialise(case, seeds)
        print(
            f"case {index}: {case.cls} of {seeds[case.seed].name} {case.arg}: {len(m.data)} bytes"
        )
        with natural_coder():
            outcome, detail = run_case(case, index, seeds, args.timeout)
        print(f"  -> {outcome} {detail}")
        if outcome in FAILURES:
            status = 1
            try:
                from bbzip import api

                api.decompress(m.data)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        if args.save:
            _save(args.save, index, case, m.data)
    return status


def _save(directory: str, index: int, case: Case, data: bytes) -> None:
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / f"case-{index}-{case.cls}.bbz").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.fuzz.mutate", description=__doc__.split("\n")[0]
    )
    p.add_argument("--cases", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per case (default 5)")
    p.add_argument(
        "--memory-mb", type=int, default=1024, help="worker address space (default 1024)"
    )
    p.add_argument(
        "--only", type=int, nargs="+", help="re-run these case IDs here, with tracebacks"
    )
    p.add_argument("--save", metavar="DIR", help="write failing (or --only) mutants to DIR")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.only:
        seeds = build_seeds()
        return _replay(args, seeds, make_plan(args.cases, args.seed, seeds))
    report = run_campaign(args.cases, args.seed, args.jobs, args.timeout, args.memory_mb)
    print(summary(report))
    print()
    print(seed_summary(report))
    for index, outcome, detail in report.failures[:50]:
        case = report.plan[index]
        print(
            f"FAIL case {index} [{case.cls} of {report.seeds[case.seed].name}]: {outcome}: {detail}"
        )
    if report.failures:
        print(
            f"re-run one: python -m tests.fuzz.mutate --cases {args.cases} --seed {args.seed} --only ID"
        )
        if args.save:
            for index, _, _ in report.failures:
                case = report.plan[index]
                _save(args.save, index, case, materialise(case, report.seeds).data)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
