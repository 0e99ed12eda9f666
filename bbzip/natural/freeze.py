"""Freeze a trained float natural-image VAE into the integer model file the coder runs.

    python -m bbzip.natural.freeze build/natural_float.npz --data ../shared/data/natural

Weights become integers with a power-of-two scale per output channel, every nonlinearity a
table (as bbzip.vae.freeze does for the digit models). Then the frozen model codes the
validation photos for real and the model file and its manifest entry are written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from bbzip.fixedpoint import fixed, invariants
from bbzip.fixedpoint.freeze import model_tables, pack_model, quantise_layer
from bbzip.natural import constants as k
from bbzip.natural.model import DEFAULT_NAME, FORMAT, KIND, parse_natural
from bbzip.natural.network import CAUSAL, HALF

LATENT_BITS = 8


def _store(arrays: dict, name: str, weight: np.ndarray, bias: np.ndarray) -> None:
    for key, value in quantise_layer(weight, bias).items():
        arrays[f"{name}.{key}"] = value


def _network(src: dict, arrays: dict, kind: str, channels: int) -> None:
    for i in (1, 2, 3):
        _store(arrays, f"{kind}.enc{i}", src[f"{kind}_encoder.conv{i}.weight"], src[f"{kind}_encoder.conv{i}.bias"])
    for i in (1, 2):
        _store(arrays, f"{kind}.feat{i}", src[f"{kind}_features.conv{i}.weight"], src[f"{kind}_features.conv{i}.bias"])
    rows = [dy + HALF for dy, _ in CAUSAL]
    cols = [dx + HALF for _, dx in CAUSAL]
    heads = f"{kind}_heads"
    for h in range(channels):
        spatial = src[f"{heads}.spatial.{h}.weight"][:, :, rows, cols]  # (hidden, C + 1, taps)
        point = src[f"{heads}.point.{h}.weight"][:, :, 0, 0]
        first = np.concatenate([spatial.reshape(len(spatial), -1), point], axis=1)
        _store(arrays, f"{kind}.head{h}.first", first, src[f"{heads}.point.{h}.bias"])
        for layer in ("layer1", "layer2"):
            _store(arrays, f"{kind}.head{h}.{layer}", src[f"{heads}.{layer}.{h}.weight"][:, :, 0, 0],
                   src[f"{heads}.{layer}.{h}.bias"])
        out_w = src[f"{heads}.out.{h}.weight"][:, :, 0, 0].astype(np.float64).copy()
        out_b = src[f"{heads}.out.{h}.bias"].astype(np.float64).copy()
        means = slice(k.MIXTURES, 2 * k.MIXTURES)
        out_w[means] *= k.MEAN_SCALE
        out_b[means] *= k.MEAN_SCALE
        _store(arrays, f"{kind}.head{h}.out", out_w, out_b)


def freeze_arrays(src: dict, name: str, meta: dict, evaluation: dict | None = None) -> tuple[bytes, dict]:
    arrays = model_tables((k.LOG_SCALE_MIN, k.LOG_SCALE_MAX), (k.LOG_SIGMA_MIN, k.LOG_SIGMA_MAX), LATENT_BITS)
    _network(src, arrays, "gray", 1)
    _network(src, arrays, "rgb", 3)
    config = {
        "kind": KIND, "format": FORMAT, "name": name,
        "likelihood": f"discretized logistic mixture ({k.MIXTURES}) offset from MED, 24-tap causal context",
        "input_shape": ["H", "W", "1 or 3"], "latent": k.LATENT, "block": k.BLOCK, "hidden": k.HIDDEN,
        "pixel_precision": 20, "posterior_precision": 20, "prior_precision": LATENT_BITS,
        "log_scale_min": k.LOG_SCALE_MIN, "log_sigma_min": k.LOG_SIGMA_MIN, "act_bits": fixed.ACT_BITS,
        "training": meta,
    }
    invariants.check_natural_model(arrays, config)  # as loading will: refuse now, not then
    return pack_model(arrays, config, evaluation)


def freeze(float_npz: Path, name: str) -> tuple[bytes, dict]:
    src = dict(np.load(float_npz, allow_pickle=False))
    return freeze_arrays(src, name, json.loads(src.pop("meta_json").tobytes()))


def coded_rate(data: bytes, images: list[np.ndarray]) -> tuple[float, float, float]:
    """(bits per subpixel, encode seconds, decode seconds) of the frozen model, for real."""
    report = coded_report(data, images)
    return report["bits"] / report["subpixels"], report["encode_s"], report["decode_s"]


def coded_report(data: bytes, images: list[np.ndarray]) -> dict:
    """Per image and in total: bits, of which pixels, and seconds both ways (each round trip
    is checked)."""
    from bbzip.natural.coder import decode, encode

    model = parse_natural(data, hashlib.sha256(data).digest()[:8])
    report = {"bits": 0.0, "pixel_bits": 0.0, "subpixels": 0, "encode_s": 0.0, "decode_s": 0.0, "images": []}
    for image in images:
        stats: dict = {}
        start = time.perf_counter()
        payload = encode(model, image[None], stats)
        middle = time.perf_counter()
        back = decode(model, payload, (1, *image.shape))
        end = time.perf_counter()
        if not np.array_equal(back[0], image):
            raise RuntimeError("round trip failed")
        row = {"shape": list(image.shape), "bits": 8 * len(payload), "pixel_bits": stats["pixel_bits"],
               "subpixels": image.size, "encode_s": middle - start, "decode_s": end - middle}
        report["images"].append(row)
        for key in ("bits", "pixel_bits", "subpixels", "encode_s", "decode_s"):
            report[key] += row[key]
    return report


def main(argv: list[str] | None = None) -> None:
    from bbzip.natural.images import load_image_file
    from bbzip.training.photos import split_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("float_npz", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/natural"))
    parser.add_argument("--name", default=DEFAULT_NAME)
    parser.add_argument("--out-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    data, config = freeze(args.float_npz, args.name)
    _, validation = split_files(args.data)
    images = [load_image_file(p) for p in validation]
    report = coded_report(data, images)
    for path, row in zip(validation, report["images"]):
        print(f"  {path.name}: {row['bits'] / row['subpixels']:.4f} bits/subpixel "
              f"(pixels {row['pixel_bits'] / row['subpixels']:.4f}), decode {row['decode_s']:.1f} s")
    rate = report["bits"] / report["subpixels"]
    megapixels = report["subpixels"] / 1e6
    print(f"frozen coded rate {rate:.4f} bits/subpixel on {len(images)} validation images, of which pixels "
          f"{report['pixel_bits'] / report['subpixels']:.4f} (float ELBO {config['training'].get('validation_bits')}, "
          f"on whole-block crops); encode {report['encode_s'] / megapixels:.2f} s, "
          f"decode {report['decode_s'] / megapixels:.2f} s per million subpixels")
    from bbzip.fileio import atomic_output

    path = args.out_dir / f"{args.name}.npz"
    with atomic_output(str(path), overwrite=True) as out:
        out.write(data)
    manifest_path = args.out_dir / "manifest.json"
    entries = json.loads(manifest_path.read_text())["models"] if manifest_path.exists() else []
    entry = {
        "name": args.name, "file": path.name, "sha256": hashlib.sha256(data).hexdigest(),
        "kind": KIND, "input_shape": ["H", "W"], "likelihood": "logistic mixture (4) about MED, 7x7 causal",
        "latent": config["latent"], "precisions": {key: config[key] for key in
                                                   ("pixel_precision", "posterior_precision", "prior_precision")},
        "test_bits_per_pixel": round(rate, 4), "test_images": len(images),
        "test_data": f"{len(images)} validation photos (per subpixel)",
        "float_test_elbo": config["training"].get("validation_bits"),
    }
    entries = [e for e in entries if e["name"] != args.name] + [entry]
    with atomic_output(str(manifest_path), overwrite=True) as out:
        out.write((json.dumps({"models": entries}, indent=2) + "\n").encode())
    print(f"wrote {path} ({len(data)} bytes, id {entry['sha256'][:16]}) and {manifest_path}")


if __name__ == "__main__":
    main()
