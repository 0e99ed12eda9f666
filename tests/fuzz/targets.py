"""Coverage-guided fuzz targets: one per parser and coder of bbzip (tests/fuzz/coverage.py runs
them under atheris, or plainly on mutated seeds without it).

A target takes arbitrary bytes and may end only normally or with one of bbzip's own errors
(bbzip.errors.BBZError); anything else (IndexError, ValueError, MemoryError, a hang) is a
finding. Payload targets read the block's raw size from their first two bytes
(little-endian, plus one), so the fuzzer explores sizes too, within 64 KiB.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
DATA = ROOT / "tests" / "data"


def _sized(data: bytes) -> tuple[int, bytes]:
    return int.from_bytes(data[:2].ljust(2, b"\0"), "little") + 1, data[2:]


def _coder(coder_id: int, model: str | None = None) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        from bbzip.coders import registry

        raw_size, payload = _sized(data)
        model_id = b"" if model is None else _model_id(model)
        registry.decoder_for(coder_id, model_id).decode(payload, raw_size)
    return target


def _model_id(name: str) -> bytes:
    from bbzip.vae.model import MODEL_ID_BYTES, manifest

    return next(bytes.fromhex(e["sha256"])[:MODEL_ID_BYTES] for e in manifest() if e["name"] == name)


def stream(data: bytes) -> None:
    from bbzip import api

    api.decompress(data)


def info(data: bytes) -> None:
    from bbzip import api

    api.stream_info(io.BytesIO(data))


def varint(data: bytes) -> None:
    from bbzip.coders.varint import decode_varint

    limit, rest = _sized(data)
    pos = 0
    while pos < len(rest):
        _, pos = decode_varint(rest, pos, limit)


def rans(data: bytes) -> None:
    """A 32-bit-word message of 1..4 lanes popped at precision 12 until its words run out."""
    import numpy as np

    from bbzip.ans.rans import Message

    lanes = 1 + (data[:1] or b"\0")[0] % 4
    message = Message.from_bytes(data[1:], lanes, seed=0x62627A6970000006)
    for _ in range(64):
        slots = message.peek(lanes, 12).astype(np.int64)
        message.pop(slots, np.ones(lanes, dtype=np.int64), 12)
    message.is_initial()


def natural_header(data: bytes) -> None:
    from bbzip.natural import header

    n, c = 1 + (data[:1] or b"\0")[0] % 4, (1, 3)[(data[1:2] or b"\0")[0] % 2]
    header.unpack(memoryview(data[2:]), n, c, 8)


def sniff(data: bytes) -> None:
    from bbzip.images.detect import sniff as detect

    detect(data)


def pnm(data: bytes) -> None:
    from bbzip.natural.images import parse_pnm

    parse_pnm(data)


def tar_header(data: bytes) -> None:
    from bbzip.images import tar

    tar.is_archive_start(data)
    tar.parse_header(data[: tar.RECORD].ljust(tar.RECORD, b"\0"))


def image_blocks(data: bytes) -> None:
    """The splitter that finds images and tar members in a stream (compression's parser)."""
    from bbzip.images.blocks import split

    blocks = split(data[:4096], io.BytesIO(data[4096:]), 1 << 16)
    for _ in blocks or ():
        pass


def image_files(data: bytes) -> None:
    """The TIFF, BMP, 16-bit PNM and wide NPY parsers of coder 0x09 (and JPEG detection)."""
    from bbzip.images import files

    kind = files.sniff_file(data)
    if kind not in (None, "jpeg"):
        files.pictures(data, kind)


def png_file(data: bytes) -> None:
    """The PNG chunk walk and the deflate parameter search of coder 0x08."""
    from bbzip.images import png, png_coder

    png.png_length(data)
    png.walk(data, True)
    png_coder.analyse(data)


def model_file(data: bytes) -> None:
    from bbzip.vae.model import parse_model

    parse_model(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "stream": stream,
    "info": info,
    "varint": varint,
    "rans": rans,
    "order0": _coder(0x01),
    "lzma": _coder(0x02),
    "zstd": _coder(0x04),
    "stored": _coder(0x7F),
    "vae": _coder(0x03, "mnist-vae"),
    "vae-seeded": _coder(0x05, "mnist-binary-vae"),
    "natural": _coder(0x06, "natural-vae"),
    "jpeg": _coder(0x07),
    "png": _coder(0x08, "natural-vae"),
    "imagefile": _coder(0x09, "natural-vae"),
    "image-files": image_files,
    "png-file": png_file,
    "natural-header": natural_header,
    "sniff": sniff,
    "pnm": pnm,
    "tar-header": tar_header,
    "image-blocks": image_blocks,
    "model-file": model_file,
}


def seeds(name: str) -> list[bytes]:
    """Starting inputs for a target: golden files, their block payloads, the fixtures."""
    files = sorted(GOLDEN.glob("*.bbz"))
    if name in ("stream", "info"):
        return [p.read_bytes() for p in files]
    coder_ids = {"order0": 1, "lzma": 2, "zstd": 4, "stored": 0x7F, "vae": 3, "vae-seeded": 5, "natural": 6,
                 "jpeg": 7, "png": 8, "imagefile": 9}
    if name in coder_ids or name == "natural-header":
        found = _payloads(files, coder_ids.get(name, 6))
        if name == "natural-header":
            return [_natural_set(payload) for _, payload in found]
        return [(raw - 1).to_bytes(2, "little") + payload for raw, payload in found if raw <= 1 << 16]
    raws = [p.read_bytes() for p in sorted(GOLDEN.glob("*.raw"))] + [p.read_bytes() for p in sorted(DATA.iterdir())
                                                                    if p.is_file() and p.suffix != ".md"]
    if name in ("sniff", "pnm", "tar-header", "image-blocks"):
        return [r[:8192] for r in raws if r]
    if name in ("image-files", "png-file"):
        return [r for r in raws if r and len(r) <= 1 << 16]
    if name == "varint":
        return [b"\xff\x00\x00\x01\x7f\x80\x01", b"\x10\x00" + b"\xff" * 9 + b"\x01"]
    if name == "rans":
        return [b"\x00" + (1 << 32).to_bytes(8, "little") + b"\x01\x00\x00\x00" * 4]
    if name == "model-file":
        return [(ROOT / "models" / "mnist-vae.npz").read_bytes()]
    raise KeyError(name)


def _payloads(files: list[Path], coder_id: int) -> list[tuple[int, bytes]]:
    from bbzip.container import StreamEnd, StreamReader

    found = []
    for path in files:
        reader = StreamReader(io.BytesIO(path.read_bytes()))
        while reader.next_stream():
            while not isinstance(item := reader.next_block(), StreamEnd):
                payload = reader.read_payload(item)
                if item.coder_id == coder_id:
                    found.append((item.raw_size, bytes(payload)))
    return found


def _natural_set(payload: bytes) -> bytes:
    """The first set payload of a 0x06 block, behind the n and c bytes natural_header reads."""
    from tests.fuzz.fields import natural_fields

    group = next(f for f in natural_fields(payload, 0, len(payload)) if f.kind == "nat-group-size")
    channels = next(f for f in natural_fields(payload, 0, len(payload)) if f.kind == "nat-channels").value
    return bytes([0, 1 if channels == 3 else 0]) + payload[group.end : group.end + group.value]
