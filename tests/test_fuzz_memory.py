"""Memory before data: a natural block's decoder takes memory for the rows it decodes, not
for the image its header claims (issue 19: at most 200 MB before a hostile file is refused)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bbzip.natural.tiles import Tiling, zeros_on_demand
from tests.fuzz.hostile import natural_claim

ROOT = Path(__file__).resolve().parents[1]


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_a_lazy_canvas_takes_the_pages_of_the_rows_opened_only():
    """numpy advises huge pages for large arrays, so one row written in every lane's tile
    allocated the whole canvas (139 MB for a 4096 x 8192 gray claim)."""
    from bbzip.natural.pixels import Canvas

    before = _status_kib("VmRSS")
    canvas = Canvas(Tiling.of(1, 4096, 8192, 256), 1, lazy=True)
    assert canvas.data.nbytes > 128 << 20
    for row in range(4):
        canvas.open_row(row)
    tiles = zeros_on_demand((canvas.lanes, 256, 256, 1), np.uint8)
    tiles[:, :4] = 7
    assert _status_kib("VmRSS") - before < 24 << 10
    assert not canvas.data[:, -1].any() and tiles.sum() == 7 * canvas.lanes * 4 * 256
    assert zeros_on_demand((3, 5), np.int64).shape == (3, 5)  # small ones: plain np.zeros


_PEAK = """
import sys
from bbzip import api
from bbzip.errors import CorruptError
try:
    api.decompress(sys.stdin.buffer.read())
except CorruptError as exc:
    # VmHWM (this process's own peak, unlike ru_maxrss) less the file pages mapped at the end:
    # how many pages of numba's and numpy's libraries are resident depends on the page cache
    # (a freshly installed venv counts tens of MB more), not on what the claim allocates.
    with open('/proc/self/status') as status:
        kib = {line.split(':')[0]: int(line.split()[1]) for line in status if line.split(':')[0] in ('VmHWM', 'RssFile')}
    print(kib['VmHWM'] - kib['RssFile'], exc)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_a_400_kb_noise_payload_under_the_largest_claim_is_refused_under_200_mb():
    """It peaked at 392 MiB (compiled) and 243 MiB (numpy) after decoding 5 pixel rows."""
    pytest.importorskip("bbzip.natural.model")
    hostile = natural_claim((1, 4096, 8192, 1), 400_000)
    # Twice: on a cold numba cache the first run also compiles the decoder's kernels (LLVM's
    # memory, once per install, not the claim's); the second one loads them from the cache.
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _PEAK], input=hostile, cwd=ROOT, capture_output=True,
                             check=True, timeout=300).stdout.decode().split(maxsplit=1)
    assert "exhausted" in out[1] and int(out[0]) * 1024 < 200_000_000, out
