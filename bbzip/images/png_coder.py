"""The PNG block coder (ID 0x08): one whole PNG file whose IDAT stream bbzip.deflate
regenerates bit for bit, coded as its pixels (through the natural-image model) and the
few bytes that give the file back exactly.

Payload (docs/FORMAT.md, "png payload", has the full statement):
    version     byte 0 (pixels whole) or 1 (pixels in bands)
    deflate     4 bytes: level, strategy, memLevel, windowBits
    side        varint raw size, coder byte (model-free), varint size, that coder's payload;
                raw: varint n, n bytes skeleton (the file without IDAT data and CRCs),
                varint t, t bytes tail (the IDAT bytes after the deflate data: Adler-32 and
                anything after), 2 bytes zlib header, one filter type byte per row
    pixels      version 0, the rest: the planes payload (bbzip.images.planes) of the
                (H, W, C) samples, uint8 or uint16; version 1: varint r, rows a band, then
                for each band of r rows (the last takes the rest) varint size, planes payload
An image of more pixels than a band (blocks.band_rows, as PPM's bands) is written as
version 1, so that the natural model's memory, coding and decoding, follows a band; the
rows, filtered and deflated whole, still cost a few times the image's bytes.
Parameters are found at compress time and the regenerated file compared with the input
before this coder is offered; a PNG whose stream does not regenerate is left to the
other coders.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bbzip import deflate
from bbzip.coders import registry
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, ModelError, UnsupportedError
from bbzip.images import coder as natural_block
from bbzip.images import planes, png, png_rows
from bbzip.images.blocks import band_rows
from bbzip.images.coder import _encode_plain

PNG_CODER_ID = registry.BY_NAME["png"].coder_id
WHOLE, BANDS = 0, 1  # payload versions
# Bytes of filtered rows a version 0 payload may claim (its pixels decode at once).
_WHOLE_PIXEL_BYTES = 32 << 20
# Deflate writes at least 2 bits for a match of 258 bytes: no stream inflates to more than
# this many times its size (plus a little), so a block's IHDR may claim no more.
_MAX_INFLATION = 1032
_PLAIN_IDS = tuple(registry.BY_NAME[name].coder_id for name in ("stored", "lzma", "order0", "zstd"))


def candidates(zlib_header: bytes, size: int):
    """Deflate parameters to try, likeliest first: the level the header's FLEVEL names,
    libpng's Z_FILTERED before the default strategy, memLevel 8 and 9 before the rest."""
    window = (zlib_header[0] >> 4) + 8
    windows = [window] if 9 <= window <= 15 else []
    # Below this size the window size changes nothing: no match reaches MAX_DIST.
    if size + deflate.lz77.MIN_LOOKAHEAD > (1 << min(windows or [15])):
        windows += [w for w in (15, 14, 13, 12, 11, 10, 9) if w not in windows]
    flevel = zlib_header[1] >> 6
    by_flevel = {0: (1,), 1: (2, 3, 4, 5), 2: (6,), 3: (9, 7, 8)}
    levels = list(by_flevel[flevel]) + [lv for lv in (6, 9, 1, 2, 3, 4, 5, 7, 8) if lv not in by_flevel[flevel]]
    seen = set()
    for mem_level in (8, 9, 7, 6, 5, 4, 3, 2, 1):
        for window_bits in windows or [15]:
            for level in levels:
                for strategy in (deflate.lz77.FILTERED, deflate.lz77.DEFAULT, deflate.lz77.FIXED,
                                 deflate.lz77.RLE, deflate.lz77.HUFFMAN_ONLY):
                    if strategy == deflate.lz77.FILTERED and level < 4:
                        continue  # deflate_fast ignores Z_FILTERED: the same stream as default
                    if strategy in (deflate.lz77.RLE, deflate.lz77.HUFFMAN_ONLY):
                        level = 1  # their streams do not depend on the level
                    key = (level, strategy, mem_level, window_bits)
                    if key not in seen:
                        seen.add(key)
                        yield deflate.Params(*key)


class Analysis:
    """What compress time learns of one PNG file: everything but the pixels as ``side``."""

    def __init__(self, header, params, side, raw):
        self.header, self.params, self.side, self.raw = header, params, side, raw


def analyse(data: bytes) -> Analysis | None:
    """The file's parts when its IDAT stream regenerates exactly, else None."""
    import zlib  # reading only: inflating the stream at compress time

    chunks = png.walk(data, True)
    if chunks is None:
        return None
    header = png.read_header(data[chunks[0].data_start : chunks[0].end - 4])
    if header is None:
        return None
    idats = [c for c in chunks if c.kind == b"IDAT"]
    idat = b"".join(data[c.data_start : c.end - 4] for c in idats)
    if len(idat) < 6 or idat[0] & 0x0F != 8 or idat[1] & 0x20 or ((idat[0] << 8) | idat[1]) % 31:
        return None
    inflater = zlib.decompressobj()
    try:
        filtered = inflater.decompress(idat, header.filtered_size + 1)
    except zlib.error:
        return None
    if not inflater.eof or len(filtered) != header.filtered_size:
        return None
    body_end = len(idat) - len(inflater.unused_data) - 4
    body = idat[2:body_end]
    unfiltered = png_rows.unfilter(filtered, header)
    if unfiltered is None:
        return None
    raw, types = unfiltered
    params = deflate.find_params(filtered, body, candidates(idat[:2], len(filtered)))
    if params is None:
        return None
    skeleton, pos = bytearray(), 0
    for c in idats:
        skeleton += data[pos : c.data_start]
        pos = c.end
    skeleton += data[pos:]
    tail = idat[body_end:]
    side = b"".join((encode_varint(len(skeleton)), skeleton, encode_varint(len(tail)), tail, idat[:2],
                     types.tobytes()))
    return Analysis(header, params, side, raw)


def _samples(raw: np.ndarray, header: png.Header) -> np.ndarray:
    """Raw rows as (H, W, C) samples: uint8, or uint16 from PNG's big-endian pairs."""
    cube = raw.reshape(raw.shape[0], header.width, header.channels * header.sample_bytes)
    return cube.view(">u2").astype(np.uint16) if header.depth == 16 else cube


class PngBlockCoder:
    coder_id = PNG_CODER_ID
    name = "png"

    def __init__(self, model):
        self.model, self.model_id = model, model.model_id

    def encode(self, data: bytes) -> bytes:
        """The payload for a block that is one PNG file; UnsupportedError when its stream
        does not regenerate or the model refuses its pixels."""
        found = analyse(data)
        if found is None:
            raise UnsupportedError("PNG stream does not regenerate with zlib's parameters")
        header = found.header
        rows = band_rows(header.height, header.width, 3 if header.channels >= 3 else 1)
        side_coder, side_payload = _encode_plain(found.side)
        out = bytearray((WHOLE if rows == header.height else BANDS, *found.params))
        out += encode_varint(len(found.side)) + bytes((side_coder,)) + encode_varint(len(side_payload)) + side_payload
        if rows == header.height:
            out += planes.encode_planes(self.model, _samples(found.raw, header))
        else:
            out += encode_varint(rows)
            for top in range(0, header.height, rows):
                coded = planes.encode_planes(self.model, _samples(found.raw[top : top + rows], header))
                out += encode_varint(len(coded)) + coded
        payload = bytes(out)
        # The promise: the file comes back from this payload, checked before it is offered
        # (the pixels as the planes coder's own exact round trip gives them back).
        if _assemble(_parse(payload, len(data)), found.raw, len(data)) != data:
            raise UnsupportedError("PNG block did not decode to its input")
        return payload

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        parts = _parse(payload, raw_size)
        header, view = parts.header, memoryview(payload)
        if payload[0] == WHOLE:
            raw = self._rows(view[parts.pixels :], header, header.height)
        else:
            # Pages of rows are touched only as their bands decode: memory follows what
            # the payload really holds, not what IHDR claims.
            raw = np.empty((header.height, header.row_bytes), np.uint8)
            rows, pos = decode_varint(view, parts.pixels, header.height)
            if not rows:
                raise CorruptError("PNG block has bands of no rows")
            for top in range(0, header.height, rows):
                size, pos = decode_varint(view, pos, len(view) - pos)
                if size > len(view) - pos:
                    raise CorruptError("PNG block's band is truncated")
                raw[top : top + rows] = self._rows(view[pos : pos + size], header, min(rows, header.height - top))
                pos += size
            if pos != len(view):
                raise CorruptError("PNG block has trailing bytes")
        return _assemble(parts, raw, raw_size)

    def _rows(self, planes_payload: memoryview, header: png.Header, height: int) -> np.ndarray:
        """``height`` rows of raw PNG bytes from a planes payload."""
        samples = planes.decode_planes(self.model, planes_payload, (height, header.width, header.channels),
                                       np.uint16 if header.depth == 16 else np.uint8)
        raw = (samples.astype(">u2") if header.depth == 16 else samples).view(np.uint8)
        return raw.reshape(height, header.row_bytes)


class _Parts(NamedTuple):
    params: deflate.Params
    skeleton: bytes
    tail: bytes
    zlib_header: bytes
    types: bytes
    header: png.Header
    idat_lengths: list
    pixels: int  # where the planes payload starts


def _parse(payload: bytes, raw_size: int) -> _Parts:
    view = memoryview(payload)
    if len(view) < 6 or view[0] not in (WHOLE, BANDS):
        raise CorruptError("PNG block has an unknown version")
    try:
        params = deflate.Params(*view[1:5]).check()
    except UnsupportedError as exc:
        raise CorruptError(str(exc)) from None
    side_size, pos = decode_varint(view, 5, raw_size + png.MAX_PIXEL_BYTES)
    side, pos = _plain(view, pos, side_size)
    skeleton, tail, zlib_header, types = _read_side(side)
    header, idat_lengths = _skeleton_header(skeleton)
    limit = min(_WHOLE_PIXEL_BYTES + header.height if view[0] == WHOLE else png.MAX_PIXEL_BYTES + header.height,
                _MAX_INFLATION * raw_size + 1024)
    if header.filtered_size > limit:
        raise CorruptError("PNG block claims more pixels than it may hold")
    if len(types) != header.height:
        raise CorruptError("PNG block's filter types do not match its height")
    return _Parts(params, skeleton, tail, zlib_header, types, header, idat_lengths, pos)


def _assemble(parts: _Parts, raw: np.ndarray, raw_size: int) -> bytes:
    """The PNG file: rows filtered, deflated with the parameters, cut into the IDAT chunks."""
    filtered = png_rows.filter_rows(raw, np.frombuffer(parts.types, np.uint8), parts.header.bpp)
    stream = parts.zlib_header + deflate.deflate(filtered, parts.params) + parts.tail
    return _rebuild(parts.skeleton, stream, parts.idat_lengths, raw_size)


def _plain(view: memoryview, pos: int, raw_size: int) -> tuple[bytes, int]:
    if pos >= len(view) or view[pos] not in _PLAIN_IDS:
        raise CorruptError("PNG block names no valid coder for its other bytes")
    coder = registry.model_free(view[pos])
    size, pos = decode_varint(view, pos + 1, len(view))
    data = coder.decode(bytes(view[pos : pos + size]), raw_size)
    if len(data) != raw_size:
        raise CorruptError("PNG block's other bytes have the wrong length")
    return data, pos + size


def _read_side(side: bytes):
    view = memoryview(side)
    n, pos = decode_varint(view, 0, len(side))
    skeleton = side[pos : pos + n]
    t, pos = decode_varint(view, pos + n, len(side))
    tail = side[pos : pos + t]
    pos += t
    if len(skeleton) != n or len(tail) != t or pos + 2 > len(side):
        raise CorruptError("PNG block's side data is truncated")
    return skeleton, tail, side[pos : pos + 2], side[pos + 2 :]


def _skeleton_header(skeleton: bytes) -> tuple[png.Header, list[int]]:
    """IHDR and the IDAT lengths of a skeleton (IDAT chunks there have no data or CRC)."""
    if skeleton[:8] != png.SIGNATURE:
        raise CorruptError("PNG block's skeleton has no PNG signature")
    pos, header, lengths = 8, None, []
    while pos < len(skeleton):
        if pos + 8 > len(skeleton):
            raise CorruptError("PNG block's skeleton is truncated")
        length, kind = int.from_bytes(skeleton[pos : pos + 4], "big"), skeleton[pos + 4 : pos + 8]
        if kind == b"IDAT":
            lengths.append(length)
            pos += 8
            continue
        if header is None:
            header = png.read_header(skeleton[pos + 8 : pos + 8 + length]) if kind == b"IHDR" else None
            if header is None:
                raise CorruptError("PNG block's skeleton has no valid IHDR first")
        pos += 12 + length
    if header is None or pos != len(skeleton):
        raise CorruptError("PNG block's skeleton is truncated")
    return header, lengths


def _rebuild(skeleton: bytes, stream: bytes, idat_lengths: list[int], raw_size: int) -> bytes:
    if sum(idat_lengths) != len(stream) or len(skeleton) + 4 * len(idat_lengths) + len(stream) != raw_size:
        raise CorruptError("PNG block's IDAT lengths do not match its stream")
    out, pos, taken = [], 8, 0
    out.append(skeleton[:8])
    while pos < len(skeleton):
        length, kind = int.from_bytes(skeleton[pos : pos + 4], "big"), skeleton[pos + 4 : pos + 8]
        if kind == b"IDAT":
            out.append(png.chunk_bytes(kind, stream[taken : taken + length]))
            taken += length
            pos += 8
        else:
            out.append(skeleton[pos : pos + 12 + length])
            pos += 12 + length
    return b"".join(out)


def png_coder_for_model_id(model_id: bytes, extra_models=()) -> PngBlockCoder:
    natural = natural_block.natural_coder_for_model_id(model_id, extra_models)  # the same model checks
    return PngBlockCoder(natural.model)


def png_candidate(block: bytes, coder: str, model_path=None) -> tuple[int, bytes, bytes] | None:
    """(coder_id, model_id, payload) for a block that is one PNG file, or None (no
    natural-image model, or a stream that does not regenerate) unless a coder was forced."""
    from bbzip.images.choose import _natural_model_file

    natural = natural_block.backend()
    model = _natural_model_file(model_path, natural) or (natural.default_model() if natural is not None else None)
    if model is None:
        if coder != "auto":
            raise ModelError("no natural-image model is installed")
        return None
    try:
        payload = PngBlockCoder(model).encode(block)
    except UnsupportedError:
        if coder != "auto":
            raise
        return None
    return PNG_CODER_ID, model.model_id, payload


def pixels_in_payload(payload: bytes, raw_size: int) -> int:
    """The pixels (height x width) of a png block, from the IHDR its payload keeps (for
    `bbzip info`); 0 if it is damaged."""
    try:
        header = _parse(payload, raw_size).header
    except CorruptError:
        return 0
    return header.height * header.width
