"""Freeze a trained float VAE into the integer model file the coder runs (no torch here;
`python -m bbzip.training.register` freezes, measures and registers the shipped models).

Weights become integers with a power-of-two scale per output channel (so requantising is a
shift); every nonlinearity the probabilities need becomes a table. Float maths (exp, erf)
is used here, once; the coder only ever reads the stored integers. Prints the rate the
freeze costs: the float model's ELBO against the frozen model's real coded size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bbzip.constants import LOG_SCALE, LOG_SIGMA, MEAN_SCALE
from bbzip.fixedpoint import fixed, invariants
from bbzip.fixedpoint.freeze import model_tables, pack_model, quantise_layer
from bbzip.vae.network import CONTEXT_MASK

LAYERS = ["enc_conv1", "enc_conv2", "enc_fc1", "enc_fc2", "dec_fc1", "dec_fc2", "head1", "head2"]
DECONVS = ["dec_deconv1", "dec_deconv2"]


def freeze(float_npz: Path, name: str, latent_bits: int = 8) -> tuple[bytes, dict]:
    src = dict(np.load(float_npz, allow_pickle=False))
    return freeze_arrays(src, name, json.loads(src["meta_json"].tobytes()), latent_bits)


def freeze_arrays(src, name: str, meta: dict, latent_bits: int = 8,
                  evaluation: dict | None = None) -> tuple[bytes, dict]:
    """Float weights (torch state_dict names) -> (model file bytes, config).

    ``meta["likelihood"]`` says which pixel model was trained ("logistic" when absent);
    ``evaluation`` (the frozen model's measured rate) is stored in the config for listings.
    """
    arrays: dict[str, np.ndarray] = {}
    binary = meta.get("likelihood", "logistic") == "bernoulli"
    k = 0 if binary else src["head2.bias"].shape[0] // 3
    for layer in LAYERS + DECONVS:
        weight, bias = src[f"{layer}.weight"], src[f"{layer}.bias"]
        if layer == "head2" and not binary:  # fold mean = 64 * raw + 127.5 into the layer
            weight, bias = weight.copy(), bias.copy()
            weight[k : 2 * k] *= MEAN_SCALE
            bias[k : 2 * k] = bias[k : 2 * k] * MEAN_SCALE + 127.5
        out_axis = 1 if layer in DECONVS else 0
        for key, value in quantise_layer(weight, bias, out_axis).items():
            arrays[f"{layer}.{key}"] = value
    ctx = src["ctx_conv.weight"][:, 0][:, CONTEXT_MASK]  # (hidden, 12 taps)
    for key, value in quantise_layer(ctx, np.zeros(len(ctx))).items():
        arrays[f"ctx.{key}"] = value
    levels = 2 if binary else 256
    arrays["input_lut"] = np.round(np.arange(levels) / (levels - 1) * (1 << fixed.ACT_BITS)).astype(np.int64)
    arrays.update(model_tables(LOG_SCALE, LOG_SIGMA, latent_bits))
    likelihood = "Bernoulli" if binary else f"discretized logistic mixture ({k})"
    config = {
        "format": 1, "name": name, "latent": int(src["enc_fc2.bias"].shape[0] // 2),
        "hidden": int(src["head1.bias"].shape[0]), "mixtures": int(k), "pixel_levels": levels,
        "likelihood": f"{likelihood} with 12-pixel causal context",
        # Binary pixels are mostly near-certain: a finer grid makes their cost negligible.
        "input_shape": [28, 28], "pixel_precision": 24 if binary else 20, "posterior_precision": 20,
        "prior_precision": latent_bits, "log_scale_min": LOG_SCALE[0], "log_sigma_min": LOG_SIGMA[0],
        "act_bits": fixed.ACT_BITS, "training": meta,
    }
    invariants.check_digit_model(arrays, config)  # as loading will: refuse now, not then
    return pack_model(arrays, config, evaluation)
