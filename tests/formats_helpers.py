"""Small image files written by hand, byte by byte: TIFF (strips or tiles, either byte
order, 8 or 16 bits), BMP (24/32 bits, either row direction), 16-bit PNM, NPY, JPEG.
For tests, fuzz targets and golden files (no writer library decides their bytes)."""

from __future__ import annotations

import io
import struct

import numpy as np


def smooth(h: int, w: int, c: int, dtype=np.uint8, scale: int = 255, seed: int = 0) -> np.ndarray:
    """A smooth gradient with a little noise, ``scale`` its largest value."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    base = (x * 3 + y * 2)[..., None] + np.arange(c) * 17
    values = (base % 256) * (scale / 255) + rng.integers(0, 3, (h, w, c))
    return np.clip(values, 0, np.iinfo(dtype).max).astype(dtype)


def tiff(array: np.ndarray, order: str = "<", tile: int | None = None, rows_per_strip: int | None = None,
         pages: int = 1) -> bytes:
    """An uncompressed chunky TIFF of ``array`` (H, W, C), ``pages`` times over."""
    h, w, c = array.shape
    depth = array.dtype.itemsize
    samples = array.astype(order + ("u2" if depth == 2 else "u1"))
    out = bytearray(b"II*\x00" if order == "<" else b"MM\x00*") + bytes(4)
    first_ifd_at = 4
    for _ in range(pages):
        chunks = []
        if tile:
            for ty in range(0, h, tile):
                for tx in range(0, w, tile):
                    block = np.zeros((tile, tile, c), samples.dtype)
                    part = samples[ty : ty + tile, tx : tx + tile]
                    block[: part.shape[0], : part.shape[1]] = part
                    chunks.append(block.tobytes())
        else:
            per = rows_per_strip or h
            chunks = [samples[y : y + per].tobytes() for y in range(0, h, per)]
        offsets = []
        for chunk in chunks:
            offsets.append(len(out))
            out += chunk
        if len(out) % 2:
            out.append(0)
        arrays_at = len(out)
        out += struct.pack(f"{order}{len(offsets)}I", *offsets)
        counts_at = len(out)
        out += struct.pack(f"{order}{len(chunks)}I", *(len(x) for x in chunks))
        bits_at = len(out)
        out += struct.pack(f"{order}{c}H", *([depth * 8] * c))
        entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, c, bits_at if c > 2 else None), (259, 3, 1, 1),
                   (262, 3, 1, 2 if c >= 3 else 1), (277, 3, 1, c), (284, 3, 1, 1)]
        if c in (2, 4):
            entries.append((338, 3, 1, 2))
        many = len(offsets) > 1
        if tile:
            entries += [(322, 3, 1, tile), (323, 3, 1, tile), (324, 4, len(offsets), arrays_at if many else offsets[0]),
                        (325, 4, len(chunks), counts_at if many else len(chunks[0]))]
        else:
            entries += [(273, 4, len(offsets), arrays_at if many else offsets[0]), (278, 4, 1, rows_per_strip or h),
                        (279, 4, len(chunks), counts_at if many else len(chunks[0]))]
        entries.sort()
        ifd_at = len(out)
        struct.pack_into(order + "I", out, first_ifd_at, ifd_at)
        out += struct.pack(order + "H", len(entries))
        for tag, kind, n, value in entries:
            if value is None:  # a short array that fits the entry
                out += struct.pack(f"{order}HHI", tag, kind, n) + struct.pack(f"{order}2H", depth * 8, depth * 8 * (c - 1))
            elif kind == 3 and n == 1:
                out += struct.pack(f"{order}HHIHH", tag, kind, n, value, 0)
            else:
                out += struct.pack(f"{order}HHII", tag, kind, n, value)
        first_ifd_at = len(out)
        out += bytes(4)
    return bytes(out)


def bmp(array: np.ndarray, top_down: bool = False) -> bytes:
    """A BMP of (H, W, 3) or (H, W, 4) uint8 (RGB order in, BGR(A) in the file)."""
    h, w, c = array.shape
    pitch = (w * c + 3) // 4 * 4
    rows = array[..., [2, 1, 0, 3][:c]]
    body = bytearray()
    for y in range(h) if top_down else range(h - 1, -1, -1):
        body += rows[y].tobytes() + bytes(pitch - w * c)
    header = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, c * 8, 0, len(body), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(header) + len(body), 0, 0, 14 + len(header)) + header + bytes(body)


def pnm16(array: np.ndarray, maxval: int = 65535) -> bytes:
    h, w, c = array.shape
    return f"P{5 if c == 1 else 6}\n{w} {h}\n{maxval}\n".encode() + array.astype(">u2").tobytes()


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def jpeg(array: np.ndarray, quality: int = 90) -> bytes | None:
    """A JPEG written by Pillow, or None when Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return None
    out = io.BytesIO()
    Image.fromarray(array.squeeze()).save(out, "JPEG", quality=quality)
    return out.getvalue()


def samples() -> dict[str, bytes]:
    """One small file of every layout the imagefile coder takes."""
    rgb, rgba = smooth(20, 22, 3), smooth(20, 22, 4)
    rgba[..., 3] = 255
    wide = smooth(18, 21, 3, np.uint16, 4095)
    return {
        "tiff-rgb8-strips-le": tiff(rgb, "<", rows_per_strip=6),
        "tiff-gray16-strips-be": tiff(wide[..., :1], ">", rows_per_strip=5),
        "tiff-rgba8-tiles-be": tiff(smooth(20, 22, 4, seed=3), ">", tile=16),
        "tiff-graya16-tiles-le": tiff(smooth(19, 23, 2, np.uint16, 65535), "<", tile=16),
        "tiff-rgb16-2pages": tiff(wide, "<", pages=2),
        "bmp-24-bottom-up": bmp(smooth(17, 19, 3)),
        "bmp-32-top-down": bmp(rgba, top_down=True),
        "pgm16": pnm16(smooth(16, 20, 1, np.uint16, 4095), 4095),
        "ppm16": pnm16(wide),
        "npy-u16-be": npy(wide.astype(">u2")),
        "npy-rgba8": npy(smooth(16, 17, 4, seed=5)),
        "npy-gray-alpha16": npy(smooth(2, 12, 2, np.uint16, 1023).reshape(1, 2, 12, 2).repeat(2, axis=0)),
    }
