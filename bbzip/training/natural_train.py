"""Train the natural-image VAE on random crops of PGM/PPM/NPY images of any size.

    python -m bbzip.training.natural_train --data ../shared/data/natural ../shared/data/photos-train \
        --minutes 60 --init models/natural-vae.npz --out build/natural_float.npz

The float weights are saved as .npz (torch state_dict names, no pickle) at every
evaluation and at the end, so a run cut short still leaves a usable checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from bbzip.natural.constants import BLOCK
from bbzip.natural.images import load_file
from bbzip.training.natural_model import NaturalVAE, to_coding_order
from bbzip.training.photos import dev_files, split_files

CROP = 48
# The development photos are monitored on their centres: a whole photo takes minutes.
DEV_CROP = 256


def luma(rgb: np.ndarray) -> np.ndarray:
    """(R + 2G + B) / 4: extra gray training data from colour photos."""
    r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
    return ((r + 2 * g + b + 2) >> 2).astype(np.uint8)


class CropSampler:
    """Random crops with random flips and quarter turns, weighted by image area."""

    def __init__(self, images: list[np.ndarray], rng: np.random.Generator):
        # Crops of CROP pixels, or of whole blocks of the smallest image when it is smaller.
        self.crop = min([CROP] + [min(im.shape[:2]) // BLOCK * BLOCK for im in images])
        if self.crop < BLOCK:
            raise ValueError(f"images must be at least {BLOCK}x{BLOCK} to train on")
        self.images = images
        # By the square root of the area: a few huge, mostly black scans (hubble, retina)
        # would otherwise fill most batches.
        area = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.weights = np.sqrt(area) / np.sqrt(area).sum()
        self.rng = rng

    def batch(self, n: int) -> np.ndarray:
        out = []
        for index in self.rng.choice(len(self.images), size=n, p=self.weights):
            im = self.images[index]
            size = self.crop
            top = self.rng.integers(0, im.shape[0] - size + 1)
            left = self.rng.integers(0, im.shape[1] - size + 1)
            crop = im[top : top + size, left : left + size]
            crop = np.rot90(crop, self.rng.integers(4))
            if self.rng.integers(2):
                crop = crop[:, ::-1]
            out.append(crop)
        return np.stack(out)


def as_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float in coding order."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    return to_coding_order(x) if x.shape[1] == 3 else x


def load_set(files: list[Path]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    gray, rgb = [], []
    for path in files:
        for image in load_file(path):
            (rgb if image.shape[-1] == 3 else gray).append(image)
    return gray, rgb


@torch.no_grad()
def evaluate(model: NaturalVAE, images: list[np.ndarray]) -> float:
    """Bits per subpixel (pixels plus latent KL) on the images cropped to whole blocks."""
    model.eval()
    bits = count = 0.0
    for image in images:
        h, w = (image.shape[0] // BLOCK) * BLOCK, (image.shape[1] // BLOCK) * BLOCK
        x = as_tensor(image[None, :h, :w])
        pixel_bits, kl_bits = model(x)
        bits += float(pixel_bits.sum() + kl_bits.sum())
        count += x.numel()
    model.train()
    return bits / count


def save(model: NaturalVAE, path: Path, meta: dict) -> None:
    arrays = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def train(train_images: list[np.ndarray], validation: list[np.ndarray], minutes: float, out: Path,
          seed: int = 0, batch: int = 16, lr: float = 2e-3, eval_every: float = 8.0,
          log=print, init: dict | None = None, note: dict | None = None) -> dict:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gray = [im for im in train_images if im.shape[-1] == 1]
    rgb = [im for im in train_images if im.shape[-1] == 3]
    gray_pool = gray + [luma(im)[..., None] for im in rgb]
    # Colour photos get three times the crops: they hold most of the subpixels users send.
    pools = [(pool, size) for pool, size in ((gray_pool, batch // 2), (rgb, 3 * batch // 2)) if pool]
    samplers = [CropSampler(pool, rng) for pool, _ in pools]
    sizes = [size for _, size in pools]
    model = NaturalVAE()
    if init is not None:  # warm start from a float checkpoint: layers whose shapes match
        own = model.state_dict()
        start_from = {k: torch.from_numpy(v) for k, v in init.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(start_from, strict=False)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.monotonic()
    budget = minutes * 60
    meta = {"seed": seed, "crop": min(s.crop for s in samplers), "batch": batch, "lr": lr, **(note or {})}
    next_eval, step, running = eval_every * 60, 0, None
    while (elapsed := time.monotonic() - start) < budget:
        frac = elapsed / budget
        for group in optimiser.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * frac)) + lr * 0.02
        loss_sum = subpixels = 0
        optimiser.zero_grad()
        for sampler, size in zip(samplers, sizes):
            x = as_tensor(sampler.batch(size))
            pixel_bits, kl_bits = model(x)
            loss_sum = loss_sum + (pixel_bits + kl_bits).sum()
            subpixels += x.numel()
        loss = loss_sum / subpixels
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        step += 1
        loss = loss.detach()
        running = float(loss) if running is None else 0.98 * running + 0.02 * float(loss)
        if step % 100 == 0:
            log(f"step {step} {elapsed / 60:.1f} min train {running:.4f} bits/subpixel", flush=True)
        if elapsed >= next_eval and validation:
            meta.update(steps=step, minutes=round(elapsed / 60, 2), train_bits=running)
            meta["validation_bits"] = evaluate(model, validation)
            log(f"step {step} validation {meta['validation_bits']:.4f} bits/subpixel", flush=True)
            save(model, out, meta)
            next_eval += eval_every * 60
    meta.update(steps=step, minutes=round((time.monotonic() - start) / 60, 2), train_bits=running)
    if validation:
        meta["validation_bits"] = evaluate(model, validation)
        log(f"final validation {meta['validation_bits']:.4f} bits/subpixel")
    save(model, out, meta)
    return meta


def train_natural_model(images: list[np.ndarray], name: str, minutes: float, seed: int = 0,
                        validation: float = 0.1, log=print) -> tuple[bytes, dict]:
    """`bbzip train` for images of any size: train, freeze, and measure the frozen model's
    real coded rate on held-out images. Returns (model file bytes, config)."""
    import tempfile

    from bbzip.natural.freeze import coded_rate, freeze_arrays

    order = np.random.default_rng(seed).permutation(len(images))
    held = int(validation) if validation >= 1 else round(len(images) * validation)
    held = min(held, len(images) - 1)
    valid = [images[i] for i in order[:held] if min(images[i].shape[:2]) >= BLOCK]
    train_images = [images[i] for i in order[held:]]
    with tempfile.TemporaryDirectory() as scratch:
        meta = train(train_images, valid, minutes, Path(scratch) / "float.npz", seed=seed, log=log)
        src = dict(np.load(Path(scratch) / "float.npz", allow_pickle=False))
    src.pop("meta_json")
    evaluation = None
    if valid:
        data, _ = freeze_arrays(src, name, meta)
        rate, _, _ = coded_rate(data, valid)
        evaluation = {"bits_per_pixel": round(rate, 4), "data": f"{len(valid)} validation images (bits/subpixel)"}
    return freeze_arrays(src, name, meta, evaluation)


def centre_crop(image: np.ndarray, size: int = DEV_CROP) -> np.ndarray:
    top, left = max(0, (image.shape[0] - size) // 2), max(0, (image.shape[1] - size) // 2)
    return image[top : top + size, left : left + size]


def load_init(path: Path) -> dict:
    """Float weights to start from: a float checkpoint, or a frozen model file thawed."""
    arrays = dict(np.load(path, allow_pickle=False))
    if "config_json" in arrays:
        from bbzip.training.natural_thaw import thaw

        return thaw(path)
    arrays.pop("meta_json", None)
    return arrays


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="photo folders (each split by "
                        "bbzip.training.photos: validation and development photos are never trained on)")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", type=Path, default=Path("build/natural_float.npz"))
    parser.add_argument("--init", type=Path, help="float checkpoint or natural model file to start from")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_files = [p for folder in args.data for p in split_files(folder)[0]]
    monitor_files = [p for folder in args.data for p in dev_files(folder)]
    print(f"training on {len(train_files)} images, monitoring on centre crops of {len(monitor_files)}")
    train_images = [im for group in load_set(train_files) for im in group]
    monitor = [centre_crop(im) for group in load_set(monitor_files) for im in group]
    init = load_init(args.init) if args.init else None
    note = {"init": args.init.name} if args.init else None
    meta = train(train_images, monitor, args.minutes, args.out, seed=args.seed, lr=args.lr, init=init, note=note)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
