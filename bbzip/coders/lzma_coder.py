"""The standard library's LZMA2 for structured data (text, source code, tables) at -8, -9.

Raw LZMA2 (no .xz framing): the container already carries lengths and checksums, so
xz's own headers, index and CRC would only add bytes.
"""

from __future__ import annotations

import lzma

from bbzip.coders.feed import compress_in_slices
from bbzip.errors import CorruptError

# xz -6's settings; PRESET_EXTREME buys a little ratio for a little time, as xz -6e. The
# preset only steers the encoder's search: a decoder needs nothing but the dictionary size.
PRESET = 6
MAX_DICT = 8 << 20  # xz -6's dictionary


def filters(raw_size: int, extreme: bool = True) -> list[dict]:
    """The filter chain for a block of ``raw_size`` bytes; its dictionary size is part of the
    format.

    A dictionary larger than the block buys nothing and costs set-up time, which matters
    when bbzip runs over thousands of small files.
    """
    dict_size = min(MAX_DICT, max(1 << 16, 1 << max(0, raw_size - 1).bit_length()))
    preset = PRESET | lzma.PRESET_EXTREME if extreme else PRESET
    return [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size}]


class LzmaCoder:
    coder_id = 2
    name = "lzma"
    model_id = b""

    def encode(self, block: bytes, extreme: bool = True, report=None) -> bytes:
        compressor = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=filters(len(block), extreme))
        return compress_in_slices(compressor, block, report)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filters(raw_size))
        try:
            # max_length bounds the output: a hostile payload cannot expand past raw_size.
            out = decompressor.decompress(payload, max_length=raw_size + 1)
        except lzma.LZMAError as exc:
            raise CorruptError(f"LZMA data is corrupt ({exc})") from None
        if len(out) != raw_size or not decompressor.eof or decompressor.unused_data:
            raise CorruptError("LZMA block does not match its declared length")
        return out
