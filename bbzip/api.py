"""Compression of bytes and streams: block framing, coder choice, verification.

    compress(data, coder="auto") -> bytes        decompress(data) -> bytes
    compress_stream(src, dst, ...)               decompress_stream(src, dst, ...)
    stream_info(src) -> StreamInfo

Streams are processed block by block, so memory stays bounded whatever the input size.
"""

from __future__ import annotations

import io
import lzma
import os
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from bbzip import container
from bbzip.coders import registry
from bbzip.container import BlockHeader, StreamEnd, StreamReader
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.streamio import read_full as _read_full
from bbzip.streamio import write_all as _write_all

CODER_NAMES = ("auto", *registry.NAMES)
# LZMA loses about 0.8 % of its output at every block boundary (a cold dictionary), and
# order-0 affords more lanes per block as blocks grow; 32 MiB keeps both near their best
# while a 2 GB pipe still runs in well under 300 MB.
BLOCK_SIZE = 32 << 20
# Below this, running LZMA outright is cheaper than deciding whether to.
SMALL_BLOCK = 64 << 10
SAMPLE_BYTES = 32 << 10
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
    if coder not in CODER_NAMES:
        raise UnsupportedError(f"unknown coder {coder!r}; choose from {', '.join(CODER_NAMES)}")
    _write_all(dst, container.STREAM_HEADER)
    total = crc = 0
    for block in _segments(src, coder, model):
        coder_id, model_id, payload = block.encode()
        header = BlockHeader(coder_id, model_id, len(block.data), len(payload), zlib.crc32(block.data))
        _write_all(dst, container.encode_block_header(header))
        _write_all(dst, payload)
        total += len(block.data)
        crc = zlib.crc32(block.data, crc)
        if progress:
            progress(len(block.data))
        del payload  # or it stays alive through the next block's read and encoding
    _write_all(dst, container.encode_stream_end(StreamEnd(total, crc)))


def decompress_stream(src: BinaryIO, dst: BinaryIO, progress: Progress = None,
                      models: tuple[ModelPath, ...] = ()) -> None:
    """Decode every concatenated stream in ``src``; each block is verified before it is written.

    ``models``: model files to search besides the installed ones."""
    reader = StreamReader(src)
    while reader.next_stream():
        total = crc = 0
        while True:
            before = reader.consumed
            item = reader.next_block()
            if isinstance(item, StreamEnd):
                if item.raw_size != total or item.crc != crc:
                    raise CorruptError("stream length or checksum mismatch")
                break
            payload = reader.read_payload(item)
            data = registry.decoder_for(item.coder_id, item.model_id, models).decode(payload, item.raw_size)
            if len(data) != item.raw_size or zlib.crc32(data) != item.crc:
                raise CorruptError("block checksum mismatch")
            _write_all(dst, data)
            total += len(data)
            crc = zlib.crc32(data, crc)
            del payload, data  # or both stay alive through the next block's read and decoding
            if progress:
                progress(reader.consumed - before)


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
            reader.skip_payload(item)
            info.blocks.append(BlockInfo(registry.coder_name(item.coder_id), item.model_id.hex(),
                                         item.raw_size, item.payload_size,
                                         _pixels(item)))
    info.streams = reader.streams
    info.compressed_size = reader.consumed
    return info


def _pixels(header: BlockHeader) -> int:
    if header.coder_id not in registry.VAE_CODER_IDS:
        return 0  # a natural-image block's pixel count is inside its payload
    from bbzip.vae.formats import pixels_in_block

    return pixels_in_block(header.raw_size)


# -- choosing coders --------------------------------------------------------------------
class _Block(NamedTuple):
    data: bytes
    coder: str
    image: object = None  # an ImageSegment when the block holds whole images
    model: ModelPath | None = None

    def encode(self) -> tuple[int, bytes, bytes]:
        candidate = None
        if self.image is not None or self.coder in IMAGE_CODERS:
            from bbzip.images.choose import image_candidate

            candidate = image_candidate(self.data, self.image, self.coder, self.model)
            if self.coder != "auto":
                return candidate
        if self.coder == "auto":
            return _encode_auto(self.data, candidate)
        chosen = registry.model_free_coder(self.coder)
        return chosen.coder_id, b"", chosen.encode(self.data)


def _encode_auto(block: bytes, candidate: tuple[int, bytes, bytes] | None = None) -> tuple[int, bytes, bytes]:
    """The one chooser: the smallest of stored, order-0, LZMA and an image coder's
    ``candidate`` (coder ID, model ID, payload); order-0's size is known exactly from the
    counts, and LZMA runs in full only when its samples say it may win."""
    from bbzip.coders import order0

    stored = registry.model_free_coder("stored")
    best: tuple[int, int, bytes | None] = (len(block), stored.coder_id, None)
    model_id = b""
    if candidate is not None and len(candidate[2]) < best[0]:
        best, model_id = (len(candidate[2]), candidate[0], candidate[2]), candidate[1]
    counts = order0.byte_counts(block)
    order0_size = order0.estimate_size(counts)
    # LZMA has to beat the best of order-0, stored and the image coder: on incompressible
    # data order-0 is a little over 1.0 and LZMA's samples a little under it, and a full
    # LZMA run on random data (about 0.5 s per MiB) only loses to stored.
    if _lzma_may_win(block, min(order0_size, best[0])):
        lzma_coder = registry.model_free_coder("lzma")
        payload = lzma_coder.encode(block)
        if len(payload) < best[0]:
            best, model_id = (len(payload), lzma_coder.coder_id, payload), b""
    if order0_size < best[0]:
        order0_coder = registry.model_free_coder("order0")
        payload = order0_coder.encode(block, counts)
        if len(payload) < best[0]:
            best, model_id = (len(payload), order0_coder.coder_id, payload), b""
    _, coder_id, payload = best
    return coder_id, model_id, block if payload is None else payload


def _lzma_may_win(block: bytes, to_beat: int) -> bool:
    """Cheap test: does the fastest LZMA preset, on three samples, beat `to_beat` bytes?"""
    if len(block) <= SMALL_BLOCK:
        return True
    # Preset 0 on samples is a pessimistic stand-in for the real thing, so no margin.
    return lzma_sample_ratio(block) < to_beat / len(block)


def lzma_sample_ratio(block: bytes) -> float:
    """Compressed/raw ratio of LZMA preset 0 on three 32 KiB samples of the block."""
    middle = len(block) // 2
    samples = [block[:SAMPLE_BYTES], block[middle : middle + SAMPLE_BYTES], block[-SAMPLE_BYTES:]]
    fast = [{"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": SAMPLE_BYTES}]
    packed = sum(len(lzma.compress(s, format=lzma.FORMAT_RAW, filters=fast)) for s in samples)
    return packed / sum(map(len, samples))


def _segments(src: BinaryIO, coder: str, model: ModelPath | None = None) -> Iterator[_Block]:
    """Split the input into blocks; images (in image files, or tar members) are never split."""
    first = _read_full(src, BLOCK_SIZE)
    images = None
    if coder == "auto" or coder in IMAGE_CODERS:
        from bbzip.images.blocks import split

        images = split(first, src, BLOCK_SIZE)
    if images is not None:
        for data, image in images:
            # With a forced image coder, what follows the images an image header promises
            # (trailing bytes, a cut-off last image, tar members that are not images) is
            # not an image: auto codes it.
            yield _Block(data, coder if image is not None else "auto", image, model)
        return
    if coder in IMAGE_CODERS:
        raise UnsupportedError(f"input is not an image format the {coder} coder knows")
    data = first
    while data:
        yield _Block(data, coder)
        data = _read_full(src, BLOCK_SIZE)


