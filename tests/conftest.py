"""Fixtures shared by the test modules that run the real console script."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

# A suite started in the background of a script (`make test &`) inherits SIGINT ignored, and
# so would every bbzip it starts: bbzip keeps an ignored signal ignored, as nohup asks, and
# the tests that interrupt it with SIGINT would wait for it in vain. Its children get the
# default again (a Python handler is reset at exec; only "ignored" is inherited).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def find_bbzip() -> str | None:
    """The console script of the environment running the tests, else the one on PATH."""
    beside = Path(sys.executable).parent / "bbzip"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("bbzip")


@pytest.fixture(scope="session")
def exe() -> str:
    path = find_bbzip()
    if path is None:
        pytest.fail("the `bbzip` console script is not installed: run `pip install -e .`")
    return path


@pytest.fixture(autouse=True)
def isolated_model_search(tmp_path_factory, monkeypatch):
    """Models come only from the repository and from what a test installs: the user's own
    model directories ($BBZIP_MODEL_PATH, the user data directory) are out of sight."""
    monkeypatch.delenv("BBZIP_MODEL_PATH", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


# Zarr and Dask leave threads behind in the test process (zarr's I/O loop, Dask's offload
# pool), and the natural decoder rightly refuses to fork from a process with other threads.
# The tests that check that it forks would then fail for a reason outside them: so the
# modules that start such threads run last.
_THREAD_LEAVING_MODULES = ("test_dask.py", "test_zarr.py", "test_fsspec.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name in _THREAD_LEAVING_MODULES)
