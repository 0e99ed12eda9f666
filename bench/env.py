"""What a run ran on: the bbzip library it measures, the tools, the machine."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
from typing import Any

import numpy as np

from bench import suites
from bench.common import REPO_ROOT, cores, cpu_model, log, one_line, tool_version

NOTE = (
    "A shared 2-core VM: other work ran beside the bench, so times are noisy (sizes are exact); "
    "compare rows of one run, not runs."
)


def load_api() -> tuple[Any, tuple[type[BaseException], ...], str]:
    """bbzip.api, the exceptions that mean 'not supported here', and bbzip's version."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # PYTHONPATH / installed packages still win
    skip: tuple[type[BaseException], ...] = (NotImplementedError, suites.UnsupportedCli)
    try:
        import bbzip
        from bbzip import api
        from bbzip.errors import ModelError, UnsupportedError
    except Exception as exc:  # noqa: BLE001 -- no bbzip rows, external tools still run
        log(f"cannot import bbzip.api ({one_line(exc)}): bbzip rows skipped")
        return None, skip, f"not importable ({one_line(exc)})"
    return api, (*skip, UnsupportedError, ModelError), getattr(bbzip, "__version__", "?")


def metadata(args: argparse.Namespace, version: str, sections: list[str]) -> dict:
    tools = ("gzip", "bzip2", "xz", "zstd", "tar")
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "mode": ("quick" if args.quick else "full") + f", sections {','.join(sections)}",
        "sections": sections,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores used by -T default": cores(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "numpy": np.__version__,
        "bbzip": version,
        "repeat": args.repeat,
        "note": NOTE,
        "tools": {exe: tool_version(exe) for exe in tools if shutil.which(exe)},
    }
    try:
        import imagecodecs

        wanted = ("imagecodecs-", "libpng-", "libwebp-", "charls-", "libjxl-")
        parts = [p.strip() for p in imagecodecs.version().split(",")]
        meta["tools"]["imagecodecs"] = ", ".join(p for p in parts if p.startswith(wanted))
    except ImportError:
        meta["tools"]["imagecodecs"] = "not installed"
    return meta
