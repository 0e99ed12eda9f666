"""The encoder's compiled passes (bbzip/natural/encode_rows.py, encode_kernels.py,
calibrate_kernels.py) against the numpy code they replace: the same slots, network outputs,
code lengths and corrections, value for value, on partial tiles, gray and RGB, with and
without corrections, global or per context class."""

from __future__ import annotations

import numpy as np
import pytest

from bbzip.fixedpoint import cost
from bbzip.natural import calibration, coder, compiled, context_classes, sampling
from bbzip.natural.calibration import ADJUST_SIZE, ADJUST_UNITS
from bbzip.natural.calibration import calibration as lane_calibration
from bbzip.natural.constants import BLOCK
from bbzip.natural.latents import Latents, coarse_precision
from bbzip.natural.network import mixture_outputs
from bbzip.natural.pixels import row_slots
from bbzip.natural.tiles import Tiling
from tests.natural_helpers import random_natural_model, smooth_images

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba (the fast extra) is not installed")
MODEL, _ = random_natural_model(5)


def _prepared(shape, seed):
    images = smooth_images(shape, seed=seed)
    n, h, w, _ = shape
    tiling = Tiling.of(n, h, w, 32)  # partial tiles at the right and bottom edges
    return tiling, coder._prepare(MODEL, tiling, images)


@pytest.mark.parametrize("c, corrections, classes", [(3, True, 0), (3, False, 0), (1, True, 0), (3, True, 8), (1, False, 5)])
def test_a_block_rows_slots_are_row_slots_one_under_the_other(c, corrections, classes):
    from bbzip.natural.encode_rows import BlockRows

    tiling, prepared = _prepared((2, 45, 70, c), seed=c)
    net, tables = MODEL.network(c), MODEL.tables
    rng = np.random.default_rng(1)
    adjust = rng.integers(-9, 10, size=(2, c, ADJUST_SIZE)) if corrections else None
    offsets = rng.integers(-8, 9, size=(2, 3))
    deltas = rng.integers(-3, 4, size=(tiling.lanes, c))
    calib = lane_calibration(offsets, deltas, adjust, tiling.lane_origins()[0], c)
    if classes:  # corrections per context class, per image (bbzip.natural.context_classes)
        per_class = rng.integers(-9, 10, size=(2, c, classes, ADJUST_SIZE))
        calib = context_classes.attach(calib, per_class, tiling.lane_origins()[0], c)
    latents = Latents(tiling, tables, coarse_precision(prepared.mu, prepared.log_sigma, tables))
    latents.set_coarse(prepared.mu)
    fast = compiled.Tables(tables)
    block_rows = BlockRows(net, prepared.canvas, prepared.values, calib, fast)
    for j in range(latents.rows):
        feats = latents.features(net, j)
        rows = range(BLOCK * j, min(BLOCK * (j + 1), tiling.th))
        starts, freqs = block_rows.slots(feats, rows)
        expected = [row_slots(MODEL, net, prepared.canvas, feats, prepared.values, row, calib) for row in rows]
        assert np.array_equal(starts, np.concatenate([s for s, _ in expected]))
        assert np.array_equal(freqs, np.concatenate([f for _, f in expected]))
        assert (freqs > 0).all()


@pytest.mark.parametrize("c", [1, 3])
def test_the_samples_compiled_outputs_are_numpys(c):
    _, prepared = _prepared((1, 50, 75, c), seed=7 + c)
    net = MODEL.network(c)
    args = (net, prepared.canvas, net.features(prepared.mu.astype(np.float64)), prepared.values)
    fast, slow = sampling.Sample(*args, compiled.Tables(MODEL.tables)), sampling.Sample(*args)
    for k in range(c):
        assert np.array_equal(fast.outs[k], slow.outs[k])
    assert np.array_equal(fast.base, slow.base) and np.array_equal(fast.residual, slow.residual)


def _params(n, seed):
    """Mixture parameters as the sample gives them, some far out, and true values 0..255."""
    _, prepared = _prepared((1, 40, 40, 3), seed=seed)
    net = MODEL.network(3)
    sample = sampling.Sample(net, prepared.canvas, net.features(prepared.mu.astype(np.float64)), prepared.values,
                             compiled.Tables(MODEL.tables))
    params = mixture_outputs(sample.outs[1], sample.base_of[1], sample.residual[:, :1])[:n]
    truth = sample.truth_of[1][:n].copy()
    truth[:3] = (0, 255, 128)  # both edges of the range
    return sample, params, truth


def _plain_descent(params, truth, adjust, strides):
    """The descent as calibration's docstring states it: every trial's whole cost afresh."""
    adjust = np.zeros(ADJUST_SIZE, dtype=np.int64) if adjust is None else adjust.astype(np.int64)
    cost = lambda add: int(calibration._bits(MODEL.tables, params + add, truth).sum())
    start = best = cost(adjust * ADJUST_UNITS)
    for stride in strides:
        for j in range(ADJUST_SIZE):
            for sign in (stride, -stride):
                while abs(adjust[j] + sign) <= 127:
                    trial = adjust.copy()
                    trial[j] += sign
                    trial_cost = cost(trial * ADJUST_UNITS)
                    if trial_cost >= best:
                        break
                    best, adjust = trial_cost, trial
    return adjust, start, best


def test_the_descents_are_the_plain_descent():
    from bbzip.natural import calibrate_kernels

    _, params, truth = _params(600, seed=2)
    fast = compiled.Tables(MODEL.tables)
    start = np.random.default_rng(0).integers(-3, 4, size=ADJUST_SIZE)
    for strides, adjust in (((4, 1), None), ((1,), start), ((), start)):
        slow = _plain_descent(params, truth, adjust, strides)
        numpy_result = calibration._descend(MODEL.tables, params, truth, None, adjust, strides)
        assert np.array_equal(numpy_result[0], slow[0]) and numpy_result[1:] == slow[1:]
        zeros = np.zeros(ADJUST_SIZE, dtype=np.int64)
        compiled_result = calibrate_kernels.descend(
            params, truth.astype(np.int64), ADJUST_UNITS, zeros if adjust is None else adjust,
            np.array(strides, dtype=np.int64), fast.consts, fast.sigmoid, fast.inv_scale, fast.neg_exp, fast.log2)
        assert np.array_equal(compiled_result[0], slow[0])
        assert (int(compiled_result[1]), int(compiled_result[2])) == slow[1:]


def test_the_compiled_group_costs_are_numpys():
    sample, _, _ = _params(10**9, seed=3)
    rng = np.random.default_rng(4)
    offsets = rng.integers(-64, 65, size=len(sample)) * 16
    group = rng.integers(-1, 5, size=len(sample))
    fast = calibration._group_costs(MODEL.tables, sample, 2, offsets, group, 5)
    sample.fast = None
    assert np.array_equal(fast, calibration._group_costs(MODEL.tables, sample, 2, offsets, group, 5))


def test_quotients_and_logarithms_are_exact_where_floats_round():
    from bbzip.natural import calibrate_kernels

    fast = compiled.Tables(MODEL.tables)
    # Numerators next to multiples of the divisor, up to the 2**48 a weighted sum reaches.
    totals = np.array([65536, 65537, 196611, 262143, 3, 1], dtype=np.int64)
    for total in totals:
        for q in (0, 1, 12345, (1 << 30) - 1, (1 << 48) // int(total)):
            for cdf in (q * total - 1, q * total, q * total + 1, q * total + total - 1):
                if 0 <= cdf < 1 << 53:
                    got = calibrate_kernels._quotient.py_func(np.int64(cdf), np.int64(total), 1.0 / float(total))
                    assert got == cdf // total
    powers = ((1 << np.arange(13, 40))[None] + np.arange(-1, 2)[:, None]).ravel()
    values = np.concatenate([np.arange(1, 5000), powers])
    values = values[values > 0]
    expected = cost.log2_fixed(values)
    got = [calibrate_kernels._log2.py_func(np.int64(v), fast.log2, fast.consts) for v in values]
    assert np.array_equal(np.array(got), expected)
