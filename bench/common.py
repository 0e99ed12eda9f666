"""Small helpers every part of the bench shares: logging, timing, subprocesses, formatting."""

from __future__ import annotations

import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
MB = 1e6


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def best_of(fn: Callable[[], Any], runs: int) -> tuple[Any, float]:
    """Call fn `runs` times; return the last result and the fastest wall time."""
    best, result = math.inf, None
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


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


def bbzip_exe() -> str | None:
    """The console script of the interpreter running the bench (the venv's bbzip)."""
    script = Path(sys.executable).with_name("bbzip")
    return str(script) if script.exists() else shutil.which("bbzip")


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


def cores() -> int:
    """The cores this process may use: what bbzip's default -T means."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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


def cache_dir() -> Path:
    """Where the bench keeps what it downloads: $BBZIP_BENCH_CACHE, else ~/.cache/bbzip-bench."""
    base = os.environ.get("BBZIP_BENCH_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bbzip-bench"
    return Path(base)


def debian_packages(packages: tuple[str, ...], name: str) -> tuple[Path | None, str]:
    """The files of Debian ``packages``, unpacked under cache_dir()/name/x (``apt-get download``
    then ``dpkg-deb -x``; fetched once): (that folder, "") or (None, why not)."""
    folder = cache_dir() / name
    root, done = folder / "x", folder / "unpacked"
    if done.is_file():
        return root, ""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for package in packages:
            if not list(folder.glob(f"{package}_*.deb")):
                log(f"apt-get download {package} (into {folder})")
                run_quiet(["apt-get", "download", package], cwd=folder)
        for deb in sorted(folder.glob("*.deb")):
            run_quiet(["dpkg-deb", "-x", str(deb), str(root)])
    except (OSError, RuntimeError) as exc:
        return None, f"cannot fetch the Debian packages {', '.join(packages)}: {one_line(exc)}"
    done.write_text("\n".join(sorted(p.name for p in folder.glob("*.deb"))) + "\n")
    return root, ""
