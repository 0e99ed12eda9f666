"""Freeze a trained float VAE into the integer model file the coder runs.

    python -m bbzip.vae.freeze build/vae_float.npz --data ../shared/data/mnist --name mnist-vae
    python -m bbzip.vae.freeze build/vae_binary_float.npz --name mnist-binary-vae

Weights become integers with a power-of-two scale per output channel (so requantising is a
shift); every nonlinearity the probabilities need becomes a table. Float maths (exp, erf)
is used here, once; the coder only ever reads the stored integers. Prints the rate the
freeze costs: the float model's ELBO against the frozen model's real coded size.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

from bbzip.constants import LOG_SCALE, LOG_SIGMA, MEAN_SCALE
from bbzip.vae import fixed
from bbzip.vae.network import CONTEXT_MASK

LAYERS = ["enc_conv1", "enc_conv2", "enc_fc1", "enc_fc2", "dec_fc1", "dec_fc2", "head1", "head2"]
DECONVS = ["dec_deconv1", "dec_deconv2"]


def quantise_layer(weight: np.ndarray, bias: np.ndarray, out_axis: int = 0) -> dict[str, np.ndarray]:
    """Integer weights with a per-output-channel power-of-two scale, and matching biases."""
    moved = np.moveaxis(weight.astype(np.float64), out_axis, 0)
    peak = np.abs(moved.reshape(len(moved), -1)).max(axis=1)
    shift = np.floor(np.log2(fixed.WEIGHT_LIMIT / np.maximum(peak, 1e-12))).astype(np.int64)
    shift = np.clip(shift, 1, 40)
    scale = np.ldexp(1.0, shift).reshape((-1,) + (1,) * (moved.ndim - 1))
    w_int = np.moveaxis(np.round(moved * scale), 0, out_axis).astype(np.int32)
    b_int = np.round(bias.astype(np.float64) * np.ldexp(1.0, shift + fixed.ACT_BITS)).astype(np.int64)
    assert np.abs(w_int).max() <= fixed.WEIGHT_LIMIT
    return {"w": w_int, "b": b_int, "shift": shift}


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
    normal = NormalDist()
    arrays["sigmoid"] = fixed.cdf_table(lambda t: 1 / (1 + np.exp(-t)))
    arrays["normal_cdf"] = fixed.cdf_table(np.vectorize(normal.cdf))
    arrays["neg_exp"] = fixed.neg_exp_table()
    arrays["inv_scale"] = fixed.log_scale_table(*LOG_SCALE)
    arrays["inv_sigma"] = fixed.log_scale_table(*LOG_SIGMA)
    buckets = 1 << latent_bits
    inner = [normal.inv_cdf(j / buckets) for j in range(1, buckets)]
    edges = np.round(np.array(inner) * (1 << fixed.ACT_BITS)).astype(np.int64)
    assert (np.diff(edges) > 0).all(), "latent buckets too fine for the fixed-point grid"
    arrays["latent_edges"] = np.concatenate([[-(1 << 30)], edges, [1 << 30]])
    centres = [normal.inv_cdf((j + 0.5) / buckets) for j in range(buckets)]
    arrays["latent_centres"] = np.round(np.array(centres) * (1 << fixed.ACT_BITS)).astype(np.int64)
    # Centres of the coarser equal-mass buckets the first image may use: precision q
    # bucket j lives at index 2**q - 1 + j.
    coarse = [normal.inv_cdf((j + 0.5) / (1 << q)) for q in range(latent_bits + 1) for j in range(1 << q)]
    arrays["coarse_centres"] = np.round(np.array(coarse) * (1 << fixed.ACT_BITS)).astype(np.int64)
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
    if evaluation is not None:
        config["evaluation"] = evaluation
    arrays["config_json"] = np.frombuffer(json.dumps(config, sort_keys=True).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), config


def float_elbo(float_npz: Path, images: np.ndarray) -> float | None:
    """Test ELBO of the float model in bits/pixel (needs torch; None without it)."""
    try:
        import torch

        from bbzip.training.train import evaluate, model_from_arrays
    except ImportError:
        return None
    model = model_from_arrays(dict(np.load(float_npz, allow_pickle=False)))
    torch.manual_seed(0)
    return evaluate(model, images)[0]


def _write(path: Path, data: bytes) -> None:
    """Replace `path` whole or not at all: a crash mid-write must not leave a model that no
    longer matches the manifest's hash."""
    from bbzip.fileio import atomic_output

    with atomic_output(str(path), overwrite=True) as f:
        f.write(data)


def main(argv: list[str] | None = None) -> None:
    from bbzip.training.mnist import binarize, read_idx_images
    from bbzip.vae import bitsback
    from bbzip.vae.model import parse_model

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("float_npz", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--name", default="mnist-vae")
    parser.add_argument("--out-dir", type=Path, default=Path("models"))
    parser.add_argument("--eval-images", type=int, default=10000)
    args = parser.parse_args(argv)

    data, config = freeze(args.float_npz, args.name)
    model = parse_model(data)
    test = read_idx_images(args.data / "t10k-images-idx3-ubyte.gz")
    if model.binary:  # binarized MNIST: the fixed-seed stochastic binarisation
        test = binarize(test)
    test = test[: args.eval_images]
    start = time.perf_counter()
    payload = bitsback.encode(model, test)
    seconds = time.perf_counter() - start
    coded = len(payload) * 8 / test.size
    elbo = float_elbo(args.float_npz, test)
    print(f"float ELBO {elbo if elbo is None else round(elbo, 4)} bits/pixel; frozen coded rate "
          f"{coded:.4f} bits/pixel on {len(test)} test images ({seconds:.1f} s to encode)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{args.name}.npz"
    _write(path, data)
    manifest_path = args.out_dir / "manifest.json"
    entries = json.loads(manifest_path.read_text())["models"] if manifest_path.exists() else []
    entry = {
        "name": args.name, "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
        "input_shape": config["input_shape"], "likelihood": config["likelihood"],
        "latent": config["latent"], "precisions": {key: config[key] for key in
                                                   ("pixel_precision", "posterior_precision", "prior_precision")},
        "test_bits_per_pixel": round(coded, 4), "test_images": len(test),
        "test_data": f"{len(test)} {'binarized (seed 0) ' if model.binary else ''}MNIST test images",
        "float_test_elbo": None if elbo is None else round(elbo, 4),
    }
    entries = [e for e in entries if e["name"] != args.name] + [entry]
    _write(manifest_path, (json.dumps({"models": entries}, indent=2) + "\n").encode())
    print(f"wrote {path} ({len(data)} bytes, id {entry['sha256'][:16]}) and {manifest_path}")


if __name__ == "__main__":
    main()
