"""Image files whose pixels are not plain 8-bit gray/RGB rows (coder 0x09): TIFF and BMP,
16-bit PNM, NPY uint16 and arrays with alpha. The parsers (tiff.py, bmp.py, wide.py) say
where each image's pixels lie in the file as *spans* of rows; the pixels go through the
planes API (planes.py) and every other byte of the block is kept verbatim.

Payload (docs/FORMAT.md, "imagefile payload"):
    images      varint k >= 1
    k times     height, width varints; channels, depth, order bytes; channels bytes of perm;
                spans varint m >= 1, then m times: offset, y0, x0, rows, cols, pitch
                varints and a direction byte
    plain       coder byte (model-free), size varint, payload of the bytes outside all spans
    k times     size varint, planes payload of the image
"""

from __future__ import annotations

import numpy as np

from bbzip.coders import registry
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.images import coder as natural_block
from bbzip.images import planes
from bbzip.images.layout import DOWN, MAX_ROWS, UP, Picture, Span

CODER_ID = 0x09
_PLAIN_IDS = (0x01, 0x02, 0x04, 0x7F)


def span_end(span: Span, pixel_bytes: int) -> int:
    return span.offset + (span.rows - 1) * span.pitch + span.cols * pixel_bytes


def _covered(pictures, raw_size: int) -> np.ndarray:
    """Which bytes of the block are pixels; CorruptError when rows overlap or overrun."""
    if sum(span.rows for picture in pictures for span in picture.spans) > MAX_ROWS:
        raise CorruptError("imagefile block has too many pixel rows")
    starts, sizes = [], []
    for picture in pictures:
        for span in picture.spans:
            if span_end(span, picture.pixel_bytes) > raw_size:
                raise CorruptError("imagefile block's pixel rows overrun the block")
            starts.append(span.offset + span.pitch * np.arange(span.rows, dtype=np.int64))
            sizes.append(np.full(span.rows, span.cols * picture.pixel_bytes, np.int64))
    starts, sizes = np.concatenate(starts), np.concatenate(sizes)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], starts[order] + sizes[order]
    if (starts[1:] < ends[:-1]).any():
        raise CorruptError("imagefile block's pixel rows overlap")
    edges = np.zeros(raw_size + 1, np.int8)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    return np.cumsum(edges[:-1], dtype=np.int8).astype(bool)


def _dtype(picture: Picture) -> np.dtype:
    return np.dtype(np.uint8) if picture.depth == 1 else np.dtype(picture.order + "u2")


def _region(buffer: np.ndarray, span: Span, picture: Picture) -> np.ndarray:
    """A span's bytes in ``buffer`` (a uint8 array of the block) as (rows, cols, C) samples,
    top row first; the caller has checked that the span lies inside the buffer."""
    pb = picture.pixel_bytes
    rows = np.lib.stride_tricks.as_strided(buffer[span.offset :], (span.rows, span.cols * pb), (span.pitch, 1))
    rows = rows if span.direction == DOWN else rows[::-1]
    return rows.view(_dtype(picture)).reshape(span.rows, span.cols, picture.channels)


def gather(block: bytes, picture: Picture) -> np.ndarray:
    """The picture's pixels as an (H, W, C) uint8/uint16 array in array channel order."""
    buffer = np.frombuffer(block, np.uint8)
    out = np.zeros((picture.height, picture.width, picture.channels), np.uint16 if picture.depth == 2 else np.uint8)
    inverse = list(np.argsort(picture.perm))
    for span in picture.spans:
        out[span.y0 : span.y0 + span.rows, span.x0 : span.x0 + span.cols] = _region(buffer, span, picture)[..., inverse]
    return out


def scatter(buffer: np.ndarray, array: np.ndarray, picture: Picture) -> None:
    perm = list(picture.perm)
    for span in picture.spans:
        region = _region(buffer, span, picture)
        region[...] = array[span.y0 : span.y0 + span.rows, span.x0 : span.x0 + span.cols][..., perm]


class ImageFileCoder:
    coder_id = CODER_ID
    name = "imagefile"

    def __init__(self, model):
        self.model, self.model_id = model, getattr(model, "model_id", b"")

    def encode(self, block: bytes, pictures: list[Picture]) -> bytes:
        """UnsupportedError when the pictures' spans do not describe ``block`` exactly."""
        try:
            mask = _covered(pictures, len(block))
        except CorruptError as exc:
            raise UnsupportedError(str(exc)) from None
        out = bytearray(encode_varint(len(pictures)))
        for picture in pictures:
            out += _pack_picture(picture)
        plain = np.frombuffer(block, np.uint8)[~mask].tobytes()
        coder_id, payload = natural_block._encode_plain(plain)
        out.append(coder_id)
        out += encode_varint(len(payload)) + payload
        arrays = [gather(block, picture) for picture in pictures]
        if _assemble(plain, mask, pictures, arrays) != block:  # the spans must give the block back
            raise UnsupportedError("these image spans do not give the block back")
        for array in arrays:
            coded = planes.encode_planes(self.model, array)
            out += encode_varint(len(coded)) + coded
        return bytes(out)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        view = memoryview(payload)
        count, pos = decode_varint(view, 0, raw_size)
        if count < 1:
            raise CorruptError("imagefile block has no images")
        pictures, room = [], raw_size
        for _ in range(count):
            picture, pos = _read_picture(view, pos, raw_size, room)
            pictures.append(picture)
            # Every pixel has its bytes in the block, so the images together fit in it:
            # the arrays decoded below never add up to more than the block.
            room -= picture.height * picture.width * picture.pixel_bytes
        mask = _covered(pictures, raw_size)
        plain_size = raw_size - int(mask.sum())
        if pos >= len(view) or view[pos] not in _PLAIN_IDS:
            raise CorruptError("imagefile block names no valid coder for its other bytes")
        plain_coder = registry.model_free(view[pos])
        size, pos = decode_varint(view, pos + 1, len(view) - pos - 1)
        plain = plain_coder.decode(bytes(view[pos : pos + size]), plain_size)
        if len(plain) != plain_size:
            raise CorruptError("imagefile block's other bytes have the wrong length")
        pos += size
        arrays = []
        for picture in pictures:
            size, pos = decode_varint(view, pos, len(view) - pos)
            arrays.append(planes.decode_planes(self.model, view[pos : pos + size],
                                               (picture.height, picture.width, picture.channels),
                                               np.uint16 if picture.depth == 2 else np.uint8))
            pos += size
        if pos != len(view):
            raise CorruptError("imagefile block has trailing bytes")
        return _assemble(plain, mask, pictures, arrays)


def _assemble(plain: bytes, mask: np.ndarray, pictures, arrays) -> bytes:
    out = np.zeros(len(mask), np.uint8)
    out[~mask] = np.frombuffer(plain, np.uint8)
    for picture, array in zip(pictures, arrays):
        scatter(out, array, picture)
    return out.tobytes()


def _pack_picture(picture: Picture) -> bytes:
    out = bytearray(encode_varint(picture.height) + encode_varint(picture.width))
    out += bytes([picture.channels, picture.depth, 0 if picture.order == "<" else 1, *picture.perm])
    out += encode_varint(len(picture.spans))
    for span in picture.spans:
        out += b"".join(encode_varint(v) for v in span[:6]) + bytes([span.direction])
    return bytes(out)


def _read_picture(view: memoryview, pos: int, raw_size: int, room: int) -> tuple[Picture, int]:
    """One image description, whose pixels must fit in ``room`` bytes."""
    height, pos = decode_varint(view, pos, raw_size)
    width, pos = decode_varint(view, pos, raw_size)
    if pos + 3 > len(view):
        raise CorruptError("imagefile block is truncated")
    channels, depth, order = view[pos], view[pos + 1], view[pos + 2]
    pos += 3
    if not (1 <= channels <= 4 and depth in (1, 2) and order in (0, 1)) or not height or not width:
        raise CorruptError("imagefile block has an invalid image description")
    if height * width * channels * depth > room:
        raise CorruptError("imagefile block's image exceeds its size")
    perm = tuple(view[pos : pos + channels])
    pos += channels
    if sorted(perm) != list(range(channels)):
        raise CorruptError("imagefile block has an invalid channel order")
    count, pos = decode_varint(view, pos, raw_size)
    if count < 1:
        raise CorruptError("imagefile block has an image without pixels")
    spans = []
    for _ in range(count):
        fields = []
        for _ in range(6):
            value, pos = decode_varint(view, pos, raw_size)
            fields.append(value)
        if pos >= len(view) or view[pos] not in (DOWN, UP):
            raise CorruptError("imagefile block has an invalid row direction")
        span = Span(*fields, view[pos])
        pos += 1
        if (not span.rows or not span.cols or span.y0 + span.rows > height or span.x0 + span.cols > width
                or span.pitch < span.cols * channels * depth
                or span_end(span, channels * depth) > raw_size):
            raise CorruptError("imagefile block has an invalid span")
        spans.append(span)
    return Picture(height, width, channels, depth, "<" if order == 0 else ">", perm, tuple(spans)), pos


def imagefile_coder_for_model_id(model_id: bytes, extra_models=()) -> ImageFileCoder:
    return ImageFileCoder(natural_block.natural_coder_for_model_id(model_id, extra_models).model)


