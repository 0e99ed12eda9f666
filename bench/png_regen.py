"""PNG files (issue 18): how often bbzip regenerates a writer's IDAT stream, and what bbzip
makes of PNG photos against the PNG files.

    python -m bench.png_regen [--photos DIR] [--count 13] [--crop 512] [--sizes 6]
                              [--size-crop 384] [--first 0] [--stride 1] [--json FILE]

Inputs: photos from shared/data/photos-train (PPM, gzipped), centre-cropped to --crop
pixels square (0: whole) to keep the run short. Writers:
  - zlib level 1..9 as libpng writes by default except the level (Z_FILTERED, memLevel 8,
    window 15, adaptive per-row filters, 8 KB IDAT chunks), with this Python's zlib;
  - zlib level 6 Z_DEFAULT_STRATEGY (pypng-style writers);
  - Pillow's own writer (its wheels deflate with zlib-ng), zlib-ng, ISA-L (isal), libdeflate
    (the `deflate` package) at their default levels on libpng's filtered rows, optipng -o2
    (from PATH, else Debian's package fetched into the bench's cache) and oxipng (pyoxipng,
    not in Debian) rewriting the libpng file; each where installed (bench extra).
Regenerated: png_coder.analyse found deflate parameters that give the stream back exactly
(verified). Sizes: --sizes photos (cropped to --size-crop) as libpng-default RGB PNG and as
RGBA PNG (opaque alpha), through bbzip.api.compress at its default level, against the
PNG files (the issue's floor is 0.85 for both); and as PNG from Pillow's writer, against the
files (goal 0.85) and against bbzip on the same bytes with the PNG signature broken, which is
what bbzip made of PNG files before it read them (floor: never larger).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from bench.png_files import write_png

FLOOR = 0.85


def default_photos() -> Path:
    here = Path(__file__).resolve().parent.parent
    for root in (here.parent, here.parent.parent):
        if (root / "shared/data/photos-train").is_dir():
            return root / "shared/data/photos-train"
    return here.parent / "shared/data/photos-train"


def read_ppm(path: Path) -> np.ndarray:
    if path.suffix == ".gz":
        with gzip.open(path) as f:
            data = f.read()
    else:
        data = path.read_bytes()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    width, height = int(m.group(1)), int(m.group(2))
    return np.frombuffer(data, np.uint8, width * height * 3, m.end()).reshape(height, width, 3)


def crop(image: np.ndarray, size: int) -> np.ndarray:
    if not size:
        return image
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return np.ascontiguousarray(image[top : top + size, left : left + size])


def _stream_writers() -> dict:
    """name -> function(filtered rows) -> zlib stream, for the libraries installed."""
    writers = {}
    try:
        from zlib_ng import zlib_ng

        def zng(raw):
            z = zlib_ng.compressobj(6, zlib_ng.DEFLATED, 15, 8, zlib_ng.Z_FILTERED)
            return z.compress(raw) + z.flush()

        writers["zlib-ng 6 filtered"] = zng
    except ImportError:
        pass
    try:
        from isal import isal_zlib

        writers["isal (ISA-L) 2"] = lambda raw: isal_zlib.compress(raw, 2)
    except ImportError:
        pass
    try:
        import deflate

        writers["libdeflate 6"] = lambda raw: deflate.zlib_compress(raw, 6)
    except (ImportError, AttributeError):
        pass
    return writers


def optipng_path() -> str | None:
    """optipng from PATH, else Debian's package fetched into the bench's cache."""
    from bench.common import debian_packages

    if shutil.which("optipng"):
        return shutil.which("optipng")
    root, _ = debian_packages(("optipng",), "optipng")
    exe = root / "usr/bin/optipng" if root else None
    return str(exe) if exe and exe.is_file() else None


def _file_writers(tmp: Path) -> dict:
    """name -> function(libpng PNG file, pixels) -> another PNG file."""
    writers = {}
    try:
        from PIL import Image

        def pillow(_, pixels):
            out = __import__("io").BytesIO()
            Image.fromarray(pixels).save(out, format="PNG")
            return out.getvalue()

        writers["Pillow (zlib-ng)"] = pillow
    except ImportError:
        pass
    optipng_exe = optipng_path()
    if optipng_exe:
        def optipng(data, _):
            src, dst = tmp / "in.png", tmp / "out.png"
            src.write_bytes(data)
            dst.unlink(missing_ok=True)
            subprocess.run([optipng_exe, "-quiet", "-o2", "-out", str(dst), str(src)], check=True)
            return dst.read_bytes()

        writers["optipng -o2"] = optipng
    try:
        import oxipng

        writers["oxipng (libdeflate)"] = lambda data, _: oxipng.optimize_from_memory(data)
    except ImportError:
        pass
    return writers


def regeneration(photos: list[Path], size: int) -> dict:
    from bbzip.images import png_coder

    rows: dict[str, list] = {}
    png_coder.analyse(write_png(crop(read_ppm(photos[0]), 64)))  # untimed: imports and compiles once
    with tempfile.TemporaryDirectory() as tmp:
        files = _file_writers(Path(tmp))
        streams = _stream_writers()
        for path in photos:
            pixels = crop(read_ppm(path), size)
            made = {f"zlib {lv} filtered": write_png(pixels, lv) for lv in range(1, 10)}
            made["zlib 6 default"] = write_png(pixels, 6, zlib.Z_DEFAULT_STRATEGY)
            made.update({name: write_png(pixels, compress=fn) for name, fn in streams.items()})
            made.update({name: fn(made["zlib 6 filtered"], pixels) for name, fn in files.items()})
            for name, data in made.items():
                start = time.process_time()
                found = png_coder.analyse(data)
                rows.setdefault(name, []).append((found is not None, time.process_time() - start,
                                                  None if found is None else tuple(found.params)))
    return {name: {"regenerated": sum(r[0] for r in got), "files": len(got),
                   "cpu_s_per_file": sum(r[1] for r in got) / len(got),
                   "params": sorted({str(r[2]) for r in got if r[2]})} for name, got in rows.items()}


def pillow_png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def not_png(data: bytes) -> bytes:
    """The same bytes with the PNG signature broken: what bbzip did with PNG files before it
    read them (the generic coders), for the bar "never larger than today"."""
    return bytes([data[0] ^ 1]) + data[1:]


SIZE_ROWS = (("RGB PNG (libpng default)", False, write_png), ("RGBA PNG (libpng default, opaque)", True, write_png),
             ("RGB PNG (Pillow's writer)", False, pillow_png))


def sizes(photos: list[Path], size: int) -> dict:
    """bbzip on PNG files against the files, and (Pillow) against bbzip before PNG support."""
    from bbzip import api

    out = {}
    for label, alpha, writer in SIZE_ROWS:
        png_total = bbz_total = today_total = 0
        coders = set()
        start = time.time()
        for path in photos:
            pixels = crop(read_ppm(path), size)
            if alpha:
                pixels = np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)])
            try:
                data = writer(pixels)
            except ImportError:
                break
            packed = api.compress(data)
            if api.decompress(packed) != data:
                raise SystemExit(f"{label}: round trip failed: bbzip gave other bytes back")
            coders |= {b.coder for b in api.stream_info(__import__("io").BytesIO(packed)).blocks}
            png_total += len(data)
            bbz_total += len(packed)
            if writer is pillow_png:
                today_total += len(api.compress(not_png(data)))
        if not png_total:
            continue
        out[label] = {"files": len(photos), "png_bytes": png_total, "bbzip_bytes": bbz_total,
                      "ratio": round(bbz_total / png_total, 4), "floor": FLOOR,
                      "holds": bbz_total <= FLOOR * png_total, "coders": sorted(coders),
                      "wall_s": round(time.time() - start, 1)}
        if today_total:
            out[label].update(today_bytes=today_total, goal=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=default_photos())
    parser.add_argument("--count", type=int, default=13)
    parser.add_argument("--crop", type=int, default=512)
    parser.add_argument("--sizes", type=int, default=6)
    parser.add_argument("--size-crop", type=int, default=384)
    parser.add_argument("--first", type=int, default=0, help="sizes: skip this many photos (sorted by name)")
    parser.add_argument("--stride", type=int, default=1, help="sizes: every n-th photo from there")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    photos = sorted(args.photos.glob("*.ppm*"))
    if not photos:
        print(f"no photos in {args.photos}")
        return 1
    result = {"regeneration": regeneration(photos[: args.count], args.crop)}
    print(f"{'writer':34} regenerated  cpu s/file  parameters")
    for name, row in result["regeneration"].items():
        print(f"{name:34} {row['regenerated']:>4}/{row['files']:<4}  {row['cpu_s_per_file']:>9.3f}  "
              f"{', '.join(row['params'])}")
    if args.sizes:
        result["sizes"] = sizes(photos[args.first :: args.stride][: args.sizes], args.size_crop)
        for name, row in result["sizes"].items():
            print(f"{name:34} {row['bbzip_bytes']} / {row['png_bytes']} = {row['ratio']:.4f} "
                  f"(floor {FLOOR}: {'holds' if row['holds'] else 'FAILS'}; coders {row['coders']})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
