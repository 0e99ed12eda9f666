"""Freezing a float network into integers, shared by the digit and the natural-image models.

Float maths (log2, exp, erf) runs here, once, when a model file is written; the coders only
ever read the stored integers. ``invariants`` then checks what integer exactness needs of
them, at freeze time as at load time.
"""

from __future__ import annotations

import io
import json
from statistics import NormalDist

import numpy as np

from bbzip.fixedpoint import fixed


def quantise_layer(weight: np.ndarray, bias: np.ndarray, out_axis: int = 0) -> dict[str, np.ndarray]:
    """Integer weights with a per-output-channel power-of-two scale, and matching biases."""
    moved = np.moveaxis(weight.astype(np.float64), out_axis, 0)
    peak = np.abs(moved.reshape(len(moved), -1)).max(axis=1)
    shift = np.floor(np.log2(fixed.WEIGHT_LIMIT / np.maximum(peak, 1e-12))).astype(np.int64)
    shift = np.clip(shift, fixed.MIN_SHIFT, fixed.MAX_SHIFT)
    scale = np.ldexp(1.0, shift).reshape((-1,) + (1,) * (moved.ndim - 1))
    w_int = np.moveaxis(np.round(moved * scale), 0, out_axis).astype(np.int32)
    b_int = np.round(bias.astype(np.float64) * np.ldexp(1.0, shift + fixed.ACT_BITS)).astype(np.int64)
    return {"w": w_int, "b": b_int, "shift": shift}


def model_tables(log_scale: tuple[float, float], log_sigma: tuple[float, float],
                 latent_bits: int) -> dict[str, np.ndarray]:
    """Every table a model's probabilities are read from: the logistic and normal CDFs,
    exp(-d) for mixture weights, inverse pixel scales and latent sigmas over their log
    ranges, and the prior's 2**latent_bits equal-mass latent buckets (edges with +-2**30
    sentinels, centres, and the centres of every coarser bucketing: precision q's bucket j
    at index 2**q - 1 + j)."""
    normal = NormalDist()
    buckets = 1 << latent_bits
    inner = [normal.inv_cdf(j / buckets) for j in range(1, buckets)]
    edges = np.round(np.array(inner) * (1 << fixed.ACT_BITS)).astype(np.int64)
    if not (np.diff(edges) > 0).all():
        raise ValueError("latent buckets too fine for the fixed-point grid")
    centres = [normal.inv_cdf((j + 0.5) / buckets) for j in range(buckets)]
    coarse = [normal.inv_cdf((j + 0.5) / (1 << q)) for q in range(latent_bits + 1) for j in range(1 << q)]
    return {
        "sigmoid": fixed.cdf_table(lambda t: 1 / (1 + np.exp(-t))),
        "normal_cdf": fixed.cdf_table(np.vectorize(normal.cdf)),
        "neg_exp": fixed.neg_exp_table(),
        "inv_scale": fixed.log_scale_table(*log_scale),
        "inv_sigma": fixed.log_scale_table(*log_sigma),
        "latent_edges": np.concatenate([[-fixed.EDGE_SENTINEL], edges, [fixed.EDGE_SENTINEL]]),
        "latent_centres": np.round(np.array(centres) * (1 << fixed.ACT_BITS)).astype(np.int64),
        "coarse_centres": np.round(np.array(coarse) * (1 << fixed.ACT_BITS)).astype(np.int64),
    }


def pack_model(arrays: dict[str, np.ndarray], config: dict, evaluation: dict | None = None) -> tuple[bytes, dict]:
    """A model file: the arrays and the JSON config (with the measured rate, if any) in one
    compressed .npz, no pickle."""
    if evaluation is not None:
        config["evaluation"] = evaluation
    arrays["config_json"] = np.frombuffer(json.dumps(config, sort_keys=True).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), config
