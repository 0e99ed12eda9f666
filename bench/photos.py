"""Photos at full size (issue 16): bbzip against JPEG XL e7, WebP lossless and PNG on the same
photographs from 0.3 to 20 megapixels, every codec run as a whole process, as a user runs it.

    python -m bench photos [--photos DIR] [--quick]

DIR (or $BBZIP_PHOTOS) holds JPEG or PNG photos. Without one the bench fetches Debian's
wallpapers itself (``apt-get download lomiri-wallpapers plasma-workspace-wallpapers``, then
``dpkg-deb -x``, into the bench's cache: common.debian_packages) and takes the wallpapers that
are photographs (PHOTO_WALLPAPERS; docs/IMAGES.md lists them). Each photo is decoded to RGB
with Pillow (bench extra) and written as a PPM, which is what bbzip codes; the other codecs code
the same pixels through imagecodecs in a Python process of their own that reads the PPM and
writes their file (and back), so every row pays a process start, as bbzip's does.

The ladder (ladder()): one input per target size in TARGETS_MP, each a photo at its own size
where one is that size, else a photo box-downscaled to it, else a labelled mosaic of photos of
the most common size (two abreast, the last row cropped), so the largest input is >= 18 MP.
Then HUGE_MP (50 MP, a mosaic): bbzip alone, for issue 16's memory floor at that size (its
speed is shown, not judged, and it stays out of the totals, which compare the codecs).
A full run must end within 20 minutes on 2 cores. As it is, it took 13.6 minutes and 787 CPU
seconds over every process on 2026-12-02, on 2 cores that other work kept busy (load about 5,
the bench at nice 10); bbzip took 2.5 CPU s per million subpixels both ways, the three others
0.9 together. With 15 MP as well (Volna at its own size) the ladder alone took 19 minutes under
heavier load, so 15 MP is left out. Should a run outgrow 20 minutes, set HUGE_MP to None (bbzip
at 50 MP: 373 CPU s), then drop 2 MP (0.3, 1, 4, 8 and one >= 18 MP stay). With Debian's
wallpapers (ten photos of 2560x1600, one of 5120x2880) the 4 MP input is a photo at its own
size, 0.3 to 2 MP photos box-downscaled, 8 MP the 5120x2880 photo box-downscaled, 20 and 50 MP
mosaics of six and fourteen photos. The report says how long the section took.

Per codec and input: compress and decompress time (wall; CPU of the process tree in the note),
peak memory of the process tree as the sum of PSS (pages that forked workers share count once),
bits per subpixel. bbzip runs as ``bbzip -c FILE`` with its defaults (level 6, -T = every
core); JPEG XL gets as many threads. numba's first run: the smallest input once more with an
empty NUMBA_CACHE_DIR for each step (the compile time a fresh install pays once). Memory is
sampled every 10 ms at first, then less often (doubling up to SAMPLE_S): a small photo's
decode is over in a tenth of a second; a process that ends before its first sample reads n/a.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.common import bbzip_exe, cores, debian_packages, log, one_line
from bench.floors import Floor, Ref
from bench.measure import Results, Row
from bench.photo_procs import CODEC_SCRIPT, CODECS, run_measured, user_env
from bench.rss import tree_pss_kib  # noqa: F401 -- where tests/test_photos.py reads it

ENV = "BBZIP_PHOTOS"
HINT = "pip install -e .[bench]"
PACKAGES = ("lomiri-wallpapers", "plasma-workspace-wallpapers")
# Plasma's wallpapers that are photographs (the others are drawn). Grey is a gray photo.
PHOTO_WALLPAPERS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                    "Kite", "OneStandsOut", "Path", "summer_1am", "Volna")
TARGETS_MP = (0.3, 1, 2, 4, 8, 20)  # the module's docstring says what a run of them takes
QUICK_TARGETS_MP = (0.3, 1)
HUGE_MP: float | None = 50  # bbzip alone, for the memory floor (None: left out)
TOTAL = "photos at full size (total)"
BBZIP = "bbzip"
COLD = "bbzip, numba cache cold"
NUMPY = "bbzip, numpy path"  # BBZIP_KERNELS=numpy: no compiled kernels, the same bytes
FLOORS = {"compress_s_per_mp": (1.0, 0.4), "decompress_s_per_mp": (0.5, 0.15), "peak_mb": (600, 300)}

@dataclass
class Photo:
    name: str  # the wallpaper's (or file's) name
    path: Path
    size: tuple[int, int]

    @property
    def mp(self) -> float:
        return self.size[0] * self.size[1] / 1e6


def photo_folder(given: Path | None) -> tuple[Path | None, str]:
    """The folder named (--photos, $BBZIP_PHOTOS), else Debian's wallpapers fetched into the cache."""
    given = given or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    if given is not None:
        return (given, "") if given.is_dir() else (None, f"no such photo directory: {given}")
    return debian_packages(PACKAGES, "wallpapers")


def find_photos(folder: Path) -> list[Photo]:
    """The colour photos in ``folder``: Plasma's photo wallpapers (each at its largest size) when
    the folder holds them, else every JPEG/PNG file, one per distinct content."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())
    wallpapers = [p for p in files if "images" in p.parts and any(n in p.parts for n in PHOTO_WALLPAPERS)]
    best: dict[str, Photo] = {}
    for path in wallpapers or files:
        with Image.open(path) as im:
            if im.mode not in ("RGB", "RGBA", "P", "CMYK", "YCbCr"):
                continue  # gray or wide samples: the table is of colour photos
            size = im.size
        key = next(n for n in PHOTO_WALLPAPERS if n in path.parts) if wallpapers else \
            hashlib.sha256(path.read_bytes()).hexdigest()
        if key not in best or size[0] * size[1] > best[key].mp * 1e6:
            best[key] = Photo(key if wallpapers else path.stem, path, size)
    return sorted(best.values(), key=lambda p: p.name)


@dataclass
class Plan:
    """One input of the ladder: photos (a mosaic when several) at a scale, cropped to a height."""
    parts: list[Photo]
    scale: float = 1.0
    columns: int = 1
    height: int | None = None
    tile: tuple[int, int] | None = None  # a mosaic's photos centre-cropped to this size

    def describe(self) -> str:
        names = ", ".join(p.name for p in self.parts)
        if len(self.parts) > 1:
            rows = -(-len(self.parts) // self.columns)
            return f"mosaic of {len(self.parts)} photos, {self.columns} abreast x {rows} row{'s' * (rows > 1)}: {names}" + \
                (" (last row cropped)" if self.height else "")
        return f"{names}, box-downscaled from {self.parts[0].size[0]}x{self.parts[0].size[1]}" if self.scale < 1 \
            else f"{names} at its own size"


def ladder(photos: list[Photo], targets: tuple[float, ...]) -> list[Plan]:
    """An input per target size: a photo of about that size, else an unused larger photo
    box-downscaled, else a mosaic of photos of the most common size; unused photos first."""
    used: Counter = Counter()

    def pick(candidates: list[Photo]) -> Photo:
        chosen = min(candidates, key=lambda p: (used[p.name], p.mp, p.name))
        used[chosen.name] += 1
        return chosen

    plans: dict[float, Plan] = {}
    for t in targets:  # a photo of the size itself
        near = [p for p in photos if 0.9 * t <= p.mp <= 1.25 * t and not used[p.name]]
        if near:
            plans[t] = Plan([pick(near)])
    for t in targets:
        larger = [p for p in photos if p.mp > t and not used[p.name]]
        if t not in plans and larger:
            photo = pick(larger)
            plans[t] = Plan([photo], scale=math.sqrt(t / photo.mp))
    if not photos:
        return []
    common, count = Counter(p.size for p in photos).most_common(1)[0]
    # photos of one size, else the larger half, each centre-cropped to the smallest of them
    alike = [p for p in photos if p.size == common] if count > 1 else \
        sorted(photos, key=lambda p: -p.mp)[: max(2, len(photos) // 2)]
    tile = (min(p.size[0] for p in alike), min(p.size[1] for p in alike))
    for t in targets:
        if t in plans:
            continue
        columns = 2 if len(alike) > 1 else 1
        rows = math.ceil(t * 1e6 / (columns * tile[0] * tile[1]))
        parts = [pick(alike) for _ in range(columns * rows)]
        height = math.ceil(t * 1e6 / (columns * tile[0]) / 16) * 16
        plans[t] = Plan(parts, columns=columns, height=height if height < rows * tile[1] else None, tile=tile)
    return [plans[t] for t in targets]


def render(plan: Plan):
    """The plan's pixels, (H, W, 3) uint8."""
    import numpy as np
    from PIL import Image

    def rgb(photo: Photo):
        image = Image.open(photo.path).convert("RGB")
        if plan.scale < 1:
            w, h = image.size
            image = image.resize((round(w * plan.scale), round(h * plan.scale)), Image.BOX)
        if plan.tile:
            (w, h), (tw, th) = image.size, plan.tile
            image = image.crop(((w - tw) // 2, (h - th) // 2, (w - tw) // 2 + tw, (h - th) // 2 + th))
        return np.asarray(image)

    images = [rgb(p) for p in plan.parts]
    if len(images) == 1:
        return images[0]
    rows = [np.concatenate(images[i : i + plan.columns], axis=1) for i in range(0, len(images), plan.columns)]
    return np.ascontiguousarray(np.concatenate(rows)[: plan.height])


def write_ppm(path: Path, image) -> None:
    h, w = image.shape[:2]
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(image.tobytes())


def _row(name: str, tool: str, ppm: Path, packed: Path, back: Path, c: dict, d: dict) -> Row:
    data = ppm.read_bytes()
    w, h = (int(v) for v in data.split(maxsplit=3)[1:3])
    row = Row(name, tool, input_bytes=len(data), pixels=w * h * 3)
    errors = "; ".join(e for e in (c["error"], d["error"]) if e)
    if c["rc"] or d["rc"]:
        row.roundtrip, row.note = "error", errors or f"exit {c['rc'] or d['rc']}"
        return row
    row.size, row.digest = packed.stat().st_size, hashlib.sha256(packed.read_bytes()).hexdigest()
    row.compress_s, row.decompress_s = c["wall_s"], d["wall_s"]
    row.compress_peak_mb, row.decompress_peak_mb = c["peak_mb"], d["peak_mb"]
    row.roundtrip = "ok" if back.read_bytes()[-w * h * 3 :] == data[-w * h * 3 :] else "FAIL"
    row.note = f"CPU {c['cpu_s']:.1f} / {d['cpu_s']:.1f} s"
    return row


def measure_bbzip(exe: str, name: str, ppm: Path, workdir: Path, tool: str = BBZIP) -> Row:
    """``bbzip -c FILE > OUT`` and ``bbzip -dc OUT > BACK``; the cold row empties numba's cache
    first, the numpy row turns the compiled kernels off."""
    packed, back = workdir / "out.bbz", workdir / "back.ppm"
    with tempfile.TemporaryDirectory(prefix="numba-c-") as c_cache, tempfile.TemporaryDirectory(prefix="numba-d-") as d_cache:
        env_c, env_d = {COLD: (user_env(NUMBA_CACHE_DIR=c_cache), user_env(NUMBA_CACHE_DIR=d_cache)),
                        NUMPY: (user_env(BBZIP_KERNELS="numpy"),) * 2}.get(tool, (None, None))
        with open(packed, "wb") as dst:
            c = run_measured([exe, "-c", str(ppm)], stdout=dst, env=env_c)
        with open(back, "wb") as dst:
            d = run_measured([exe, "-dc", str(packed)], stdout=dst, env=env_d)
    return _row(name, tool, ppm, packed, back, c, d)


def measure_codec(label: str, name: str, ppm: Path, workdir: Path) -> Row:
    encode, decode = CODECS[label]
    script = CODEC_SCRIPT.format(threads=cores(), encode=encode, decode=decode)
    packed, back = workdir / "out.img", workdir / "back.ppm"
    c = run_measured([sys.executable, "-c", script, "c", str(ppm), str(packed)])
    d = run_measured([sys.executable, "-c", script, "d", str(packed), str(back)])
    return _row(name, label, ppm, packed, back, c, d)


def total_row(rows: list[Row], tool: str) -> Row:
    """The tool's rows summed: sizes and times over every input, the largest peak."""
    mine = [r for r in rows if r.tool == tool]
    row = Row(TOTAL, tool, input_bytes=sum(r.input_bytes for r in mine), pixels=sum(r.pixels for r in mine),
              files=len(mine))
    if not mine or any(not r.ok for r in mine):
        row.roundtrip, row.note = "error", "an input failed (its row says why)"
        return row
    row.size = sum(r.size for r in mine)
    row.compress_s, row.decompress_s = sum(r.compress_s for r in mine), sum(r.decompress_s for r in mine)
    row.compress_peak_mb = max((r.compress_peak_mb for r in mine if r.compress_peak_mb is not None), default=None)
    row.decompress_peak_mb = max((r.decompress_peak_mb for r in mine if r.decompress_peak_mb is not None),
                                 default=None)
    row.roundtrip = "ok"
    return row


def run_photos(results: Results, folder: Path | None, quick: bool, workdir: Path) -> dict:
    """Measure the ladder; returns what the report and the floors need ({"why": ...} when skipped)."""
    try:
        import imagecodecs  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as exc:
        return {"why": f"Pillow and imagecodecs are needed ({HINT}): {one_line(exc)}"}
    exe = bbzip_exe()
    if exe is None:
        return {"why": "no bbzip console script"}
    root, why = photo_folder(folder)
    if root is None:
        return {"why": why}
    photos = find_photos(root)
    plans = ladder(photos, QUICK_TARGETS_MP if quick else TARGETS_MP)
    if not plans:
        return {"why": f"no colour photos under {root}"}
    # issue 16's memory floor holds at 50 MP too: bbzip alone there, outside the totals
    huge = [] if quick or HUGE_MP is None else ladder(photos, (HUGE_MP,))
    inputs, rows, began = [], [], time.perf_counter()
    for plan, alone in [(p, False) for p in plans] + [(p, True) for p in huge]:
        image = render(plan)
        h, w = image.shape[:2]
        name = f"{w * h / 1e6:.1f} MP {w}x{h}"
        ppm = workdir / "photo.ppm"
        write_ppm(ppm, image)
        del image
        inputs.append({"name": name, "memory_only": alone, "source": plan.describe() + (
            ", bbzip alone (issue 16's memory floor at 50 MP; not in the totals)" if alone else "")})
        log(f"photos at full size: {name}: {plan.describe()}")
        tools = [BBZIP] if alone else [BBZIP, *CODECS] + ([COLD, NUMPY] if plan is plans[0] else [])
        if plan is plans[0]:
            measure_bbzip(exe, name, ppm, workdir)  # untimed: numba's cache is warm for every timed row
        for tool in tools:
            row = measure_bbzip(exe, name, ppm, workdir, tool) if tool in (BBZIP, COLD, NUMPY) \
                else measure_codec(tool, name, ppm, workdir)
            results.add(row)
            rows += [] if alone else [row]
            log(f"{name}: {tool}: {row.size} B, {row.roundtrip}, {row.compress_s} / {row.decompress_s} s")
        ppm.unlink()
    for tool in (BBZIP, *CODECS):
        results.add(total_row(rows, tool))
    return {"inputs": inputs, "folder": str(root), "tools": [BBZIP, *CODECS, COLD, NUMPY],
            "minutes": (time.perf_counter() - began) / 60}


def floors(info: dict) -> list[Floor]:
    """Issue 16's bars: every input at or under each floor; the goals on the total."""
    out = [Floor(16, i["name"], BBZIP, metric, "<=", floor) for i in info.get("inputs", [])
           for metric, (floor, _) in FLOORS.items() if metric == "peak_mb" or not i.get("memory_only")]
    out += [Floor(16, TOTAL, BBZIP, metric, "<=", goal, "goal") for metric, (_, goal) in FLOORS.items()]
    out.append(Floor(16, TOTAL, BBZIP, "compress_s_per_mp", "<=", Ref("JPEG XL e7", "compress_s_per_mp"), "goal"))
    if info.get("inputs"):  # the numpy path writes the same bytes as the compiled one
        out.append(Floor(16, info["inputs"][0]["name"], NUMPY, "digest", "==", Ref(BBZIP, "digest")))
    return out


def markdown(results: Results, info: dict) -> str:
    from bench.common import fmt, md_table

    if not info.get("inputs"):
        return f"### Photos at full size\n\nNot run: {info.get('why')}.\n"
    body = []
    for name in [i["name"] for i in info["inputs"]] + [TOTAL]:
        for tool in info["tools"]:
            r = results.get(name, tool)
            if r is None:
                continue
            ok = r.ok
            body.append([name, tool, fmt(r.bits_per_pixel if ok else None, ".3f"),
                         fmt(r.compress_s if ok else None, ".1f"), fmt(r.compress_s_per_mp if ok else None, ".2f"),
                         fmt(r.decompress_s if ok else None, ".1f"), fmt(r.decompress_s_per_mp if ok else None, ".2f"),
                         fmt(r.compress_peak_mb if ok else None, ".0f"), fmt(r.decompress_peak_mb if ok else None, ".0f"),
                         r.note if ok else f"{r.roundtrip}: {r.note}"])
    table = md_table(["input", "codec", "bits/subpixel", "comp s", "comp s/M", "decomp s", "decomp s/M",
                      "comp peak MB", "decomp peak MB", "note"], body)
    sources = "\n".join(f"- {i['name']}: {i['source']}" for i in info["inputs"])
    return (f"### Photos at full size\n\n{table}\n\n{PHOTOS_LEGEND.format(cores=cores())}\n\n"
            f"Inputs (from {info['folder']}; the section ran {info.get('minutes', 0):.1f} minutes):\n\n{sources}\n")


PHOTOS_LEGEND = (
    "Every codec as a whole process on a {cores}-core machine: `bbzip -c FILE > OUT` and `bbzip -dc` at their "
    "defaults (level 6, -T{cores}); the others a Python process each through imagecodecs (JPEG XL with "
    "{cores} threads; WebP lossless at cwebp's defaults, -q 75 -m 4: the natural table has it at its best), "
    "reading and writing the same PPM. s/M = wall seconds per million subpixels; peak = "
    "sum of PSS over the process tree (MB); the note gives the tree's CPU seconds, compress / decompress. "
    "Each process gets the bench's environment less OPENBLAS_NUM_THREADS, as a user's shell would. "
    f"`{COLD}`: the first input again with an empty numba cache for each step (what a fresh install pays once); "
    "every other bbzip row runs warm, after one untimed run. "
    f"`{NUMPY}`: the first input with BBZIP_KERNELS=numpy (no compiled kernels; its output must be the same bytes)."
)

if __name__ == "__main__":  # the older command: python -m bench.photos [--photos DIR] [--quick]
    from bench.main import main
    sys.exit(main(["photos", *sys.argv[1:]]))
