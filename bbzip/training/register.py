"""Measure a model that `bbzip train` wrote on the MNIST test set and ship it in models/.

    bbzip train TRAIN-IDX ... -o build/mnist-vae.npz       (make model / make model-binary)
    python -m bbzip.training.register build/mnist-vae.npz --data ../shared/data/mnist

The shipped models are built by the same code path as any user's (`bbzip train`); this step
only adds the test-set rate and the manifest entry (hash) that `models/` requires.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path


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
    parser.add_argument("model", type=Path, help="the model file bbzip train wrote (NAME.npz)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--out-dir", type=Path, default=Path("models"))
    parser.add_argument("--eval-images", type=int, default=10000)
    args = parser.parse_args(argv)

    data = args.model.read_bytes()
    model = parse_model(data)
    config = model.config
    args.name = config["name"]
    test = read_idx_images(args.data / "t10k-images-idx3-ubyte.gz")
    if model.binary:  # binarized MNIST: the fixed-seed stochastic binarisation
        test = binarize(test)
    test = test[: args.eval_images]
    start = time.perf_counter()
    payload = bitsback.encode(model, test)
    seconds = time.perf_counter() - start
    coded = len(payload) * 8 / test.size
    elbo = (config.get("evaluation") or {}).get("float_elbo")
    print(f"float ELBO {elbo} bits/pixel (validation); frozen coded rate "
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
        "float_validation_elbo": elbo,
    }
    entries = [e for e in entries if e["name"] != args.name] + [entry]
    _write(manifest_path, (json.dumps({"models": entries}, indent=2) + "\n").encode())
    print(f"wrote {path} ({len(data)} bytes, id {entry['sha256'][:16]}) and {manifest_path}")


if __name__ == "__main__":
    main()
