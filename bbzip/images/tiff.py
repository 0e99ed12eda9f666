"""Uncompressed TIFF (either byte order; strips or tiles; 8 or 16 bits a sample; gray,
gray+alpha, RGB, RGBA; chunky) : where each page's pixels lie. Tags, other pages, tile
padding and anything else of the file stay plain bytes of the block.

Only what locating the pixels needs is read; a page this module does not take (compressed,
planar, other sample sizes) is left whole as plain bytes, the other pages still count.
"""

from __future__ import annotations

import struct

from bbzip.images.layout import MAX_ROWS, MAX_SIDE, Picture, Span

MAGICS = (b"II*\x00", b"MM\x00*")
MAX_PAGES = 64
_SHORT, _LONG = 3, 4
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
(_WIDTH, _LENGTH, _BITS, _COMPRESSION, _STRIP_OFFSETS, _SAMPLES, _ROWS_PER_STRIP, _PLANAR, _TILE_WIDTH,
 _TILE_LENGTH, _TILE_OFFSETS, _SAMPLE_FORMAT) = (256, 257, 258, 259, 273, 277, 278, 284, 322, 323, 324, 339)
_WANTED = {_WIDTH, _LENGTH, _BITS, _COMPRESSION, _STRIP_OFFSETS, _SAMPLES, _ROWS_PER_STRIP, _PLANAR,
           _TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS, _SAMPLE_FORMAT}


def looks_like(prefix: bytes) -> bool:
    return prefix[:4] in MAGICS


def parse(block: bytes) -> list[Picture] | None:
    """The pages of a TIFF file that this module takes, or None when there are none."""
    if not looks_like(block) or len(block) < 8:
        return None
    order = "<" if block[:2] == b"II" else ">"
    pictures, seen = [], set()
    ifd = struct.unpack_from(order + "I", block, 4)[0]
    while ifd and ifd not in seen and len(seen) < MAX_PAGES:
        seen.add(ifd)
        tags, ifd = _read_ifd(block, ifd, order)
        if tags is None:
            break
        picture = _page(block, tags, order)
        if picture is not None:
            pictures.append(picture)
    if not pictures or sum(span.rows for p in pictures for span in p.spans) > MAX_ROWS:
        return None
    return pictures


def _read_ifd(block: bytes, at: int, order: str) -> tuple[dict | None, int]:
    """The wanted tags of the IFD at ``at`` ({tag: tuple of values}), and the next IFD's offset."""
    if at + 2 > len(block):
        return None, 0
    count = struct.unpack_from(order + "H", block, at)[0]
    end = at + 2 + 12 * count
    if end + 4 > len(block):
        return None, 0
    tags = {}
    for i in range(count):
        tag, kind, n, value = struct.unpack_from(order + "HHI4s", block, at + 2 + 12 * i)
        if tag not in _WANTED or kind not in (_SHORT, _LONG):
            continue
        size = _SIZES[kind] * n
        if n > MAX_ROWS:
            return None, 0
        data = value if size <= 4 else block[_offset(value, order) : _offset(value, order) + size]
        if len(data) < size:
            return None, 0
        tags[tag] = struct.unpack_from(f"{order}{n}{'H' if kind == _SHORT else 'I'}", data)
    return tags, struct.unpack_from(order + "I", block, end)[0]


def _offset(value: bytes, order: str) -> int:
    return struct.unpack(order + "I", value)[0]


def _one(tags: dict, tag: int, default: int | None = None) -> int | None:
    values = tags.get(tag)
    return values[0] if values else default


def _page(block: bytes, tags: dict, order: str) -> Picture | None:
    width, height = _one(tags, _WIDTH), _one(tags, _LENGTH)
    samples = _one(tags, _SAMPLES, 1)
    bits = tags.get(_BITS, (1,))
    if width is None or height is None or not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        return None
    if not 1 <= samples <= 4 or len(set(bits)) != 1 or bits[0] not in (8, 16) or len(bits) not in (1, samples):
        return None
    if _one(tags, _COMPRESSION, 1) != 1 or _one(tags, _PLANAR, 1) != 1:
        return None
    if any(fmt != 1 for fmt in tags.get(_SAMPLE_FORMAT, (1,))):
        return None  # signed or floating-point samples
    depth = bits[0] // 8
    pixel_bytes = samples * depth
    if _TILE_OFFSETS in tags:
        spans = _tiles(tags, width, height, pixel_bytes)
    else:
        spans = _strips(tags, width, height, pixel_bytes)
    if spans is None:
        return None
    for span in spans:
        if span.offset + (span.rows - 1) * span.pitch + span.cols * pixel_bytes > len(block):
            return None
    return Picture(height, width, samples, depth, order, tuple(range(samples)), tuple(spans))


def _strips(tags: dict, width: int, height: int, pixel_bytes: int) -> list[Span] | None:
    offsets = tags.get(_STRIP_OFFSETS)
    per_strip = min(_one(tags, _ROWS_PER_STRIP, height) or height, height)
    if not offsets or len(offsets) != -(-height // per_strip):
        return None
    return [Span(offset, i * per_strip, 0, min(per_strip, height - i * per_strip), width, width * pixel_bytes)
            for i, offset in enumerate(offsets)]


def _tiles(tags: dict, width: int, height: int, pixel_bytes: int) -> list[Span] | None:
    tile_width, tile_length = _one(tags, _TILE_WIDTH), _one(tags, _TILE_LENGTH)
    offsets = tags[_TILE_OFFSETS]
    if not tile_width or not tile_length or tile_width > MAX_SIDE or tile_length > MAX_SIDE:
        return None
    across = -(-width // tile_width)
    if len(offsets) != across * -(-height // tile_length):
        return None
    spans = []
    for i, offset in enumerate(offsets):
        y0, x0 = i // across * tile_length, i % across * tile_width
        spans.append(Span(offset, y0, x0, min(tile_length, height - y0), min(tile_width, width - x0),
                          tile_width * pixel_bytes))
    return spans
