"""Streaming compressors fed in slices, so that progress advances within a block."""

from __future__ import annotations

from collections.abc import Callable, Iterable

FEED_BYTES = 1 << 20


def compress_in_slices(stream, block: bytes, report=None, feed: int = FEED_BYTES) -> bytearray:
    """Run a streaming compressor (``compress``/``flush``, as zlib's and lzma's) over
    ``block`` in slices, reporting each slice done, so that progress advances within a
    block. These compressors' output does not depend on how their input is sliced."""
    return gather_in_slices(lambda part: (stream.compress(part),), lambda: (stream.flush(),),
                            block, report, feed)


def gather_in_slices(compress: Callable[[memoryview], Iterable[bytes]],
                     finish: Callable[[], Iterable[bytes]], block: bytes, report=None,
                     feed: int = FEED_BYTES) -> bytearray:
    """The same for a compressor whose calls return pieces of output (zstd's chunker).

    The output gathers in one bytearray, which grows in place: a list of pieces joined at
    the end held a block's output twice, and a block's output can be as large as the block."""
    view = memoryview(block)
    out = bytearray()
    for start in range(0, len(view), feed):
        for piece in compress(view[start : start + feed]):
            out += piece
        if report:
            report(min(feed, len(view) - start))
    for piece in finish():
        out += piece
    return out
