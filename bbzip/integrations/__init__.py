"""bbzip beyond one process: a numcodecs codec for Zarr (v2 and v3), a `.bbz` compression
for fsspec, and a Dask recipe (docs/ZARR.md).

Each lives in an optional extra and is imported only when asked for: ``import bbzip`` never
imports zarr, numcodecs, fsspec or dask.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bbzip.errors import UnsupportedError


def require(module: str, extra: str) -> ModuleType:
    """``module`` imported, or one clear line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedError(
            f"{module} is not installed: pip install 'bbzip[{extra}]' ({exc})") from None
