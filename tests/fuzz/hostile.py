"""Hostile natural-image blocks built from scratch: a header claiming a shape, over a payload
of noise (what issue 19's fuzzer found, and its larger variants)."""

from __future__ import annotations

import numpy as np

from bbzip.coders.varint import encode_varint
from bbzip.container import (
    STREAM_HEADER,
    BlockHeader,
    StreamEnd,
    encode_block_header,
    encode_stream_end,
)
from bbzip.images import coder as image_coder


def natural_claim(shape: tuple[int, int, int, int], noise: int, side: int = 256, seed: int = 0) -> bytes:
    """A .bbz of one natural block claiming ``shape`` (images, height, width, channels): the
    image header stored as zero plain bytes, one run, a tile header of ``side`` with zero
    settings and one lane group, then ``noise`` random bytes as that group's message."""
    from bbzip.natural.model import default_natural_model

    images, height, width, channels = shape
    tile_header = bytes([side // 8]) + bytes(7) + b"\x01"
    message = tile_header + np.random.default_rng(seed).bytes(noise)
    run = b"".join(encode_varint(v) for v in (1, 0, images, height, width)) + bytes([channels])
    payload = run + bytes([image_coder._STORED]) + encode_varint(0) + encode_varint(len(message)) + message
    raw = images * height * width * channels
    block = BlockHeader(image_coder.NATURAL_CODER_ID, default_natural_model().model_id, raw, len(payload), 0)
    return STREAM_HEADER + encode_block_header(block) + payload + encode_stream_end(StreamEnd(raw, 0))
