"""Run the tables, check the floors, write bench.md, readme.md (the README's Results section),
bench.json and the charts to --out. The bench reports: it exits 0 even when a tool is missing,
a row fails its round trip or a floor is missed (shown as FAIL)."""

from __future__ import annotations

import argparse
import json
import tempfile
import traceback
from pathlib import Path
from typing import Any

from bench import chart, files, photos, realdata, report, suites, zarr_bench
from bench.common import bbzip_exe, log, one_line
from bench.env import load_api, metadata
from bench.floors import check_all
from bench.inputs import (
    BINARY_INPUT,
    MNIST_FULL_PIXELS,
    MNIST_INPUT,
    binarized_input,
    general_inputs,
    mnist_input,
)
from bench.measure import Results
from bench.natural import TOTAL_INPUT, run_natural

REAL_BYTES, REAL_BYTES_QUICK = 16 << 20, 2 << 20
SECTIONS = ("levels", "coders", "mnist", "natural", "startup", "pipe", "zarr", "photos", "formats")


def measure_all(
    args: argparse.Namespace, only: set[str], api: Any, results: Results, workdir: Path
) -> dict:
    exe = bbzip_exe()
    run: dict = {"default": suites.default_label()}
    general = general_inputs(args.quick) if only & {"levels", "coders"} else []
    if "levels" in only:  # issue 19: real data beside the source tar (logs, a disk image)
        general += realdata.real_inputs(REAL_BYTES_QUICK if args.quick else REAL_BYTES)
    mnist = mnist_input(args.quick) if only & {"levels", "coders", "mnist"} else None
    binary = binarized_input(mnist) if mnist is not None and only & {"coders", "mnist"} else None
    inputs = [i.write(workdir) for i in [*general, mnist, binary] if i is not None]
    run["inputs"] = inputs
    if "levels" in only:
        run["levels"] = [i for i in inputs if i.name != BINARY_INPUT]
        run["level_tools"] = [
            suites.bbzip_label(level, t) for level in suites.LEVELS for t in suites.threads_list()
        ]
        run["level_tools"] += [t.label for t in suites.LEVEL_TOOLS]
        suites.run_levels(results, run["levels"], exe, api, workdir)
    if "mnist" in only:
        run["mnist"] = [i for i in inputs if i.name in (MNIST_INPUT, BINARY_INPUT)]
        run["pgm"] = suites.run_mnist(results, run["mnist"], exe, api, workdir, args.quick)
        if run["pgm"] is not None:
            inputs.append(run["pgm"])
    if "coders" in only:
        run["coder_inputs"] = inputs
        suites.run_coders(results, [i for i in inputs if i.name != "mnist-digit-pgm"], api)
    if "natural" in only:
        run["natural"] = run_natural(results, api, workdir, exe)
        inputs += [
            i for i in (run["natural"].get("crops"), run["natural"].get("tar")) if i is not None
        ]
    if "startup" in only:
        run["startup"] = [suites.STARTUP_INPUT, suites.EMPTY_INPUT]
        suites.run_startup(results, exe, api, workdir)
    if "pipe" in only and api is not None:
        run["pipe"], run["pipe_bytes"] = (
            suites.PIPE_INPUT,
            args.pipe_bytes or (suites.PIPE_BYTES_QUICK if args.quick else suites.PIPE_BYTES),
        )
        real = suites.REAL_PIPE_BYTES_QUICK if args.quick else suites.REAL_PIPE_BYTES
        suites.run_pipes(results, run["pipe_bytes"], api.BLOCK_SIZE, exe, workdir, real)
    if "zarr" in only:
        run["zarr"] = zarr_bench.run_zarr(args.quick)
    # Sections that bring their own floors and Markdown (blocks, before the floors table).
    for name, module, measure in (("photos", photos, photos.run_photos), ("formats", files, files.run_formats)):
        if name in only:
            info = measure(results, args.photos, args.quick, *([workdir] if name == "photos" else []))
            run["floors"] = run.get("floors", []) + module.floors(info)
            run["blocks"] = run.get("blocks", []) + [module.markdown(results, info)]
    return run


def draw(out: Path, meta: dict, run: dict, results: Results) -> dict[str, str]:
    """The charts: {key: file name} and {key + "?": why not} where none was drawn."""
    title = f"{meta['date']}, {meta['cpu']}, {meta['cpu_count']} cores, {meta['mode']}"
    jobs = {
        "levels": (
            "levels-ratio-vs-speed.png",
            lambda p: chart.levels_chart(
                p, results, [i.name for i in run["levels"]], run["level_tools"], title
            ),
        ),
        "mnist": (
            "mnist-bpp-vs-time.png",
            lambda p: chart.mnist_chart(
                p,
                results,
                {i.name: report.MNIST_NAMES[i.name] for i in run["mnist"]},
                [run["default"], *report.SUMMARY_TOOLS],
                title,
            ),
        ),
        "natural": (
            "natural-bpsp-vs-decode.png",
            lambda p: chart.natural_chart(
                p, results, TOTAL_INPUT, (run["natural"] or {}).get("tools", []), title
            ),
        ),
    }
    charts: dict[str, str] = {}
    for key, (name, draw_one) in jobs.items():
        if not run.get(key):
            continue
        charts[key] = name
        try:
            why = draw_one(out / name)
        except Exception as exc:  # noqa: BLE001 -- the tables matter more than the picture
            why = one_line(exc)
        if why:
            charts[key + "?"] = why
    return charts


def chosen_sections(args: argparse.Namespace) -> set[str]:
    """The sections named (positional, or --only a,b), else all of them."""
    named = [s for part in [*args.sections, args.only or ""] for s in part.split(",") if s]
    return set(named) if named else set(SECTIONS)


def default_out(only: set[str]) -> Path:
    """bench-results for a whole run; bench-results/<sections> for a part, so parts run one after
    another keep each its own results (python -m bench.publish takes each folder)."""
    return Path("bench-results") if only == set(SECTIONS) else Path("bench-results", "-".join(
        sorted(only, key=SECTIONS.index)))


def run_bench(args: argparse.Namespace) -> None:
    only = chosen_sections(args)
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"bench: unknown section {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )
    api, skip, version = load_api()
    meta = metadata(args, version, sorted(only, key=SECTIONS.index))
    out = Path(args.out) if args.out else default_out(only)
    results = Results(args.repeat, skip, journal=out / "rows.jsonl")
    with tempfile.TemporaryDirectory(prefix="bbzip-bench-") as tmp:
        run = measure_all(args, only, api, results, Path(tmp))
    full_size = {
        i.name: i.pixels == MNIST_FULL_PIXELS
        for i in run["inputs"]
        if i.name in (MNIST_INPUT, BINARY_INPUT)
    }
    checks = check_all(args.quick, results, full_size, run.get("floors", []))
    charts = draw(out, meta, run, results)
    zarr_md = zarr_bench.markdown(run.get("zarr"))
    markdown = report.render(meta, run, results, checks, charts, full=True) + zarr_md
    print(markdown)
    (out / "bench.md").write_text(markdown)
    (out / "readme.md").write_text(report.render(meta, run, results, checks, charts, full=False) + zarr_md)
    doc = {
        "meta": meta,
        "charts": charts,
        "rows": [r.to_dict() for r in results.rows.values()],
        "checks": [
            {
                **c.floor.__dict__,
                "limit": c.limit,
                "value": c.value,
                "status": c.status,
                "detail": c.detail,
                "bar": str(c.floor.limit),
            }
            for c in checks
        ],
    }
    (out / "bench.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(
        f"written: {out / 'bench.md'}, {out / 'readme.md'}, {out / 'bench.json'}, "
        f"charts: {', '.join(v for k, v in charts.items() if not k.endswith('?') and k + '?' not in charts) or 'none'}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", help=f"sections to run (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--photos", type=Path, default=None,
                        help="photos and formats: a folder of JPEG/PNG photos (default $BBZIP_PHOTOS, else "
                        "Debian's wallpapers, fetched into ~/.cache/bbzip-bench)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 MiB general inputs, 1337 MNIST images, 20 PGM digits, a 100 MB pipe, "
        "photos of 0.3 and 1 MP, small format inputs",
    )
    parser.add_argument(
        "--only", help="the same as naming the sections, comma-separated"
    )
    parser.add_argument(
        "--pipe-bytes",
        type=int,
        default=None,
        help=f"bytes through the pipes (default {suites.PIPE_BYTES:,}; "
        f"{suites.PIPE_BYTES_QUICK:,} with --quick)",
    )
    parser.add_argument(
        "--out", default=None, help="directory for the results and charts (default bench-results, or "
        "bench-results/<sections> when some sections are named)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time each fast step N times and report the best (networks run once)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run_bench(args)
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 -- benchmarks report; they never fail the build
        traceback.print_exc()
        log("internal error (reported above; exit status stays 0)")
    return 0
