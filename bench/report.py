"""Markdown tables of one run: the full report (bench.md) and the README's Results section."""

from __future__ import annotations

from collections.abc import Iterable

from bench.common import fmt, md_table
from bench.floors import Check, Ref
from bench.inputs import BINARY_INPUT, MNIST_INPUT, Input
from bench.measure import Results, Row
from bench.natural import TOTAL_INPUT
from bench.suites import NUMBA_INPUT, REAL_PIPE_INPUT

METRIC_FORMAT = {
    "size": ",.0f",
    "compress_mbps": ".1f",
    "decompress_mbps": ".1f",
    "compress_s": ".3f",
    "decompress_s": ".3f",
    "bits_per_pixel": ".4f",
    "compress_s_per_mp": ".2f",
    "decompress_s_per_mp": ".2f",
    "peak_mb": ".0f",
    "growth_per_mib": ".1f",
    "size_vs_h0": ".4f",
    "bytes_per_file": ".1f",
    "neural_blocks": "d",
}
METRIC_NAME = {
    "size": "size (B)",
    "compress_mbps": "compress MB/s",
    "decompress_mbps": "decompress MB/s",
    "compress_s": "compress s",
    "decompress_s": "decompress s",
    "bits_per_pixel": "bits/(sub)pixel",
    "compress_s_per_mp": "compress s per M subpixels",
    "decompress_s_per_mp": "decompress s per M subpixels",
    "peak_mb": "peak memory MB",
    "growth_per_mib": "growth B/MiB",
    "size_vs_h0": "size / H0 bound",
    "bytes_per_file": "B/file",
    "neural_blocks": "blocks by a network",
    "digest": "output",
}
MNIST_NAMES = {MNIST_INPUT: "MNIST t10k (8-bit)", BINARY_INPUT: "binarized MNIST t10k"}
SUMMARY_TOOLS = ("gzip -9", "bzip2 -9", "xz -9e", "zstd -19")


def coders_text(coders: dict[str, int]) -> str:
    return ", ".join(f"{name} x{n}" for name, n in sorted(coders.items(), key=lambda kv: -kv[1]))


def row_note(row: Row) -> str:
    """What went wrong, else the coders bbzip used (when the row is bbzip's)."""
    if not row.ok:
        return f"{row.roundtrip}: {row.note}" if row.roundtrip != "skipped" else row.note
    return "; ".join(filter(None, [row.note, coders_text(row.coders)]))


def good(row: Row | None, metric: str) -> float | None:
    return getattr(row, metric) if row is not None and row.ok else None


def floors_table(checks: list[Check]) -> str:
    body = []
    for c in checks:
        f = c.floor
        spec = METRIC_FORMAT.get(f.metric, ".3f")
        limit = c.limit if isinstance(c.limit, str) else fmt(c.limit, spec)
        if isinstance(f.limit, Ref):
            ref = f.limit
            scale = "" if ref.factor == 1 else f"{ref.factor:g} x "
            where = f" on {ref.input}" if ref.input else ""
            bar = f"{f.op} {scale}{ref.tool}{where}"
        else:
            bar = f"{f.op} {fmt(f.limit, spec)}"
        value = c.value if isinstance(c.value, str) else fmt(c.value, spec)
        body.append(
            [
                str(f.issue),
                f.kind,
                f.input,
                f.tool,
                METRIC_NAME.get(f.metric, f.metric),
                value,
                bar,
                limit,
                c.status,
                c.detail,
            ]
        )
    return md_table(
        ["issue", "kind", "input", "row", "metric", "value", "bar", "limit", "status", "detail"],
        body,
    )


def levels_table(results: Results, inputs: Iterable[Input], tools: list[str]) -> str:
    body = []
    for inp in inputs:
        for r in filter(None, (results.get(inp.name, t) for t in tools)):
            body.append(
                [
                    inp.name,
                    r.tool,
                    fmt(good(r, "size"), ","),
                    fmt(good(r, "ratio"), ".3f"),
                    fmt(good(r, "compress_mbps"), ".2f"),
                    fmt(good(r, "decompress_mbps"), ".1f"),
                    fmt(good(r, "compress_peak_mb"), ".0f"),
                    fmt(good(r, "decompress_peak_mb"), ".0f"),
                    row_note(r),
                ]
            )
    return md_table(["input", "tool", "size (B)", "ratio", "comp MB/s", "decomp MB/s", "comp RSS MB",
                     "decomp RSS MB", "note"], body)


def mnist_table(results: Results, inputs: Iterable[Input], default: str) -> str:
    body = []
    for inp in inputs:
        if inp.name not in MNIST_NAMES:
            continue
        base = results.get(inp.name, default)
        for tool in (default, *SUMMARY_TOOLS):
            r = results.get(inp.name, tool)
            if r is None:
                continue
            times = good(base, "size") and good(r, "size")
            body.append(
                [
                    MNIST_NAMES[inp.name],
                    tool,
                    fmt(good(r, "bits_per_pixel"), ".4f"),
                    fmt(good(r, "size"), ","),
                    fmt(good(r, "compress_s"), ".2f"),
                    fmt(good(r, "decompress_s"), ".2f"),
                    fmt(r.size / base.size if times else None, ".3f"),
                    row_note(r),
                ]
            )
    return md_table(
        ["dataset", "codec", "bits/px", "size (B)", "comp s", "decomp s", "x bbzip size", "note"],
        body,
    )


def natural_table(results: Results, info: dict) -> str:
    photos = [p.name for p in info.get("photos", [])]
    body = []
    for tool in info.get("tools", []):
        cells = [tool]
        for name in photos:
            cells.append(fmt(good(results.get(name, tool), "bits_per_pixel"), ".3f"))
        total = results.get(TOTAL_INPUT, tool)
        cells += [
            fmt(good(total, "bits_per_pixel"), ".3f"),
            fmt(good(total, "size"), ","),
            fmt(good(total, "compress_s_per_mp"), ".2f"),
            fmt(good(total, "decompress_s_per_mp"), ".2f"),
            row_note(total) if total else "not measured",
        ]
        body.append(cells)
    return md_table(
        ["codec", *photos, "total", "total (B)", "comp s/M", "decomp s/M", "note"], body
    )


def small_table(results: Results, names: Iterable[str]) -> str:
    """Any rows, one line each: for the crops, the tar folder, the PGM set."""
    body = []
    for name in names:
        for r in results.of(name):
            body.append(
                [
                    name,
                    r.tool,
                    fmt(good(r, "size"), ","),
                    fmt(good(r, "bits_per_pixel"), ".3f"),
                    fmt(good(r, "bytes_per_file") if r.files > 1 else None, ".1f"),
                    fmt(good(r, "compress_s"), ".3f"),
                    fmt(good(r, "decompress_s"), ".3f"),
                    row_note(r),
                ]
            )
    return md_table(
        ["input", "tool", "size (B)", "bits/(sub)px", "B/file", "comp s", "decomp s", "note"], body
    )


def pipe_table(results: Results, name: str) -> str:
    rows = results.of(name)
    base = next((r for r in rows if r.tool == "gzip -1" and r.ok), None)
    body = []
    for r in rows:
        speed = r.compress_mbps / base.compress_mbps if base and r.ok else None
        body.append(
            [
                r.tool,
                fmt(r.size, ","),
                fmt(r.size / r.input_bytes if r.size else None, ".4f"),
                fmt(r.compress_s, ".1f"),
                fmt(r.compress_mbps, ".1f"),
                fmt(speed, ".3f"),
                fmt(r.compress_peak_mb, ".0f"),
                fmt(r.decompress_peak_mb, ".0f"),
                "ok" if r.ok else f"FAIL: {r.note}",
            ]
        )
    return md_table(["codec", "compressed (B)", "size / original", "wall s", "MB/s", "x gzip -1",
                     "compress RSS MB", "decompress RSS MB", "byte-exact"], body)


def coders_table(results: Results, inp: Input) -> str:
    body = []
    for r in results.of(inp.name):
        if not r.tool.startswith("bbzip ") or r.tool.startswith("bbzip -"):
            continue
        h0 = (
            f"{(r.size_vs_h0 - 1) * 100:+.2f}% vs H0"
            if r.ok and r.tool == "bbzip order0" and r.size_vs_h0
            else ""
        )
        body.append(
            [
                r.tool,
                fmt(good(r, "size"), ","),
                fmt(good(r, "bits_per_byte"), ".4f"),
                fmt(good(r, "compress_mbps"), ".2f"),
                fmt(good(r, "decompress_mbps"), ".2f"),
                "; ".join(filter(None, [h0, row_note(r)])),
            ]
        )
    return md_table(["coder", "size (B)", "bits/byte", "comp MB/s", "decomp MB/s", "note"], body)


def inputs_table(inputs: Iterable[Input]) -> str:
    return md_table(
        ["input", "bytes", "H0 bits/byte", "description"],
        [[i.name, f"{len(i.data):,}", f"{i.entropy:.4f}", i.description] for i in inputs],
    )


def startup_table(results: Results, names: Iterable[str]) -> str:
    body = [
        [
            r.tool,
            r.input,
            fmt(r.compress_s * 1000 if r.compress_s else None, ".1f"),
            fmt(r.size, ","),
            row_note(r),
        ]
        for n in names
        for r in results.of(n)
    ]
    return md_table(["command / call", "input", "ms", "size (B)", "note"], body)


def machine_line(meta: dict) -> str:
    python = meta["python"].split()[0]
    return f"{meta['date']}, {meta['cpu']}, {meta['cpu_count']} cores, Python {python}, mode {meta['mode']}"


def _chart(charts: dict[str, str], key: str, alt: str, prefix: str) -> list[str]:
    """The chart's image line, or why there is none."""
    why = charts.get(key + "?")
    if key not in charts:
        return []
    return [f"No chart: {why}." if why else f"![{alt}]({prefix}{charts[key]})", ""]


def render(
    meta: dict, run: dict, results: Results, checks: list[Check], charts: dict[str, str], full: bool
) -> str:
    """The whole report (full) or the README's Results section (tables that the floors name),
    whose charts live in docs/ beside the copy of the whole report."""
    prefix = "" if full else "docs/"
    out = ["# bbzip benchmark", ""] if full else []
    if full:
        out += [f"- {k}: {v}" for k, v in meta.items() if k != "tools"]
        out += [f"- {name}: {ver}" for name, ver in meta["tools"].items()] + [""]
    else:
        out += [f"`{meta['command']}`, {machine_line(meta)}. " + meta["note"], ""]
    if run.get("levels"):
        out += [
            "### Levels",
            "",
            *_chart(charts, "levels", prefix=prefix, alt="ratio against compress speed"),
            levels_table(results, run["levels"], run["level_tools"]),
            "",
            LEVELS_LEGEND,
            "",
        ]
    if run.get("mnist"):
        out += [
            "### MNIST",
            "",
            *_chart(charts, "mnist", prefix=prefix, alt="bits/pixel against compress time"),
            mnist_table(results, run["mnist"], run["default"]),
            "",
        ]
        if run.get("pgm") is not None:
            out += [
                "Single-digit PGMs, one file at a time:",
                "",
                small_table(results, [run["pgm"].name]),
                "",
            ]
        if results.of(NUMBA_INPUT):
            out += ["numba's first run (empty cache: the digit step is compiled) against a warm cache:", "",
                    small_table(results, [NUMBA_INPUT]), ""]
    natural = run.get("natural") or {}
    if natural.get("photos"):
        out += [
            "### Natural images",
            "",
            *_chart(charts, "natural", prefix=prefix, alt="bits/subpixel against decode time"),
            natural_table(results, natural),
            "",
            NATURAL_LEGEND,
            "",
        ]
        extra = [i.name for i in (natural.get("crops"), natural.get("tar")) if i is not None]
        out += [small_table(results, extra), ""] if extra else []
    elif natural:
        out += ["### Natural images", "", f"Not run: {natural.get('why')}.", ""]
    if run.get("pipe"):
        out += [
            f"### {run['pipe_bytes']:,} bytes through pipes",
            "",
            PIPE_LEGEND,
            "",
            pipe_table(results, run["pipe"]),
            "",
        ]
        if results.of(REAL_PIPE_INPUT):
            real = results.of(REAL_PIPE_INPUT)[0].input_bytes
            out += [f"Real data: {real:,} bytes of a tar of /usr/lib (libraries and binaries) through the same pipes:",
                    "", pipe_table(results, REAL_PIPE_INPUT), ""]
    for block in run.get("blocks", []):  # sections that render themselves (photos, formats)
        out += [block, ""]
    out += ["### Floors", "", FLOORS_LEGEND, "", floors_table(checks), ""]
    if full:
        for inp in run.get("coder_inputs", []):
            out += [
                f"### Coders on {inp.name} (library, in-process)",
                "",
                coders_table(results, inp),
                "",
            ]
        if run.get("startup"):
            out += ["### Start-up and edge cases", "", startup_table(results, run["startup"]), ""]
        if run.get("inputs"):
            out += ["### Inputs", "", inputs_table(run["inputs"]), ""]
    return "\n".join(out) + "\n"


LEVELS_LEGEND = (
    "bbzip rows run the console script (`bbzip -L -TN -c FILE > OUT`, `bbzip -d -TN`), as the other "
    "tools are run, so times include process start-up; -T<cores> is bbzip's default. gzip, xz -T1 "
    "and zstd -T1 use one core. ratio = original / compressed. MB/s = 1e6 bytes of the original per "
    "second of wall clock, both ways. RSS = peak resident memory of the process and its workers."
)
NATURAL_LEGEND = (
    "bits per subpixel (pixels x channels), per photo and in total; s/M = wall seconds per million "
    "subpixels for the six together. All codecs in this process, same run: bbzip through bbzip.api at "
    "its default level with one thread per core; the others through imagecodecs (JPEG XL with the "
    "same thread count), each at its best setting: PNG at zlib level 9, WebP lossless m6 = level 100, "
    "method 6 (gray photos as three equal channels), JPEG XL lossless at effort 7 (its default) and 9. "
    "bbzip's size includes the PGM/PPM header."
)
PIPE_LEGEND = (
    "`generate | compress | count | decompress | sha256`, nothing on disk (bench/pipeline.py): "
    "random and skewed stretches of 32 MiB, one in eight mixed. Wall s and MB/s are for the whole "
    "pipeline; RSS is each codec's process tree's peak."
)
FLOORS_LEGEND = (
    "Each bar names the published row it is checked on. floor = a bar (PASS/FAIL); goal and "
    "moonshot = aims (met/missed); n/a = the row was not measured in this run (detail says why)."
)
