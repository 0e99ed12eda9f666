"""Work functions for tests/test_parallel.py: importable by name in spawned processes."""

import os
import time
from pathlib import Path


def sleepy(directory: str, index: int, workers: int, report) -> int:
    """Leave a file named after this process's pid, then sleep: a worker to interrupt."""
    Path(directory, f"{index}-{os.getpid()}").touch()
    time.sleep(60)
    return index


def square(value: int, workers: int, report) -> int:
    report(value)
    return value * value


def fail_on(value: int, bad: int, workers: int, report) -> int:
    if value == bad:
        raise ValueError(f"block {value} failed")
    return value


def blas_threads(value: int, workers: int, report) -> tuple[int, list[int], str | None]:
    """Where this ran and the thread count of every OpenBLAS it has loaded."""
    import numpy  # noqa: F401 (its OpenBLAS)

    from bbzip.parallel_processes import blas_threads as counts

    return os.getpid(), counts(), os.environ.get("OMP_NUM_THREADS")


PREPARED: list[int] = []  # pids of the processes where `prepare` ran


def prepare() -> None:
    PREPARED.append(os.getpid())


def prepared(value: int, workers: int, report) -> tuple[int, list[int]]:
    return os.getpid(), list(PREPARED)
