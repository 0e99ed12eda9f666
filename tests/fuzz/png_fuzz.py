"""Mutation fuzzing of the PNG parser and the png block (0x08) decoder.

    python -m tests.fuzz.png_fuzz [--cases 2000] [--seed 1]

Seeds: small PNG files of every colour type and depth (tests' own writer), and their 0x08
payloads coded with the lossless natural stand-in (tests/natural_fake.py). Each case flips,
inserts, deletes or overwrites a few bytes of a seed, or cuts it, then:
  - a file: png_length, walk and analyse must return a value or None (never raise), and
    block splitting must give back every byte;
  - a payload: decoding must return bytes of the raw size or raise a BBZError with a
    message (never another exception).
Exits 1 with the failing case numbers; `run(cases, seed)` returns them for tests.
"""

from __future__ import annotations

import argparse
import io
import sys
import traceback

import numpy as np

from bbzip.errors import BBZError
from bbzip.images import blocks, png, png_coder
from bench.png_files import write_png
from tests import natural_fake


def seeds() -> tuple[list[bytes], list[tuple[bytes, int]]]:
    rng = np.random.default_rng(0)
    files = []
    for channels, depth, level in ((1, 8, 6), (2, 8, 1), (3, 8, 9), (4, 16, 4), (3, 16, 6)):
        shape = (12, 10, channels)
        pixels = rng.integers(0, 40, shape).cumsum(axis=1)
        pixels = (pixels * (257 if depth == 16 else 1)).astype(np.uint16 if depth == 16 else np.uint8)
        files.append(write_png(pixels if channels > 1 else pixels[:, :, 0], level=level, idat_size=64))
    coder = png_coder.PngBlockCoder(natural_fake.MODEL)
    return files, [(coder.encode(f), len(f)) for f in files]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(5))
        at = int(rng.integers(len(out) + 1))
        if kind == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            out[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 5)), dtype=np.uint8))
        elif kind == 2:
            del out[at : at + int(rng.integers(1, 9))]
        elif kind == 3 and out:
            out[min(at, len(out) - 1)] = int(rng.choice([0, 0xFF, 0x7F, 0x80]))
        else:
            del out[at:]
    return bytes(out)


def check_file(data: bytes) -> None:
    png.png_length(data)
    png.walk(data, True)
    png_coder.analyse(data)
    parts = blocks.split(data, io.BytesIO(b""), 1 << 16)
    if parts is not None:
        assert b"".join(d for d, _ in parts) == data, "block splitting lost bytes"


def check_payload(payload: bytes, raw_size: int) -> None:
    coder = png_coder.PngBlockCoder(natural_fake.MODEL)
    try:
        out = coder.decode(payload, raw_size)
    except BBZError as exc:
        assert str(exc), "an error without a message"
        return
    assert len(out) == raw_size, "decoded to the wrong size"


def run(cases: int, seed: int, verbose: bool = False) -> list[int]:
    from bbzip.images import coder as natural_block

    saved, natural_block.backend = natural_block.backend, natural_fake.backend  # the stand-in codes pixels
    try:
        return _run(cases, seed, verbose)
    finally:
        natural_block.backend = saved


def _run(cases: int, seed: int, verbose: bool) -> list[int]:
    files, payloads = seeds()
    failures = []
    for case in range(cases):
        rng = np.random.default_rng([seed, case])
        try:
            if case % 2:
                check_file(mutate(files[int(rng.integers(len(files)))], rng))
            else:
                payload, size = payloads[int(rng.integers(len(payloads)))]
                check_payload(mutate(payload, rng), size)
        except Exception:  # noqa: BLE001 (every escape is a finding)
            failures.append(case)
            if verbose:
                traceback.print_exc()
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    failures = run(args.cases, args.seed, verbose=True)
    print(f"{args.cases} cases, {len(failures)} failures{': ' + str(failures[:20]) if failures else ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
