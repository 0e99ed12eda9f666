"""Streaming compressors fed in slices, so that progress advances within a block."""

from __future__ import annotations

FEED_BYTES = 1 << 20


def compress_in_slices(stream, block: bytes, report=None, feed: int = FEED_BYTES) -> bytes:
    """Run a streaming compressor (``compress``/``flush``, as zlib's, lzma's and zstd's)
    over ``block`` in slices, reporting each slice done, so that progress advances within
    a block. These compressors' output does not depend on how their input is sliced."""
    view = memoryview(block)
    parts = []
    for start in range(0, len(view), feed):
        parts.append(stream.compress(view[start : start + feed]))
        if report:
            report(min(feed, len(view) - start))
    parts.append(stream.flush())
    return b"".join(parts)
