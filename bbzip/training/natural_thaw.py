"""A frozen natural-image model back as float weights: the inverse of bbzip.natural.freeze.

Only the integer model files are kept, not the float checkpoints they came from; a warm
start from a shipped model reads its weights as ``w * 2**-shift`` and biases as
``b * 2**-(shift + ACT_BITS)``, which is what the integer network computes with (up to its
rounding of activations), so the float network starts at the shipped model's rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bbzip import modelfile
from bbzip.fixedpoint.fixed import ACT_BITS
from bbzip.natural import constants as k
from bbzip.natural.network import CAUSAL, HALF, TAPS


def _layer(arrays: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    shift = arrays[f"{name}.shift"].astype(np.float64)
    scale = np.ldexp(1.0, -shift.astype(np.int64))
    w = arrays[f"{name}.w"].astype(np.float64)
    weight = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    bias = arrays[f"{name}.b"].astype(np.float64) * scale * 2.0**-ACT_BITS
    return weight.astype(np.float32), bias.astype(np.float32)


def _network(arrays: dict, kind: str, channels: int, out: dict) -> None:
    for i in (1, 2, 3):
        out[f"{kind}_encoder.conv{i}.weight"], out[f"{kind}_encoder.conv{i}.bias"] = _layer(arrays, f"{kind}.enc{i}")
    for i in (1, 2):
        weight, bias = _layer(arrays, f"{kind}.feat{i}")
        out[f"{kind}_features.conv{i}.weight"] = weight
        out[f"{kind}_features.conv{i}.bias"] = bias
    heads = f"{kind}_heads"
    rows = [dy + HALF for dy, _ in CAUSAL]
    cols = [dx + HALF for _, dx in CAUSAL]
    for h in range(channels):
        first, first_bias = _layer(arrays, f"{kind}.head{h}.first")
        taps = TAPS * (channels + 1)
        spatial = np.zeros((k.HIDDEN, channels + 1, k.CONTEXT, k.CONTEXT), np.float32)
        spatial[:, :, rows, cols] = first[:, :taps].reshape(k.HIDDEN, channels + 1, TAPS)
        out[f"{heads}.spatial.{h}.weight"] = spatial
        out[f"{heads}.point.{h}.weight"] = first[:, taps:, None, None].copy()
        out[f"{heads}.point.{h}.bias"] = first_bias
        for layer in ("layer1", "layer2"):
            weight, bias = _layer(arrays, f"{kind}.head{h}.{layer}")
            out[f"{heads}.{layer}.{h}.weight"], out[f"{heads}.{layer}.{h}.bias"] = weight[:, :, None, None], bias
        weight, bias = _layer(arrays, f"{kind}.head{h}.out")
        means = slice(k.MIXTURES, 2 * k.MIXTURES)
        weight[means] /= k.MEAN_SCALE
        bias[means] /= k.MEAN_SCALE
        out[f"{heads}.out.{h}.weight"], out[f"{heads}.out.{h}.bias"] = weight[:, :, None, None], bias


def thaw_arrays(arrays: dict) -> dict[str, np.ndarray]:
    """Torch state_dict names -> float32 arrays of a natural model file's integer arrays."""
    out: dict[str, np.ndarray] = {}
    _network(arrays, "gray", 1, out)
    _network(arrays, "rgb", 3, out)
    return out


def thaw(path: Path) -> dict[str, np.ndarray]:
    arrays, config = modelfile.read_arrays(path.read_bytes())
    if config.get("kind") != "natural":
        raise ValueError(f"{path} is not a natural-image model file")
    return thaw_arrays(arrays)
