"""bbzip benchmark: sizes and speeds of bbzip vs the usual compressors, from one run.

    python bench/bench.py [--quick] [--only mnist] [--out DIR] [--repeat N]

``make bench`` runs this.  It prints markdown tables on stdout and writes
``DIR/bench.md`` and ``DIR/bench.json`` (DIR defaults to ``bench-results``), and
the MNIST chart ``DIR/mnist-bpp-vs-time.png`` when matplotlib is installed
(``pip install -e .[bench]``; without it the chart alone is skipped).
It only reports: it exits 0 even when a tool is missing, a coder is
unsupported, a round trip fails or a spec floor is missed (shown as FAIL).

Inputs (all deterministic):
  pystdlib.tar       tar (GNU format, sorted, mtime/uid/gid/uname fixed) of the
                     ``*.py`` files under ``sysconfig.get_paths()["stdlib"]``,
                     site-packages excluded.  Depends on the Python version.
  skewed-8MB         8 MiB of i.i.d. bytes from a truncated geometric
                     distribution, P(k) proportional to 0.85**k for k = 0..255,
                     drawn with numpy ``default_rng(12345).choice``.
                     Order-0 entropy about 4.07 bits/byte.
  random-8MB         8 MiB of uniform bytes, numpy ``default_rng(54321)``.
  mnist-t10k-images  ``t10k-images-idx3-ubyte.gz`` decompressed, from
                     ``$BBZIP_MNIST_DIR`` or ``../shared/data/mnist`` (relative to
                     the repository root); skipped when absent.
  mnist-t10k-binarized
                     the same images binarized as bbzip's training defines it,
                     ``bbzip.training.mnist.binarize`` (fixed-seed stochastic:
                     a pixel is 1 with probability value/255), as one idx3 file
                     of 0/1 pixel bytes.

``--quick`` uses 1 MiB inputs (the first 1 MiB of the tar; the first 1337
MNIST images with a rewritten idx header, binarized or not) and skips xz -9e and
zstd -19, except where a check or the chart needs them (the MNIST inputs, the
single-digit PGMs).  ``--only mnist`` runs just the MNIST inputs, the PGMs and
their checks (no start-up timing), e.g. for working on the chart.

MNIST summary: the first section of ``bench.md`` is one table over both MNIST
inputs (bbzip auto, gzip -9, bzip2 -9, xz -9e, zstd -19) with a line giving the
date and the machine, and the chart plots the same rows: bits/pixel against
compress seconds (log scale), one panel per input.

Single-digit PGMs (with MNIST only): the first 100 test digits (20 with
``--quick``), each written as its own binary PGM ``P5\n28 28\n255\n`` + 784
pixels and compressed one file at a time by bbzip auto (in-process, each round
trip verified; the coder it chose is read back with ``bbzip.api.stream_info``)
and by gzip -9, zstd -19 and xz -9e.  That section's sizes and times are totals
over the files; the note gives the average size per file.

Rows: bbzip through the in-process API (``bbzip.api.compress(data, coder=...)``
and ``bbzip.api.decompress``) for each coder, then the external tools found on
PATH.  Timings are wall clock (``time.perf_counter``), best of ``--repeat``;
external tools run as subprocesses reading a file and writing a file, so their
times include process start-up.  MB/s counts 1e6 bytes of the *original*
input for both directions.  "x gzip-6" columns are speed / (gzip -6 speed on
the same input in the same run): above 1 is faster than gzip -6.  xz and zstd
get ``-T1`` (single-threaded, as gzip and bzip2 are).  Rows whose bbzip coder may
run the VAE (``vae``, and ``auto`` on images) are timed once whatever
``--repeat`` says.  On MNIST the VAE's compress and decompress times are also
given as multiples of xz -9e's compress time on the same file in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import io
import json
import math
import os
import platform
import shutil
import struct
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
MB = 1e6
FULL_SIZE = 8 * MIB
QUICK_SIZE = 1 * MIB
MNIST_FILE = "t10k-images-idx3-ubyte.gz"
STARTUP_RUNS = 5
BBZIP_CODERS = ("auto", "order0", "lzma", "stored")
MNIST_ONLY_CODERS = ("vae",)

# Spec floors, checked and reported (never enforced by the exit status).
ORDER0_SLACK = 1.005  # order0 output <= H0 * n / 8 * 1.005 + 1 KiB, on skewed
ORDER0_EXTRA = 1024
EMPTY_MAX = 32  # len(compress(b"")) <= 32
GROWTH_MAX = 64  # random input grows by <= 64 bytes per MiB
STARTUP_MAX = 1.5  # CLI on 1 KB <= 1.5 x `python -c 'import numpy'`
MNIST_INPUT = "mnist-t10k-images"
MNIST_FULL_PIXELS = 10_000 * 784  # the seconds floors below are for the whole test file
VAE_SECONDS_MAX = 30.0  # bbzip vae compress, and decompress, of the whole file
BINARY_BPP_MAX = 0.19  # BB-ANS (Townsend et al. 2019) on binarized MNIST
VAE_BPP_MAX = 1.28  # bits/pixel of bbzip vae / auto on MNIST (whole .bbz bytes)
PGM_HEADER = b"P5\n28 28\n255\n"
PGM_INPUT = "mnist-digit-pgm"
PGM_COUNT, PGM_COUNT_QUICK = 100, 20
PGM_AVG_MAX = 170  # bbzip auto, average bytes per single-digit PGM
PGM_TOOLS = ("gzip -9", "zstd -19", "xz -9e")
BINARY_INPUT = "mnist-t10k-binarized"
IDX3_MAGIC = b"\x00\x00\x08\x03"  # idx: unsigned bytes, 3 dimensions
# The MNIST summary table and chart: these rows of these inputs.
SUMMARY_INPUTS = {MNIST_INPUT: "MNIST t10k (8-bit)", BINARY_INPUT: "binarized MNIST t10k"}
SUMMARY_CODECS = ("bbzip auto", "gzip -9", "bzip2 -9", "xz -9e", "zstd -19")
SUMMARY_BASE = "bbzip auto"  # sizes are also given as multiples of this row's
CHART_FILE = "mnist-bpp-vs-time.png"
CHART_HINT = "pip install -e .[bench]"


@dataclass(frozen=True)
class Tool:
    label: str
    argv: tuple[str, ...]  # compress command minus "-c FILE"
    slow: bool = False  # skipped by --quick

    @property
    def exe(self) -> str:
        return self.argv[0]


TOOLS = (
    Tool("gzip -6", ("gzip", "-6")),
    Tool("gzip -9", ("gzip", "-9")),
    Tool("bzip2 -9", ("bzip2", "-9")),
    Tool("xz -6", ("xz", "-6", "-T1")),
    Tool("xz -9e", ("xz", "-9e", "-T1"), slow=True),
    Tool("zstd -3", ("zstd", "-3", "-T1", "-q")),
    Tool("zstd -19", ("zstd", "-19", "-T1", "-q"), slow=True),
)
REFERENCE = "gzip -6"
VAE_REFERENCE = "xz -9e"  # the VAE's times are reported as multiples of its compress time


@dataclass
class Input:
    name: str
    data: bytes
    description: str
    pixels: int | None = None  # set for images: bits/pixel is reported
    path: Path | None = None  # the data written to a file, for external tools
    entropy: float = field(init=False)  # order-0, bits/byte

    def __post_init__(self) -> None:
        self.entropy = order0_entropy(self.data)

    @property
    def entropy_bound(self) -> float:
        """Order-0 entropy bound of the whole input, in bytes."""
        return self.entropy * len(self.data) / 8


@dataclass
class Row:
    input: str
    tool: str
    size: int | None = None
    bits_per_byte: float | None = None
    bits_per_pixel: float | None = None
    compress_mbps: float | None = None
    decompress_mbps: float | None = None
    compress_vs_gzip6: float | None = None
    decompress_vs_gzip6: float | None = None
    compress_s: float | None = None
    decompress_s: float | None = None
    coders: dict[str, int] = field(default_factory=dict)  # bbzip: blocks per coder used
    roundtrip: str = "skipped"  # ok | FAIL | error | FAIL k/n (sets) | skipped
    note: str = ""


@dataclass
class Check:
    name: str
    value: float | None
    unit: str
    floor: str
    status: str  # PASS | FAIL | n/a
    detail: str = ""


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def best_of(fn: Callable[[], Any], runs: int) -> tuple[Any, float]:
    """Call fn `runs` times; return the last result and the fastest wall time."""
    best, result = math.inf, None
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def order0_entropy(data: bytes) -> float:
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def subprocess_env() -> dict[str, str]:
    """Environment in which `python -m bbzip` finds this checkout's package."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO_ROOT)])
    return env


def run_quiet(
    argv: list[str],
    stdout: Any = subprocess.DEVNULL,
    env: dict | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a command; raise RuntimeError carrying its last stderr line if it fails."""
    proc = subprocess.run(
        argv,
        check=False,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{argv[0]} exit {proc.returncode}: {err[-1] if err else ''}")


def tool_version(exe: str) -> str:
    try:
        proc = subprocess.run(
            [exe, "--version"],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"? ({one_line(exc)})"
    lines = (proc.stdout + proc.stderr).decode(errors="replace").splitlines()
    return next((ln.strip(" *") for ln in lines if ln.strip()), "?")


# --------------------------------------------------------------------------- inputs


def stdlib_tar(limit: int | None) -> bytes:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if p.is_file() and "site-packages" not in p.relative_to(root).parts
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
            if limit is not None and buf.tell() >= limit:
                break
    data = buf.getvalue()
    return data[:limit] if limit is not None else data


def skewed_bytes(n: int) -> bytes:
    p = 0.85 ** np.arange(256)
    rng = np.random.default_rng(12345)
    return rng.choice(256, size=n, p=p / p.sum()).astype(np.uint8).tobytes()


def random_bytes(n: int) -> bytes:
    return np.random.default_rng(54321).bytes(n)


def mnist_path() -> Path:
    base = os.environ.get("BBZIP_MNIST_DIR") or REPO_ROOT.parent / "shared" / "data" / "mnist"
    return Path(base) / MNIST_FILE


def mnist_images(limit: int | None) -> tuple[bytes, int] | None:
    """The idx3 file (cut to whole images within `limit`, header fixed) and its pixel count."""
    path = mnist_path()
    if not path.is_file():
        return None
    try:
        raw = gzip.decompress(path.read_bytes())
        magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    except (OSError, EOFError, struct.error) as exc:
        log(f"unreadable {path} ({one_line(exc)})")
        return None
    per_image = rows * cols
    if limit is not None:
        count = min(count, max(1, (limit - 16) // per_image))
    header = struct.pack(">IIII", magic, count, rows, cols)
    return header + raw[16 : 16 + count * per_image], count * per_image


def binarized_mnist(count: int) -> bytes | None:
    """The first `count` test images binarized as bbzip's training does it, as one idx3 file."""
    try:
        # bbzip's own definition (fixed seed): the set its binary model is trained and tested on
        from bbzip.training.mnist import binarize, read_idx_images
    except ImportError as exc:
        log(f"cannot import bbzip.training.mnist ({one_line(exc)}): no binarized MNIST")
        return None
    images = read_idx_images(mnist_path())[:count]
    # binarize draws its noise in pixel order, so a prefix binarizes as it does in the full set
    pixels = binarize(images)
    _, rows, cols = pixels.shape
    return IDX3_MAGIC + struct.pack(">III", count, rows, cols) + pixels.tobytes()


def single_digit_pgms(mnist: Input, count: int, directory: Path) -> list[Input]:
    """The first `count` images of the MNIST input, each as its own binary PGM file."""
    directory.mkdir(exist_ok=True)
    files = []
    for i in range(min(count, (mnist.pixels or 0) // 784)):
        pixels = mnist.data[16 + i * 784 : 16 + (i + 1) * 784]
        pgm = Input(f"digit-{i:03d}.pgm", PGM_HEADER + pixels, "", pixels=784)
        pgm.path = directory / pgm.name
        pgm.path.write_bytes(pgm.data)
        files.append(pgm)
    return files


def general_inputs(quick: bool) -> list[Input]:
    size = QUICK_SIZE if quick else FULL_SIZE
    limit = QUICK_SIZE if quick else None
    mb = size // MIB
    return [
        Input(
            "pystdlib.tar",
            stdlib_tar(limit),
            "tar of the Python stdlib *.py sources" + (" (first 1 MiB)" if quick else ""),
        ),
        Input(
            f"skewed-{mb}MB", skewed_bytes(size), "i.i.d. bytes, P(k) ~ 0.85**k, k<256, seed 12345"
        ),
        Input(f"random-{mb}MB", random_bytes(size), "uniform random bytes, seed 54321"),
    ]


def mnist_inputs(quick: bool) -> list[Input]:
    """MNIST as it is, and binarized (same images, same count); [] when MNIST is absent."""
    mnist = mnist_images(QUICK_SIZE if quick else None)
    if mnist is None:
        log(f"MNIST not usable at {mnist_path()}: skipping the MNIST inputs")
        return []
    data, pixels = mnist
    count = pixels // 784
    inputs = [Input(MNIST_INPUT, data, f"MNIST test images, {count} x 28x28 (idx3)", pixels=pixels)]
    binary = binarized_mnist(count)
    if binary is not None:
        inputs.append(
            Input(
                BINARY_INPUT,
                binary,
                f"the same {count} images binarized (bbzip.training.mnist.binarize), "
                "0/1 pixel bytes (idx3)",
                pixels=pixels,
            )
        )
    return inputs


def build_inputs(quick: bool, only: str | None) -> list[Input]:
    return ([] if only == "mnist" else general_inputs(quick)) + mnist_inputs(quick)


# --------------------------------------------------------------------------- codecs


class Codec:
    """One row's compressor.  compress/decompress are timed; size/output are not."""

    label = ""
    once = False  # timed one run only, whatever --repeat says (the VAE is slow)

    def compress(self, inp: Input) -> Any:
        raise NotImplementedError

    def decompress(self, packed: Any) -> Any:
        raise NotImplementedError

    def size(self, packed: Any) -> int:
        return len(packed)

    def output(self, unpacked: Any) -> bytes:
        return unpacked

    def coders(self, packed: Any) -> dict[str, int]:
        """Blocks per coder in the output, where the format says (bbzip only)."""
        return {}


class ApiCodec(Codec):
    def __init__(self, api: Any, coder: str, images: bool = False) -> None:
        self.api, self.coder, self.label = api, coder, f"bbzip {coder}"
        self.once = coder == "vae" or (coder == "auto" and images)

    def compress(self, inp: Input) -> bytes:
        return self.api.compress(inp.data, coder=self.coder)

    def decompress(self, packed: bytes) -> bytes:
        return self.api.decompress(packed)

    def coders(self, packed: bytes) -> dict[str, int]:
        return dict(Counter(b.coder for b in self.api.stream_info(io.BytesIO(packed)).blocks))


class ToolCodec(Codec):
    def __init__(self, tool: Tool, workdir: Path) -> None:
        self.tool, self.label = tool, tool.label
        stem = tool.label.replace(" ", "")
        self.packed_path, self.unpacked_path = workdir / f"{stem}.z", workdir / f"{stem}.out"

    def _run(self, argv: list[str], dest: Path) -> Path:
        with dest.open("wb") as out:
            run_quiet(argv, stdout=out)
        return dest

    def compress(self, inp: Input) -> Path:
        return self._run([*self.tool.argv, "-c", str(inp.path)], self.packed_path)

    def decompress(self, packed: Path) -> Path:
        return self._run([self.tool.exe, "-d", "-c", str(packed)], self.unpacked_path)

    def size(self, packed: Path) -> int:
        return packed.stat().st_size

    def output(self, unpacked: Path) -> bytes:
        return unpacked.read_bytes()


def fill_rates(row: Row, inp: Input) -> None:
    """bits/byte, bits/pixel and MB/s from row.size and the row's seconds."""
    n = len(inp.data)
    row.bits_per_byte = row.size * 8 / n if n else None
    row.bits_per_pixel = row.size * 8 / inp.pixels if inp.pixels else None
    row.compress_mbps = n / MB / row.compress_s if row.compress_s else None
    row.decompress_mbps = n / MB / row.decompress_s if row.decompress_s else None


def measure(codec: Codec, inp: Input, runs: int, skip: tuple[type[BaseException], ...]) -> Row:
    row = Row(inp.name, codec.label)
    runs = 1 if codec.once else runs
    try:
        packed, row.compress_s = best_of(lambda: codec.compress(inp), runs)
        unpacked, row.decompress_s = best_of(lambda: codec.decompress(packed), runs)
        size, restored = codec.size(packed), codec.output(unpacked)
        row.coders = codec.coders(packed)
    except skip as exc:
        row.compress_s = row.decompress_s = None
        row.note = f"skipped: {one_line(exc)}"
        return row
    except Exception as exc:  # noqa: BLE001 -- a bench reports failures, it does not crash on them
        row.compress_s = row.decompress_s = None
        row.roundtrip, row.note = "error", one_line(exc)
        return row
    row.size = size
    fill_rates(row, inp)
    row.roundtrip = "ok" if restored == inp.data else "FAIL"
    if codec.label == "bbzip order0" and inp.entropy_bound > 0:
        row.note = f"{(size / inp.entropy_bound - 1) * 100:+.2f}% vs H0 bound"
    return row


def combine_rows(inp: Input, rows: list[Row]) -> Row:
    """One row for a set of files compressed one at a time: totals; the average in the note."""
    row = Row(inp.name, rows[0].tool)
    missing = [r for r in rows if r.size is None]
    if missing:
        row.roundtrip = "skipped" if all(r.roundtrip == "skipped" for r in missing) else "error"
        row.note = f"{len(missing)}/{len(rows)} files: {missing[0].note}"
        return row
    row.size = sum(r.size for r in rows)
    row.compress_s = sum(r.compress_s for r in rows)
    row.decompress_s = sum(r.decompress_s for r in rows)
    row.coders = dict(sum((Counter(r.coders) for r in rows), Counter()))
    fill_rates(row, inp)
    failed = sum(r.roundtrip != "ok" for r in rows)
    row.roundtrip = f"FAIL {failed}/{len(rows)}" if failed else "ok"
    row.note = f"avg {row.size / len(rows):.1f} B/file"
    return row


def measure_pgm_set(
    mnist: Input, count: int, codecs: list[Codec], workdir: Path, skip: tuple
) -> tuple[Input, list[Row]]:
    """Each codec on each single-digit PGM file; one combined row per codec."""
    files = single_digit_pgms(mnist, count, workdir / "pgm")
    set_input = Input(
        PGM_INPUT,
        b"".join(f.data for f in files),
        f"first {len(files)} MNIST test digits, each its own {len(PGM_HEADER) + 784}-byte "
        "binary PGM, compressed one file at a time (sizes and times are totals)",
        pixels=len(files) * 784,
    )
    rows = []
    for codec in codecs if files else ():
        log(f"{PGM_INPUT}: {codec.label} on {len(files)} files")
        rows.append(combine_rows(set_input, [measure(codec, f, 1, skip) for f in files]))
    return set_input, rows


def add_reference_ratios(rows: list[Row]) -> None:
    refs = {r.input: r for r in rows if r.tool == REFERENCE and r.roundtrip == "ok"}
    for row in rows:
        ref = refs.get(row.input)
        if ref is None:
            continue
        if row.compress_mbps and ref.compress_mbps:
            row.compress_vs_gzip6 = row.compress_mbps / ref.compress_mbps
        if row.decompress_mbps and ref.decompress_mbps:
            row.decompress_vs_gzip6 = row.decompress_mbps / ref.decompress_mbps


# --------------------------------------------------------------------------- checks


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def find_row(rows: list[Row], input_prefix: str, tool: str) -> Row | None:
    return next(
        (
            r
            for r in rows
            if r.input.startswith(input_prefix) and r.tool == tool and r.size is not None
        ),
        None,
    )


def lookup(rows: list[Row], input_name: str, tool: str) -> Row | None:
    return next((r for r in rows if r.input == input_name and r.tool == tool), None)


def verdict(row: Row | None, ok: bool | None) -> str:
    """A floor's status: n/a without a measurement, FAIL when the row failed or erred."""
    if row is None or row.roundtrip == "skipped":
        return "n/a"
    return status(ok) if row.roundtrip == "ok" else "FAIL"


def row_problem(row: Row | None) -> str:
    """Why a row has no good measurement, or "" when its round trip was ok."""
    if row is None or row.roundtrip == "ok":
        return ""
    return row.note if row.roundtrip == "skipped" else f"round trip {row.roundtrip}: {row.note}"


def coders_text(coders: dict[str, int]) -> str:
    return ", ".join(f"{name} x{n}" for name, n in sorted(coders.items(), key=lambda kv: -kv[1]))


def check_vae_time(direction: str, vae: Row | None, ref: Row | None, full: bool) -> Check:
    """bbzip vae's `direction` time over the reference's compress time; the floor is in seconds."""
    seconds = getattr(vae, f"{direction}_s") if vae else None
    ref_s = ref.compress_s if ref and ref.roundtrip == "ok" else None
    ratio = seconds / ref_s if seconds and ref_s else None
    ok = None if seconds is None or not full else seconds <= VAE_SECONDS_MAX
    detail = f"vae {fmt(seconds, '.2f')} s, {VAE_REFERENCE} compress {fmt(ref_s, '.2f')} s"
    if not full:
        detail += "; the floor is for the full 10,000-image file"
    if row_problem(vae):
        detail += f"; vae {row_problem(vae)}"
    return Check(
        f"vae {direction} / {VAE_REFERENCE} compress time ({MNIST_INPUT})",
        ratio,
        "x",
        f"vae <= {VAE_SECONDS_MAX:g} s",
        verdict(vae, ok),
        detail,
    )


def check_bits_per_pixel(row: Row | None, tool: str) -> Check:
    bpp = row.bits_per_pixel if row else None
    detail = row_problem(row) or (
        f"coders: {coders_text(row.coders)}" if row and tool == "bbzip auto" else ""
    )
    return Check(
        f"{tool} bits/pixel ({MNIST_INPUT}, whole .bbz)",
        bpp,
        "bits/px",
        f"<= {VAE_BPP_MAX}",
        verdict(row, None if bpp is None else bpp <= VAE_BPP_MAX),
        detail,
    )


def check_mnist(rows: list[Row], inputs: list[Input]) -> list[Check]:
    inp = next((i for i in inputs if i.name == MNIST_INPUT), None)
    if inp is None:
        return []
    vae, ref = lookup(rows, MNIST_INPUT, "bbzip vae"), lookup(rows, MNIST_INPUT, VAE_REFERENCE)
    full = inp.pixels == MNIST_FULL_PIXELS
    return [
        check_vae_time("compress", vae, ref, full),
        check_vae_time("decompress", vae, ref, full),
        *(
            check_bits_per_pixel(lookup(rows, MNIST_INPUT, t), t)
            for t in ("bbzip vae", "bbzip auto")
        ),
    ]


def check_binarized(rows: list[Row], inputs: list[Input]) -> list[Check]:
    """bbzip auto must give back the binarized file byte for byte, whichever coder it picked,
    and on the whole test set beat the published BB-ANS rate (the floor applies to all
    10,000 images only: a --quick prefix pays the first image's cost over fewer digits)."""
    inp = next((i for i in inputs if i.name == BINARY_INPUT), None)
    if inp is None:
        return []
    row = lookup(rows, BINARY_INPUT, "bbzip auto")
    detail = row_problem(row) or (f"coders: {coders_text(row.coders)}" if row else "")
    ok = None if row is None or row.roundtrip == "skipped" else row.roundtrip == "ok"
    checks = [
        Check(
            f"bbzip auto round trip ({BINARY_INPUT})",
            row.bits_per_pixel if row else None,
            "bits/px",
            "byte-exact",
            status(ok),
            detail,
        )
    ]
    if inp.pixels == MNIST_FULL_PIXELS:
        bpp = row.bits_per_pixel if row else None
        checks.append(
            Check(
                f"bbzip auto bits/pixel ({BINARY_INPUT}, whole .bbz)",
                bpp,
                "bits/px",
                f"<= {BINARY_BPP_MAX}",
                verdict(row, None if bpp is None else bpp <= BINARY_BPP_MAX),
                detail,
            )
        )
    return checks


def check_pgm(rows: list[Row], inputs: list[Input]) -> list[Check]:
    inp = next((i for i in inputs if i.name == PGM_INPUT), None)
    if inp is None:
        return []
    files = inp.pixels // 784
    row = lookup(rows, PGM_INPUT, "bbzip auto")
    avg = row.size / files if row and row.size is not None else None
    others = ", ".join(
        f"{r.tool} {r.size / files:.1f}"
        for r in rows
        if r.input == PGM_INPUT and r.tool != "bbzip auto" and r.size is not None
    )
    details = [
        row_problem(row),
        f"coders: {coders_text(row.coders)}" if row and row.coders else "",
        f"others, avg B/file: {others}" if others else "",
    ]
    detail = "; ".join(filter(None, details))
    return [
        Check(
            f"bbzip auto, single-digit PGM, average of {files}",
            avg,
            "bytes/file",
            f"<= {PGM_AVG_MAX}",
            verdict(row, None if avg is None else avg <= PGM_AVG_MAX),
            detail,
        )
    ]


def check_order0(rows: list[Row], inputs: list[Input]) -> list[Check]:
    inp = next((i for i in inputs if i.name.startswith("skewed-")), None)
    if inp is None:  # --only mnist
        return []
    limit = inp.entropy_bound * ORDER0_SLACK + ORDER0_EXTRA
    row = find_row(rows, "skewed-", "bbzip order0")
    value = row.size if row else None
    return [
        Check(
            f"order0 size on {inp.name}",
            value,
            "bytes",
            f"<= H0 x {ORDER0_SLACK} + {ORDER0_EXTRA} = {limit:,.0f}",
            status(None if value is None else value <= limit),
            f"H0 bound {inp.entropy_bound:,.0f} bytes ({inp.entropy:.4f} bits/byte)",
        )
    ]


def check_growth(rows: list[Row], inputs: list[Input]) -> list[Check]:
    inp = next((i for i in inputs if i.name.startswith("random-")), None)
    if inp is None:  # --only mnist
        return []
    row = find_row(rows, "random-", "bbzip auto")
    value = None if row is None else (row.size - len(inp.data)) / (len(inp.data) / MIB)
    return [
        Check(
            f"random-input growth (auto, {inp.name})",
            value,
            "bytes/MiB",
            f"<= {GROWTH_MAX}",
            status(None if value is None else value <= GROWTH_MAX),
        )
    ]


def check_empty(api: Any) -> Check:
    name, floor = 'len(compress(b""))', f"<= {EMPTY_MAX}"
    if api is None:
        return Check(name, None, "bytes", floor, "n/a", "bbzip.api not importable")
    try:
        packed = api.compress(b"")
        back = api.decompress(packed)
    except Exception as exc:  # noqa: BLE001 -- reported as FAIL
        return Check(name, None, "bytes", floor, "FAIL", one_line(exc))
    detail = "round trip ok" if back == b"" else "round trip FAIL"
    return Check(
        name, len(packed), "bytes", floor, status(len(packed) <= EMPTY_MAX and back == b""), detail
    )


def time_command(label: str, argv: list[str], workdir: Path) -> Check:
    """Best-of-STARTUP_RUNS wall time of a command, start to finish, in ms."""
    how = f"best of {STARTUP_RUNS}"
    # cwd=workdir: `-m` puts the cwd first on sys.path; PYTHONPATH decides which bbzip runs
    run = functools.partial(run_quiet, argv, env=subprocess_env(), cwd=workdir)
    try:
        _, seconds = best_of(run, STARTUP_RUNS)
    except Exception as exc:  # noqa: BLE001 -- reported as FAIL
        return Check(label, None, "ms", how, "FAIL", one_line(exc))
    return Check(label, seconds * 1000, "ms", how, "-")


def check_startup(workdir: Path) -> list[Check]:
    """The CLI on a 1 KB file vs `python -c 'import numpy'`, and their ratio."""
    small = workdir / "small-1KB.txt"
    small.write_bytes((b"The quick brown fox jumps over the lazy dog. " * 30)[:1000])
    cli = time_command(
        "`python -m bbzip compress -c` 1 KB file",
        [sys.executable, "-m", "bbzip", "compress", "-c", str(small)],
        workdir,
    )
    numpy_import = time_command(
        "`python -c 'import numpy'`", [sys.executable, "-c", "import numpy"], workdir
    )
    ratio = cli.value / numpy_import.value if cli.value and numpy_import.value else None
    ok = None if ratio is None else ratio <= STARTUP_MAX
    verdict = Check("CLI start-up / numpy import", ratio, "x", f"<= {STARTUP_MAX}", status(ok))
    return [cli, numpy_import, verdict]


# --------------------------------------------------------------------------- report


def fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def coders_note(row: Row) -> str:
    """The coders bbzip used, when they are not just the one the row asked for."""
    if not row.coders or set(row.coders) == {row.tool.removeprefix("bbzip ")}:
        return ""
    return "coders: " + coders_text(row.coders)


def results_table(inp: Input, rows: list[Row]) -> str:
    headers = (
        ["tool", "size (B)", "bits/byte"]
        + (["bits/px"] if inp.pixels else [])
        + ["comp s", "decomp s", "comp MB/s", "decomp MB/s", "comp x gzip-6", "decomp x gzip-6"]
        + ["round trip", "note"]
    )
    body = []
    for r in rows:
        cells = [r.tool, fmt(r.size, ","), fmt(r.bits_per_byte, ".4f")]
        cells += [fmt(r.bits_per_pixel, ".4f")] if inp.pixels else []
        cells += [
            fmt(r.compress_s, ".3f"),
            fmt(r.decompress_s, ".3f"),
            fmt(r.compress_mbps, ".2f"),
            fmt(r.decompress_mbps, ".2f"),
            fmt(r.compress_vs_gzip6, ".3f"),
            fmt(r.decompress_vs_gzip6, ".3f"),
            r.roundtrip,
            "; ".join(filter(None, [r.note, coders_note(r)])),
        ]
        body.append(cells)
    return md_table(headers, body)


LEGEND = (
    "MB/s = 1e6 bytes of the original per second (wall clock, best of --repeat; "
    "once for bbzip vae, and auto on images); 'x gzip-6' = speed / gzip -6 speed on the "
    "same input (> 1 is faster); bits/px = whole compressed size x 8 / pixels."
)
UNIT_FORMAT = {
    "bytes": ",.0f",
    "ms": ".1f",
    "bytes/MiB": ".1f",
    "x": ".3f",
    "bits/px": ".4f",
    "bytes/file": ".1f",
}


def machine_line(meta: dict) -> str:
    python = meta["python"].split()[0]  # the version, without the interpreter's path
    return f"{meta['date']}, {meta['cpu']}, {meta['cpu_count']} cores, Python {python}"


def summary_rows(inputs: list[Input], rows: list[Row]) -> list[tuple[Input, str, Row | None]]:
    """(input, codec, row) for the MNIST summary, in table order; row is None when not run."""
    return [
        (inp, codec, lookup(rows, inp.name, codec))
        for inp in inputs
        if inp.name in SUMMARY_INPUTS
        for codec in SUMMARY_CODECS
    ]


def not_run_reason(codec: str, meta: dict) -> str:
    if codec.startswith("bbzip "):
        return f"not run: bbzip {meta['bbzip']}"
    exe = codec.split()[0]
    missing = meta.get("tools missing", "").split(", ")
    return f"not run: {exe} not installed" if exe in missing else "not run"


def summary_table(meta: dict, inputs: list[Input], rows: list[Row]) -> str:
    body = []
    for inp, codec, row in summary_rows(inputs, rows):
        base = lookup(rows, inp.name, SUMMARY_BASE)
        good = row is not None and row.roundtrip == "ok"
        ratio = row.size / base.size if good and base and base.roundtrip == "ok" else None
        if row is None:
            note = not_run_reason(codec, meta)
        else:  # the coders bbzip picked matter here: auto routes binary images elsewhere
            note = row_problem(row) or (f"coders: {coders_text(row.coders)}" if row.coders else "")
        body.append(
            [
                SUMMARY_INPUTS[inp.name],
                codec,
                fmt(row.bits_per_pixel if good else None, ".4f"),
                fmt(row.size if good else None, ","),
                fmt(row.compress_s if good else None, ".3f"),
                fmt(row.decompress_s if good else None, ".3f"),
                fmt(ratio, ".3f"),
                note,
            ]
        )
    headers = ["dataset", "codec", "bits/px", "size (B)", "comp s", "decomp s", "x bbzip size"]
    return md_table([*headers, "note"], body)


def render_summary(
    meta: dict, inputs: list[Input], rows: list[Row], chart: Path | None, no_chart: str
) -> list[str]:
    """The MNIST section: machine line, the chart (or why there is none), table."""
    if not any(i.name in SUMMARY_INPUTS for i in inputs):
        return []
    images = next(i.pixels for i in inputs if i.name in SUMMARY_INPUTS) // 784
    out = ["## MNIST: bits/pixel and time", ""]
    out += [f"Measured {machine_line(meta)}; mode {meta['mode']}; {images:,} test images.", ""]
    out += [
        f"![bits/pixel against compress time]({chart.name})" if chart else f"No chart: {no_chart}."
    ]
    out += ["", summary_table(meta, inputs, rows), ""]
    out.append(
        "bits/px = whole compressed file x 8 / pixels; comp s / decomp s = wall clock "
        "(external tools include process start-up); x bbzip size = size / bbzip auto's size "
        "on the same dataset (> 1 is larger than bbzip)."
    )
    return [*out, ""]


def render(
    meta: dict,
    inputs: list[Input],
    rows: list[Row],
    checks: list[Check],
    chart: Path | None,
    no_chart: str,
) -> str:
    """``chart``: the PNG next to bench.md, or None and ``no_chart`` says why (a phrase)."""
    out = ["# bbzip benchmark", ""]
    out += [f"- {k}: {v}" for k, v in meta.items() if k != "tools"]
    out += [f"- {name}: {ver}" for name, ver in meta["tools"].items()]
    out += ["", LEGEND, ""]
    out += render_summary(meta, inputs, rows, chart, no_chart)
    out += ["## Inputs", ""]
    out.append(
        md_table(
            ["input", "bytes", "H0 bits/byte", "H0 bound (B)", "description"],
            [
                [
                    i.name,
                    f"{len(i.data):,}",
                    f"{i.entropy:.4f}",
                    f"{i.entropy_bound:,.0f}",
                    i.description,
                ]
                for i in inputs
            ],
        )
    )
    for inp in inputs:
        out += [
            "",
            f"## {inp.name} ({len(inp.data):,} bytes, H0 = {inp.entropy:.4f} bits/byte)",
            "",
        ]
        out.append(results_table(inp, [r for r in rows if r.input == inp.name]))
    out += ["", "## Checks", ""]
    out.append(
        md_table(
            ["check", "value", "unit", "floor", "status", "detail"],
            [
                [
                    c.name,
                    fmt(c.value, UNIT_FORMAT.get(c.unit, ".3f")),
                    c.unit,
                    c.floor,
                    c.status,
                    c.detail,
                ]
                for c in checks
            ],
        )
    )
    return "\n".join(out) + "\n"


def write_results(
    out_dir: Path,
    markdown: str,
    meta: dict,
    inputs: list[Input],
    rows: list[Row],
    checks: list[Check],
    chart: Path | None,
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.md").write_text(markdown)
    doc = {
        "meta": meta,
        "chart": chart.name if chart else None,
        "inputs": [
            {
                "name": i.name,
                "bytes": len(i.data),
                "entropy_bits_per_byte": i.entropy,
                "entropy_bound_bytes": i.entropy_bound,
                "pixels": i.pixels,
                "description": i.description,
            }
            for i in inputs
        ],
        "rows": [asdict(r) for r in rows],
        "checks": [asdict(c) for c in checks],
    }
    (out_dir / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")


# --------------------------------------------------------------------------- chart

CHART_MARKERS = dict(zip(SUMMARY_CODECS, "o^sDv", strict=True))


def chart_points(inputs: list[Input], rows: list[Row]) -> dict[str, list[tuple[str, Row]]]:
    """Per summary input, the (codec, row) pairs that have a good measurement to plot."""
    panels: dict[str, list[tuple[str, Row]]] = {}
    for inp, codec, row in summary_rows(inputs, rows):
        points = panels.setdefault(inp.name, [])
        if row is not None and row.roundtrip == "ok" and row.compress_s:
            points.append((codec, row))
    return panels


def write_chart(path: Path, meta: dict, inputs: list[Input], rows: list[Row]) -> str:
    """Draw bits/pixel against compress seconds, a panel per MNIST input; "", or why not."""
    path.unlink(missing_ok=True)  # a chart from an earlier run must not pass for this one's
    panels = chart_points(inputs, rows)
    if not any(panels.values()):
        return "no MNIST measurements"
    try:
        import matplotlib  # only here: the rest of the bench runs without it
    except ImportError:
        return f"matplotlib is not installed ({CHART_HINT})"
    matplotlib.use("Agg")  # files only; bench machines have no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.8), squeeze=False)
    images = {i.name: i.pixels // 784 for i in inputs if i.pixels}
    for ax, (name, points) in zip(axes[0], panels.items(), strict=True):
        draw_panel(ax, f"{SUMMARY_INPUTS[name]}, {images[name]:,} images", points)
    fig.suptitle(f"bbzip vs general-purpose compressors ({machine_line(meta)})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return ""


def point_label(codec: str, row: Row) -> str:
    """The codec, and for bbzip the coders auto chose (the VAE, or a fallback on binary data)."""
    return f"{codec} ({', '.join(row.coders)})" if row.coders else codec


def draw_panel(ax: Any, title: str, points: list[tuple[str, Row]]) -> None:
    for codec, row in points:
        x, y = row.compress_s, row.bits_per_pixel
        color = f"C{SUMMARY_CODECS.index(codec)}"  # the same codec, the same colour in each panel
        ax.scatter(x, y, s=64, marker=CHART_MARKERS[codec], color=color, zorder=3)
        # labels beside the points, not in a legend: the eye goes straight to the codec
        label = point_label(codec, row)
        ax.annotate(label, (x, y), xytext=(7, 4), textcoords="offset points", fontsize=9)
    ax.set_xscale("log")
    # from zero, so heights compare as sizes do; headroom for the top point's label
    ax.set_ylim(0, max(row.bits_per_pixel for _, row in points) * 1.12)
    ax.margins(x=0.4)  # room for the labels at the right (log axis: a fraction of decades)
    ax.set_title(title)
    ax.set_xlabel("compress time (s, wall clock, log scale)")
    ax.set_ylabel("bits/pixel")
    ax.grid(True, which="both", alpha=0.3)


# --------------------------------------------------------------------------- main


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux); platform's guess elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"


def load_api() -> tuple[Any, tuple[type[BaseException], ...], str]:
    """bbzip.api, the exceptions that mean 'coder unsupported here', and bbzip's version."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # PYTHONPATH / installed packages still win
    try:
        import bbzip
        from bbzip import api
        from bbzip.errors import ModelError, UnsupportedError
    except Exception as exc:  # noqa: BLE001 -- no bbzip rows, external tools still run
        log(f"cannot import bbzip.api ({one_line(exc)}): bbzip rows skipped")
        return None, (NotImplementedError,), f"not importable ({one_line(exc)})"
    skip = (UnsupportedError, ModelError, NotImplementedError)  # ModelError: no model installed
    return api, skip, getattr(bbzip, "__version__", "?")


def tool_wanted(tool: Tool, inp: Input, quick: bool) -> bool:
    """--quick skips the slow tools, but not the VAE's time reference nor the chart's codecs."""
    needed = inp.pixels is not None and (
        tool.label == VAE_REFERENCE or (inp.name in SUMMARY_INPUTS and tool.label in SUMMARY_CODECS)
    )
    return not (quick and tool.slow) or needed


def codecs_for(inp: Input, api: Any, tools: list[Tool], workdir: Path, quick: bool) -> list[Codec]:
    images = inp.pixels is not None
    coders = BBZIP_CODERS + (MNIST_ONLY_CODERS if images else ())
    api_codecs: list[Codec] = [ApiCodec(api, c, images) for c in coders] if api else []
    return api_codecs + [ToolCodec(t, workdir) for t in tools if tool_wanted(t, inp, quick)]


def pgm_codecs(api: Any, tools: list[Tool], workdir: Path) -> list[Codec]:
    api_codecs: list[Codec] = [ApiCodec(api, "auto", images=True)] if api else []
    return api_codecs + [ToolCodec(t, workdir) for t in tools if t.label in PGM_TOOLS]


def run_bench(args: argparse.Namespace) -> None:
    api, skip, bbzip_version = load_api()
    present = [t for t in TOOLS if shutil.which(t.exe)]
    missing = sorted({t.exe for t in TOOLS} - {t.exe for t in present})
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": ("quick" if args.quick else "full") + (f", only {args.only}" if args.only else ""),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "numpy": np.__version__,
        "bbzip": bbzip_version,
        "repeat": args.repeat,
        "tools": {exe: tool_version(exe) for exe in dict.fromkeys(t.exe for t in present)},
    }
    if missing:
        meta["tools missing"] = ", ".join(missing)
        log(f"not installed, skipped: {meta['tools missing']}")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bbzip-bench-") as tmp:
        workdir = Path(tmp)
        log("building inputs")
        inputs = build_inputs(args.quick, args.only)
        for inp in inputs:
            inp.path = workdir / inp.name
            inp.path.write_bytes(inp.data)
            for codec in codecs_for(inp, api, present, workdir, args.quick):
                log(f"{inp.name}: {codec.label}")
                rows.append(measure(codec, inp, args.repeat, skip))
        mnist = next((i for i in inputs if i.name == MNIST_INPUT), None)
        if mnist is not None:
            count = PGM_COUNT_QUICK if args.quick else PGM_COUNT
            pgm_set, pgm_rows = measure_pgm_set(
                mnist, count, pgm_codecs(api, present, workdir), workdir, skip
            )
            inputs.append(pgm_set)
            rows += pgm_rows
        add_reference_ratios(rows)
        log("start-up and edge cases")
        checks = [
            *(check_startup(workdir) if args.only is None else []),
            check_empty(api),
            *check_growth(rows, inputs),
            *check_order0(rows, inputs),
            *check_mnist(rows, inputs),
            *check_binarized(rows, inputs),
            *check_pgm(rows, inputs),
        ]

    out_dir = Path(args.out)
    chart, no_chart = out_dir / CHART_FILE, ""
    try:
        no_chart = write_chart(chart, meta, inputs, rows)
    except Exception as exc:  # noqa: BLE001 -- the tables matter more than the picture
        no_chart = one_line(exc)
    written = chart if not no_chart else None
    markdown = render(meta, inputs, rows, checks, written, no_chart)
    print(markdown)
    write_results(out_dir, markdown, meta, inputs, rows, checks, written)
    report_paths(out_dir, written, no_chart)


def report_paths(out_dir: Path, chart: Path | None, no_chart: str) -> None:
    """The last lines of the run: where the results are (stdout, after the tables)."""
    print(f"markdown: {out_dir / 'bench.md'}")
    print(f"json:     {out_dir / 'bench.json'}")
    print(f"chart:    {chart}" if chart else f"chart:    not written: {no_chart}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 MiB inputs, 20 PGM digits; skip xz -9e and zstd -19 where no check or chart "
        "needs them",
    )
    parser.add_argument(
        "--only",
        choices=["mnist"],
        help="run only these inputs (mnist: both MNIST inputs and the PGMs; no start-up timing)",
    )
    parser.add_argument(
        "--out",
        default="bench-results",
        help=f"directory for bench.md, bench.json and {CHART_FILE}",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each step N times, report the best"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run_bench(args)
    except Exception:  # noqa: BLE001 -- benchmarks report; they never fail the build
        traceback.print_exc()
        log("internal error (reported above; exit status stays 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
