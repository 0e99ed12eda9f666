"""Photos at full size (issue 16): bbzip against JPEG XL e7, WebP lossless and PNG on the
same large photographs, every codec run as a whole process, as a user would run it.

    python -m bench.photos [--photos DIR] [--inputs pair,largest,mosaic] [--out FILE.md]

DIR (or $BBZIP_PHOTOS) holds JPEG or PNG photos, for example Debian's wallpapers:
`apt-get download plasma-workspace-wallpapers` and `dpkg-deb -x` it there. Each photo is
decoded to RGB with Pillow (bench extra) and written as a PPM, which is what bbzip codes;
the other codecs code the same pixels through imagecodecs, in a Python process of their
own that reads the PPM and writes their file (and back). Inputs (load_photos): two photos
side by side, the largest photo, and a mosaic of 18 MP or more.

Per codec and photo: compress and decompress time (wall; and CPU of the whole process
tree, user + sys), peak memory of the process tree as the sum of PSS (pages shared by
forked workers count once), and bits per subpixel. Without a photo directory, Pillow or
imagecodecs, the part says why and skips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import bbzip_exe, cores

ENV = "BBZIP_PHOTOS"
HINT = "pip install -e .[bench]"
MIN_BIG_PIXELS = 18_000_000
SAMPLE_S = 0.25  # coding phases last seconds; a scan of /proc costs a few ms

# The other codecs, each as a script run by a Python process of its own: argv = mode, in, out.
_CODEC = """
import sys, numpy as np, imagecodecs as ic
mode, src, dst = sys.argv[1:4]
threads = {threads}
if mode == "c":
    data = open(src, "rb").read()
    fields = data.split(maxsplit=4)
    w, h = int(fields[1]), int(fields[2])
    image = np.frombuffer(data[len(data) - w * h * 3:], np.uint8).reshape(h, w, 3)
    out = {encode}
    open(dst, "wb").write(bytes(out))
else:
    image = np.asarray(({decode})(open(src, "rb").read()))
    h, w = image.shape[:2]
    open(dst, "wb").write(b"P6\\n%d %d\\n255\\n" % (w, h) + np.ascontiguousarray(image[..., :3]).tobytes())
"""
CODECS = {
    "JPEG XL e7": ("ic.jpegxl_encode(image, lossless=True, effort=7, numthreads=threads)",
                   "lambda b: ic.jpegxl_decode(b, numthreads=threads)"),
    "WebP lossless": ("ic.webp_encode(image, level=100, lossless=True, method=6)", "ic.webp_decode"),
    "PNG (zlib 9)": ("ic.png_encode(image, level=9)", "ic.png_decode"),
}


def _children() -> dict[int, list[int]]:
    """Every process's children, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(b")") + 2 :].split()[1]), []).append(int(entry))
    return children


def tree_pss_kib(root: int) -> int:
    """The summed PSS of ``root`` and its descendants now (KiB)."""
    children, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            pass
        todo += children.get(pid, [])
    return total


def run_measured(argv: list[str], stdin=None, stdout=None) -> dict:
    """Run argv to its end: wall and CPU seconds (its whole tree), peak summed PSS in MB."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak[0] / 1024}


def load_photos(folder: Path, inputs: list[str], workdir: Path) -> list[tuple[str, Path, int]]:
    """(name, PPM path, pixels) of the inputs asked for, from the photos in ``folder``:
    "pair", the first two photos of the most common size side by side; "largest", the
    largest photo; "mosaic", photos of the most common size two abreast, as many rows as
    make MIN_BIG_PIXELS or more (one input of 18 MP from photos of 4)."""
    import numpy as np
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    sizes = {}
    for path in paths:
        with Image.open(path) as im:
            sizes[path] = im.size
    if not sizes:
        return []
    common = max(set(sizes.values()), key=lambda size: (list(sizes.values()).count(size), size))
    alike = [p for p in paths if sizes[p] == common]
    rgb = lambda path: np.asarray(Image.open(path).convert("RGB"))
    out = []
    for name in inputs:
        if name == "largest":
            path = max(paths, key=lambda p: (sizes[p][0] * sizes[p][1], str(p)))
            out.append(_write_ppm(workdir, f"largest-{path.stem}", rgb(path)))
            continue
        rows = 1 if name == "pair" else -(-MIN_BIG_PIXELS // (2 * common[0] * common[1]))
        if len(alike) < 2 * rows:
            continue
        grid = [np.concatenate([rgb(alike[2 * r]), rgb(alike[2 * r + 1])], axis=1) for r in range(rows)]
        out.append(_write_ppm(workdir, name, np.concatenate(grid)))
    return out


def _write_ppm(workdir: Path, name: str, image) -> tuple[str, Path, int]:
    h, w = image.shape[:2]
    path = workdir / f"{name}.ppm"
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(image.tobytes())
    return f"{name} {w}x{h}", path, w * h


def measure_bbzip(exe: str, ppm: Path, workdir: Path, threads: int) -> dict:
    packed, back = workdir / "out.bbz", workdir / "back.ppm"
    env_argv = [exe, "-6", f"-T{threads}", "-c"]
    with open(ppm, "rb") as src, open(packed, "wb") as dst:
        c = run_measured([*env_argv, "-q"], stdin=src, stdout=dst)
    with open(packed, "rb") as src, open(back, "wb") as dst:
        d = run_measured([exe, "-d", f"-T{threads}", "-c", "-q"], stdin=src, stdout=dst)
    return _row(c, d, packed, back, ppm)


def measure_codec(label: str, ppm: Path, workdir: Path, threads: int) -> dict:
    encode, decode = CODECS[label]
    script = _CODEC.format(threads=threads, encode=encode, decode=decode)
    packed, back = workdir / "out.img", workdir / "back.ppm"
    c = run_measured([sys.executable, "-c", script, "c", str(ppm), str(packed)])
    d = run_measured([sys.executable, "-c", script, "d", str(packed), str(back)])
    return _row(c, d, packed, back, ppm)


def _row(c: dict, d: dict, packed: Path, back: Path, ppm: Path) -> dict:
    data = ppm.read_bytes()
    fields = data.split(maxsplit=4)
    subpixels = int(fields[1]) * int(fields[2]) * 3
    ok = c["rc"] == 0 and d["rc"] == 0 and back.read_bytes()[-subpixels:] == data[-subpixels:]
    return {"ok": ok, "subpixels": subpixels, "bits": packed.stat().st_size * 8 / subpixels,
            "compress": c, "decompress": d}


def markdown(rows: list[dict], threads: int) -> str:
    lines = [f"Photos at full size, every codec as a whole process, {threads} cores (bbzip -6 -T{threads}); "
             "times in seconds (wall, and CPU of the process tree), per million subpixels beside; "
             "peak = sum of PSS over the process tree.", "",
             "| photo | codec | bits/subpixel | compress s (CPU) | s/Msub | peak MB | decompress s (CPU) "
             "| s/Msub | peak MB | exact |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, d, m = r["compress"], r["decompress"], r["subpixels"] / 1e6
        lines.append(f"| {r['photo']} | {r['codec']} | {r['bits']:.3f} | {c['wall_s']:.1f} ({c['cpu_s']:.1f}) "
                     f"| {c['wall_s'] / m:.2f} | {c['peak_mb']:.0f} | {d['wall_s']:.1f} ({d['cpu_s']:.1f}) "
                     f"| {d['wall_s'] / m:.2f} | {d['peak_mb']:.0f} | {'yes' if r['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def run(folder: Path | None, inputs: list[str], codecs: list[str], threads: int) -> tuple[list[dict], str]:
    """The rows, or [] and why not."""
    if folder is None or not folder.is_dir():
        return [], f"no photo directory (--photos DIR or ${ENV})"
    try:
        import imagecodecs  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as exc:
        return [], f"Pillow and imagecodecs are needed ({HINT}): {exc}"
    exe = bbzip_exe()
    if exe is None:
        return [], "no bbzip console script"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bbzip-photos-") as tmp:
        workdir = Path(tmp)
        for name, ppm, _pixels in load_photos(folder, inputs, workdir):
            for label in codecs:
                row = (measure_bbzip(exe, ppm, workdir, threads) if label == "bbzip"
                       else measure_codec(label, ppm, workdir, threads))
                row.update(photo=name, codec=label if label != "bbzip" else f"bbzip -6 -T{threads}")
                print(markdown([row], threads).splitlines()[-1], flush=True)
                rows.append(row)
            ppm.unlink()
    return rows, ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.photos", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=os.environ.get(ENV), help=f"photo directory (${ENV})")
    parser.add_argument("--inputs", default="pair,largest,mosaic", help="comma-separated: pair, largest, mosaic")
    parser.add_argument("--codecs", default=",".join(["bbzip", *CODECS]), help="comma-separated")
    parser.add_argument("--threads", type=int, default=cores(), help="bbzip's -T and the codecs' threads")
    parser.add_argument("--out", type=Path, help="write the table (Markdown) and FILE.json")
    args = parser.parse_args(argv)
    rows, why = run(Path(args.photos) if args.photos else None, args.inputs.split(","), args.codecs.split(","), args.threads)
    if not rows:
        print(f"photos at full size: skipped: {why}")
        return
    table = markdown(rows, args.threads)
    print(table)
    if args.out:
        args.out.write_text(table)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
