"""The bounds a model file must keep for exact integer coding, checked in code.

A model that breaks one would not fail loudly: a float64 sum past 2**53 rounds, an int64
product past 2**63 wraps, a zero weight sum divides by zero, and the decoder's paths
(numpy, numba) would part ways with the encoder and with each other. So every bound is
checked when a model is loaded and when one is frozen, and a model that breaks one is
refused with one line that says which (docs/MODELS.md lists them).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from bbzip.errors import ModelError
from bbzip.fixedpoint.fixed import (
    ACT_BITS,
    ACT_LIMIT,
    CDF_BITS,
    CDF_HALF_TABLE,
    EDGE_SENTINEL,
    EXACT_LIMIT,
    EXP_BITS,
    INV_SCALE_LIMIT,
    MAX_SHIFT,
    MIN_SHIFT,
    SCALE_INDEX_SHIFT,
    TABLE_LIMIT,
    WEIGHT_LIMIT,
)

# The largest input any layer reads: activations are clipped to ACT_LIMIT, and a pixel
# head adds latent features to its clipped context term before its ReLU.
INPUT_LIMIT = 2 * ACT_LIMIT
MAX_PRECISION = 32  # rANS with 32-bit words codes slots of at most 32 bits
MAX_LATENT_BITS = 16  # the prior's buckets: 2**16 at most (its tables are that long)
# Every model file's tables (bbzip.fixedpoint.freeze.model_tables writes them).
TABLES = ("sigmoid", "normal_cdf", "neg_exp", "inv_scale", "inv_sigma", "latent_edges", "latent_centres",
          "coarse_centres")


def _refuse(why: str) -> None:
    raise ModelError(f"model file breaks a bound of exact coding: {why}")


def _integers(name: str, array, ndim: int | None = None) -> np.ndarray:
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        _refuse(f"{name} is not an integer array")
    if ndim is not None and array.ndim != ndim:
        _refuse(f"{name} has {array.ndim} dimensions, not {ndim}")
    return array.astype(np.int64)


def _within(name: str, values: np.ndarray, low: int, high: int) -> None:
    if values.size and (values.min() < low or values.max() > high):
        _refuse(f"{name} has values outside [{low}, {high}]")


def check_layer(arrays: dict, name: str, out_axis: int = 0) -> int:
    """A requantised layer ``name``: integer weights within WEIGHT_LIMIT, shifts in
    [MIN_SHIFT, MAX_SHIFT], and for every output, sum |w| * INPUT_LIMIT + |bias| + the
    rounding half below 2**53. Returns its output count."""
    shift = _integers(f"{name}.shift", arrays[f"{name}.shift"], ndim=1)
    weight = _integers(f"{name}.w", arrays[f"{name}.w"])
    bias = _integers(f"{name}.b", arrays[f"{name}.b"], ndim=1)
    if weight.ndim < 2 or weight.shape[out_axis] != len(shift) or len(bias) != len(shift) or not len(shift):
        _refuse(f"{name} has weights, biases and shifts of different output counts")
    _within(f"{name}.w", weight, -WEIGHT_LIMIT, WEIGHT_LIMIT)
    _within(f"{name}.shift", shift, MIN_SHIFT, MAX_SHIFT)
    # Exact Python integers: the bound itself must not round.
    per_output = np.moveaxis(np.abs(weight), out_axis, 0).reshape(len(shift), -1).sum(axis=1)
    for total, b, s in zip(per_output.tolist(), bias.tolist(), shift.tolist()):
        if total * INPUT_LIMIT + abs(b) + (1 << (s - 1)) >= EXACT_LIMIT:
            _refuse(f"{name}'s partial sums can reach 2**53 (bias {b}, shift {s})")
    return len(shift)


def _inputs(arrays: dict, name: str, out_axis: int = 0) -> int:
    weight = np.asarray(arrays[f"{name}.w"])
    return weight.size // weight.shape[out_axis]


def _precision(config: dict, key: str, low: int, high: int) -> int:
    value = config[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _refuse(f"{key} {value!r} is not an integer in [{low}, {high}]")
    return value


def _log_min(config: dict, key: str) -> None:
    value = config[key]
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value) or abs(value) > 64:
        _refuse(f"{key} {value!r} is not a number in [-64, 64]")
    if round(value * (1 << ACT_BITS)) % (1 << SCALE_INDEX_SHIFT):
        _refuse(f"{key} {value!r} is not a multiple of the scale table's step 2**-{ACT_BITS - SCALE_INDEX_SHIFT}")


def check_tables(arrays: dict, config: dict, pixel_levels: int) -> None:
    """The tables and precisions that every model kind shares."""
    prior = _precision(config, "prior_precision", 1, MAX_LATENT_BITS)
    _precision(config, "posterior_precision", prior, MAX_PRECISION)
    _precision(config, "pixel_precision", (pixel_levels - 1).bit_length(), MAX_PRECISION)
    _log_min(config, "log_scale_min")
    _log_min(config, "log_sigma_min")
    for name in ("sigmoid", "normal_cdf"):
        table = _integers(name, arrays[name], ndim=1)
        if len(table) != 2 * CDF_HALF_TABLE:
            _refuse(f"{name} has {len(table)} entries, not {2 * CDF_HALF_TABLE}")
        _within(name, table, 0, 1 << CDF_BITS)
        if (np.diff(table) < 0).any():
            _refuse(f"{name} is not non-decreasing")
    neg_exp = _integers("neg_exp", arrays["neg_exp"], ndim=1)
    for name in ("inv_scale", "inv_sigma"):
        table = _integers(name, arrays[name], ndim=1)
        if not 1 <= len(table) <= TABLE_LIMIT:
            _refuse(f"{name} has {len(table)} entries, not 1 to {TABLE_LIMIT}")
        _within(name, table, 0, INV_SCALE_LIMIT)
    if not 1 <= len(neg_exp) <= TABLE_LIMIT:
        _refuse(f"neg_exp has {len(neg_exp)} entries, not 1 to {TABLE_LIMIT}")
    _within("neg_exp", neg_exp, 0, 1 << EXP_BITS)
    if neg_exp[0] <= 0:  # the largest component's weight: a weight sum of 0 would divide by 0
        _refuse("neg_exp[0] is not positive")
    edges = _integers("latent_edges", arrays["latent_edges"], ndim=1)
    if len(edges) != (1 << prior) + 1 or edges[0] != -EDGE_SENTINEL or edges[-1] != EDGE_SENTINEL:
        _refuse(f"latent_edges are not 2**prior_precision + 1 edges between -+2**{EDGE_SENTINEL.bit_length() - 1}")
    _within("latent_edges", edges[1:-1], -ACT_LIMIT, ACT_LIMIT)
    if (np.diff(edges) <= 0).any():
        _refuse("latent_edges are not increasing")
    for name, length in (("latent_centres", 1 << prior), ("coarse_centres", (2 << prior) - 1)):
        centres = _integers(name, arrays[name], ndim=1)
        if len(centres) != length:
            _refuse(f"{name} has {len(centres)} entries, not {length}")
        _within(name, centres, -ACT_LIMIT, ACT_LIMIT)


def _chain(arrays: dict, names: list[str], out_axes: dict | None = None, pointwise: bool = False) -> list[int]:
    """Check each layer: output counts. ``pointwise``: 1x1 layers, each reading exactly
    the outputs of the one before it."""
    out_axes = out_axes or {}
    outs = []
    for name in names:
        outs.append(check_layer(arrays, name, out_axes.get(name, 0)))
        if pointwise and len(outs) > 1 and _inputs(arrays, name) != outs[-2]:
            _refuse(f"{name} does not read the outputs of the layer before it")
    return outs


def check_digit_model(arrays: dict, config: dict) -> None:
    """A digit model (bbzip.vae): its layers, input table, pixel and latent tables."""
    levels = config.get("pixel_levels", 256)
    if levels not in (2, 256):
        _refuse(f"pixel_levels {levels!r} is neither 2 nor 256")
    check_tables(arrays, config, levels)
    latent, hidden = config["latent"], config["hidden"]
    deconvs = {"dec_deconv1": 1, "dec_deconv2": 1}
    encoder = _chain(arrays, ["enc_conv1", "enc_conv2", "enc_fc1", "enc_fc2"])
    decoder = _chain(arrays, ["dec_fc1", "dec_fc2", "dec_deconv1", "dec_deconv2"], deconvs)
    head = _chain(arrays, ["head1", "head2"], pointwise=True)
    ctx = check_layer(arrays, "ctx")
    outputs = 1 if levels == 2 else 3 * config.get("mixtures", 0)
    if encoder[-1] != 2 * latent or _inputs(arrays, "dec_fc1") != latent:
        _refuse(f"the encoder and decoder do not carry {latent} latents")
    if ctx != hidden or decoder[-1] != hidden or head[0] != hidden or _inputs(arrays, "head1") != hidden:
        _refuse(f"the pixel head is not {hidden} wide")
    if head[-1] != outputs or not outputs or _inputs(arrays, "head2") != hidden:
        _refuse(f"the pixel head does not give {outputs or 'any'} outputs")
    lut = _integers("input_lut", arrays["input_lut"], ndim=1)
    if len(lut) != levels:
        _refuse(f"input_lut has {len(lut)} entries, not {levels}")
    _within("input_lut", lut, 0, ACT_LIMIT)


def check_natural_model(arrays: dict, config: dict) -> None:
    """A natural-image model (bbzip.natural): both networks, their shapes, the tables."""
    from bbzip.natural.constants import BLOCK, HIDDEN, LATENT, MIXTURES

    for key, value in (("latent", LATENT), ("block", BLOCK), ("hidden", HIDDEN)):
        if config.get(key) != value:
            _refuse(f"{key} is {config.get(key)!r}, not {value}")
    check_tables(arrays, config, 256)
    for kind, channels in (("gray", 1), ("rgb", 3)):
        if _chain(arrays, [f"{kind}.enc{i}" for i in (1, 2, 3)])[-1] != 2 * LATENT:
            _refuse(f"{kind}.enc3 does not give {2 * LATENT} outputs")
        if _chain(arrays, [f"{kind}.feat1", f"{kind}.feat2"])[-1] != channels * HIDDEN:
            _refuse(f"{kind}.feat2 does not give {channels * HIDDEN} features")
        for h in range(channels):
            prefix = f"{kind}.head{h}"
            outs = _chain(arrays, [f"{prefix}.{name}" for name in ("first", "layer1", "layer2", "out")], pointwise=True)
            if outs[0] != HIDDEN or outs[-1] < (3 + h) * MIXTURES:
                _refuse(f"{prefix} is not {HIDDEN} wide with {(3 + h) * MIXTURES} outputs")
