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

from bench import chart, report, suites, zarr_bench
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

SECTIONS = ("levels", "coders", "mnist", "natural", "startup", "pipe", "zarr")


def measure_all(
    args: argparse.Namespace, only: set[str], api: Any, results: Results, workdir: Path
) -> dict:
    exe = bbzip_exe()
    run: dict = {"default": suites.default_label()}
    general = general_inputs(args.quick) if only & {"levels", "coders"} else []
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


def run_bench(args: argparse.Namespace) -> None:
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"bench: unknown --only {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )
    api, skip, version = load_api()
    meta = metadata(args, version)
    out = Path(args.out)
    results = Results(args.repeat, skip, journal=out / "rows.jsonl")
    with tempfile.TemporaryDirectory(prefix="bbzip-bench-") as tmp:
        run = measure_all(args, only, api, results, Path(tmp))
    full_size = {
        i.name: i.pixels == MNIST_FULL_PIXELS
        for i in run["inputs"]
        if i.name in (MNIST_INPUT, BINARY_INPUT)
    }
    checks = check_all(args.quick, results, full_size)
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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 MiB general inputs, 1337 MNIST images, 20 PGM digits, a 100 MB pipe",
    )
    parser.add_argument(
        "--only", help=f"comma-separated tables to run, from: {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--pipe-bytes",
        type=int,
        default=None,
        help=f"bytes through the pipes (default {suites.PIPE_BYTES:,}; "
        f"{suites.PIPE_BYTES_QUICK:,} with --quick)",
    )
    parser.add_argument(
        "--out", default="bench-results", help="directory for the results and charts"
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
