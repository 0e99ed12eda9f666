"""Image files as people have them (issue 18), one section of the bench: every formats floor
and the PNG regeneration rate per writer, in one run.

    python -m bench formats [--photos DIR] [--quick]

bench/formats.py measures JPEG, TIFF, BMP, 16-bit, RGBA and the mixed tar (on Debian's
wallpapers: bench.photos.photo_folder); bench/png_regen.py the PNG writers and PNG sizes (on
shared/data/photos-train). Here their results become rows of the run (bbzip's size and the
size it is held against, under the same input name) and floors on them, so the floors table
checks them as it checks the others.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import fmt, md_table, one_line
from bench.floors import Floor, Ref
from bench.measure import Results, Row

BBZIP = "bbzip -6"
TODAY = "bbzip -6, PNG not read (today)"
PNG_FILES = "the PNG files"
FULL = {"jpegs": None, "count": 4, "side": 256, "regen": 13, "crop": 512, "sizes": 6, "size_crop": 384}
QUICK = {"jpegs": 3, "count": 2, "side": 128, "regen": 2, "crop": 128, "sizes": 2, "size_crop": 128}


def _pair(results: Results, name: str, base_label: str, base: int, ours: int, note: str = "") -> None:
    results.add(Row(name, BBZIP, input_bytes=base, size=ours, roundtrip="ok", note=note))
    results.add(Row(name, base_label, input_bytes=base, size=base, roundtrip="ok"))


def run_formats(results: Results, folder: Path | None, quick: bool) -> dict:
    """Measure both parts; returns {"rows": comparisons, "regen": per writer, "floors": [...]}."""
    from bench import formats, png_regen
    from bench.photos import photo_folder

    sizes = QUICK if quick else FULL
    info: dict = {"rows": [], "floors": [], "skipped": []}
    root, why = photo_folder(folder)
    try:
        got = formats.run(root, sizes["count"], sizes["side"], sizes["jpegs"]) if root else {"skipped": why}
    except Exception as exc:  # noqa: BLE001 -- the other part still runs
        got = {"skipped": f"formats failed: {one_line(exc)}"}
    if "skipped" in got:
        info["skipped"].append(got["skipped"])
    for r in got.get("rows", []):
        if "skipped" in r:
            info["skipped"].append(f"{r['input']}: {r['skipped']}")
            continue
        _pair(results, r["input"], r["against"], r["base_bytes"], r["bbzip_bytes"], ", ".join(r.get("coders", [])))
        info["rows"].append((r["input"], r["against"], r.get("floor"), bool(r.get("goal"))))
    photos = sorted(png_regen.default_photos().glob("*.ppm*"))
    if not photos:
        info["skipped"].append(f"PNG: no photos in {png_regen.default_photos()}")
        return info
    info["regen"] = png_regen.regeneration(photos[: sizes["regen"]], sizes["crop"])
    for label, r in png_regen.sizes(photos[: sizes["sizes"]], sizes["size_crop"]).items():
        name = f"{r['files']} photos {sizes['size_crop']}px as {label}"
        _pair(results, name, PNG_FILES, r["png_bytes"], r["bbzip_bytes"], ", ".join(r["coders"]))
        if "today_bytes" in r:
            results.add(Row(name, TODAY, input_bytes=r["png_bytes"], size=r["today_bytes"], roundtrip="ok"))
            info["rows"].append((name, TODAY, 1.0, False))
        info["rows"].append((name, PNG_FILES, png_regen.FLOOR, "today_bytes" in r))
    return info


def floors(info: dict) -> list[Floor]:
    return [Floor(18, name, BBZIP, "size", "<=", Ref(against, "size", bar), "goal" if goal else "floor")
            for name, against, bar, goal in info.get("rows", []) if bar is not None]


def markdown(results: Results, info: dict) -> str:
    body = []
    for name, against, bar, goal in info.get("rows", []):
        ours, base = results.get(name, BBZIP), results.get(name, against)
        bar_text = "-" if bar is None else f"{'goal' if goal else 'floor'} {bar:g}"
        body.append([name, against, fmt(base.size, ","), fmt(ours.size, ","), f"{ours.size / base.size:.4f}",
                     bar_text, ours.note])
    out = ["### Image files", "", md_table(["input", "against", "its bytes", "bbzip bytes", "ratio", "bar",
                                            "coders"], body), "", FILES_LEGEND, ""]
    regen = info.get("regen") or {}
    if regen:
        rows = [[name, f"{r['regenerated']}/{r['files']}", f"{r['cpu_s_per_file']:.3f}", ", ".join(r["params"])]
                for name, r in regen.items()]
        out += ["PNG streams that bbzip regenerates byte for byte, per writer:", "",
                md_table(["writer", "regenerated", "CPU s/file", "deflate parameters found"], rows), "",
                REGEN_LEGEND, ""]
    out += [f"Skipped: {s}." for s in info.get("skipped", [])]
    return "\n".join(out) + "\n"


FILES_LEGEND = (
    "Sizes through bbzip.api at level 6, every output decoded and compared (bench/formats.py, "
    "bench/png_regen.py). JPEG: the wallpapers' JPEG files, distinct by content. TIFF, BMP, RGBA, 12-bit: "
    "photos box-downscaled from the same wallpapers. PNG: photos of shared/data/photos-train, centre-cropped. "
    f"`{TODAY}`: the same PNG bytes with the signature broken, so bbzip codes them with its generic coders, "
    "as it did every PNG before it read them."
)
REGEN_LEGEND = (
    "Each writer's PNG of the same centre crops; regenerated = bbzip found deflate parameters that give the "
    "IDAT stream back exactly (bbzip.images.png_coder.analyse, verified). zlib N: libpng's defaults at level N "
    "(Z_FILTERED, memLevel 8, window 15, adaptive filters). A writer whose library is missing has no row."
)
