"""Corrections per context class (bbzip/natural/context_classes.py, payload flag bit 1): the
class rule on both paths, the header, the encoder's choice, and both decoders on files that
use them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bbzip.errors import CorruptError
from bbzip.natural import coder, compiled, context_classes, header
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model
from tests.natural_helpers import random_natural_model, smooth_images

DATA = Path(__file__).parent / "data"
SHIPPED = default_natural_model()
needs_numba = pytest.mark.skipif(not compiled.available(), reason="numba (the fast extra) is not installed")
needs_model = pytest.mark.skipif(SHIPPED is None, reason="the shipped natural model is not installed")


def _activity(tile: np.ndarray, y: int, x: int, k: int, width: int, residual) -> int:
    """docs/SPEC-natural.md §8's activity, written out."""
    exists = lambda dy, dx: y + dy >= 0 and 0 <= x + dx < width
    total = sum(2 * abs(int(r)) for r in residual[:k])
    for p, q in (((0, -1), (-1, -1)), ((-1, 0), (-1, -1)), ((-1, 1), (-1, 0)), ((0, -1), (0, -2)),
                 ((-1, 0), (-2, 0))):
        if exists(*p) and exists(*q):
            total += abs(int(tile[y + p[0], x + p[1], k]) - int(tile[y + q[0], x + q[1], k]))
    return total


def _random_positions(seed: int):
    rng = np.random.default_rng(seed)
    lanes, th, tw, c = 5, 16, 24, 3
    # Mostly smooth values, some jumps: every class of 8 is reached.
    values = np.clip(128 + np.cumsum(rng.integers(-3, 4, (lanes, th, tw, c)), axis=2)
                     + 60 * (rng.random((lanes, th, tw, c)) < 0.05), 0, 255).astype(np.uint8)
    widths = np.array([24, 24, 7, 1, 20])
    n = 400
    lanes_ = rng.integers(0, lanes, n)
    rows, cols = rng.integers(0, th, n), rng.integers(0, tw, n)
    cols = np.minimum(cols, widths[lanes_] - 1)
    residual = rng.integers(-20, 21, (n, c)) * (rng.random((n, 1)) < 0.2)
    return values, widths, lanes_, rows, cols, residual


@pytest.mark.parametrize("classes", [2, 8, 16])
def test_the_classes_follow_the_specified_activity(classes):
    values, widths, lanes, rows, cols, residual = _random_positions(classes)
    seen = set()
    for k in range(3):
        got = context_classes.classes_at(values, lanes, rows, cols, k, widths, residual, classes)
        want = [min(_activity(values[lane], y, x, k, widths[lane], residual[i]).bit_length(), classes - 1)
                for i, (lane, y, x) in enumerate(zip(lanes, rows, cols))]
        assert got.tolist() == want
        seen |= set(want)
    assert seen == set(range(classes)) or classes == 16


@needs_numba
def test_the_compiled_class_is_the_numpy_one():
    import numba

    from bbzip.natural.context_kernel import context_class

    @numba.njit
    def classes_of(tiles, lanes, rows, cols, k, residual, widths, classes, out):
        by_lane = np.zeros((tiles.shape[3], residual.shape[1]), np.int64)  # the kernel reads a lane's row
        for n in range(len(lanes)):
            by_lane[lanes[n]] = residual[n]
            out[n] = context_class(tiles, lanes[n], rows[n], cols[n], k, by_lane, widths[lanes[n]], classes)

    values, widths, lanes, rows, cols, residual = _random_positions(1)
    tiles = np.ascontiguousarray(values.transpose(1, 2, 3, 0))  # lane-minor, as the stepper's
    for k in range(3):
        got = np.empty(len(lanes), np.int64)
        classes_of(tiles, lanes, rows, cols, k, residual.astype(np.int64), widths, 8, got)
        want = context_classes.classes_at(values, lanes, rows, cols, k, widths, residual, 8)
        assert got.tolist() == want.tolist()


@needs_numba
def test_the_fused_kernel_records_the_class_helper_it_inlines():
    from bbzip.natural import fused

    source = (Path(compiled.__file__).parent / "context_kernel.py").read_bytes()
    assert fused.CONTEXT_DIGEST == hashlib.sha256(source).hexdigest()[:16]


def _settings(c: int, sets: int = 1, classes: int = 8) -> header.Settings:
    rng = np.random.default_rng(c)
    shape = (sets,) * (sets > 1) + (c, classes, context_classes.ADJUST_SIZE)
    offsets = rng.integers(-8, 9, (sets, 3)) if sets > 1 else (3, -2, 1)
    if sets > 1 or c == 1:
        offsets = np.where(np.arange(3) < c, offsets, 0) if sets > 1 else (3, 0, 0)
    return header.Settings((2, 0, 2, 0), offsets, context=rng.integers(-128, 128, shape))


@pytest.mark.parametrize("c, sets, classes", [(1, 1, 8), (3, 1, 8), (3, 2, 2), (1, 3, 16)])
def test_the_header_carries_the_classes(c, sets, classes):
    settings = _settings(c, sets, classes)
    packed = header.pack(64, settings, [b"ab", b"cde"])
    assert packed[0] & (header.CONTEXT | header.ADJUST) == header.CONTEXT | header.ADJUST
    side, back, messages = header.unpack(memoryview(packed), max(1, sets), c, 8)
    assert side == 64 and [bytes(m) for m in messages] == [b"ab", b"cde"]
    assert back.adjust is None and np.array_equal(back.context, settings.context)


def test_the_header_refuses_impossible_classes():
    packed = bytearray(header.pack(32, _settings(3), [b"abc"]))
    for first, count, why in ((packed[0] & ~header.ADJUST, 8, "without corrections"), (packed[0], 1, "class count"),
                              (packed[0], 17, "class count")):
        bad = bytearray(packed)
        bad[0], bad[9] = first, count
        with pytest.raises(CorruptError, match=why):
            header.unpack(memoryview(bytes(bad)), 1, 3, 8)
    with pytest.raises(CorruptError, match="truncated"):
        header.unpack(memoryview(bytes(packed[:100])), 1, 3, 8)


def _forced(monkeypatch):
    monkeypatch.setattr(context_classes, "ALWAYS", True)


@needs_numba
@pytest.mark.parametrize("shape, seed", [((1, 45, 70, 3), 2), ((2, 33, 40, 1), 5)])
def test_both_paths_write_and_read_the_same_bytes_with_classes(monkeypatch, shape, seed):
    model, _ = random_natural_model(0)
    images = smooth_images(shape, seed=seed)
    _forced(monkeypatch)
    written = {}
    for kernels in ("numba", "numpy"):
        monkeypatch.setenv("BBZIP_KERNELS", kernels)
        written[kernels] = coder.encode(model, images)
    assert written["numba"] == written["numpy"]
    assert written["numba"][0] & header.CONTEXT
    for kernels in ("numba", "numpy"):
        monkeypatch.setenv("BBZIP_KERNELS", kernels)
        assert np.array_equal(coder.decode(model, written["numba"], images.shape), images)


@needs_model
def test_a_decoder_that_ignored_the_classes_would_decode_other_pixels(monkeypatch):
    """The classes decide bytes: read as the set's first class everywhere, the file fails."""
    image = load_image_file(DATA / "camera-crop.pgm")
    images = (image if image.ndim == 3 else image[..., None])[None]
    _forced(monkeypatch)
    packed = coder.encode(SHIPPED, images)
    assert packed[0] & header.CONTEXT
    monkeypatch.setattr(context_classes, "classes_at", lambda *args: np.zeros(len(args[1]), np.int64))
    monkeypatch.setenv("BBZIP_KERNELS", "numpy")
    try:
        back = coder.decode(SHIPPED, packed, images.shape)
    except CorruptError:
        return
    assert not np.array_equal(back, images)


def _sky(h: int, w: int) -> np.ndarray:
    """A smooth gradient with a little noise and a few sharp edges, like a wallpaper's sky."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:h, 0:w]
    base = 90 + 60 * np.sin(y / 37.0) + 40 * np.cos(x / 53.0) + 50 * ((x + 2 * y) % 97 < 20)
    colour = base[..., None] + np.array([0, 12, -20]) + rng.normal(0, 0.7, (h, w, 3))
    return np.clip(np.rint(colour), 0, 255).astype(np.uint8)[None]


@needs_model
def test_the_encoder_keeps_the_classes_where_they_pay():
    """A smooth photo: the classes are chosen, and the file is smaller than without them."""
    images = _sky(160, 192)
    packed = coder.encode(SHIPPED, images)
    assert packed[0] & header.CONTEXT
    refine = context_classes.refine
    try:
        context_classes.refine = lambda model, canvas, values, sample, choice, settings: settings
        plain = coder.encode(SHIPPED, images)
    finally:
        context_classes.refine = refine
    assert not plain[0] & header.CONTEXT and len(packed) < len(plain)
    assert np.array_equal(coder.decode(SHIPPED, packed, images.shape), images)


@pytest.mark.parametrize("name", ["photo-ppm-natural-context", "scan-pgm-natural-context", "lanes64-npy-natural-context"])
def test_the_context_golden_files_use_the_classes(name):
    from tests.test_golden import _first_natural_byte

    assert _first_natural_byte(name) & (header.CONTEXT | header.ADJUST) == header.CONTEXT | header.ADJUST
