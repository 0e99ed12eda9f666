"""Constants of the mutation fuzzer shared by its modules (see tests/fuzz/mutate.py)."""

from __future__ import annotations

from pathlib import Path

from bbzip.constants import VAE_CODER_ID

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
