"""The encoder's calibration: its sample of positions, its walks and descent, and the same
choices on the numpy and compiled paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bbzip.natural import calibration, coder, compiled, sampling
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model
from bbzip.natural.tiles import Tiling, choose_side

DATA = Path(__file__).parent / "data"
MODEL = default_natural_model()
needs_model = pytest.mark.skipif(MODEL is None, reason="the shipped natural-image model is not installed")


def test_the_sample_is_bounded_whatever_the_block():
    assert sampling.sample_every(1000) == 1  # small blocks whole
    assert sampling.sample_every(sampling.FULL * sampling.EVERY * 4) == sampling.EVERY
    for positions in (1 << 18, 1 << 21, 1 << 24):
        assert positions // sampling.sample_every(positions) <= sampling.CAP


def test_the_lattice_reaches_every_position_of_a_block_and_every_row():
    lattice = sampling._lattice((16, 32, 32), 8)
    assert lattice.any(axis=2).all()  # every row of every tile
    covered = lattice.reshape(16, 4, 8, 4, 8).any(axis=(0, 1, 3))
    assert covered.all()  # all 64 positions of an 8x8 block, over the tiles
    assert abs(lattice.mean() - 1 / 8) < 0.01


@pytest.mark.parametrize("start", [0, 3, 7])
def test_the_walk_settles_on_the_minimum_of_unimodal_scores(start):
    rng = np.random.default_rng(start)
    centres = rng.integers(0, 8, size=20)
    table = (np.arange(8)[:, None] - centres[None]) ** 2 * 10 + rng.integers(0, 5, size=20)  # (candidates, groups)
    calls = []

    def score(index, active):
        calls.append(int(active.sum()))
        return table[index, np.arange(20)]

    index, best, at_start = calibration._walk(score, 8, start, 20)
    assert np.array_equal(index, centres)
    assert np.array_equal(best, table.min(axis=0))
    assert np.array_equal(at_start, table[start])
    assert sum(calls) < table.size  # fewer scores than the whole table


def test_the_walk_stops_at_the_first_local_minimum():
    table = np.array([[5], [4], [6], [1]])  # from 1 neither neighbour is better: 3 is never seen
    index, best, _ = calibration._walk(lambda index, active: table[index, 0], 4, 1, 1)
    assert (index[0], best[0]) == (1, 4)


def _choice(image: np.ndarray):
    n, h, w, c = image.shape
    tiling = Tiling.of(n, h, w, choose_side(n, h, w))
    prepared = coder._prepare(MODEL, tiling, image[..., [1, 0, 2]] if c == 3 else image)
    _, canvas, values, mu, _ = prepared
    net = MODEL.network(c)
    return calibration.choose_calibration(MODEL, net, canvas, values, mu)


@needs_model
@pytest.mark.parametrize("name, repeat", [("camera-crop.pgm", 1), ("astronaut-crop.ppm", 1), ("camera-crop.pgm", 3)])
def test_numpy_and_compiled_paths_choose_the_same(monkeypatch, name, repeat):
    """Whole samples of small images, and a lattice (the crop repeated 3 x 3)."""
    if not compiled.available():
        pytest.skip("numba (the fast extra) is not installed")
    image = np.tile(load_image_file(DATA / name), (repeat, repeat, 1))[None]
    if repeat > 1:
        assert sampling.sample_every(image.shape[1] * image.shape[2]) > 1
    monkeypatch.setattr(compiled, "MIN_SUBPIXELS", 0)
    fast = _choice(image)
    monkeypatch.setattr(compiled, "MIN_SUBPIXELS", 1 << 62)
    slow = _choice(image)
    assert fast.offsets == slow.offsets and fast.bits == slow.bits
    for a, b in ((fast.deltas, slow.deltas), (fast.adjust, slow.adjust), (fast.best_deltas, slow.best_deltas)):
        assert (a is None and b is None) or np.array_equal(a, b)


@needs_model
def test_per_image_choices_read_the_shared_sample():
    """A set's per-image calibrations come from the set's one sample, each image's lanes."""
    image = load_image_file(DATA / "camera-crop.pgm")[None]
    pair = np.concatenate([image, image[:, ::-1]])
    n, h, w, c = pair.shape
    tiling = Tiling.of(n, h, w, choose_side(n, h, w))
    _, canvas, values, mu, _ = coder._prepare(MODEL, tiling, pair)
    net = MODEL.network(c)
    sample = calibration.block_sample(MODEL, net, canvas, values, mu)
    per = tiling.lanes // n
    each = [calibration.choose_calibration(MODEL, net, canvas, values, mu, sample, slice(i * per, (i + 1) * per))
            for i in range(n)]
    shared = calibration.choose_calibration(MODEL, net, canvas, values, mu, sample)
    assert all(len(choice.best_deltas) == per for choice in each)
    assert len(shared.best_deltas) == tiling.lanes
