"""Where an image's pixels lie in a file: spans of rows (stdlib only, so that detection
stays light). Parsers (tiff.py, bmp.py, wide.py) describe files with these; filecoder.py
codes them (docs/FORMAT.md, "imagefile payload")."""

from __future__ import annotations

from typing import NamedTuple

DOWN, UP = 0, 1
# Width/height limit: far beyond any image a block holds, small enough that no product
# of a header's numbers overflows the checks.
MAX_SIDE = 1 << 24
# Rows of all spans of a block, at most: keeps a hostile payload's bookkeeping small.
MAX_ROWS = 1 << 20


class Span(NamedTuple):
    """``rows`` rows of ``cols`` pixels of the image, from (y0, x0), at ``offset`` in the
    block, ``pitch`` bytes apart (rows in file order going down, or up for bottom-up BMP)."""

    offset: int
    y0: int
    x0: int
    rows: int
    cols: int
    pitch: int
    direction: int = DOWN


class Picture(NamedTuple):
    height: int
    width: int
    channels: int  # 1..4: gray, gray+alpha, RGB, RGBA (the array's order)
    depth: int  # bytes a sample: 1 or 2
    order: str  # "<" or ">": the byte order of 16-bit samples in the file
    perm: tuple[int, ...]  # file channel i is array channel perm[i] (BMP's BGR: 2, 1, 0)
    spans: tuple[Span, ...]

    @property
    def pixel_bytes(self) -> int:
        return self.channels * self.depth
