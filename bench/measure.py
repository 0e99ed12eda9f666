"""Codecs and measuring: one Row per (input, tool), from one timed compress and decompress.

Rows named ``bbzip -L -TN`` run the installed console script as a user would (``-c FILE >
OUT``), like the external tools, so their times include process start-up and their peak RSS
is the whole process tree's (bench/rss.py). Rows named ``bbzip <coder>`` call the library in
the bench's own process (``bbzip.api``): no start-up, no RSS. MB/s counts 1e6 bytes of the
*original* input in both directions.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import MB, MIB, best_of, log, one_line
from bench.inputs import Input
from bench.rss import run_with_peak

NEURAL = ("vae", "natural")  # coder names that run a network: their blocks are counted


@dataclass
class Row:
    input: str
    tool: str
    input_bytes: int = 0
    pixels: int | None = None  # pixels (subpixels for RGB) of image inputs
    entropy_bound: float = 0.0  # order-0 bound of the input, bytes
    size: int | None = None
    compress_s: float | None = None
    decompress_s: float | None = None
    compress_peak_mb: float | None = None
    decompress_peak_mb: float | None = None
    coders: dict[str, int] = field(default_factory=dict)  # bbzip: blocks per coder used
    digest: str = ""  # SHA-256 of the compressed output: -T must not change it
    files: int = 1  # > 1 for a set of files coded one at a time (sizes and times are totals)
    max_file: int | None = None
    roundtrip: str = "skipped"  # ok | FAIL | error | FAIL k/n (sets) | skipped
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.roundtrip == "ok"

    @property
    def bits_per_byte(self) -> float | None:
        return (
            self.size * 8 / self.input_bytes if self.size is not None and self.input_bytes else None
        )

    @property
    def bits_per_pixel(self) -> float | None:
        return self.size * 8 / self.pixels if self.size is not None and self.pixels else None

    @property
    def ratio(self) -> float | None:
        """Original size / compressed size (> 1 is smaller)."""
        return self.input_bytes / self.size if self.size else None

    @property
    def compress_mbps(self) -> float | None:
        return self.input_bytes / MB / self.compress_s if self.compress_s else None

    @property
    def decompress_mbps(self) -> float | None:
        return self.input_bytes / MB / self.decompress_s if self.decompress_s else None

    @property
    def compress_s_per_mp(self) -> float | None:
        """Seconds per million pixels (subpixels for RGB)."""
        return self.compress_s / (self.pixels / 1e6) if self.compress_s and self.pixels else None

    @property
    def decompress_s_per_mp(self) -> float | None:
        return (
            self.decompress_s / (self.pixels / 1e6) if self.decompress_s and self.pixels else None
        )

    @property
    def peak_mb(self) -> float | None:
        peaks = [p for p in (self.compress_peak_mb, self.decompress_peak_mb) if p is not None]
        return max(peaks) if peaks else None

    @property
    def growth_per_mib(self) -> float | None:
        return (
            (self.size - self.input_bytes) / (self.input_bytes / MIB)
            if self.size and self.input_bytes
            else None
        )

    @property
    def size_vs_h0(self) -> float | None:
        return self.size / self.entropy_bound if self.size and self.entropy_bound else None

    @property
    def neural_blocks(self) -> int | None:
        if not self.coders:
            return None
        return sum(n for name, n in self.coders.items() if any(k in name for k in NEURAL))

    @property
    def bytes_per_file(self) -> float | None:
        return self.size / self.files if self.size is not None else None

    METRICS = (
        "bits_per_byte",
        "bits_per_pixel",
        "ratio",
        "compress_mbps",
        "decompress_mbps",
        "compress_s_per_mp",
        "decompress_s_per_mp",
        "peak_mb",
        "growth_per_mib",
        "size_vs_h0",
        "neural_blocks",
        "bytes_per_file",
    )

    def to_dict(self) -> dict:
        return {**asdict(self), **{m: getattr(self, m) for m in self.METRICS}}


def new_row(inp: Input, tool: str) -> Row:
    return Row(inp.name, tool, len(inp.data), inp.pixels, inp.entropy_bound)


class Codec:
    """One row's compressor. compress/decompress are timed; size/output/coders are not."""

    label = ""
    once = False  # timed one run only, whatever --repeat says (the networks are slow)
    peak: float | None = None  # the last call's peak RSS in MB, where the codec measures it
    note = ""  # said in the row (how the codec ran, when that is not the usual way)

    def compress(self, inp: Input) -> Any:
        raise NotImplementedError

    def decompress(self, packed: Any) -> Any:
        raise NotImplementedError

    def packed_bytes(self, packed: Any) -> bytes:
        return packed

    def output(self, unpacked: Any) -> bytes:
        return unpacked

    def coders(self, packed: bytes) -> dict[str, int]:
        return {}


def bbzip_coders(api: Any, packed: bytes) -> dict[str, int]:
    return dict(Counter(b.coder for b in api.stream_info(io.BytesIO(packed)).blocks))


class ApiCodec(Codec):
    """bbzip in-process: ``api.compress(data, coder=..., level=..., threads=...)``."""

    def __init__(self, api: Any, label: str, once: bool = False, **options: Any) -> None:
        self.api, self.label, self.once, self.options = api, label, once, options
        accepted = inspect.signature(api.decompress).parameters
        self.decode_options = {k: v for k, v in options.items() if k == "threads" and k in accepted}

    def compress(self, inp: Input) -> bytes:
        return self.api.compress(inp.data, **self.options)

    def decompress(self, packed: bytes) -> bytes:
        return self.api.decompress(packed, **self.decode_options)

    def coders(self, packed: bytes) -> dict[str, int]:
        return bbzip_coders(self.api, packed)


class CommandCodec(Codec):
    """A command line reading a file and writing stdout: ``ARGV -c FILE > OUT``, then
    ``DARGV -c OUT > BACK``."""

    def __init__(
        self,
        label: str,
        argv: tuple[str, ...],
        dargv: tuple[str, ...],
        workdir: Path,
        api: Any = None,
        once: bool = False,
    ) -> None:
        self.label, self.argv, self.dargv, self.api, self.once = label, argv, dargv, api, once
        stem = "".join(c for c in label if c.isalnum())
        self.packed_path, self.unpacked_path = workdir / f"{stem}.z", workdir / f"{stem}.out"

    def _run(self, argv: list[str], dest: Path) -> Path:
        err = dest.with_suffix(".err")
        with dest.open("wb") as out, err.open("wb") as errors:
            status, self.peak = run_with_peak(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=errors
            )
        if status != 0:
            lines = err.read_text(errors="replace").strip().splitlines()
            raise RuntimeError(f"{Path(argv[0]).name} exit {status}: {lines[-1] if lines else ''}")
        return dest

    def compress(self, inp: Input) -> Path:
        return self._run([*self.argv, "-c", str(inp.path)], self.packed_path)

    def decompress(self, packed: Path) -> Path:
        return self._run([*self.dargv, "-c", str(packed)], self.unpacked_path)

    def packed_bytes(self, packed: Path) -> bytes:
        return packed.read_bytes()

    def output(self, unpacked: Path) -> bytes:
        return unpacked.read_bytes()

    def coders(self, packed: bytes) -> dict[str, int]:
        return bbzip_coders(self.api, packed) if self.api else {}


def measure(codec: Codec, inp: Input, runs: int, skip: tuple[type[BaseException], ...]) -> Row:
    row = new_row(inp, codec.label)
    runs = 1 if codec.once else runs
    try:
        packed, row.compress_s = best_of(lambda: codec.compress(inp), runs)
        row.compress_peak_mb = codec.peak
        unpacked, row.decompress_s = best_of(lambda: codec.decompress(packed), runs)
        row.decompress_peak_mb = codec.peak
        data, restored = codec.packed_bytes(packed), codec.output(unpacked)
        row.coders = codec.coders(data)
    except skip as exc:
        row.compress_s = row.decompress_s = row.compress_peak_mb = None
        row.note = f"skipped: {one_line(exc)}"
        return row
    except Exception as exc:  # noqa: BLE001 -- a bench reports failures, it does not crash on them
        row.compress_s = row.decompress_s = row.compress_peak_mb = None
        row.roundtrip, row.note = "error", one_line(exc)
        return row
    row.size, row.max_file = len(data), len(data)
    row.digest = hashlib.sha256(data).hexdigest()
    row.roundtrip = "ok" if restored == inp.data else "FAIL"
    row.note = codec.note
    return row


def combine_rows(inp: Input, rows: list[Row]) -> Row:
    """One row for a set of files compressed one at a time: totals, and the largest file."""
    row = new_row(inp, rows[0].tool)
    row.files = len(rows)
    missing = [r for r in rows if r.size is None]
    if missing:
        row.roundtrip = "skipped" if all(r.roundtrip == "skipped" for r in missing) else "error"
        row.note = f"{len(missing)}/{len(rows)} files: {missing[0].note}"
        return row
    row.size = sum(r.size for r in rows)
    row.max_file = max(r.size for r in rows)
    row.compress_s = sum(r.compress_s for r in rows)
    row.decompress_s = sum(r.decompress_s for r in rows)
    peaks = [r.peak_mb for r in rows if r.peak_mb is not None]
    row.compress_peak_mb = max(peaks) if peaks else None
    row.coders = dict(sum((Counter(r.coders) for r in rows), Counter()))
    failed = sum(not r.ok for r in rows)
    row.roundtrip = f"FAIL {failed}/{len(rows)}" if failed else "ok"
    return row


class Results:
    """Every row of the run, one per (input, tool): a row two tables share is measured once."""

    def __init__(
        self, runs: int, skip: tuple[type[BaseException], ...], journal: Path | None = None
    ) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.runs, self.skip, self.journal = runs, skip, journal
        if journal is not None:
            journal.parent.mkdir(parents=True, exist_ok=True)
            journal.write_text("")

    def measure(self, codec: Codec, inp: Input) -> Row:
        key = (inp.name, codec.label)
        if key not in self.rows:
            start = time.perf_counter()
            row = self.add(measure(codec, inp, self.runs, self.skip))
            took = time.perf_counter() - start
            log(f"{inp.name}: {codec.label}: {row.size} B, {row.roundtrip}, {took:.1f} s")
        return self.rows[key]

    def add(self, row: Row) -> Row:
        """Keep a row, and append it to the journal: a run cut short keeps what it measured."""
        self.rows[(row.input, row.tool)] = row
        if self.journal is not None:
            with self.journal.open("a") as f:
                f.write(json.dumps(row.to_dict()) + "\n")
        return row

    def get(self, input_name: str, tool: str) -> Row | None:
        return self.rows.get((input_name, tool))

    def of(self, input_name: str) -> list[Row]:
        return [r for (name, _), r in self.rows.items() if name == input_name]
