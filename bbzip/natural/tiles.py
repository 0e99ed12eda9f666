"""How an image set is cut into tiles, one rANS lane each (part of the format: docs/FORMAT.md).

Every image of the set is cut into tiles of ``th x tw`` pixels, th = min(side, H rounded up
to whole 8-pixel blocks), tw likewise, row-major from the top-left corner; lanes are the
tiles in the order (image, tile row, tile column). Tiles are decoded in lockstep, one pixel
position per step, so the decoder takes th * tw * C sequential steps whatever the image
count and size. Each tile is its own causal context: a pixel sees nothing of other tiles.
Positions past the image's right or bottom edge are not coded: their lanes skip the step.
"""

from __future__ import annotations

import mmap
from typing import NamedTuple

import numpy as np

from bbzip.natural.constants import BLOCK

SIDES = (32, 64, 128, 256)
# The encoder's rule for the side: the smallest that keeps the set within this many tiles
# (each lane costs its final head, 8 bytes).
TARGET_TILES = 2048
MAX_LANES = 1 << 16
MIN_SIZE = 8  # smaller images go to the other coders


def zeros_on_demand(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Zeros whose memory is taken a 4 KiB page at a time, as it is written. np.zeros leaves
    untouched pages unallocated too, but numpy advises the kernel to back large arrays with
    2 MiB huge pages, and a decoder that writes one row of every lane's tile then touches
    every huge page: a hostile block's first rows took the memory of the whole claim
    (243-392 MiB for 32 Mi subpixels, issue 19)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size < 1 << 20:
        return np.zeros(shape, dtype)
    pages = mmap.mmap(-1, size)  # anonymous: reads as zeros, allocated when written
    if hasattr(pages, "madvise") and hasattr(mmap, "MADV_NOHUGEPAGE"):  # where THP is "always"
        pages.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(pages, dtype).reshape(shape)


# Larger tiles code smaller (fewer first rows and columns without context, fewer block rows
# of latents without bits back: 1.2 % on the six validation photos from 32 to 64 pixels), but
# a lane group takes th x tw x C sequential steps. So a block of at least LARGE_BLOCK
# subpixels (where a decoder with numba runs compiled: bbzip.natural.compiled.MIN_SUBPIXELS)
# takes the largest side up to MAX_SIDE that still cuts it into MIN_TILES tiles or more.
LARGE_BLOCK = 1 << 18
MIN_TILES = 32
MAX_SIDE = 128
# One image of at least BAND_BLOCK subpixels is a band of an image cut into two or more
# (bbzip.images.blocks.band_rows cuts every image over 512 KiB, but for one at most 32 rows
# tall, which takes MAX_SIDE at MIN_TILES all the same): its other bands keep a second core
# busy, so it may take a side that leaves one lane group (under 64 tiles). Issue 17, with
# 768 KiB bands: -0.74 % on the dev photos, whose bands are this large.
BAND_BLOCK = 1 << 19
BAND_MIN_TILES = 16


def choose_side(n: int, height: int, width: int, channels: int = 1) -> int:
    """The encoder's rule: the smallest side within TARGET_TILES tiles; for a large block,
    larger while that changes the tiling and leaves MIN_TILES tiles (BAND_MIN_TILES for a band)."""
    tiles = lambda side: n * -(-height // side) * -(-width // side)
    side = next((s for s in SIDES if tiles(s) <= TARGET_TILES), SIDES[-1])
    if n * height * width * channels < LARGE_BLOCK:
        return side
    least = BAND_MIN_TILES if n == 1 and height * width * channels >= BAND_BLOCK else MIN_TILES
    for larger in SIDES:
        if side < larger <= MAX_SIDE and tiles(larger) >= least and tiles(larger) < tiles(side):
            side = larger
    return side


class Tiling(NamedTuple):
    n: int
    height: int
    width: int
    th: int  # tile height and width in pixels, whole blocks
    tw: int
    rows: int  # tiles per image, down and across
    cols: int

    @classmethod
    def of(cls, n: int, height: int, width: int, side: int) -> Tiling:
        th = min(side, -(-height // BLOCK) * BLOCK)
        tw = min(side, -(-width // BLOCK) * BLOCK)
        return cls(n, height, width, th, tw, -(-height // th), -(-width // tw))

    @property
    def lanes(self) -> int:
        return self.n * self.rows * self.cols

    def lane_origins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image index, top row and left column of every lane's tile."""
        lane = np.arange(self.lanes)
        image, rest = np.divmod(lane, self.rows * self.cols)
        row, col = np.divmod(rest, self.cols)
        return image, row * self.th, col * self.tw

    def lane_extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Height and width of the image inside each lane's tile."""
        _, top, left = self.lane_origins()
        return np.minimum(self.th, self.height - top), np.minimum(self.tw, self.width - left)

    def to_tiles(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, C) -> (lanes, th, tw, C), zero outside the image."""
        n, h, w, c = images.shape
        padded = np.zeros((n, self.rows * self.th, self.cols * self.tw, c), dtype=images.dtype)
        padded[:, :h, :w] = images
        tiles = padded.reshape(n, self.rows, self.th, self.cols, self.tw, c).transpose(0, 1, 3, 2, 4, 5)
        return tiles.reshape(self.lanes, self.th, self.tw, c)

    def from_tiles(self, tiles: np.ndarray) -> np.ndarray:
        c = tiles.shape[-1]
        grid = tiles.reshape(self.n, self.rows, self.cols, self.th, self.tw, c).transpose(0, 1, 3, 2, 4, 5)
        return grid.reshape(self.n, self.rows * self.th, self.cols * self.tw, c)[:, : self.height, : self.width]
