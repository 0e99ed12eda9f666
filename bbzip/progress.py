"""Progress within a block, for coders that take long (the VAE: images done).

api runs each block's coder under `reporting(callback)`; the coder calls `advance(n)` with
the raw bytes it has finished. Outside `reporting`, `advance` does nothing, so a coder need
not know whether anyone listens, nor whether it runs on a worker thread or process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


def advance(nbytes: int) -> None:
    report = getattr(_local, "report", None)
    if report is not None and nbytes > 0:
        report(nbytes)


@contextmanager
def reporting(report: Callable[[int], None] | None) -> Iterator[None]:
    previous = getattr(_local, "report", None)
    _local.report = report
    try:
        yield
    finally:
        _local.report = previous
