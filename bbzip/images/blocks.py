"""Cutting an input into blocks so that no image is ever split between two.

An input that starts with an image file (detect.py) becomes: its header and whole images,
as many per block as fit; then whatever follows, which may be another image file (as
`cat *.pgm` makes) or ordinary data. An input that starts with a tar archive is walked
member by member at 512-byte boundaries: members that are image files give image runs,
and everything else (tar headers, padding, other members) stays between them in the same
block, so one block holds many small members and their headers are coded together.

Each block comes with an ImageSegment naming where its images lie, or None.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from bbzip.images import files, tar
from bbzip.images.detect import (
    DIGIT_SHAPE,
    MAGIC_BYTES,
    SNIFF_BYTES,
    ImageLayout,
    may_be_image,
    sniff,
)
from bbzip.images.png import SIGNATURE as PNG_SIGNATURE
from bbzip.images.png import png_length
from bbzip.streamio import read_full


class ImageRun(NamedTuple):
    start: int  # offset of the first pixel in the block
    count: int
    height: int
    width: int
    channels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels

    @property
    def size(self) -> int:
        return self.count * self.height * self.width * self.channels


class ImageSegment(NamedTuple):
    """Where a block's images lie; everything outside the runs is other bytes, kept exact."""

    runs: tuple[ImageRun, ...]
    block_size: int

    @property
    def header_bytes(self) -> int:
        """Bytes before the first image: the file header, for the digit VAE's one-run blocks."""
        return self.runs[0].start

    @property
    def images(self) -> int:
        return sum(run.count for run in self.runs)

    png = False  # PngSegment's flag

    @property
    def digits(self) -> bool:
        """One run of 28x28 gray images reaching the end of the block: the digit VAE's case."""
        run = self.runs[0]
        return len(self.runs) == 1 and run.shape == DIGIT_SHAPE and run.start + run.size == self.block_size


class PngSegment(NamedTuple):
    """A block that is one whole PNG file (png_coder.py may regenerate it)."""

    block_size: int
    png: bool = True


_FLUSH = (b"", None)
_PNG_PIECE = (0, 0, 0, 0)
_READ_AHEAD = 1 << 20  # a piece that ends the current block


def split(first: bytes, src: BinaryIO, block_size: int) -> Iterator[tuple[bytes, ImageSegment | None]] | None:
    """Blocks of an input that starts with ``first`` and continues in ``src``, or None when it
    starts with neither an image nor a tar archive (the caller blocks it plainly)."""
    if sniff(first[:SNIFF_BYTES]) is not None or first.startswith(PNG_SIGNATURE):
        pieces = _file_pieces
    elif tar.is_archive_start(first[: tar.RECORD]):
        pieces = _tar_pieces
    elif (kind := files.sniff_file(first[:SNIFF_BYTES])) is not None:
        return _whole_file(first, src, block_size, files.WholeFile(kind))
    else:
        return None
    return _pack(pieces(_Input(first, src), block_size), block_size)


class _Input:
    """The input as a buffer that is read ahead only as far as asked (bounded by the caller)."""

    def __init__(self, first: bytes, src: BinaryIO):
        self.buffer, self.pos, self.src = first, 0, src

    def peek(self, size: int) -> bytes:
        missing = size - (len(self.buffer) - self.pos)
        if missing > 0:
            # Reading ahead keeps a walk over small tar members from costing a read each.
            more = read_full(self.src, max(missing, _READ_AHEAD))
            self.buffer = self.buffer[self.pos :] + more
            self.pos = 0
        return self.buffer[self.pos : self.pos + size]

    def take(self, size: int) -> bytes:
        data = self.peek(size)
        self.pos += len(data)
        if self.pos >= len(self.buffer):
            self.buffer, self.pos = b"", 0
        return data


Piece = tuple[bytes, "tuple[int, int, int, int] | None"]  # bytes, (count, h, w, c) for images


def _file_pieces(inp: _Input, block_size: int) -> Iterator[Piece]:
    while True:
        if inp.peek(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
            if (yield from _png_file(inp, None, block_size)):
                continue
            break
        layout = sniff(inp.peek(SNIFF_BYTES))
        if layout is None:
            break
        consumed = yield from _image_file(inp, layout, None, block_size)
        yield _FLUSH  # trailing bytes get their own blocks: the digit VAE takes one run only
        if consumed < len(layout.header) + layout.count * layout.image_bytes:
            break  # the input ended early; nothing can follow
    yield from _rest(inp, block_size)


def _tar_pieces(inp: _Input, block_size: int) -> Iterator[Piece]:
    while True:
        header = inp.peek(tar.RECORD)
        member = tar.parse_header(header)
        if member is None:
            break  # end-of-archive zeros, or not a header: the rest is ordinary data
        yield inp.take(tar.RECORD), None
        left = member.padded
        whole = _whole_member(inp, member, block_size)
        if whole is not None:
            yield whole
            left -= len(whole[0])
        elif member.regular and member.data_size and inp.peek(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
            left -= yield from _png_file(inp, member.data_size, block_size)
        # Most members are rejected on their first bytes; only a likely header is read further.
        elif member.regular and member.data_size and may_be_image(inp.peek(MAGIC_BYTES)):
            layout = sniff(inp.peek(min(member.data_size, SNIFF_BYTES)))
            if layout is not None:
                left -= yield from _image_file(inp, layout, member.data_size, block_size)
        while left > 0:
            data = inp.take(min(left, block_size))
            if not data:
                return
            yield data, None
            left -= len(data)
    yield from _rest(inp, block_size)


def _png_file(inp: _Input, limit: int | None, block_size: int):
    """A whole PNG file (at most ``limit`` bytes, and one block) as one piece; returns its
    size, 0 when it is not one whole supported PNG (then its bytes stay ordinary)."""
    size = png_length(inp.peek(min(block_size, limit or block_size)))
    if size is None:
        return 0
    yield inp.take(size), _PNG_PIECE
    return size


def _whole_file(first: bytes, src: BinaryIO, block_size: int, image: files.WholeFile):
    """An input that starts with an image file of files.py's kinds: its first block (the
    whole file, when it fits) is that file's, the rest ordinary blocks."""
    yield first, image
    while data := read_full(src, block_size):
        yield data, None


def _whole_member(inp: _Input, member: tar.Member, block_size: int) -> Piece | None:
    """A tar member that is an image file of files.py's kinds, as one piece, or None."""
    if not member.regular or not 0 < member.data_size <= block_size:
        return None
    kind = files.sniff_file(inp.peek(min(member.data_size, SNIFF_BYTES)))
    return None if kind is None else (inp.take(member.data_size), files.WholeFile(kind))


def _image_file(inp: _Input, layout: ImageLayout, limit: int | None, block_size: int):
    """Pieces of one image file: header, then whole images; returns the bytes consumed.

    ``limit``: the bytes the file may span (a tar member's size). Reads go at most one
    block ahead, so a header promising more than the input holds allocates nothing extra."""
    header = len(layout.header)
    count = layout.count if limit is None else min(layout.count, (limit - header) // layout.image_bytes)
    if count < 1:
        return 0
    yield inp.take(header), None
    consumed = header
    room = block_size - header  # the first block holds the header too
    per_block = None
    if limit is None and layout.shape == DIGIT_SHAPE and count > 1:
        # Digit files are cut every `per_block` images so that their blocks code in parallel;
        # the images the first block would hold decide (binary ones are not cut).
        first = inp.peek(min(count, max(1, room // layout.image_bytes)) * layout.image_bytes)
        per_block = _digits_per_block(first[: len(first) - len(first) % layout.image_bytes])
    while count:
        per_piece = min(count, max(1, room // layout.image_bytes), per_block or count)
        data = inp.take(per_piece * layout.image_bytes)
        whole = len(data) // layout.image_bytes
        if whole:
            yield data[: whole * layout.image_bytes], (whole, *layout.shape)
            if per_block:
                yield _FLUSH
        if whole * layout.image_bytes < len(data):
            if limit is None:
                yield _FLUSH  # the digit VAE's one-run blocks end with their images
            yield data[whole * layout.image_bytes :], None  # truncated pixel data: ordinary bytes
        consumed += len(data)
        if whole < per_piece:
            break
        count, room = count - whole, block_size
    return consumed


def _digits_per_block(images: bytes) -> int | None:
    """Images per block for a digit file whose first piece is ``images`` (None: uncut); a
    fixed count, never one that depends on the thread count, so the output does not."""
    import numpy as np

    from bbzip.vae.coder import binary_ink, parallel_block_images

    return parallel_block_images(binary_ink(np.frombuffer(images, np.uint8)) is not None)


def _rest(inp: _Input, block_size: int) -> Iterator[Piece]:
    while data := inp.take(block_size):
        yield data, None


def _pack(pieces: Iterator[Piece], block_size: int) -> Iterator[tuple[bytes, ImageSegment | None]]:
    """Whole images and the bytes around them into blocks of at most ``block_size`` (an
    image larger than that gets a block of its own)."""
    parts: list[bytes] = []
    runs: list[ImageRun] = []
    filled = 0

    def flush():
        data = b"".join(parts)
        parts.clear()
        segment = ImageSegment(tuple(runs), len(data)) if runs else None
        runs.clear()
        return data, segment

    for data, shape in pieces:
        if shape is _PNG_PIECE or isinstance(shape, files.WholeFile):  # a block of its own
            if filled:
                yield flush()
                filled = 0
            yield data, PngSegment(len(data)) if shape is _PNG_PIECE else shape
            continue
        if shape is None and data:
            while data:
                if filled >= block_size:
                    yield flush()
                    filled = 0
                take = min(len(data), block_size - filled)
                parts.append(data[:take])
                filled += take
                data = data[take:]
            continue
        if filled and (shape is None or filled + len(data) > block_size):
            yield flush()  # _FLUSH, or an image that would overflow the block
            filled = 0
        if shape is None:
            continue
        last = runs[-1] if runs else None
        if last is not None and last.start + last.size == filled and last.shape == shape[1:]:
            runs[-1] = last._replace(count=last.count + shape[0])
        else:
            runs.append(ImageRun(filled, *shape))
        parts.append(data)
        filled += len(data)
    if filled:
        yield flush()
