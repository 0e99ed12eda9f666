"""Fuzz targets for the image file formats of bbzip/images/files.py (issue 18).

    python -m tests.fuzz.formats [--cases 2000] [--seed 1] [--target parse|payload|all]

parse:   mutated TIFF, BMP, 16-bit PNM, NPY and JPEG files (bytes flipped, header numbers
         set to extremes, cuts): detection and the parsers either refuse them or describe
         spans inside the file; compressing and decompressing them gives them back; the
         parsers never allocate more than SMALL_PEAK bytes.
payload: mutated imagefile (0x09) and jpeg (0x07) payloads: decoding returns exactly
         raw_size bytes or raises a BBZError with a message, allocating at most a few
         times the block.
The natural model is the lossless stand-in (tests/natural_fake.py), so the framing and
parsers are what is exercised; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tracemalloc
from contextlib import contextmanager

import numpy as np

from bbzip import api
from bbzip.errors import BBZError
from bbzip.images import files
from tests import formats_helpers as fh
from tests import natural_fake

SMALL_PEAK = 1 << 20
_EXTREMES = (0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 3, 255)


@contextmanager
def stand_in():
    from bbzip.images import coder

    original = coder.backend
    coder.backend = natural_fake.backend
    try:
        yield
    finally:
        coder.backend = original


def seed_files() -> dict[str, bytes]:
    found = dict(fh.samples())
    photo = fh.jpeg(fh.smooth(24, 32, 3))
    if photo is not None:
        found["jpeg"] = photo
    return found


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:  # bit flips, mostly in the header
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(min(len(out), 96)) if rng.random() < 0.7 else rng.randrange(len(out))
            out[at] ^= 1 << rng.randrange(8)
    elif kind == 1:  # an extreme 16- or 32-bit number at a header position
        at = rng.randrange(min(len(out), 128) - 4)
        fmt = rng.choice(("<H", ">H", "<I", ">I"))
        struct.pack_into(fmt, out, at, rng.choice(_EXTREMES) & (0xFFFF if fmt[1] == "H" else 0xFFFFFFFF))
    elif kind == 2:  # cut
        del out[rng.randrange(1, len(out)) :]
    else:  # decimal fields of PNM headers and NPY shapes blown up
        text = bytes(out[:128])
        digits = [i for i, b in enumerate(text) if 0x30 <= b <= 0x39]
        if digits:
            at = rng.choice(digits)
            out[at : at + 1] = str(rng.choice((0, 9, 99999999, 4294967296))).encode()
        else:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def parse_case(data: bytes) -> str | None:
    """None when the case holds, else what went wrong."""
    tracemalloc.start()
    try:
        kind = files.sniff_file(data)
        found = files.pictures(data, kind) if kind not in (None, "jpeg") else None
        peak = tracemalloc.get_traced_memory()[1]
    except Exception as exc:  # noqa: BLE001 - any exception is a finding
        return f"parser raised {type(exc).__name__}: {exc}"
    finally:
        tracemalloc.stop()
    if peak > SMALL_PEAK + 2 * len(data):
        return f"parser allocated {peak} bytes"
    for picture in found or ():
        for span in picture.spans:
            if span.offset + (span.rows - 1) * span.pitch + span.cols * picture.pixel_bytes > len(data):
                return "a span reaches past the file"
            if span.y0 + span.rows > picture.height or span.x0 + span.cols > picture.width:
                return "a span reaches past the image"
    try:
        if api.decompress(api.compress(data)) != data:
            return "round trip changed the bytes"
    except Exception as exc:  # noqa: BLE001
        return f"round trip raised {type(exc).__name__}: {exc}"
    return None


def payload_seeds() -> list[tuple[int, bytes, bytes, int]]:
    """(coder_id, model_id, payload, raw_size) of valid blocks of the new coders."""
    from bbzip.images.filecoder import ImageFileCoder
    from bbzip.images.jpeg import LeptonCoder, available

    out = []
    for data in fh.samples().values():
        found = files.pictures(data, files.sniff_file(data))
        out.append((ImageFileCoder.coder_id, natural_fake.MODEL.model_id,
                    ImageFileCoder(natural_fake.MODEL).encode(data, found), len(data)))
    photo = fh.jpeg(fh.smooth(24, 32, 3))
    if photo is not None and available():
        out.append((LeptonCoder.coder_id, b"", LeptonCoder().encode(photo), len(photo)))
    return out


def payload_case(seed: tuple[int, bytes, bytes, int], rng: random.Random) -> str | None:
    from bbzip.coders import registry

    coder_id, model_id, payload, raw_size = seed
    damaged = bytearray(payload)
    choice = rng.randrange(3)
    if choice == 0:
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    elif choice == 1:
        del damaged[rng.randrange(len(damaged)) :]
    else:  # an extreme varint early in the payload, where the descriptions are
        at = rng.randrange(min(len(damaged), 40))
        damaged[at : at + 1] = bytes([0xFF, 0xFF, 0xFF, 0x7F])
    tracemalloc.start()
    try:
        out = registry.decoder_for(coder_id, model_id).decode(bytes(damaged), raw_size)
    except BBZError as exc:
        return None if str(exc) else "an error without a message"
    except Exception as exc:  # noqa: BLE001
        return f"decode raised {type(exc).__name__}: {exc}"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if peak > SMALL_PEAK + 16 * raw_size:
        return f"decode allocated {peak} bytes"
    return None if len(out) == raw_size else "decoded to the wrong length"


def run(cases: int, seed: int = 1, target: str = "all") -> list[str]:
    """The failures of ``cases`` cases of each chosen target (empty when all hold)."""
    rng = random.Random(seed)
    failures = []
    with stand_in():
        if target in ("parse", "all"):
            seeds = list(seed_files().items())
            for i in range(cases):
                name, data = seeds[i % len(seeds)]
                problem = parse_case(mutate(data, rng))
                if problem:
                    failures.append(f"parse {i} ({name}): {problem}")
        if target in ("payload", "all"):
            seeds = payload_seeds()
            for i in range(cases):
                problem = payload_case(seeds[i % len(seeds)], rng)
                if problem:
                    failures.append(f"payload {i}: {problem}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", choices=("parse", "payload", "all"), default="all")
    args = parser.parse_args()
    np.seterr(all="ignore")
    failures = run(args.cases, args.seed, args.target)
    for line in failures:
        print(line)
    print(f"{args.cases} cases a target, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
