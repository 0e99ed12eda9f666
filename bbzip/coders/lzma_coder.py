"""The standard library's LZMA2 for structured data (text, source code, tables).

Raw LZMA2 (no .xz framing): the container already carries lengths and checksums, so
xz's own headers, index and CRC would only add bytes.
"""

from __future__ import annotations

import lzma

from bbzip.errors import CorruptError

# xz -6's settings; PRESET_EXTREME buys a little ratio for a little time, as xz -6e.
PRESET = 6 | lzma.PRESET_EXTREME
MAX_DICT = 8 << 20  # xz -6's dictionary


def filters(raw_size: int) -> list[dict]:
    """The filter chain for a block of ``raw_size`` bytes; part of the format.

    A dictionary larger than the block buys nothing and costs set-up time, which matters
    when bbzip runs over thousands of small files.
    """
    dict_size = min(MAX_DICT, max(1 << 16, 1 << max(0, raw_size - 1).bit_length()))
    return [{"id": lzma.FILTER_LZMA2, "preset": PRESET, "dict_size": dict_size}]


class LzmaCoder:
    coder_id = 2
    name = "lzma"
    model_id = b""

    def encode(self, block: bytes) -> bytes:
        return lzma.compress(block, format=lzma.FORMAT_RAW, filters=filters(len(block)))

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
