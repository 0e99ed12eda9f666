"""Zstandard for the fast levels: a real LZ coder that runs at gzip's speed or better.

The payload is one standard zstd frame (content size recorded, no checksum: the container
has a CRC), so `zstd -d` reads it too. The `zstandard` binding releases the GIL while it
compresses, so blocks code in parallel on threads.

Every frame is made in zstd's multithreaded mode, even with one worker: that mode cuts the
input into jobs of a fixed size with a fixed overlap, and its output depends only on the
data and those parameters, never on the worker count (the library's guarantee; tests
check 1, 2 and 3). Single-threaded mode makes different bytes, so it is never used.

Job sizes follow from the block's size alone, so `-T` never changes the bytes: 16 MiB jobs
for large blocks (which code in parallel with each other anyway), and two jobs for a block
of 4 to 16 MiB, so that a file of one block (a 13 MB source tar) is not coded on one core
while the other idles.
"""

from __future__ import annotations

from collections.abc import Callable

from bbzip.coders.feed import FEED_BYTES, gather_in_slices
from bbzip.errors import CorruptError
from bbzip.parallel import exclusive

# zstd cannot code a window below 2**10; blocks are at most 64 MiB, so a decoder never needs
# more than 2**26, and refusing larger windows bounds a hostile frame's memory.
MAX_WINDOW_LOG = 26
JOB_BYTES = 16 << 20
# Blocks from SPLIT_BYTES up to JOB_BYTES are cut into two jobs. Each job but the first
# reloads the overlap before it as a dictionary: at the levels' overlap_log 8 (half the
# window) that costs 35 % more CPU on one such block, at 6 (an eighth) about 5 % and 0.5 %
# more output, so split blocks take 6 (measured on a 13 MB tar of Python sources, level 6).
SPLIT_BYTES = 4 << 20
SPLIT_OVERLAP_LOG = 6
_FEED = FEED_BYTES
# The chunker hands output back in pieces of this size; compressobj gathers each 16 MiB
# job's output into one bytes first, which costs a block's output once more in memory.
_CHUNK = 256 << 10

# (strategy, window_log, hash_log, chain_log, search_log, min_match, target_length,
#  overlap_log) per bbzip level: zstd's own levels 1, 3, 5 and 7 with wider windows for
# bbzip 1-4, written out so that a library update cannot change them; bbzip 5-7
# widen the window to the block and raise min_match to 6, which on source code gains
# about 2 % over zstd's level 9 at its speed; overlap_log 8 reloads half the window at each
# 16 MiB job so that a job boundary costs little.
PARAMS = {
    1: (1, 21, 14, 13, 1, 7, 0, 6),
    2: (2, 22, 17, 16, 1, 5, 0, 6),
    3: (3, 22, 19, 18, 3, 5, 2, 6),
    4: (4, 22, 20, 19, 4, 5, 8, 6),
    5: (5, 24, 21, 20, 4, 6, 16, 8),
    6: (5, 24, 22, 21, 5, 6, 16, 8),
    7: (5, 25, 23, 22, 6, 6, 32, 8),
}
TOP_LEVEL = max(PARAMS)


def parameters(level: int, workers: int = 1, size: int | None = None):
    import zstandard

    strategy, window, hash_log, chain, search, min_match, target, overlap = PARAMS[min(level, TOP_LEVEL)]
    if size is not None:
        # A window beyond the block buys nothing and costs memory on both sides.
        window = max(10, min(window, (max(1, size) - 1).bit_length()))
    job = JOB_BYTES
    if split(size):
        job, overlap = -(-size // 2), min(overlap, SPLIT_OVERLAP_LOG)
    return zstandard.ZstdCompressionParameters(
        strategy=strategy, window_log=window, hash_log=min(hash_log, window + 1),
        chain_log=min(chain, window + 1), search_log=search, min_match=min_match,
        target_length=target, threads=max(1, workers), job_size=job, overlap_log=overlap,
        write_content_size=1, write_checksum=0, write_dict_id=0,
    )


class ZstdCoder:
    coder_id = 0x04
    name = "zstd"
    model_id = b""

    def encode(self, block: bytes, level: int = 6, workers: int = 1,
               report: Callable[[int], None] | None = None, turns: bool = True) -> bytearray:
        """``workers``: zstd threads for this block; the output does not depend on it.
        ``turns=False``: in a pool, code on this thread alone, beside the other threads'
        work, rather than take turns with all of them (for when that work is LZMA: a pool-wide
        zstd context would add its memory to theirs, and the cores are busy anyway)."""
        import zstandard

        if len(block) < SPLIT_BYTES or not turns:  # one job: one thread, and little memory
            return _compress(zstandard, block, level, workers, report)
        # A pool's blocks take turns with every thread rather than each taking one: memory
        # for one block's zstd context instead of one per worker, at the same speed.
        with exclusive(workers) as threads:
            return _compress(zstandard, block, level, threads, report)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        import zstandard

        try:
            frame = zstandard.get_frame_parameters(payload)
            if frame.content_size != raw_size:
                raise CorruptError("zstd block does not match its declared length")
            if frame.window_size > 1 << MAX_WINDOW_LOG:
                raise CorruptError(f"zstd block asks for a {frame.window_size}-byte window")
            # The output buffer is exactly raw_size: a frame that would expand further fails.
            out = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG).decompress(
                payload, max_output_size=raw_size, allow_extra_data=False)
        except zstandard.ZstdError as exc:
            raise CorruptError(f"zstd data is corrupt ({exc})") from None
        if len(out) != raw_size:
            raise CorruptError("zstd block does not match its declared length")
        return out


def split(size: int | None) -> bool:
    """Whether a block of ``size`` bytes is coded as two jobs (its size alone decides)."""
    return size is not None and SPLIT_BYTES <= size <= JOB_BYTES


def _compress(zstandard, block: bytes, level: int, workers: int, report) -> bytearray:
    compressor = zstandard.ZstdCompressor(compression_params=parameters(level, workers, len(block)))
    chunker = compressor.chunker(size=len(block), chunk_size=_CHUNK)
    return gather_in_slices(chunker.compress, chunker.finish, block, report, _FEED)
