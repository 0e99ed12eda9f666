"""The natural-image payload's header: what the encoder chose for a set of images
(docs/IMAGES.md has the layout; it is part of the format)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError
from bbzip.natural.calibration import ADJUST_SIZE
from bbzip.natural.constants import BLOCK, LATENT
from bbzip.natural.context_classes import MAX_CLASSES
from bbzip.natural.tiles import SIDES


class Settings(NamedTuple):
    """What the encoder chose for a set of images."""

    coarse_bits: tuple[int, ...]  # per latent channel: precision of the latents without bits back
    # Log-scale offsets / 16 per colour channel (3; gray uses the first): (3,) for the set,
    # or (N, 3), one row per image.
    scale_offsets: tuple[int, ...] | np.ndarray
    per_tile: bool = False  # each lane codes its tile's deltas to the offsets first
    tile_deltas: np.ndarray | None = None  # the encoder's deltas (lanes, C) when per_tile
    # Corrections of each channel's 3K outputs: (C, 3K), or (N, C, 3K) with per-image offsets.
    adjust: np.ndarray | None = None
    # Or corrections per context class (bit 1, bbzip.natural.context_classes): (C, K, 3K) or (N, C, K, 3K).
    context: np.ndarray | None = None

    @property
    def per_image(self) -> bool:
        return np.ndim(self.scale_offsets) == 2


# Flags beside the tile side in the first byte (side / 8 is 4, 8, 16 or 32: bits 2-5).
PER_TILE, ADJUST, PER_IMAGE, CONTEXT = 0x80, 0x40, 0x01, 0x02
_SIDE = 0x3C
_FIXED = 1 + LATENT + 3 + 1  # first byte, coarse bits, first offsets, groups


def pack(side: int, settings: Settings, messages: list[bytes]) -> bytes:
    """The payload: header, group lengths, messages."""
    offsets = np.asarray(settings.scale_offsets, dtype=np.int64).reshape(-1, 3)
    context = settings.context is not None
    first = (side // BLOCK | (PER_TILE if settings.per_tile else 0) | (PER_IMAGE if settings.per_image else 0)
             | (ADJUST if settings.adjust is not None or context else 0) | (CONTEXT if context else 0))
    head = bytes([first, *settings.coarse_bits]) + offsets[0].astype(np.int8).tobytes() + bytes([len(messages)])
    head += offsets[1:].astype(np.int8).tobytes()
    if context:  # the class count, then the corrections of each (image,) channel and class
        head += bytes([np.shape(settings.context)[-2]]) + np.asarray(settings.context).astype(np.int8).tobytes()
    elif settings.adjust is not None:
        head += np.asarray(settings.adjust).astype(np.int8).tobytes()
    lengths = b"".join(encode_varint(len(m)) for m in messages[:-1])
    return head + lengths + b"".join(messages)


def unpack(view: memoryview, n: int, c: int, prior_precision: int) -> tuple[int, Settings, list[memoryview]]:
    """(tile side, settings, each group's message bytes) of a payload for n images of C channels."""
    if len(view) < _FIXED or (view[0] & _SIDE) * BLOCK not in SIDES:
        raise CorruptError("natural-image block names an unknown tile size")
    first = view[0]
    if first & PER_IMAGE and n < 2:
        raise CorruptError("natural-image block has per-image settings for one image")
    signed = lambda raw: np.frombuffer(raw, dtype=np.int8).astype(np.int64)
    sets = n if first & PER_IMAGE else 1
    pos = _FIXED + 3 * (sets - 1)
    classes = 1
    if first & CONTEXT:
        if not first & ADJUST:
            raise CorruptError("natural-image block has context classes without corrections")
        if len(view) <= pos or not 2 <= view[pos] <= MAX_CLASSES:
            raise CorruptError("natural-image block names an impossible context class count")
        classes = view[pos]
        pos += 1
    corrections = pos
    pos += sets * c * classes * ADJUST_SIZE if first & ADJUST else 0
    if len(view) < pos:
        raise CorruptError("natural-image block is truncated")
    offsets = np.concatenate([signed(view[1 + LATENT : 4 + LATENT]), signed(view[_FIXED : _FIXED + 3 * (sets - 1)])])
    if offsets.reshape(sets, 3)[:, c:].any():  # one encoding per payload: unused offsets are 0
        raise CorruptError("natural-image block has scale offsets for channels its images lack")
    adjust = context = None
    if first & ADJUST:
        shape = (sets,) * (sets > 1) + (c,) + (classes,) * bool(first & CONTEXT) + (ADJUST_SIZE,)
        values = signed(view[corrections:pos]).reshape(shape)
        adjust, context = (None, values) if first & CONTEXT else (values, None)
    coarse_bits = tuple(view[1 : 1 + LATENT])
    if max(coarse_bits) > prior_precision:
        raise CorruptError("natural-image block names an impossible latent precision")
    settings = Settings(coarse_bits, offsets.reshape(sets, 3) if sets > 1 else tuple(offsets.tolist()),
                        per_tile=bool(first & PER_TILE), adjust=adjust, context=context)
    groups = view[_FIXED - 1]
    if groups < 1:
        raise CorruptError("natural-image block has no lane groups")
    lengths = []
    for _ in range(groups - 1):
        length, pos = decode_varint(view, pos, len(view))
        lengths.append(length)
    lengths.append(len(view) - pos - sum(lengths))
    if lengths[-1] < 0:
        raise CorruptError("natural-image block is truncated")
    messages = []
    for length in lengths:
        messages.append(view[pos : pos + length])
        pos += length
    return (first & _SIDE) * BLOCK, settings, messages
