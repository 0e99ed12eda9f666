"""bbzip benchmark: sizes and speeds of bbzip vs the usual compressors, from one run.

    python bench/bench.py [--quick] [--out DIR] [--repeat N]

``make bench`` runs this.  It prints markdown tables on stdout and writes
``DIR/bench.md`` and ``DIR/bench.json`` (DIR defaults to ``bench-results``).
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

``--quick`` uses 1 MiB inputs (the first 1 MiB of the tar; the first 1337
MNIST images with a rewritten idx header) and skips xz -9e and zstd -19.

Rows: bbzip through the in-process API (``bbzip.api.compress(data, coder=...)``
and ``bbzip.api.decompress``) for each coder, then the external tools found on
PATH.  Timings are wall clock (``time.perf_counter``), best of ``--repeat``;
external tools run as subprocesses reading a file and writing a file, so their
times include process start-up.  MB/s counts 1e6 bytes of the *original*
input for both directions.  "x gzip-6" columns are speed / (gzip -6 speed on
the same input in the same run): above 1 is faster than gzip -6.  xz and zstd
get ``-T1`` (single-threaded, as gzip and bzip2 are).
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
    roundtrip: str = "skipped"  # ok | FAIL | error | skipped
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


def build_inputs(quick: bool) -> list[Input]:
    size = QUICK_SIZE if quick else FULL_SIZE
    limit = QUICK_SIZE if quick else None
    mb = size // MIB
    inputs = [
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
    mnist = mnist_images(limit)
    if mnist is None:
        log(f"MNIST not usable at {mnist_path()}: skipping that input")
    else:
        data, pixels = mnist
        inputs.append(
            Input(
                "mnist-t10k-images",
                data,
                f"MNIST test images, {pixels // 784} x 28x28 (idx3)",
                pixels=pixels,
            )
        )
    return inputs


# --------------------------------------------------------------------------- codecs


class Codec:
    """One row's compressor.  compress/decompress are timed; size/output are not."""

    label = ""

    def compress(self, inp: Input) -> Any:
        raise NotImplementedError

    def decompress(self, packed: Any) -> Any:
        raise NotImplementedError

    def size(self, packed: Any) -> int:
        return len(packed)

    def output(self, unpacked: Any) -> bytes:
        return unpacked


class ApiCodec(Codec):
    def __init__(self, api: Any, coder: str) -> None:
        self.api, self.coder, self.label = api, coder, f"bbzip {coder}"

    def compress(self, inp: Input) -> bytes:
        return self.api.compress(inp.data, coder=self.coder)

    def decompress(self, packed: bytes) -> bytes:
        return self.api.decompress(packed)


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


def measure(codec: Codec, inp: Input, runs: int, skip: tuple[type[BaseException], ...]) -> Row:
    row = Row(inp.name, codec.label)
    n = len(inp.data)
    try:
        packed, t_c = best_of(lambda: codec.compress(inp), runs)
        unpacked, t_d = best_of(lambda: codec.decompress(packed), runs)
        size, restored = codec.size(packed), codec.output(unpacked)
    except skip as exc:
        row.note = f"skipped: {one_line(exc)}"
        return row
    except Exception as exc:  # noqa: BLE001 -- a bench reports failures, it does not crash on them
        row.roundtrip, row.note = "error", one_line(exc)
        return row
    row.size = size
    row.bits_per_byte = size * 8 / n if n else None
    row.bits_per_pixel = size * 8 / inp.pixels if inp.pixels else None
    row.compress_mbps = n / MB / t_c if t_c > 0 else None
    row.decompress_mbps = n / MB / t_d if t_d > 0 else None
    row.roundtrip = "ok" if restored == inp.data else "FAIL"
    if codec.label == "bbzip order0" and inp.entropy_bound > 0:
        row.note = f"{(size / inp.entropy_bound - 1) * 100:+.2f}% vs H0 bound"
    return row


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


def check_order0(rows: list[Row], inputs: list[Input]) -> Check:
    inp = next(i for i in inputs if i.name.startswith("skewed-"))
    limit = inp.entropy_bound * ORDER0_SLACK + ORDER0_EXTRA
    row = find_row(rows, "skewed-", "bbzip order0")
    value = row.size if row else None
    return Check(
        f"order0 size on {inp.name}",
        value,
        "bytes",
        f"<= H0 x {ORDER0_SLACK} + {ORDER0_EXTRA} = {limit:,.0f}",
        status(None if value is None else value <= limit),
        f"H0 bound {inp.entropy_bound:,.0f} bytes ({inp.entropy:.4f} bits/byte)",
    )


def check_growth(rows: list[Row], inputs: list[Input]) -> Check:
    inp = next(i for i in inputs if i.name.startswith("random-"))
    row = find_row(rows, "random-", "bbzip auto")
    value = None if row is None else (row.size - len(inp.data)) / (len(inp.data) / MIB)
    return Check(
        f"random-input growth (auto, {inp.name})",
        value,
        "bytes/MiB",
        f"<= {GROWTH_MAX}",
        status(None if value is None else value <= GROWTH_MAX),
    )


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


def results_table(inp: Input, rows: list[Row]) -> str:
    headers = (
        ["tool", "size (B)", "bits/byte"]
        + (["bits/px"] if inp.pixels else [])
        + ["comp MB/s", "decomp MB/s", "comp x gzip-6", "decomp x gzip-6", "round trip", "note"]
    )
    body = []
    for r in rows:
        cells = [r.tool, fmt(r.size, ","), fmt(r.bits_per_byte, ".4f")]
        cells += [fmt(r.bits_per_pixel, ".4f")] if inp.pixels else []
        cells += [
            fmt(r.compress_mbps, ".2f"),
            fmt(r.decompress_mbps, ".2f"),
            fmt(r.compress_vs_gzip6, ".3f"),
            fmt(r.decompress_vs_gzip6, ".3f"),
            r.roundtrip,
            r.note,
        ]
        body.append(cells)
    return md_table(headers, body)


LEGEND = (
    "MB/s = 1e6 bytes of the original per second (wall clock, best of --repeat); "
    "'x gzip-6' = speed / gzip -6 speed on the same input (> 1 is faster)."
)
UNIT_FORMAT = {"bytes": ",.0f", "ms": ".1f", "bytes/MiB": ".1f", "x": ".3f"}


def render(meta: dict, inputs: list[Input], rows: list[Row], checks: list[Check]) -> str:
    out = ["# bbzip benchmark", ""]
    out += [f"- {k}: {v}" for k, v in meta.items() if k != "tools"]
    out += [f"- {name}: {ver}" for name, ver in meta["tools"].items()]
    out += ["", LEGEND, "", "## Inputs", ""]
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
    out += ["", "## Start-up and edge cases", ""]
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
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.md").write_text(markdown)
    doc = {
        "meta": meta,
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


# --------------------------------------------------------------------------- main


def load_api() -> tuple[Any, tuple[type[BaseException], ...], str]:
    """bbzip.api, the exceptions that mean 'coder unsupported here', and bbzip's version."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # PYTHONPATH / installed packages still win
    try:
        import bbzip
        from bbzip import api
        from bbzip.errors import UnsupportedError
    except Exception as exc:  # noqa: BLE001 -- no bbzip rows, external tools still run
        log(f"cannot import bbzip.api ({one_line(exc)}): bbzip rows skipped")
        return None, (NotImplementedError,), f"not importable ({one_line(exc)})"
    return api, (UnsupportedError, NotImplementedError), getattr(bbzip, "__version__", "?")


def codecs_for(inp: Input, api: Any, tools: list[Tool], workdir: Path) -> list[Codec]:
    coders = BBZIP_CODERS + (MNIST_ONLY_CODERS if inp.pixels else ())
    api_codecs: list[Codec] = [ApiCodec(api, c) for c in coders] if api is not None else []
    return api_codecs + [ToolCodec(t, workdir) for t in tools]


def run_bench(args: argparse.Namespace) -> None:
    api, skip, bbzip_version = load_api()
    tools = [t for t in TOOLS if not (args.quick and t.slow)]
    present = [t for t in tools if shutil.which(t.exe)]
    missing = sorted({t.exe for t in tools} - {t.exe for t in present})
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "platform": platform.platform(),
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
        inputs = build_inputs(args.quick)
        for inp in inputs:
            inp.path = workdir / inp.name
            inp.path.write_bytes(inp.data)
            for codec in codecs_for(inp, api, present, workdir):
                log(f"{inp.name}: {codec.label}")
                rows.append(measure(codec, inp, args.repeat, skip))
        add_reference_ratios(rows)
        log("start-up and edge cases")
        checks = [
            *check_startup(workdir),
            check_empty(api),
            check_growth(rows, inputs),
            check_order0(rows, inputs),
        ]

    markdown = render(meta, inputs, rows, checks)
    print(markdown)
    write_results(Path(args.out), markdown, meta, inputs, rows, checks)
    log(f"wrote {Path(args.out) / 'bench.md'} and {Path(args.out) / 'bench.json'}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 MiB inputs; skip xz -9e and zstd -19"
    )
    parser.add_argument(
        "--out", default="bench-results", help="directory for bench.md and bench.json"
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
