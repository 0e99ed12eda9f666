"""Image files of coder 0x09's kinds (TIFF, BMP, 16-bit PNM, NPY) with more pixels than one
band, cut into blocks at band boundaries: each block is a byte range of the file holding
whole rows of one band, coded as an ordinary imagefile block whose pictures are that band.

The file's pixels are uncompressed, so a band's rows are a byte range of their own (BMP's
bottom-up rows put the last band first; TIFF strips need nothing; TIFF tiles are cut only
at tile rows). The bands are PPM's (blocks.band_rows on the colour planes), so a TIFF's
pixels code as its PPM's do. Bytes before a band's first row (headers, the gap after the
previous band) open its block; bytes after the last band are plain blocks. Nothing of the
format is new: the decoder sees imagefile blocks, one band each, and needs memory for a
band only.
"""

from __future__ import annotations

from typing import NamedTuple

from bbzip.images.layout import DOWN, Picture, Span

# Bytes of a whole image file the splitter reads to cut it into bands, at most (a TIFF's
# directory may follow its pixels, so the file is read whole): a 15 MP RGBA 16-bit TIFF
# takes 118 MB. Larger inputs go on as today (their first block whole, if it parses).
MAX_FILE_BYTES = 192 << 20


class _Band(NamedTuple):
    start: int  # the first pixel byte of the band in the file
    end: int  # one past its last pixel byte
    picture: Picture  # span offsets still file offsets


def band_blocks(size: int, pictures: list[Picture], block_size: int, rows_of) -> list[tuple[int, int, tuple]] | None:
    """(start, end, pictures) of the blocks a ``size``-byte file holding ``pictures`` is cut
    into, ``pictures`` with offsets in the block, up to the last band's end; None when every
    picture fits one band (the file stays one block), or the bands are not disjoint byte
    ranges in one order, or one block would exceed ``block_size``.
    ``rows_of(height, width, colours)``: rows per band (blocks.band_rows)."""
    cuts = [_cut_rows(picture, rows_of(picture.height, picture.width, 3 if picture.channels >= 3 else 1))
            for picture in pictures]
    if all(len(c) == 2 for c in cuts):
        return None
    bands = [band for picture, ys in zip(pictures, cuts) for band in _bands(picture, ys)]
    bands.sort(key=lambda band: band.start)
    blocks, previous = [], 0
    for band in bands:
        if band.start < previous or band.end - previous > block_size:
            return None
        blocks.append((previous, band.end, (_rebased(band.picture, previous),)))
        previous = band.end
    return blocks if previous <= size else None


def _cut_rows(picture: Picture, rows: int) -> list[int]:
    """Row boundaries of the bands, 0 to height: every ``rows`` rows where a boundary may
    fall; inside a span narrower than the picture (a tile) none may, so a cut moves up to
    the tile's top (or down to its bottom when that is the band's top)."""
    height = picture.height
    narrow = [span for span in picture.spans if span.cols != picture.width and span.rows > 1]
    if not narrow:  # strips, whole rows: any row boundary (no array of the height's size)
        return [*range(0, height, rows), height]
    import numpy as np  # here: blocks.py imports this module, and small inputs never need numpy

    blocked = np.zeros(height + 1, np.int32)
    for span in narrow:
        blocked[span.y0 + 1] += 1
        blocked[span.y0 + span.rows] -= 1
    allowed = np.flatnonzero(np.cumsum(blocked, dtype=np.int32) == 0)  # 0 and height always are
    ys = [0]
    while ys[-1] < height:
        target = ys[-1] + rows
        below = allowed[(allowed > ys[-1]) & (allowed <= target)]
        ys.append(int(below[-1]) if below.size else int(allowed[allowed > target][0]))
    return ys


def _bands(picture: Picture, ys: list[int]):
    for top, bottom in zip(ys[:-1], ys[1:]):
        spans = [_sub_span(span, top, bottom, picture.pixel_bytes) for span in picture.spans
                 if span.y0 < bottom and span.y0 + span.rows > top]
        start = min(span.offset for span in spans)
        end = max(span.offset + (span.rows - 1) * span.pitch + span.cols * picture.pixel_bytes for span in spans)
        yield _Band(start, end, picture._replace(height=bottom - top, spans=tuple(spans)))


def _sub_span(span: Span, top: int, bottom: int, pixel_bytes: int) -> Span:
    """The rows of ``span`` in image rows [top, bottom), as a span of the band."""
    first, last = max(top, span.y0) - span.y0, min(bottom, span.y0 + span.rows) - span.y0
    if span.direction == DOWN:
        offset = span.offset + first * span.pitch
    else:  # bottom-up: the band's lowest row comes first in the file
        offset = span.offset + (span.rows - last) * span.pitch
    return span._replace(offset=offset, y0=span.y0 + first - top, rows=last - first)


def _rebased(picture: Picture, start: int) -> Picture:
    return picture._replace(spans=tuple(span._replace(offset=span.offset - start) for span in picture.spans))
