"""Research (issue 17): what would corrections per pixel-only context class save?

For each photo: the encoder's sample and calibration as today (fit), and a disjoint lattice of
positions (eval, the lattice shifted by 3). Per channel, the corrections are fitted again per
context class on the fit sample (coordinate descent from the global ones) and both are costed
on the eval sample. Savings are scaled to the image and set against its real coded size.

    python scripts/context_research.py [--set dev|train|validation] [--classes spec ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bbzip.fixedpoint.cost import COST_ONE
from bbzip.natural import coder, sampling
from bbzip.natural.calibration import (
    ADJUST_SIZE,
    ADJUST_UNITS,
    _bits,
    _descend,
    block_sample,
    calibration,
    choose_calibration,
)
from bbzip.natural.constants import CODING_ORDER
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model
from bbzip.natural.network import mixture_outputs
from bbzip.natural.tiles import Tiling, choose_side
from bbzip.training.photos import dev_files, split_files

DATA = Path("/work/shared/data")


def _shifted(shift):
    original = sampling._lattice

    def lattice(shape, every):
        lanes, th, tw = shape
        index = (np.arange(tw)[None, None, :] + 5 * np.arange(th)[None, :, None]
                 + 7 * np.arange(lanes)[:, None, None] + shift)
        return index % every == 0
    return original, lattice


def neighbours(values, inside, lanes, rows, cols):
    """Causal neighbours (n, C) each: a left, b up, c up-left, d up-right, e left-left, f up-up,
    and whether each is a decoded pixel of the tile (pixel-only, as a decoder would see)."""
    th, tw = values.shape[1:3]
    out = {}
    for name, dy, dx in (("a", 0, -1), ("b", -1, 0), ("c", -1, -1), ("d", -1, 1), ("e", 0, -2), ("f", -2, 0)):
        r, q = rows + dy, cols + dx
        ok = (r >= 0) & (q >= 0) & (q < tw)
        rr, qq = np.clip(r, 0, th - 1), np.clip(q, 0, tw - 1)
        ok &= inside[lanes, rr, qq]
        out[name] = values[lanes, rr, qq].astype(np.int64)
        out[name + "?"] = ok[:, None]
    return out


def activity(nb, sample, k, kind):
    term = lambda p, q: np.where(nb[p + "?"] & nb[q + "?"], np.abs(nb[p] - nb[q]), 0)
    grad = term("a", "c") + term("b", "c") + term("d", "b") + term("a", "e") + term("b", "f")
    if kind == "own":
        act = grad[:, k]
    elif kind == "all":
        act = grad.sum(axis=1)
    elif kind == "own+res":  # plus the earlier channels' residuals of this pixel (pixel-only)
        act = grad[:, k] * 2 + (np.abs(sample.residual[:, :k]).sum(axis=1) * 4 if k else 0)
    elif kind == "all+res":
        act = grad.sum(axis=1) + (np.abs(sample.residual[:, :k]).sum(axis=1) * 4 if k else 0)
    elif kind == "own+res1":
        act = grad[:, k] + (np.abs(sample.residual[:, :k]).sum(axis=1) * 2 if k else 0)
    return act


def classes_of(act, n):
    """Log2 buckets of activity, the top ones merged into n classes."""
    level = np.zeros(len(act), dtype=np.int64)
    level[act > 0] = np.floor(np.log2(act[act > 0])).astype(np.int64) + 1
    return np.minimum(level // 2 if n <= 6 else level, n - 1) if n > 1 else level * 0


def bitlen(a):
    out = np.zeros(len(a), dtype=np.int64)
    out[a > 0] = np.floor(np.log2(a[a > 0])).astype(np.int64) + 1
    return out


def quantile_classes(act_fit, act_eval, n):
    edges = np.unique(np.quantile(act_fit, np.arange(1, n) / n, method="lower"))
    return np.searchsorted(edges, act_fit, side="right"), np.searchsorted(edges, act_eval, side="right")


def channel_params(sample, lane_offsets, k):
    return mixture_outputs(sample.outs[k], sample.base_of[k], sample.residual[:, :k], lane_offsets[sample.lanes, k])


def run(model, path, specs):
    image = load_image_file(path)
    image = image if image.ndim == 3 else image[..., None]
    h, w, c = image.shape
    x = image[..., list(CODING_ORDER)] if c == 3 else image
    x = x[None]
    t = time.time()
    payload = coder.encode(model, x[..., np.argsort(CODING_ORDER)] if c == 3 else x)
    coded_bits = 8 * len(payload)
    tiling = Tiling.of(1, h, w, choose_side(1, h, w))
    prep = coder._prepare(model, tiling, x)
    net = model.network(c)
    fit = block_sample(model, net, prep.canvas, prep.values, prep.mu)
    choice = choose_calibration(model, net, prep.canvas, prep.values, prep.mu, fit)
    original, shifted = _shifted(3)
    sampling._lattice = shifted
    try:
        ev = block_sample(model, net, prep.canvas, prep.values, prep.mu)
    finally:
        sampling._lattice = original
    lane_offsets = calibration(choice.offsets, choice.deltas, None, np.zeros(tiling.lanes, dtype=np.int64), c).offsets
    base_adjust = choice.adjust if choice.adjust is not None else np.zeros((c, ADJUST_SIZE), dtype=np.int64)
    scale = h * w / len(ev)  # eval positions -> whole image
    nb_fit = neighbours(prep.values, prep.canvas.inside, fit.lanes, *np.nonzero(prep.canvas.inside & sampling._lattice(prep.canvas.inside.shape, fit.every))[1:])
    nb_ev = neighbours(prep.values, prep.canvas.inside, ev.lanes, *np.nonzero(prep.canvas.inside & shifted(prep.canvas.inside.shape, ev.every))[1:])
    base_eval = 0
    pf, pe = [], []
    for k in range(c):
        pf.append(channel_params(fit, lane_offsets, k))
        pe.append(channel_params(ev, lane_offsets, k))
        base_eval += int(_bits(model.tables, pe[k] + base_adjust[k] * ADJUST_UNITS, ev.truth_of[k]).sum())
    row = {"name": path.name.split(".")[0][4:24], "sub": h * w * c, "coded": coded_bits,
           "est_pixels": base_eval / COST_ONE * scale}
    for spec in specs:
        kind, n, how = spec.split(":")
        n = int(n)
        saved = 0
        for k in range(c):
            af, ae = activity(nb_fit, fit, k, kind), activity(nb_ev, ev, k, kind)
            if how == "q":
                cf, ce = quantile_classes(af, ae, n)
            elif how == "edge":  # the levels, and the tile's first row and column apart
                rf, re_ = (np.nonzero(prep.canvas.inside & lat(prep.canvas.inside.shape, smp.every))[1:]
                           for lat, smp in ((sampling._lattice, fit), (shifted, ev)))
                cf = np.minimum(bitlen(af), n - 1) + n * ((rf[0] == 0) | (rf[1] == 0))
                ce = np.minimum(bitlen(ae), n - 1) + n * ((re_[0] == 0) | (re_[1] == 0))
            elif how.startswith("s"):  # bit length of activity >> shift, capped
                sh = int(how[1:])
                cf, ce = (np.minimum(bitlen(a >> sh), n - 1) for a in (af, ae))
            else:
                cf, ce = classes_of(af, n), classes_of(ae, n)
            for cls in range(2 * n if how == "edge" else n):
                mf, me = cf == cls, ce == cls
                if mf.sum() < 64 or me.sum() == 0:
                    continue
                adj, _, _ = _descend(model.tables, pf[k][mf], fit.truth_of[k][mf], fit.fast, base_adjust[k].copy(),
                                     (4, 1))
                before = int(_bits(model.tables, pe[k][me] + base_adjust[k] * ADJUST_UNITS, ev.truth_of[k][me]).sum())
                after = int(_bits(model.tables, pe[k][me] + adj * ADJUST_UNITS, ev.truth_of[k][me]).sum())
                saved += before - after
        header = 8 * ADJUST_SIZE * c * ((2 * n if how == "edge" else n) - 1)
        row[spec] = saved / COST_ONE * scale - header
    row["s"] = time.time() - t
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="dev")
    parser.add_argument("--only", type=int, default=0)
    parser.add_argument("specs", nargs="*", default=["own:4:l", "all+res:4:q", "all+res:8:q"])
    args = parser.parse_args()
    if args.set == "dev":
        files = dev_files(DATA / "photos-train")
    elif args.set == "train":
        files = split_files(DATA / "photos-train")[0][::8]
    else:
        files = split_files(DATA / "natural")[1]
    if args.only:
        files = files[: args.only]
    model = default_natural_model()
    totals = {}
    for path in files:
        row = run(model, path, args.specs)
        for key in ["sub", "coded", "est_pixels"] + args.specs:
            totals[key] = totals.get(key, 0) + row[key]
        print(f"{row['name']:20} {row['coded'] / row['sub']:.4f} est_px {row['est_pixels'] / row['sub']:.4f} "
              + " ".join(f"{s}={100 * row[s] / row['coded']:+.2f}%" for s in args.specs) + f" ({row['s']:.0f}s)",
              flush=True)
    print(f"{'total':20} {totals['coded'] / totals['sub']:.4f} "
          + " ".join(f"{s}={100 * totals[s] / totals['coded']:+.2f}%" for s in args.specs))


if __name__ == "__main__":
    sys.exit(main())
