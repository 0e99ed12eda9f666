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
