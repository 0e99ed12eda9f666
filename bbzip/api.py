"""Compression of bytes and streams: block framing, coder choice, verification.

    compress(data, coder="auto") -> bytes        decompress(data) -> bytes
    compress_stream(src, dst, ...)               decompress_stream(src, dst, ...)
    stream_info(src) -> StreamInfo

Streams are processed block by block, so memory stays bounded whatever the input size.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from bbzip import container, levels, parallel_natural
from bbzip.coders import registry
from bbzip.container import BlockHeader, StreamEnd, StreamReader
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.levels import LEARNED_MIN_LEVEL
from bbzip.streamio import read_full as _read_full
from bbzip.streamio import write_all as _write_all

CODER_NAMES = ("auto", *registry.NAMES)
# LZ coders lose output at every block boundary (a cold dictionary), and order-0 affords
# more lanes per block as blocks grow; 32 MiB keeps them near their best while a 2 GB pipe
# still runs in bounded memory (at most `workers` blocks in flight while compressing).
BLOCK_SIZE = 32 << 20
LEVELS = range(1, 10)
DEFAULT_LEVEL = 6

IMAGE_CODERS = tuple(entry.name for entry in registry.ENTRIES if entry.needs_model)
Progress = Callable[[int], None] | None
ModelPath = str | os.PathLike


def compress(data: bytes, coder: str = "auto", model: ModelPath | None = None, level: int = DEFAULT_LEVEL,
             threads: int = 1) -> bytes:
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, coder=coder, model=model, level=level, threads=threads)
    return out.getvalue()


def decompress(data: bytes, models: tuple[ModelPath, ...] = ()) -> bytes:
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, models=models)
    return out.getvalue()


def compress_stream(src: BinaryIO, dst: BinaryIO, coder: str = "auto", progress: Progress = None,
                    model: ModelPath | None = None, level: int = DEFAULT_LEVEL, threads: int = 1) -> None:
    """``model``: a model file for image blocks instead of the shipped model for their kind.
    ``level``: 1 (fastest) .. 9 (smallest), as gzip's; ``threads``: worker count, 0 = every
    core this process may use. The output never depends on ``threads``."""
    from bbzip import parallel

    if coder not in CODER_NAMES:
        raise UnsupportedError(f"unknown coder {coder!r}; choose from {', '.join(CODER_NAMES)}")
    if level not in LEVELS:
        raise UnsupportedError(f"unknown level {level!r}; choose from 1 to 9")
    workers = parallel.worker_count(threads)
    _write_all(dst, container.STREAM_HEADER)
    total = crc = 0
    tasks = _encode_tasks(_segments(src, coder, model), level)
    # No spare block: zstd codes one block at a time with every thread (parallel.exclusive),
    # so a queued block would only hold memory (issue 10's bar: 150 MB + 100 per worker).
    for size, block_crc, (coder_id, model_id, payload) in parallel.run_ordered(tasks, workers, progress,
                                                                                spare=0):
        header = BlockHeader(coder_id, model_id, size, len(payload), block_crc)
        _write_all(dst, container.encode_block_header(header))
        _write_all(dst, payload)
        total += size
        crc = container.crc32_combine(crc, block_crc, size)
        del payload  # or it stays alive through the next block's read and encoding
    _write_all(dst, container.encode_stream_end(StreamEnd(total, crc)))


def _encode_tasks(blocks: Iterator[_Block], level: int):
    from bbzip.parallel import Task

    for block in blocks:
        learned = _is_learned(block, level)
        task = Task(_encode_block, (block, level), len(block.data), learned,
                    prepare=parallel_natural.for_encoding(block) if learned else None)
        # Only the task holds the block: it is let go as soon as its worker is done, not
        # kept here through the next block's read.
        del block
        yield task
        del task


def _is_learned(block: _Block, level: int) -> bool:
    """Image blocks for a learned coder hold the GIL most of the time: they go to processes."""
    return block.image is not None and (block.coder != "auto" or level >= LEARNED_MIN_LEVEL)


def _encode_block(block: _Block, level: int, workers: int, report) -> tuple[int, int, tuple[int, bytes, bytes]]:
    return len(block.data), zlib.crc32(block.data), block.encode(level, workers, report)


def decompress_stream(src: BinaryIO, dst: BinaryIO, progress: Progress = None,
                      models: tuple[ModelPath, ...] = (), threads: int = 1) -> None:
    """Decode every concatenated stream in ``src``; each block is verified before it is written.

    ``models``: model files to search besides the installed ones. ``threads`` as for
    `compress_stream`; progress counts compressed bytes."""
    from bbzip import parallel

    reader = StreamReader(src)
    total = crc = 0
    for item in parallel.run_ordered(_decode_tasks(reader, models), parallel.worker_count(threads), progress):
        if isinstance(item, StreamEnd):
            if item.raw_size != total or item.crc != crc:
                raise CorruptError("stream length or checksum mismatch")
            total = crc = 0
            continue
        data, block_crc = item
        _write_all(dst, data)
        total += len(data)
        crc = container.crc32_combine(crc, block_crc, len(data))
        del item, data  # or they stay alive through the next block's read and decoding


def _decode_tasks(reader: StreamReader, models: tuple[ModelPath, ...]):
    from bbzip.parallel import Task

    counted = 0  # progress counts every byte read, stream headers with the block after them
    while reader.next_stream():
        while True:
            item = reader.next_block()
            if isinstance(item, StreamEnd):
                yield Task(_stream_end, (item,), reader.consumed - counted, light=True)
                counted = reader.consumed
                break
            payload = reader.read_payload(item)
            # Coders that need a model are the learned ones, which hold the GIL.
            task = Task(_decode_block, (item, payload, models), reader.consumed - counted,
                        process=bool(item.model_id), raw=item.raw_size,
                        prepare=parallel_natural.for_decoding(item, models))
            counted = reader.consumed
            del payload
            yield task
            del task


def _stream_end(item: StreamEnd, workers: int, report) -> StreamEnd:
    return item


def _decode_block(header: BlockHeader, payload: bytes, models, workers: int, report) -> tuple[bytes, int]:
    decoder = registry.decoder_for(header.coder_id, header.model_id, models)
    if header.coder_id == registry.NATURAL_CODER_ID:  # the one decoder that can use workers itself
        data = decoder.decode(payload, header.raw_size, workers)
    else:
        data = decoder.decode(payload, header.raw_size)
    if len(data) != header.raw_size or zlib.crc32(data) != header.crc:
        raise CorruptError("block checksum mismatch")
    return data, header.crc


class BlockInfo(NamedTuple):
    coder: str
    model_id: str
    raw_size: int
    payload_size: int
    pixels: int = 0


class StreamInfo:
    """What `stream_info` found; a plain class (dataclasses cost start-up time)."""

    def __init__(self, streams: int = 0, blocks: list[BlockInfo] | None = None, raw_size: int = 0,
                 compressed_size: int = 0) -> None:
        self.streams, self.raw_size, self.compressed_size = streams, raw_size, compressed_size
        self.blocks = [] if blocks is None else blocks

    def __repr__(self) -> str:
        return (f"StreamInfo(streams={self.streams}, blocks={self.blocks!r}, raw_size={self.raw_size}, "
                f"compressed_size={self.compressed_size})")


def stream_info(src: BinaryIO) -> StreamInfo:
    """Walk the framing without decoding payloads (sizes come from the headers)."""
    reader = StreamReader(src)
    info = StreamInfo()
    while reader.next_stream():
        while True:
            item = reader.next_block()
            if isinstance(item, StreamEnd):
                info.raw_size += item.raw_size
                break
            if item.coder_id == registry.NATURAL_CODER_ID:  # its pixel count is inside its payload
                from bbzip.images.coder import pixels_in_payload

                pixels = pixels_in_payload(reader.read_payload(item), item.raw_size)
            elif item.coder_id == registry.BY_NAME["imagefile"].coder_id:  # so is this one's
                from bbzip.images import filecoder

                pixels = filecoder.pixels_in_payload(reader.read_payload(item), item.raw_size)
            elif item.coder_id == registry.BY_NAME["png"].coder_id:  # a regenerated PNG: IHDR's
                from bbzip.images import png_coder

                pixels = png_coder.pixels_in_payload(reader.read_payload(item), item.raw_size)
            else:
                reader.skip_payload(item)
                pixels = _pixels(item)
            info.blocks.append(BlockInfo(registry.coder_name(item.coder_id), item.model_id.hex(),
                                         item.raw_size, item.payload_size, pixels))
    info.streams = reader.streams
    info.compressed_size = reader.consumed
    return info


def _pixels(header: BlockHeader) -> int:
    if header.coder_id not in registry.VAE_CODER_IDS:
        return 0
    from bbzip.vae.formats import pixels_in_block

    return pixels_in_block(header.raw_size)


# -- choosing coders --------------------------------------------------------------------
class _Block(NamedTuple):
    data: bytes
    coder: str
    image: object = None  # an ImageSegment when the block holds whole images
    model: ModelPath | None = None

    def encode(self, level: int = DEFAULT_LEVEL, workers: int = 1, report=None) -> tuple[int, bytes, bytes]:
        candidate = None
        learned = self.coder != "auto" or level >= LEARNED_MIN_LEVEL  # -1..-3 never run a network
        if (self.image is not None and learned) or self.coder in IMAGE_CODERS:
            from bbzip.images.choose import image_candidate

            candidate = image_candidate(self.data, self.image, self.coder, self.model)
            if self.coder != "auto":
                return candidate
        if self.coder == "auto":
            coder_id, payload = levels.encode_general(self.data, level, workers, report)
            if candidate is not None and len(candidate[2]) < len(payload):
                return candidate
            return coder_id, b"", payload
        chosen = registry.model_free_coder(self.coder)
        return chosen.coder_id, b"", levels.encode_named(self.coder, self.data, level, workers, report)


def _segments(src: BinaryIO, coder: str, model: ModelPath | None = None) -> Iterator[_Block]:
    """Split the input into blocks; images (in image files, or tar members) are never split."""
    first = _read_full(src, BLOCK_SIZE)
    images = None
    if coder == "auto" or coder in IMAGE_CODERS:
        from bbzip.images.blocks import split

        images = split(first, src, BLOCK_SIZE)
    if images is not None:
        del first  # the splitter holds it only until it is cut: not for the whole input
        for data, image in images:
            # With a forced image coder, what follows the images an image header promises
            # (trailing bytes, a cut-off last image, tar members that are not images) is
            # not an image: auto codes it.
            yield _Block(data, coder if image is not None else "auto", image, model)
        return
    if coder in IMAGE_CODERS:
        raise UnsupportedError(f"input is not an image format the {coder} coder knows")
    # Each block is let go before the next is read: only its task holds it by then.
    data = first
    del first
    while data:
        yield _Block(data, coder)
        del data
        data = _read_full(src, BLOCK_SIZE)


