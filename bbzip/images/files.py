"""Image files that take a block to themselves: JPEG (Lepton, coder 0x07) and files whose
pixels are transformed on their way to the natural model (coder 0x09: TIFF, BMP, 16-bit
PNM, NPY uint16 or with alpha).

Detection reads the first bytes only (`sniff_file`); the block (a file of its own, or a tar
member's data) is parsed when it is encoded, and anything a parser rejects, or whose coding
does not give the block back, goes to the other coders byte-exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from bbzip.errors import UnsupportedError
from bbzip.images import bmp, jpeg, tiff, wide


class WholeFile(NamedTuple):
    """The block is one image file of this kind (api's "image" of a block)."""

    kind: str  # "jpeg", "tiff", "bmp", "pnm16" or "npy"
    pictures: tuple | None = None  # a band of a larger file (filebands.py): its pictures in the block


def sniff_file(prefix: bytes) -> str | None:
    """The kind of image file ``prefix`` starts with, among this module's, or None."""
    head = prefix[:2]
    if jpeg.is_jpeg(prefix):
        return "jpeg"
    if head in (b"II", b"MM"):
        return "tiff" if tiff.looks_like(prefix) else None
    if head == bmp.MAGIC:
        return "bmp" if bmp.looks_like(prefix) else None
    if head in (b"P5", b"P6"):
        return "pnm16" if wide.looks_like_pnm16(prefix) else None
    if prefix.startswith(wide.NPY_MAGIC):
        return "npy" if wide.looks_like_npy(prefix) else None
    return None


_PARSERS = {"tiff": tiff.parse, "bmp": bmp.parse, "pnm16": wide.parse_pnm16, "npy": wide.parse_npy}
BANDED_KINDS = frozenset(_PARSERS)  # the kinds whose pixels lie uncompressed in the file


def pictures(block: bytes, kind: str):
    """The pictures a parser finds in ``block``, or None."""
    return _PARSERS[kind](block)


def banded(data: bytes, kind: str, block_size: int, rows_of) -> Iterator[tuple[bytes, WholeFile | None]] | None:
    """The blocks of an image file ``data`` (whole, and whatever follows it) when its
    pictures are cut into bands (filebands.py), or None when it stays one block."""
    from bbzip.images import filebands

    found = pictures(data, kind)
    cut = None if found is None else filebands.band_blocks(len(data), found, block_size, rows_of)
    return None if cut is None else _band_pieces(data, kind, cut, block_size)


def _band_pieces(data: bytes, kind: str, cut, block_size: int):
    for start, end, band in cut:  # one block at a time: a band's bytes are copied when asked for
        yield data[start:end], WholeFile(kind, band)
    for at in range(cut[-1][1], len(data), block_size):
        yield data[at : at + block_size], None


def candidate(block: bytes, segment: WholeFile, coder: str, model_of) -> tuple[int, bytes, bytes] | None:
    """(coder_id, model_id, payload) for a block holding one image file, or None (the other
    coders take it). ``model_of()``: the natural-image model, or None (loaded only when a
    parser finds pictures). A forced image coder ("natural", "imagefile", "vae") raises
    instead of stepping aside."""
    forced = coder != "auto"
    if coder == "vae":
        raise UnsupportedError("the vae coder takes 28x28 gray images only (try --coder natural)")
    if segment.kind == "jpeg":
        if forced:
            raise UnsupportedError("JPEG files go to the jpeg coder (--coder jpeg), not the natural one")
        try:
            return jpeg.LeptonCoder.coder_id, b"", jpeg.LeptonCoder().encode(block)
        except UnsupportedError:
            return None
    from bbzip.images.filecoder import ImageFileCoder

    found = list(segment.pictures) if segment.pictures is not None else pictures(block, segment.kind)
    try:
        if found is None:
            raise UnsupportedError(f"this {segment.kind} file is not one the natural coder takes")
        model = model_of()
        if model is None:
            raise UnsupportedError("no natural-image model is installed")
        return ImageFileCoder.coder_id, model.model_id, ImageFileCoder(model).encode(block, found)
    except UnsupportedError:
        if forced:
            raise
        return None
