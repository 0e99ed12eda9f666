"""The natural-image coder's compiled kernels (bbzip/natural/kernels.py) against its numpy
path: the same bytes written, each path decoding them; and the encoder's integer code
lengths (bbzip/fixedpoint/cost.py), which keep its choices the same on every CPU."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bbzip.ans.rans import Message
from bbzip.errors import CorruptError
from bbzip.fixedpoint import cost
from bbzip.natural import coder, compiled
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model
from bbzip.natural.tiles import Tiling
from tests.natural_helpers import random_natural_model, smooth_images

DATA = Path(__file__).parent / "data"
SHIPPED = default_natural_model()
RANDOM, _ = random_natural_model(0)
needs_numba = pytest.mark.skipif(not compiled.available(), reason="numba (the fast extra) is not installed")


def _cases():
    noise = np.random.default_rng(3).integers(0, 256, size=(1, 21, 45, 3), dtype=np.uint8)
    yield "random-smooth-edges", RANDOM, smooth_images((1, 45, 70, 3), seed=2)
    yield "random-noise", RANDOM, noise
    yield "random-two-groups", RANDOM, smooth_images((70, 8, 9, 1), seed=4)
    if SHIPPED is not None:
        yield "astronaut", SHIPPED, load_image_file(DATA / "astronaut-crop.ppm")[None]
        yield "camera", SHIPPED, load_image_file(DATA / "camera-crop.pgm")[None]


CASES = {name: (model, images) for name, model, images in _cases()}


def _with_kernels(monkeypatch, on: bool, fn):
    monkeypatch.setenv("BBZIP_KERNELS", "numba" if on else "numpy")
    try:
        return fn()
    finally:
        monkeypatch.delenv("BBZIP_KERNELS")


@needs_numba
# The shipped model on a real crop is the slowest case (about 18 s): make test-slow runs it;
# the random model's cases cover the same kernels in make test.
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name == "astronaut" else name
                                  for name in sorted(CASES)])
def test_compiled_and_numpy_paths_write_and_read_the_same_bytes(monkeypatch, name):
    model, images = CASES[name]
    fast = _with_kernels(monkeypatch, True, lambda: coder.encode(model, images))
    slow = _with_kernels(monkeypatch, False, lambda: coder.encode(model, images))
    assert fast == slow
    for on in (True, False):
        decoded = _with_kernels(monkeypatch, on, lambda: coder.decode(model, fast, images.shape, workers=1))
        assert np.array_equal(decoded, images)


@needs_numba
def test_compiled_lane_groups_decode_alike_with_workers(monkeypatch):
    """Two lane groups, with the workers the decoder may fork for them (numba loaded)."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what lets the decoder fork
    model, images = CASES["random-two-groups"]
    payload = coder.encode(model, images)
    decoded = _with_kernels(monkeypatch, True, lambda: coder.decode(model, payload, images.shape, workers=2))
    assert np.array_equal(decoded, images)


@needs_numba
def test_compiled_pushes_equal_message_push():
    rng = np.random.default_rng(7)
    precision, lanes, rows = 20, 37, 50
    freqs = rng.integers(1, 1 << 12, size=(rows, lanes)) << rng.integers(0, 9, size=(rows, lanes))
    starts = rng.integers(0, (1 << precision) - freqs + 1)
    plain, fast = Message.seeded(lanes, 5), Message.seeded(lanes, 5)
    for i in reversed(range(rows)):
        plain.push(starts[i], freqs[i], precision)
    coder._push_rows(compiled.Tables(RANDOM.tables), fast, starts, freqs, precision)
    assert fast.same_as(plain) and fast.tail_words > 0


def test_integer_log2_is_close_and_monotone():
    values = np.concatenate([np.arange(1, 20000), np.random.default_rng(1).integers(1, 1 << 40, 5000),
                             [1 << 20, (1 << 20) - 1, (1 << 51) + 12345]])
    got = cost.log2_fixed(values)
    want = np.array([math.log2(v) for v in values.tolist()])
    assert np.abs(got / cost.COST_ONE - want).max() < 2.0**-22
    assert (np.diff(cost.log2_fixed(np.arange(1, 1 << 17))) >= 0).all()
    assert cost.log2_fixed(np.array([1, 2, 1 << 20])).tolist() == [0, cost.COST_ONE, 20 * cost.COST_ONE]


def _disabled_simd() -> str:
    """numpy's dispatched SIMD targets that this CPU has (AVX2/FMA3 groups, AVX-512...)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return " ".join(name for name in __cpu_dispatch__ if __cpu_features__.get(name))


# The cases with calibration choices (the shipped model's), or a random model's noise.
SIMD_CASES = [name for name in ("astronaut", "camera") if name in CASES] or ["random-noise"]
_ENCODE = """
import hashlib, sys
sys.path.insert(0, {root!r})
from bbzip.natural import coder, compiled
from tests.test_natural_compiled import CASES, SIMD_CASES
compiled.MIN_SUBPIXELS = compiled.LOADED_MIN_SUBPIXELS = {threshold}
print(" ".join(hashlib.sha256(coder.encode(*CASES[name])).hexdigest() for name in SIMD_CASES))
"""


@pytest.mark.parametrize("threshold", [0, 1 << 62])
def test_same_bytes_with_numpys_simd_kernels_disabled(threshold):
    """Every choice that decides bytes is integer arithmetic: numpy without its AVX2, FMA
    and AVX-512 loops (whose float results may differ in the last bit) writes the same."""
    disabled = _disabled_simd()
    if not disabled:
        pytest.skip("this CPU has no SIMD targets beyond numpy's baseline")
    if threshold == 0 and not compiled.available():
        pytest.skip("numba (the fast extra) is not installed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _ENCODE.format(root=root, threshold=threshold)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled})
    here = " ".join(hashlib.sha256(coder.encode(*CASES[name])).hexdigest() for name in SIMD_CASES)
    assert run.stdout.split() == here.split()


def test_the_row_kernel_names_the_helpers_it_inlines():
    """numba's cache keys a kernel on its own file: fused.py's kernels inline kernels.py's
    helpers, so fused.py carries a digest of kernels.py, and an edit of kernels.py alone
    (which a warm cache would not see) fails here until the digest is updated."""
    import hashlib

    from bbzip.natural import fused

    source = (Path(compiled.__file__).parent / "kernels.py").read_bytes()
    assert fused.KERNELS_DIGEST == hashlib.sha256(source).hexdigest()[:16]


def _pushed(model, images, side: int, groups: int):
    """The images pushed with the given tile side and lane groups (numpy path), and what
    pop_images needs to take them back."""
    n, h, w, _ = images.shape
    tiling = Tiling.of(n, h, w, side)
    parts = coder.lane_groups(tiling.lanes, groups)
    message = coder.GroupedMessage([model.new_message(part.stop - part.start) for part in parts])
    settings = coder.push_images(model, message, tiling, images)
    payloads = [m.to_bytes() for m in message.messages]
    return tiling, settings, payloads, parts


def _popped(model, tiling, c, settings, payloads, parts):
    messages = [model.read_message(payload, part.stop - part.start) for payload, part in zip(payloads, parts)]
    grouped = coder.GroupedMessage(messages) if len(messages) > 1 else messages[0]
    tiles = coder.pop_images(model, grouped, tiling, c, settings)
    return tiles, [m.to_bytes() for m in messages]


@needs_numba
@pytest.mark.parametrize(("shape", "side", "groups"), [
    ((1, 45, 70, 3), 32, 1),  # partial tiles right and below
    ((1, 45, 70, 3), 32, 3),  # groups of uneven lane counts, none a multiple of eight
    ((2, 37, 29, 1), 32, 2),  # gray, partial tiles
    ((1, 24, 72, 1), 64, 1),  # one lane whose tile is wider than the image is high
    ((3, 16, 40, 3), 32, 5),  # groups of one or two lanes
])
def test_row_kernel_pops_what_numpy_pops(monkeypatch, shape, side, groups):
    """The fused row kernel against the numpy path on tile sides, lane groups, gray and RGB,
    images with partial tiles: the same tiles, and the messages left the same."""
    images = smooth_images(shape, seed=sum(shape) + side)
    x = images[..., list(coder.CODING_ORDER)] if shape[-1] == 3 else images
    pushed = _with_kernels(monkeypatch, False, lambda: _pushed(RANDOM, x, side, groups))
    tiling = pushed[0]
    fast = _with_kernels(monkeypatch, True, lambda: _popped(RANDOM, tiling, shape[-1], *pushed[1:]))
    slow = _with_kernels(monkeypatch, False, lambda: _popped(RANDOM, tiling, shape[-1], *pushed[1:]))
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(tiling.from_tiles(fast[0]), x)
    assert fast[1] == slow[1]


@needs_numba
def test_row_kernel_refuses_a_tail_that_ends_early(monkeypatch):
    """Each group's tail cut to two words: the compiled refill runs out as Message._take."""
    images = smooth_images((1, 45, 70, 3), seed=8)
    pushed = _with_kernels(monkeypatch, False, lambda: _pushed(RANDOM, images, 32, 2))
    tiling, settings, payloads, parts = pushed
    cut = [payload[: 8 * (part.stop - part.start) + 8] for payload, part in zip(payloads, parts)]
    for on in (True, False):
        with pytest.raises(CorruptError):
            _with_kernels(monkeypatch, on, lambda: _popped(RANDOM, tiling, 3, settings, cut, parts))


def test_small_blocks_leave_numba_unloaded():
    """A block below the threshold decodes without importing numba (files of small images
    do not pay its import)."""
    _, images = CASES["random-noise"]
    assert images.size < compiled.MIN_SUBPIXELS
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (f"import sys; sys.path.insert(0, {root!r})\n"
              "from tests.test_natural_compiled import CASES\n"
              "from bbzip.natural import coder\n"
              "model, images = CASES['random-noise']\n"
              "payload = coder.encode(model, images)\n"
              "assert (coder.decode(model, payload, images.shape) == images).all()\n"
              "print('numba' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "BBZIP_KERNELS"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.split() == ["False"]
