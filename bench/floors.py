"""The bars bbzip is held to, as one table of rows: (input, tool, metric, op, limit).

Each floor names a row the run measured and the README publishes, so the checks and the
published numbers are the same numbers. A limit is a number, or ``Ref``: another row's
metric in the same run, times a factor. ``kind``: a floor is a bar (PASS/FAIL); a goal or a
moonshot is an aim (met/missed). ``full``: the bar is for the full-size input (a --quick
prefix of MNIST pays the first image's cost over fewer digits). Nothing here sets the exit
status: the bench reports.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from bench.common import cores
from bench.inputs import BINARY_INPUT, CROPS_INPUT, MNIST_INPUT, PGM_INPUT, PHOTO_NAMES
from bench.measure import Results, Row
from bench.natural import TAR_INPUT, TAR_TOOL, TOTAL_INPUT
from bench.suites import EMPTY_INPUT, NUMPY_TOOL, PIPE_INPUT, REAL_PIPE_INPUT, STARTUP_INPUT, bbzip_label

WEBP = "WebP lossless m6"
OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


@dataclass(frozen=True)
class Ref:
    tool: str
    metric: str
    factor: float = 1.0
    input: str | None = None  # None: the floor's own input


@dataclass(frozen=True)
class Floor:
    issue: int
    input: str
    tool: str
    metric: str
    op: str
    limit: float | Ref
    kind: str = "floor"  # floor | goal | moonshot
    full: bool = False  # applies to the full-size input only
    note: str = ""  # what the reader must know about the bar (shown in the detail column)
    beside: Ref | None = None  # a figure shown next to the check, not compared


@dataclass
class Check:
    floor: Floor
    value: float | str | None
    limit: float | str | None
    status: str  # PASS | FAIL | n/a | met | missed
    detail: str = ""


def floor_table(quick: bool) -> list[Floor]:
    t = cores()
    mb = 1 if quick else 8
    tar, skewed, random = "pystdlib.tar", f"skewed-{mb}MB", f"random-{mb}MB"
    b1, b6, b9 = (bbzip_label(level, t) for level in (1, 6, 9))
    general = (tar, skewed, random)
    return [
        # issue 10: levels
        *(
            Floor(10, i, b1, "compress_mbps", ">=", Ref("gzip -1", "compress_mbps"))
            for i in general
        ),
        *(
            Floor(10, i, b6, "compress_mbps", ">=", Ref("gzip -6", "compress_mbps"))
            for i in general
        ),
        Floor(10, tar, b6, "size", "<=", Ref("gzip -6", "size", 0.85)),
        Floor(10, tar, b9, "size", "<=", Ref("xz -6", "size")),
        Floor(10, MNIST_INPUT, b1, "neural_blocks", "==", 0),
        Floor(10, MNIST_INPUT, b6, "neural_blocks", ">=", 1),
        Floor(10, MNIST_INPUT, b6, "compress_s", "<=", Ref("xz -9e", "compress_s"), full=True),
        Floor(10, MNIST_INPUT, b6, "decompress_s", "<=", Ref("xz -9e", "compress_s"), full=True,
              note="the bar is xz -9e's compress time (issue 10), not its decompress time",
              beside=Ref("xz -9e", "decompress_s")),
        *(
            Floor(
                10, i, bbzip_label(level, t), "digest", "==", Ref(bbzip_label(level, 1), "digest")
            )
            for i in (tar, MNIST_INPUT)
            for level in (1, 6, 9)
            if t > 1
        ),
        Floor(10, PIPE_INPUT, b6, "compress_mbps", ">=", Ref("gzip -1", "compress_mbps")),
        Floor(10, PIPE_INPUT, b1, "compress_mbps", ">=", Ref("zstd -3", "compress_mbps", 0.7)),
        Floor(10, PIPE_INPUT, b6, "peak_mb", "<=", 150 + 100 * t),
        Floor(10, PIPE_INPUT, b1, "peak_mb", "<=", 150 + 100 * t),
        # The same bar on real data (a tar of /usr/lib), where LZMA and zstd hold large windows.
        Floor(10, REAL_PIPE_INPUT, b6, "peak_mb", "<=", 150 + 100 * t),
        Floor(10, REAL_PIPE_INPUT, b1, "peak_mb", "<=", 150 + 100 * t),
        Floor(10, skewed, "bbzip order0", "decompress_mbps", ">=", 80),
        Floor(
            10, STARTUP_INPUT, "bbzip -c", "compress_s", "<=", Ref(NUMPY_TOOL, "compress_s", 1.5)
        ),
        # earlier bars
        Floor(1, EMPTY_INPUT, "bbzip -6", "size", "<=", 32),
        Floor(1, random, b6, "growth_per_mib", "<=", 64),
        Floor(1, skewed, "bbzip order0", "size_vs_h0", "<=", 1.005),
        # issue 9: images
        Floor(9, MNIST_INPUT, b6, "bits_per_pixel", "<=", 1.125, full=True),
        Floor(9, BINARY_INPUT, b6, "bits_per_pixel", "<=", 0.176, full=True),
        Floor(9, PGM_INPUT, "bbzip -6", "bytes_per_file", "<=", 150),
        Floor(9, TOTAL_INPUT, b6, "bits_per_pixel", "<=", Ref(WEBP, "bits_per_pixel")),
        # issue 17: every anchor at its best in the same run; issue 16: the rate bar
        Floor(17, TOTAL_INPUT, b6, "bits_per_pixel", "<=", Ref("JPEG XL e7", "bits_per_pixel")),
        *(Floor(17, photo, b6, "bits_per_pixel", "<=", Ref(WEBP, "bits_per_pixel")) for photo in PHOTO_NAMES),
        Floor(17, TOTAL_INPUT, b6, "bits_per_pixel", "<=", Ref("JPEG XL e9", "bits_per_pixel", 0.97), "goal"),
        Floor(17, TOTAL_INPUT, b6, "bits_per_pixel", "<=", Ref("JPEG XL e9", "bits_per_pixel", 0.93), "moonshot"),
        Floor(16, TOTAL_INPUT, b6, "bits_per_pixel", "<=", 3.563),
        Floor(9, TOTAL_INPUT, b6, "decompress_s_per_mp", "<=", 5.0),
        Floor(9, TOTAL_INPUT, b6, "decompress_s_per_mp", "<=", 1.0, "goal"),
        Floor(9, CROPS_INPUT, b6, "size", "<=", Ref("xz -9e", "size", 0.8)),
        Floor(9, TAR_INPUT, TAR_TOOL, "size", "<=", Ref(b6, "size", input=TOTAL_INPUT)),
    ]


def _problem(row: Row | None, what: str) -> str:
    if row is None:
        return f"{what}: not measured"
    if row.roundtrip == "skipped":
        return f"{what}: {row.note or 'skipped'}"
    return "" if row.ok else f"{what}: round trip {row.roundtrip} {row.note}".rstrip()


def check(floor: Floor, results: Results, full_size: dict[str, bool]) -> Check:
    result = _check(floor, results, full_size)
    notes = [floor.note] if floor.note else []
    if floor.beside is not None:
        other = results.get(floor.beside.input or floor.input, floor.beside.tool)
        value = getattr(other, floor.beside.metric) if other is not None and other.ok else None
        notes.append(f"{floor.beside.tool} {floor.beside.metric}: "
                     + ("not measured" if value is None else f"{value:.3g}"))
    result.detail = "; ".join([result.detail, *notes] if result.detail else notes)
    return result


def _check(floor: Floor, results: Results, full_size: dict[str, bool]) -> Check:
    row = results.get(floor.input, floor.tool)
    limit: float | str | None = floor.limit
    problems = [_problem(row, floor.tool)]
    if isinstance(floor.limit, Ref):
        ref = floor.limit
        other = results.get(ref.input or floor.input, ref.tool)
        problems.append(_problem(other, ref.tool))
        limit = getattr(other, ref.metric) if other is not None and other.ok else None
        if isinstance(limit, float | int) and not isinstance(limit, bool):
            limit = limit * ref.factor
    value = getattr(row, floor.metric) if row is not None and row.ok else None
    if floor.metric == "digest" and value and limit is None:
        value = f"sha256 {value[:12]}"  # nothing to compare it with: the start of the hash
    problem = "; ".join(p for p in problems if p)
    aim = floor.kind != "floor"
    if floor.full and not full_size.get(floor.input, True):
        return Check(floor, value, limit, "n/a", "the bar is for the full-size input")
    if row is not None and row.roundtrip not in ("ok", "skipped"):
        return Check(floor, value, limit, "missed" if aim else "FAIL", problem)
    if value is None or limit is None:
        return Check(floor, value, limit, "n/a", problem)
    ok = OPS[floor.op](value, limit)
    if floor.metric == "digest":
        value, limit = ("same" if ok else "differs"), "same"
    return Check(
        floor,
        value,
        limit,
        ("met" if ok else "missed") if aim else ("PASS" if ok else "FAIL"),
        problem,
    )


def check_all(quick: bool, results: Results, full_size: dict[str, bool], extra: list[Floor] = ()) -> list[Check]:
    """Every floor whose input was part of this run (``extra``: the floors of sections whose
    inputs are named as the run finds them)."""
    measured = {name for name, _ in results.rows}
    return [check(f, results, full_size) for f in [*floor_table(quick), *extra] if f.input in measured]
