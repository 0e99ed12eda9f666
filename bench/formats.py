"""Image file formats (issue 18): the floors table for JPEG, TIFF/BMP, 16-bit samples, RGBA
and a tar of mixed files, in one run. (PNG rows are the PNG coder's part.)

    python -m bench.formats [--photos DIR] [--count 4] [--side 256] [--out FILE.json]

Inputs: the JPEG files under --photos (default $BBZIP_PHOTOS, else Debian's wallpapers, which
the bench fetches itself: bench.photos.photo_folder), distinct by content. The JPEG row codes every one of
them as a file. The other rows use --count of them decoded by Pillow and box-downscaled to
--side pixels wide (3:2 crops): as PPM, TIFF (Pillow's writer) and BMP; 12-bit samples (sums
of 4x4 blocks of a 4x larger downscale, 0..4080) as PGM-16 against PNG-16 of the same pixels
(Pillow's writer; and JPEG XL lossless when imagecodecs has it); RGBA with an opaque and a
gradient alpha as NPY. Sizes through bbzip.api at level 6, every output decoded and
compared. Skips (exit 0, one line) when the folder or Pillow is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

FLOORS = {"jpeg": 0.88, "tiff": 1.01, "bmp": 1.01, "sixteen": 0.90, "tar": 1.01}
TAR_SLACK = 4096


def log(msg: str) -> None:
    print(f"[bench.formats] {msg}", file=sys.stderr, flush=True)


def jpeg_files(root: Path) -> list[Path]:
    seen, out = set(), []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".jpg", ".jpeg"):
            data = path.read_bytes()
            digest = hashlib.sha256(data).digest()
            if data[:3] == b"\xff\xd8\xff" and digest not in seen:
                seen.add(digest)
                out.append(path)
    return out


def packed_size(api, data: bytes) -> tuple[int, float, list[str]]:
    """(bytes, CPU seconds to compress, coders) of one file at level 6, verified."""
    start = time.process_time()
    packed = api.compress(data)
    seconds = time.process_time() - start
    if api.decompress(packed) != data:
        raise SystemExit("round trip failed: bbzip gave other bytes back")
    coders = sorted({b.coder for b in api.stream_info(io.BytesIO(packed)).blocks})
    return len(packed), seconds, coders


def photos(paths: list[Path], count: int, side: int, scale: int = 1) -> list[np.ndarray]:
    from PIL import Image

    out = []
    for path in sorted(paths, key=lambda p: -p.stat().st_size)[:count]:
        image = Image.open(path).convert("RGB")
        w, h = image.size
        crop_h = min(h, w * 2 // 3)
        image = image.crop(((w - crop_h * 3 // 2) // 2, (h - crop_h) // 2, (w + crop_h * 3 // 2) // 2, (h + crop_h) // 2))
        width = side * scale
        out.append(np.asarray(image.resize((width, width * 2 // 3), Image.BOX)))
    return out


def encode_with(fmt: str, array: np.ndarray, **options) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, fmt, **options)
    return out.getvalue()


def ppm(array: np.ndarray) -> bytes:
    h, w, c = array.shape
    return f"P{5 if c == 1 else 6}\n{w} {h}\n255\n".encode() + array.tobytes()


def pgm16(array: np.ndarray, maxval: int) -> bytes:
    h, w = array.shape
    return f"P5\n{w} {h}\n{maxval}\n".encode() + array.astype(">u2").tobytes()


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def row(rows: list, name: str, base_label: str, base: int, ours: int, floor: float | None, **extra) -> None:
    ratio = ours / base if base else float("nan")
    ok = None if floor is None else ratio <= floor
    rows.append({"input": name, "against": base_label, "base_bytes": base, "bbzip_bytes": ours,
                 "ratio": round(ratio, 4), "floor": floor, "holds": ok, **extra})
    verdict = "" if ok is None else ("  ok" if ok else ("  missed (goal)" if extra.get("goal") else "  FAIL"))
    log(f"{name}: {ours} / {base} ({base_label}) = {ratio:.4f}{'' if floor is None else f' floor {floor}'}{verdict}")


def run(photo_dir: Path, count: int, side: int, jpegs: int | None = None) -> dict:
    """Every row; ``jpegs``: code only that many JPEG files (the smallest) for the JPEG row."""
    from bbzip import api

    try:
        import PIL  # noqa: F401
    except ImportError:
        return {"skipped": "Pillow is not installed (pip install -e .[bench])"}
    paths = jpeg_files(photo_dir) if photo_dir.is_dir() else []
    if not paths:
        return {"skipped": f"no JPEG files under {photo_dir}"}
    rows: list[dict] = []
    from bbzip.images import jpeg

    if jpeg.available():
        chosen = sorted(paths, key=lambda p: p.stat().st_size)[:jpegs] if jpegs else paths
        sizes = [(p.stat().st_size, *packed_size(api, p.read_bytes())) for p in chosen]
        total, ours = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
        mb = total / 1e6
        row(rows, f"{len(chosen)} JPEG photos", "the JPEG files", total, ours, FLOORS["jpeg"],
            per_file=[round(s[1] / s[0], 3) for s in sizes], mb_per_cpu_s=round(mb / sum(s[2] for s in sizes), 2),
            coders=sorted({c for s in sizes for c in s[3]}))
    else:
        rows.append({"input": "JPEG photos", "skipped": f"{jpeg.PACKAGE} is not installed (pip install -e .[jpeg])"})
    images = photos(paths, count, side)
    sums = {name: 0 for name in ("ppm", "tiff", "bmp", "rgba_opaque", "rgba_gradient", "png_rgba")}
    for array in images:
        h, w, _ = array.shape
        sums["ppm"] += packed_size(api, ppm(array))[0]
        sums["tiff"] += packed_size(api, encode_with("TIFF", array))[0]
        sums["bmp"] += packed_size(api, encode_with("BMP", array))[0]
        opaque = np.concatenate([array, np.full((h, w, 1), 255, np.uint8)], axis=2)
        sums["rgba_opaque"] += packed_size(api, npy(opaque))[0]
        gradient = opaque.copy()
        gradient[..., 3] = (np.arange(w) * 255 // max(1, w - 1)).astype(np.uint8)[None, :]
        sums["rgba_gradient"] += packed_size(api, npy(gradient))[0]
        sums["png_rgba"] += len(encode_with("PNG", gradient))
    label = f"{len(images)} photos {side} wide"
    row(rows, f"{label}, uncompressed TIFF", "bbzip on the PPM", sums["ppm"], sums["tiff"], FLOORS["tiff"])
    row(rows, f"{label}, BMP 24-bit", "bbzip on the PPM", sums["ppm"], sums["bmp"], FLOORS["bmp"])
    row(rows, f"{label}, RGBA NPY, opaque alpha", "bbzip on the PPM", sums["ppm"], sums["rgba_opaque"], None)
    row(rows, f"{label}, RGBA NPY, gradient alpha", "PNG (Pillow) of the same RGBA", sums["png_rgba"],
        sums["rgba_gradient"], None)
    rows += sixteen_bit(api, paths, count, side)
    rows.append(mixed_tar(api, paths[:count], images))
    return {"rows": rows, "photos": str(photo_dir), "count": count, "side": side,
            "floors_hold": all(r.get("holds") is not False for r in rows if not r.get("goal"))}


def sixteen_bit(api, paths: list[Path], count: int, side: int) -> list[dict]:
    """12-bit samples (4x4 sums of 8-bit pixels): PGM-16 and TIFF-16 against PNG-16."""
    rows: list[dict] = []
    ours = tiff16 = png16 = jxl = 0
    try:
        import imagecodecs
    except ImportError:
        imagecodecs = None
    for big in photos(paths, count, side, scale=4):
        h, w = big.shape[0] // 4, big.shape[1] // 4
        green = big[: h * 4, : w * 4, 1].astype(np.uint16)
        gray = green.reshape(h, 4, w, 4).sum(axis=(1, 3)).astype(np.uint16)
        ours += packed_size(api, pgm16(gray, 4080))[0]
        tiff16 += packed_size(api, encode_with("TIFF", gray))[0]
        png16 += len(encode_with("PNG", gray))
        if imagecodecs is not None and hasattr(imagecodecs, "jpegxl_encode"):
            jxl += len(imagecodecs.jpegxl_encode(gray, lossless=True, effort=7))
    label = f"{count} photos {side} wide, 12-bit gray"
    row(rows, f"{label} as PGM-16", "PNG-16 (Pillow)", png16, ours, FLOORS["sixteen"])
    row(rows, f"{label} as TIFF-16", "PNG-16 (Pillow)", png16, tiff16, FLOORS["sixteen"])
    if jxl:
        row(rows, f"{label} as PGM-16", "JPEG XL lossless (effort 7)", jxl, ours, 1.0, goal=True)
    return rows


def mixed_tar(api, jpegs: list[Path], images: list[np.ndarray]) -> dict:
    """A tar of JPEG, PPM, TIFF and BMP files against its members one by one plus 4 KB."""
    members = {}
    for i, (path, array) in enumerate(zip(jpegs, images)):
        members[f"mixed/{i}.jpg"] = path.read_bytes()
        members[f"mixed/{i}.{('ppm', 'tif', 'bmp')[i % 3]}"] = (
            ppm(array) if i % 3 == 0 else encode_with("TIFF" if i % 3 == 1 else "BMP", array))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(body), 0
            archive.addfile(info, io.BytesIO(body))
    alone = sum(packed_size(api, body)[0] for body in members.values())
    together = packed_size(api, buffer.getvalue())[0]
    rows: list[dict] = []
    row(rows, f"tar of {len(members)} mixed JPEG/PPM/TIFF/BMP files", "members one by one + 4 KB",
        alone + TAR_SLACK, together, FLOORS["tar"], members_alone=alone)
    return rows[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=None)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from bench.photos import photo_folder

    folder, why = photo_folder(args.photos)
    result = run(folder, args.count, args.side) if folder else {"skipped": why}
    if "skipped" in result:
        log(f"skipped: {result['skipped']}")
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
