"""What the decoder's speed rests on, as tests: the kernels' literal sizes agree with the
model's shapes, and the parent's warm-up loads the very kernels a decode then calls (a
mismatch would not change a byte, only load or compile them again in every worker)."""

from __future__ import annotations

import numpy as np
import pytest

from bbzip.natural import coder, compiled, constants
from tests.natural_helpers import random_natural_model, smooth_images

needs_numba = pytest.mark.skipif(not compiled.available(), reason="numba (the fast extra) is not installed")


@needs_numba
def test_the_kernels_literal_sizes_are_the_models():
    from bbzip.natural import kernels

    assert (kernels.MIXTURES, kernels.HIDDEN) == (constants.MIXTURES, constants.HIDDEN)


@needs_numba
def test_warming_loads_the_row_kernels_a_decode_calls(monkeypatch):
    from bbzip.natural import fused, stepper

    model, _ = random_natural_model(0)
    images = smooth_images((1, 40, 48, 3), seed=5)
    payload = coder.encode(model, images)
    stepper.warm(model)
    loaded = [dict(kernel.overloads) for kernel in (fused.decode_row, fused.gather_known)]
    assert all(loaded)
    monkeypatch.setenv("BBZIP_KERNELS", "numba")
    decoded = coder.decode(model, payload, images.shape)
    assert np.array_equal(decoded, images)
    assert [dict(kernel.overloads) for kernel in (fused.decode_row, fused.gather_known)] == loaded


@pytest.mark.parametrize(("lanes", "th", "tw"), [(5, 32, 32), (3, 64, 40), (2, 16, 8)])
def test_the_row_posterior_equals_the_networks(lanes, th, tw):
    """The decoder's posterior of a block row (its windows copied pixel-major) against
    NaturalNet.posterior_of_block_row, on pixels of every value, every block row."""
    from bbzip.natural.rowposterior import RowPosterior

    model, _ = random_natural_model(1)
    net = model.network(3)
    pixels = np.random.default_rng(lanes).integers(0, 256, (lanes, th, tw, 3))
    inputs = ((pixels - 128) << 4).astype(np.int16)
    posterior = RowPosterior(net)
    for row in range(th // 8):
        want, got = net.posterior_of_block_row(inputs, row), posterior(inputs, row)
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])
        assert got[0][:, row].any()
