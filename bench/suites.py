"""What each table measures: which codecs on which inputs.

  levels   bbzip -1/-6/-9 at -T1 and -T<cores> (the CLI) against gzip -1/-6/-9, zstd -3/-19
           and xz -6/-9e on the source tar, skewed, random and MNIST: size, MB/s, peak RSS.
  coders   each bbzip coder forced through the library (order0, lzma, stored; vae on images).
  mnist    MNIST and binarized MNIST against gzip/bzip2/xz/zstd at their best; single-digit PGMs
           (a process per file for every tool, bbzip's console script too).
  startup  the CLI on a 1 KB file against `python -c 'import numpy'`; compress(b"").
  pipe     2 GB through pipes (bench/pipeline.py) at bbzip's default and -1, gzip -1, zstd -3.
  natural  the validation photos, crops and the tar folder (bench/natural.py).

The reference tools run single-threaded (``-T1`` for xz and zstd), as gzip and bzip2 are.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import best_of, cores, log, one_line, run_quiet, subprocess_env
from bench.inputs import MNIST_INPUT, PGM_INPUT, Input, digit_pgms
from bench.measure import ApiCodec, Codec, CommandCodec, Results, combine_rows, new_row
from bench.pipeline import run_pipe

STARTUP_RUNS = 5
STARTUP_INPUT = "1 KB text file"
NUMPY_TOOL = "python -c 'import numpy'"
EMPTY_INPUT = "empty input"
PGM_COUNT, PGM_COUNT_QUICK = 100, 20
PIPE_INPUT = "pipe"
PIPE_BYTES, PIPE_BYTES_QUICK = 2_000_000_000, 100_000_000


@dataclass(frozen=True)
class Tool:
    label: str
    argv: tuple[str, ...]  # compress command minus "-c FILE"
    dargv: tuple[str, ...]  # decompress command minus "-c FILE"


def _tool(label: str, *extra: str) -> Tool:
    exe, level = label.split()
    quiet = ("-q",) if exe == "zstd" else ()
    threads = ("-T1",) if exe in ("xz", "zstd") else ()
    return Tool(label, (exe, level, *threads, *quiet, *extra), (exe, "-d", *quiet))


LEVEL_TOOLS = tuple(
    _tool(t) for t in ("gzip -1", "gzip -6", "gzip -9", "zstd -3", "zstd -19", "xz -6", "xz -9e")
)
BEST_TOOLS = tuple(_tool(t) for t in ("gzip -9", "bzip2 -9", "xz -9e", "zstd -19"))
PGM_TOOLS = tuple(_tool(t) for t in ("gzip -9", "zstd -19", "xz -9e"))
PIPE_TOOLS = (_tool("gzip -1"), _tool("zstd -3"))
LEVELS = (1, 6, 9)


def threads_list() -> tuple[int, ...]:
    return tuple(dict.fromkeys((1, cores())))


def bbzip_label(level: int, threads: int) -> str:
    return f"bbzip -{level} -T{threads}"


def default_label() -> str:
    """The row a user typing plain ``bbzip`` gets here: level 6, one thread per core."""
    return bbzip_label(6, cores())


@functools.cache
def cli_has_levels(exe: str) -> bool:
    """Whether this bbzip takes -9 and -T both ways: tried on empty input, not read off --help."""
    try:
        packed = subprocess.run([exe, "-9", "-T1", "-c"], check=False, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=120)
        back = subprocess.run([exe, "-d", "-T1", "-c"], check=False, input=packed.stdout,
                              capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return False
    return packed.returncode == 0 and back.returncode == 0 and back.stdout == b""


class UnsupportedCli(Exception):
    """The installed bbzip lacks an option a row needs (the row is skipped, not failed)."""


class CliCodec(CommandCodec):
    """bbzip's console script at a level and thread count. A CLI without levels or -T gets
    the same call through the library instead (no start-up, no RSS; the row's note says so)."""

    FALLBACK = "library call: this bbzip CLI has no -1..-9 / -T"

    def __init__(self, exe: str, level: int, threads: int, workdir: Path, api: Any) -> None:
        argv = (exe, f"-{level}", f"-T{threads}")
        dargv = (exe, "-d", f"-T{threads}")
        label = bbzip_label(level, threads)
        super().__init__(label, argv, dargv, workdir, api=api, once=level > 1)
        self.exe, self.level, self.threads = exe, level, threads

    def compress(self, inp: Input) -> Path | bytes:
        if cli_has_levels(self.exe):
            return super().compress(inp)
        if self.api is None:
            raise UnsupportedCli(self.FALLBACK)
        self.peak, self.note = None, self.FALLBACK
        return self.api.compress(inp.data, level=self.level, threads=self.threads)

    def decompress(self, packed: Path | bytes) -> Path | bytes:
        if isinstance(packed, bytes):
            return self.api.decompress(packed)
        return super().decompress(packed)

    def packed_bytes(self, packed: Path | bytes) -> bytes:
        return packed if isinstance(packed, bytes) else super().packed_bytes(packed)

    def output(self, unpacked: Path | bytes) -> bytes:
        return unpacked if isinstance(unpacked, bytes) else super().output(unpacked)


def tool_codecs(tools: tuple[Tool, ...], workdir: Path) -> list[Codec]:
    return [
        CommandCodec(t.label, t.argv, t.dargv, workdir) for t in tools if shutil.which(t.argv[0])
    ]


def bbzip_cli_codecs(
    exe: str | None, levels: tuple[int, ...], workdir: Path, api: Any
) -> list[Codec]:
    if exe is None:
        return []
    return [CliCodec(exe, level, t, workdir, api) for level in levels for t in threads_list()]


def run_levels(
    results: Results, inputs: list[Input], exe: str | None, api: Any, workdir: Path
) -> None:
    codecs = bbzip_cli_codecs(exe, LEVELS, workdir, api) + tool_codecs(LEVEL_TOOLS, workdir)
    for inp in inputs:
        for codec in codecs:
            results.measure(codec, inp)


def run_coders(results: Results, inputs: list[Input], api: Any) -> None:
    if api is None:
        return
    for inp in inputs:
        coders = ("order0", "lzma", "stored") + (("vae",) if inp.pixels else ())
        for coder in coders:
            results.measure(ApiCodec(api, f"bbzip {coder}", once=coder == "vae", coder=coder), inp)


def run_mnist(
    results: Results, inputs: list[Input], exe: str | None, api: Any, workdir: Path, quick: bool
) -> Input | None:
    """The MNIST summary rows, and the single-digit PGM set (returned as an input)."""
    default = [c for c in bbzip_cli_codecs(exe, (6,), workdir, api) if c.label == default_label()]
    for inp in inputs:
        for codec in default + tool_codecs(BEST_TOOLS, workdir):
            results.measure(codec, inp)
    mnist = next((i for i in inputs if i.name == MNIST_INPUT), None)
    if mnist is None:
        return None
    files = digit_pgms(mnist, PGM_COUNT_QUICK if quick else PGM_COUNT, workdir / "pgm")
    pgm = Input(
        PGM_INPUT,
        b"".join(f.data for f in files),
        f"first {len(files)} MNIST test digits, each its own {len(files[0].data)}-byte binary PGM, "
        "compressed one file at a time (sizes and times are totals)",
        pixels=len(files) * 784,
    )
    # Every tool, bbzip too, starts a process per file: a batch job's real cost.
    if exe:
        ours: list[Codec] = [CommandCodec("bbzip -6", (exe, "-6"), (exe, "-d"), workdir, api)]
    else:
        ours = [ApiCodec(api, "bbzip -6 (in-process: no console script)", level=6)] if api else []
    codecs = ours + tool_codecs(PGM_TOOLS, workdir)
    for codec in codecs:
        log(f"{PGM_INPUT}: {codec.label} on {len(files)} files")
        rows = [results.measure(codec, f) for f in files]
        results.add(combine_rows(pgm, rows))
        for f in files:  # the per-file rows live on in the combined one only
            results.rows.pop((f.name, codec.label), None)
    run_numba(results, mnist, exe, workdir)
    return pgm


NUMBA_INPUT = "mnist-500-idx"
NUMBA_IMAGES = 500


def run_numba(results: Results, mnist: Input, exe: str | None, workdir: Path) -> None:
    """Decompressing 500 digits with numba's cache empty (a first run: the compiled step is
    compiled first) and then warm, as `bbzip -d` processes: the warm figure is what every
    table shows, the cold one what a fresh install pays once."""
    import tempfile
    import time

    if exe is None:
        return
    count = min(NUMBA_IMAGES, mnist.pixels // 784)
    inp = Input(NUMBA_INPUT, mnist.data[:4] + count.to_bytes(4, "big") + mnist.data[8 : 16 + count * 784],
                f"first {count} MNIST test digits as one IDX file").write(workdir)
    packed = workdir / "numba.idx.bbz"
    with packed.open("wb") as out:
        run_quiet([exe, "-6", "-c", str(inp.path)], stdout=out, env=subprocess_env())
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = {**subprocess_env(), "NUMBA_CACHE_DIR": cache}
        for label in ("bbzip -d, numba cache cold", "bbzip -d, numba cache warm"):
            row = new_row(inp, label)
            start = time.perf_counter()
            try:
                run_quiet([exe, "-dc", str(packed)], env=env)
                row.decompress_s, row.roundtrip = time.perf_counter() - start, "ok"
                row.size, row.note = packed.stat().st_size, "one process, start-up included"
            except Exception as exc:  # noqa: BLE001 -- reported in the row
                row.roundtrip, row.note = "error", one_line(exc)
            results.add(row)


def run_startup(results: Results, exe: str | None, api: Any, workdir: Path) -> None:
    """Rows whose compress_s is a best-of-5 start-to-finish time of a command."""
    small = Input(
        STARTUP_INPUT, (b"The quick brown fox jumps over the lazy dog. " * 30)[:1000], ""
    ).write(workdir)
    argv = (
        [exe, "-c", str(small.path)]
        if exe
        else [sys.executable, "-m", "bbzip", "-c", str(small.path)]
    )
    for label, cmd in (("bbzip -c", argv), (NUMPY_TOOL, [sys.executable, "-c", "import numpy"])):
        row = new_row(small, label)
        # cwd=workdir: `-m` puts the cwd first on sys.path; PYTHONPATH decides which bbzip runs
        run = functools.partial(run_quiet, cmd, env=subprocess_env(), cwd=workdir)
        try:
            _, row.compress_s = best_of(run, STARTUP_RUNS)
            row.roundtrip, row.note = "ok", f"best of {STARTUP_RUNS}"
        except Exception as exc:  # noqa: BLE001 -- reported in the row
            row.roundtrip, row.note = "error", one_line(exc)
        results.add(row)
    if api is not None:
        empty = Input(EMPTY_INPUT, b"", "")
        results.measure(ApiCodec(api, "bbzip -6", level=6), empty)


REAL_PIPE_INPUT = "usr-lib-tar"
REAL_TREE = "/usr/lib"
REAL_PIPE_BYTES, REAL_PIPE_BYTES_QUICK = 256 << 20, 32 << 20


def run_pipes(results: Results, total: int, unit: int, exe: str | None, workdir: Path,
              real: int | None = None) -> None:
    """``total`` generated bytes through each codec in pipes, in stretches of ``unit`` bytes;
    then ``real`` bytes of a tar of /usr/lib (real libraries and binaries) the same way."""
    codecs = []
    if exe:
        t = cores()
        for level in (6, 1):
            codecs.append(
                (bbzip_label(level, t), [exe, f"-{level}", f"-T{t}"], [exe, "-d", f"-T{t}"])
            )
    codecs += [
        (t.label, list(t.argv), list(t.dargv)) for t in PIPE_TOOLS if shutil.which(t.argv[0])
    ]
    inputs = [(Input(PIPE_INPUT, b"", f"{total:,} generated bytes through pipes"), total, None)]
    if real and Path(REAL_TREE).is_dir():
        inputs.append((Input(REAL_PIPE_INPUT, b"", f"{real:,} bytes of a tar of {REAL_TREE}"), real, REAL_TREE))
    for inp, size, tree in inputs:
        _pipe_rows(results, inp, size, unit, tree, codecs, exe, workdir)


def _pipe_rows(results: Results, inp: Input, total: int, unit: int, tree: str | None, codecs, exe, workdir) -> None:
    for label, compress, decompress in codecs:
        if label.startswith("bbzip") and not cli_has_levels(exe):
            compress, decompress = [exe], [exe, "-d"]  # an older CLI: its only level
            label += " (old CLI: no levels)"
        log(f"pipe, {total:,} bytes: {label}")
        run_dir = workdir / f"pipe-{len(results.rows)}"
        run_dir.mkdir()
        r = run_pipe(compress, decompress, total, unit, run_dir, tree=tree)
        row = new_row(inp, label)
        row.input_bytes, row.size, row.compress_s = total, r.compressed, r.seconds
        row.compress_peak_mb, row.decompress_peak_mb = r.compress_peak_mb, r.decompress_peak_mb
        row.roundtrip = "ok" if r.exact else "FAIL"
        row.note = "" if r.exact else (r.error or "data differs")
        results.add(row)
