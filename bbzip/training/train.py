"""Train the MNIST VAE under a wall-clock budget; writes float weights as .npz (no pickle).

    python -m bbzip.training.train --data ../shared/data/mnist --minutes 90 --out build/vae_float.npz
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from bbzip.training.mnist import read_idx_images
from bbzip.training.model import VAE


def evaluate(model: VAE, images: np.ndarray, batch: int = 500) -> tuple[float, float]:
    """Mean (ELBO, KL) in bits per pixel; the sampled z makes this a one-sample estimate."""
    model.eval()
    total = kl_total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i : i + batch]).float().unsqueeze(1)
            loss, _, kl = model(x)
            total += loss.sum().item()
            kl_total += kl.sum().item()
    model.train()
    pixels = len(images) * 784
    return total / pixels, kl_total / pixels


def save_float_npz(model: VAE, path: Path, meta: dict) -> None:
    arrays = {name: t.detach().cpu().numpy().astype(np.float32) for name, t in model.state_dict().items()}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--minutes", type=float, default=90.0)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--validation", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--free-nats", type=float, default=0.5)
    parser.add_argument("--out", default="build/vae_float.npz")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    data = Path(args.data)
    train_all = read_idx_images(data / "train-images-idx3-ubyte.gz")
    test = read_idx_images(data / "t10k-images-idx3-ubyte.gz")
    order = rng.permutation(len(train_all))
    valid = train_all[order[: args.validation]]
    train = train_all[order[args.validation :]]

    model = VAE(latent=args.latent)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    budget = args.minutes * 60.0
    start = time.monotonic()
    best = math.inf
    step = 0
    for epoch in range(args.epochs):
        perm = rng.permutation(len(train))
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            frac = (time.monotonic() - start) / budget
            if frac >= 1.0:
                break
            # Linear warm-up, then cosine decay over the time budget. No KL annealing: free bits
            # (see VAE.forward) keep the latent in use without letting the encoder run wild.
            lr = args.lr * min(1.0, (step + 1) / 300) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in opt.param_groups:
                group["lr"] = lr
            beta = 1.0
            x = torch.from_numpy(train[perm[i : i + args.batch]]).float().unsqueeze(1)
            # Free bits through the first half, gone by 80 %: the end optimises the true ELBO.
            free_nats = args.free_nats * min(1.0, max(0.0, (0.8 - frac) / 0.3))
            loss, _, kl = model(x, beta=beta, free_nats=free_nats)
            opt.zero_grad()
            (loss.mean() / 784).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            if step % 100 == 0:
                print(f"step {step} epoch {epoch} lr {lr:.2e} train {loss.mean().item() / 784:.4f} "
                      f"kl {kl.mean().item() / 784:.4f} t {time.monotonic() - start:.0f}s", flush=True)
        bpp, kl_bpp = evaluate(model, valid[:2000])
        elapsed = time.monotonic() - start
        print(f"== epoch {epoch} valid {bpp:.4f} bpp (kl {kl_bpp:.4f}) at {elapsed:.0f}s", flush=True)
        if bpp < best:
            best = bpp
            meta = {"seed": args.seed, "epoch": epoch, "steps": step, "seconds": round(elapsed),
                    "valid_bpp": round(bpp, 4), "latent": args.latent}
            save_float_npz(model, out, meta)
        if elapsed >= budget:
            break
    model_best = VAE(latent=args.latent)
    state = np.load(out, allow_pickle=False)
    model_best.load_state_dict({k: torch.from_numpy(state[k]) for k in model.state_dict()})
    test_bpp, test_kl = evaluate(model_best, test)
    print(f"== done: best valid {best:.4f}; test ELBO {test_bpp:.4f} bpp (kl {test_kl:.4f}); "
          f"wall {time.monotonic() - start:.0f}s seed {args.seed}", flush=True)


if __name__ == "__main__":
    main()
