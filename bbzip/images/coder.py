"""The natural-image block coder (ID 0x06): gray and RGB images of any size, and the bytes
around them, in one block.

Payload (docs/FORMAT.md has the full layout):
    runs          varint k >= 1
    k times       gap varint, count varint, height varint, width varint, channels byte (1|3)
    plain         coder byte (a model-free coder ID), size varint, that coder's payload
    groups        per distinct (height, width, channels), in order of first appearance:
                  size varint, then bbzip.natural's payload for all runs of that shape
The raw block is gap_1 plain bytes, run_1's pixels, gap_2 plain bytes, ..., then the rest of
the plain bytes. Plain bytes are file headers (so they come back verbatim), tar headers and
padding, and anything else between images; coding them together lets one block carry many
small tar members whose headers share most of their bytes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from bbzip.coders import registry
from bbzip.coders.registry import NATURAL_CODER_ID
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, ModelError, UnsupportedError

_STORED, _LZMA, _ORDER0, _ZSTD = (registry.BY_NAME[name].coder_id for name in ("stored", "lzma", "order0", "zstd"))
# Below this, LZMA's own framing costs more than it could save.
_PLAIN_LZMA_MIN = 48
_PLAIN_ORDER0_MIN = 64 << 10


def backend() -> SimpleNamespace | None:
    """bbzip.natural's entry points (encode, decode, default_model, find_model, model_class),
    or None when that package is not installed. Tests replace this function."""
    try:
        from bbzip.natural import coder, model
    except ImportError:
        return None
    from bbzip.vae.model import find_model

    return SimpleNamespace(encode=coder.encode, decode=coder.decode, default_model=model.default_natural_model,
                           find_model=find_model, model_class=model.NaturalModel)


class NaturalBlockCoder:
    coder_id = NATURAL_CODER_ID
    name = "natural"

    def __init__(self, model, natural: SimpleNamespace):
        self.model, self.model_id, self.natural = model, model.model_id, natural

    def encode_runs(self, block: bytes, runs) -> bytes:
        """The payload for ``block`` whose images lie at ``runs`` (ImageRun: start, count,
        height, width, channels; in order, not overlapping). Images the model refuses (too
        small, too many tiles) become plain bytes; UnsupportedError when it refuses all."""
        groups: dict[tuple[int, int, int], list] = {}
        for run in runs:
            pixels = np.frombuffer(block, np.uint8, run.size, run.start)
            groups.setdefault(run.shape, []).append(pixels.reshape(run.count, *run.shape))
        payloads = {}
        for shape, arrays in groups.items():
            try:
                payloads[shape] = self.natural.encode(self.model, np.concatenate(arrays))
            except UnsupportedError:
                continue
        runs = [run for run in runs if run.shape in payloads]
        if not runs:
            raise UnsupportedError("the natural-image model takes none of these images")
        out = bytearray(encode_varint(len(runs)))
        plain, pos = [], 0
        for run in runs:
            out += b"".join(map(encode_varint, (run.start - pos, run.count, run.height, run.width)))
            out.append(run.channels)
            plain.append(block[pos : run.start])
            pos = run.start + run.size
        plain.append(block[pos:])
        coder_id, plain_payload = _encode_plain(b"".join(plain))
        out.append(coder_id)
        out += encode_varint(len(plain_payload)) + plain_payload
        for payload in payloads.values():  # in order of first appearance, as the runs list them
            out += encode_varint(len(payload)) + payload
        return bytes(out)

    def decode(self, payload: bytes, raw_size: int, workers: int = 1) -> bytes:
        """``workers``: processes the natural decoder may use (the caller's -T)."""
        view = memoryview(payload)
        runs, shapes, pos = read_runs(view, raw_size)
        plain_size = raw_size - sum(end - start for start, end, _ in runs)
        if pos >= len(view) or view[pos] not in (_STORED, _LZMA, _ORDER0, _ZSTD):
            raise CorruptError("natural-image block names no valid coder for its other bytes")
        plain_coder = registry.model_free(view[pos])
        size, pos = decode_varint(view, pos + 1, len(view) - pos - 1)
        plain = plain_coder.decode(bytes(view[pos : pos + size]), plain_size)
        pos += size
        if len(plain) != plain_size:
            raise CorruptError("natural-image block's other bytes have the wrong length")
        pixels: list[bytes] = [b""] * len(runs)
        for (height, width, channels), members in shapes.items():
            size, pos = decode_varint(view, pos, len(view) - pos)
            total = sum(runs[i][2] for i in members)
            images = self.natural.decode(self.model, view[pos : pos + size], (total, height, width, channels),
                                         workers=workers)
            pos += size
            if images.shape != (total, height, width, channels) or images.dtype.kind not in "ui":
                raise CorruptError("natural-image payload decoded to the wrong shape")
            if images.dtype != np.uint8:  # pixels as wider integers: each must still be a byte
                if images.size and (images.min() < 0 or images.max() > 255):
                    raise CorruptError("natural-image payload decoded to values beyond 8 bits")
                images = images.astype(np.uint8)
            flat, at = images.reshape(-1), 0
            for i in members:
                start, end, _ = runs[i]
                pixels[i] = flat[at : at + end - start].tobytes()
                at += end - start
        if pos != len(view):
            raise CorruptError("natural-image block has trailing bytes")
        out, taken, last = [], 0, 0
        for (start, end, _), data in zip(runs, pixels):
            out += [plain[taken : taken + start - last], data]
            taken, last = taken + start - last, end
        out.append(plain[taken:])
        return b"".join(out)


def read_runs(view: memoryview, raw_size: int) -> tuple[list[tuple[int, int, int]], dict, int]:
    """The runs of a payload: [(start, end, images)] in the raw block, the run indices of
    each (height, width, channels), and the position after the runs."""
    # Every length is checked against raw_size (the container's bound) before anything
    # is allocated; each run costs at least 5 payload bytes, so the loop ends with them.
    count, pos = decode_varint(view, 0, raw_size)
    if count < 1:
        raise CorruptError("natural-image block has no images")
    runs, offset, shapes = [], 0, {}
    for _ in range(count):
        gap, pos = decode_varint(view, pos, raw_size)
        images, pos = decode_varint(view, pos, raw_size)
        height, pos = decode_varint(view, pos, raw_size)
        width, pos = decode_varint(view, pos, raw_size)
        if pos >= len(view):
            raise CorruptError("natural-image block is truncated")
        channels = view[pos]
        pos += 1
        if channels not in (1, 3) or not images or not height or not width:
            raise CorruptError("natural-image block has an invalid image shape")
        start = offset + gap
        offset = start + images * height * width * channels
        if offset > raw_size:
            raise CorruptError("natural-image block's images exceed its size")
        runs.append((start, offset, images))
        shapes.setdefault((height, width, channels), []).append(len(runs) - 1)
    return runs, shapes, pos


def pixels_in_payload(payload: bytes, raw_size: int) -> int:
    """The image pixels (height x width, whatever the channels) a payload holds; 0 if it
    is damaged (`bbzip info` reads no further; decoding says what is wrong)."""
    try:
        runs, shapes, _ = read_runs(memoryview(payload), raw_size)
    except CorruptError:
        return 0
    return sum((end - start) // shape[2] for shape, members in shapes.items()
               for start, end, _ in (runs[i] for i in members))


def _encode_plain(plain: bytes) -> tuple[int, bytes]:
    """The smallest model-free coding of the bytes around the images."""
    best = (_STORED, plain)
    # zstd beats lzma on a tar's headers (233 against 258 bytes for six photos' members).
    candidates = [_LZMA, _ZSTD] if len(plain) >= _PLAIN_LZMA_MIN else []
    if len(plain) >= _PLAIN_ORDER0_MIN:
        candidates.append(_ORDER0)
    for coder_id in candidates:
        payload = registry.model_free(coder_id).encode(plain)
        if len(payload) < len(best[1]):
            best = (coder_id, payload)
    return best


def natural_coder_for_model_id(model_id: bytes, extra_models=()) -> NaturalBlockCoder:
    natural = backend()
    if natural is None:
        raise ModelError("this bbzip has no natural-image coder (bbzip.natural is missing)")
    if not model_id:
        raise CorruptError("natural-image block without a model ID")
    model = natural.find_model(model_id, tuple(extra_models))
    if not isinstance(model, natural.model_class):
        raise ModelError(f"model {model_id.hex()} is not a natural-image model")
    return NaturalBlockCoder(model, natural)
