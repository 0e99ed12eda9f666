"""Cutting an input into blocks so that no image is ever split between two.

An input that starts with an image file (detect.py) becomes: its header and whole images,
as many per block as fit; then whatever follows, which may be another image file (as
`cat *.pgm` makes) or ordinary data. An input that starts with a tar archive is walked
member by member at 512-byte boundaries: members that are image files give image runs,
and everything else (tar headers, padding, other members) stays between them in the same
block, so one block holds many small members and their headers are coded together.

An image larger than BAND_BYTES is cut into bands of whole rows (band_rows), each in a
block of its own: the natural-image coder codes each band as an image of its own, so its
memory (and the decoder's) follows a band, not the image, and the bands of one large
image code in parallel. Other images are packed at most BAND_BYTES of pixels to a block
for the same reason (digit images, whose coder costs little memory, up to a block).

Each block comes with an ImageSegment naming where its images lie, or None.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from bbzip.images import files, tar
from bbzip.images.filebands import MAX_FILE_BYTES
from bbzip.images.detect import (
    DIGIT_SHAPE,
    MAGIC_BYTES,
    MIN_BAND_ROWS,
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


_PNG_PIECE = (0, 0, 0, 0)
_FLUSH = (b"", None)  # a piece that ends the current block
_READ_AHEAD = 1 << 20
# Pixel bytes the natural-image coder is given at once, at most: it takes about 160 bytes a
# subpixel to compress and 120 to decompress, so a worker stays near 170 MB (and -T2's
# process tree under 300 MB: 263 MB for a 3840x2160 photo) whatever the image size. 768 KiB
# rather than 512 (issue 17): 64-row bands for photos up to 4096 pixels wide, so 64-pixel
# tiles (-1.35 % on a 3840x2160 photo), and fewer band edges (-0.13 % on the dev photos).
BAND_BYTES = 768 << 10
# Bands are whole rows of the smallest tile side (MIN_BAND_ROWS = 32), so that an image
# tiled at that side (as a band always is) has the same tiles banded or whole.
BAND_UNIT = MIN_BAND_ROWS
HALF_UNIT = 2 * BAND_UNIT  # an image cut in two for parallelism: the first half in whole 64-row tiles


def band_rows(height: int, width: int, channels: int, budget: int | None = None) -> int:
    """Rows per band of an image (every band but the last, which takes the rest; ``height``:
    one band): a fixed function of the image's shape, never of the machine or the thread
    count, so the output is the same everywhere. An image wider than the budget allows for
    one unit of rows gets bands of one unit all the same. An image within the budget but
    over two thirds of it (512 KiB of 768) is cut in two all the same (the first band in
    whole 64-row tiles), so that it keeps two cores busy as 512 KiB bands did (bands are
    the unit of parallel compression). An image over the budget gets as many bands as the
    budget needs, their heights evened out."""
    budget = budget or BAND_BYTES
    row = width * channels
    if height * row <= budget * 2 // 3:
        return height
    if height * row <= budget:
        half = -(-height // 2)  # up to whole 64-row tiles: coffee (400 rows) 224 + 176 coded 0.14 % larger
        rows = -(-half // HALF_UNIT) * HALF_UNIT
        # Never one band (bbzip.natural.tiles.BAND_BLOCK counts on it) but at 32 rows or fewer.
        return min(height, rows if rows < height else -(-half // BAND_UNIT) * BAND_UNIT)
    rows = max(BAND_UNIT, budget // row // BAND_UNIT * BAND_UNIT)
    if rows >= height:
        return height
    # As many bands as the budget needs, but of even height: a last band of a few rows would
    # leave a core idle while the others finish (693x433 RGB: 352 + 81 rows; balanced, 224 + 209).
    bands = -(-height // rows)
    return min(rows, -(-(-(-height // bands)) // BAND_UNIT) * BAND_UNIT)


def split(first: bytes, src: BinaryIO, block_size: int, band_bytes: int | None = None
          ) -> Iterator[tuple[bytes, ImageSegment | None]] | None:
    """Blocks of an input that starts with ``first`` and continues in ``src``, or None when it
    starts with neither an image nor a tar archive (the caller blocks it plainly).
    ``band_bytes``: BAND_BYTES but in tests (it decides the output)."""
    if sniff(first[:SNIFF_BYTES]) is not None or first.startswith(PNG_SIGNATURE):
        pieces = _file_pieces
    elif tar.is_archive_start(first[: tar.RECORD]):
        pieces = _tar_pieces
    elif (kind := files.sniff_file(first[:SNIFF_BYTES])) is not None:
        return _whole_file(first, src, _Sizes(block_size, band_bytes or BAND_BYTES), kind)
    else:
        return None
    band_bytes = band_bytes or BAND_BYTES
    return _pack(pieces(_Input(first, src), _Sizes(block_size, band_bytes)), block_size, band_bytes)


class _Sizes(NamedTuple):
    block: int  # raw bytes a block holds at most
    band: int  # pixel bytes of images other than digits a block holds at most


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


def _file_pieces(inp: _Input, sizes: _Sizes) -> Iterator[Piece]:
    while True:
        if inp.peek(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
            if (yield from _png_file(inp, None, sizes.block)):
                continue
            break
        layout = sniff(inp.peek(SNIFF_BYTES))
        if layout is None:
            break
        consumed = yield from _image_file(inp, layout, None, sizes)
        yield _FLUSH  # trailing bytes get their own blocks: the digit VAE takes one run only
        if consumed < len(layout.header) + layout.count * layout.image_bytes:
            break  # the input ended early; nothing can follow
    yield from _rest(inp, sizes.block)


def _tar_pieces(inp: _Input, sizes: _Sizes) -> Iterator[Piece]:
    while True:
        header = inp.peek(tar.RECORD)
        member = tar.parse_header(header)
        if member is None:
            break  # end-of-archive zeros, or not a header: the rest is ordinary data
        yield inp.take(tar.RECORD), None
        left = member.padded
        whole = yield from _whole_member(inp, member, sizes)
        if whole:
            left -= whole
        elif member.regular and member.data_size and inp.peek(len(PNG_SIGNATURE)) == PNG_SIGNATURE:
            left -= yield from _png_file(inp, member.data_size, sizes.block)
        # Most members are rejected on their first bytes; only a likely header is read further.
        elif member.regular and member.data_size and may_be_image(inp.peek(MAGIC_BYTES)):
            layout = sniff(inp.peek(min(member.data_size, SNIFF_BYTES)))
            if layout is not None:
                left -= yield from _image_file(inp, layout, member.data_size, sizes)
        while left > 0:
            data = inp.take(min(left, sizes.block))
            if not data:
                return
            yield data, None
            left -= len(data)
    yield from _rest(inp, sizes.block)


def _png_file(inp: _Input, limit: int | None, block_size: int):
    """A whole PNG file (at most ``limit`` bytes, and one block) as one piece; returns its
    size, 0 when it is not one whole supported PNG (then its bytes stay ordinary)."""
    size = png_length(inp.peek(min(block_size, limit or block_size)))
    if size is None:
        return 0
    yield inp.take(size), _PNG_PIECE
    return size


def _whole_file(first: bytes, src: BinaryIO, sizes: _Sizes, kind: str):
    """An input that starts with an image file of files.py's kinds: the file in bands
    (filebands.py) when it has more pixels than a band, else its first block (the whole
    file, when it fits) is that file's; the rest is ordinary blocks."""
    data = first
    if len(first) >= sizes.block and kind in files.BANDED_KINDS:  # the file may go on: read it whole
        data = first + read_full(src, MAX_FILE_BYTES - len(first))
    del first
    pieces = files.banded(data, kind, sizes.block, _rows_of(sizes)) if kind in files.BANDED_KINDS else None
    if pieces is not None:
        yield from pieces
    else:
        yield data[: sizes.block], files.WholeFile(kind)
        for at in range(sizes.block, len(data), sizes.block):
            yield data[at : at + sizes.block], None
    del data, pieces
    while data := read_full(src, sizes.block):
        yield data, None


def _rows_of(sizes: _Sizes):
    return lambda height, width, channels: band_rows(height, width, channels, sizes.band)


def _whole_member(inp: _Input, member: tar.Member, sizes: _Sizes):
    """A tar member that is an image file of files.py's kinds: as one piece, or as the
    pieces of its bands (each a block of its own); returns the bytes consumed, 0 when the
    member is not one (its bytes stay ordinary)."""
    if not member.regular or not 0 < member.data_size <= MAX_FILE_BYTES:
        return 0
    kind = files.sniff_file(inp.peek(min(member.data_size, SNIFF_BYTES)))
    if kind is None or member.data_size > sizes.block and kind not in files.BANDED_KINDS:
        return 0
    data = inp.take(member.data_size)
    pieces = files.banded(data, kind, sizes.block, _rows_of(sizes)) if kind in files.BANDED_KINDS else None
    if pieces is not None:
        yield from pieces
    elif len(data) <= sizes.block:
        yield data, files.WholeFile(kind)
    else:
        for at in range(0, len(data), sizes.block):
            yield data[at : at + sizes.block], None
    return len(data)


def _image_file(inp: _Input, layout: ImageLayout, limit: int | None, sizes: _Sizes):
    """Pieces of one image file: header, then whole images (or bands of one image); returns
    the bytes consumed.

    ``limit``: the bytes the file may span (a tar member's size). Reads go at most one
    block ahead, so a header promising more than the input holds allocates nothing extra."""
    header = len(layout.header)
    count = layout.count if limit is None else min(layout.count, (limit - header) // layout.image_bytes)
    if count < 1:
        return 0
    yield inp.take(header), None
    digits = layout.shape == DIGIT_SHAPE
    rows = band_rows(layout.height, layout.width, layout.channels, sizes.band)
    if not digits and rows < layout.height:
        return header + (yield from _bands(inp, layout, count, rows))
    consumed = header
    room = sizes.block - header  # the first block holds the header too
    per_block = None if digits else max(1, sizes.band // layout.image_bytes)
    if limit is None and digits and count > 1:
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
            if per_block and digits:
                yield _FLUSH
        if whole * layout.image_bytes < len(data):
            if limit is None:
                yield _FLUSH  # the digit VAE's one-run blocks end with their images
            yield data[whole * layout.image_bytes :], None  # truncated pixel data: ordinary bytes
        consumed += len(data)
        if whole < per_piece:
            break
        count, room = count - whole, sizes.block
    return consumed


def _bands(inp: _Input, layout: ImageLayout, count: int, rows: int):
    """Pieces of ``count`` images in bands of ``rows`` rows (the last band of each image
    takes the rest), each band ending its block; returns the bytes consumed. Rows are
    contiguous in every layout, so a band is a contiguous byte range."""
    row_bytes = layout.width * layout.channels
    consumed = 0
    for _ in range(count):
        left = layout.height
        while left:
            want = min(rows, left)
            data = inp.take(want * row_bytes)
            whole = len(data) // row_bytes
            if whole:
                yield data[: whole * row_bytes], (1, whole, layout.width, layout.channels)
            yield _FLUSH
            consumed += len(data)
            if whole < want:  # the input ended: a cut-off row is ordinary bytes
                if whole * row_bytes < len(data):
                    yield data[whole * row_bytes :], None
                return consumed
            left -= whole
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


def _pack(pieces: Iterator[Piece], block_size: int, band_bytes: int) -> Iterator[tuple[bytes, ImageSegment | None]]:
    """Whole images and the bytes around them into blocks of at most ``block_size`` bytes,
    and at most ``band_bytes`` of pixels of images other than digits."""
    parts: list[bytes | memoryview] = []
    runs: list[ImageRun] = []
    filled = pixels = 0

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
                filled = pixels = 0
            yield data, PngSegment(len(data)) if shape is _PNG_PIECE else shape
            continue
        if shape is None and data:
            # Views, so that the join in flush() is the only copy of a large piece.
            rest = memoryview(data)
            while rest:
                if filled >= block_size:
                    yield flush()
                    filled = pixels = 0
                take = min(len(rest), block_size - filled)
                parts.append(rest[:take])
                filled += take
                rest = rest[take:]
            continue
        weighs = shape is not None and shape[1:] != DIGIT_SHAPE
        if filled and (shape is None or filled + len(data) > block_size
                       or (weighs and pixels and pixels + len(data) > band_bytes)):
            yield flush()  # _FLUSH, or images that would overflow the block
            filled = pixels = 0
        if shape is None:
            continue
        pixels += len(data) if weighs else 0
        last = runs[-1] if runs else None
        if last is not None and last.start + last.size == filled and last.shape == shape[1:]:
            runs[-1] = last._replace(count=last.count + shape[0])
        else:
            runs.append(ImageRun(filled, *shape))
        parts.append(data)
        filled += len(data)
    if filled:
        yield flush()
