"""The natural-image model file and its integer network (docs/SPEC-natural.md, sections 2-3),
from the document alone. All arithmetic is numpy int64 (exact: no float anywhere)."""

from __future__ import annotations

import io
import json

import numpy as np

ACT_LIMIT = (1 << 17) - 1
OUT_LIMIT = (1 << 21) - 1
# Causal taps of the 7x7 window: (dy, dx), rows above first, left to right.
TAPS = [(dy, dx) for dy in range(-3, 1) for dx in range(-3, 4) if dy < 0 or dx < 0]


class Layer:
    def __init__(self, arrays: dict, name: str):
        w = arrays[f"{name}.w"].astype(np.int64)
        self.w = w.reshape(len(w), -1)  # (out, in): im2col columns (Cin, ky, kx)
        self.round = arrays[f"{name}.b"].astype(np.int64) + (np.int64(1) << (arrays[f"{name}.shift"] - 1))
        self.shift = arrays[f"{name}.shift"].astype(np.int64)

    def acc(self, x: np.ndarray) -> np.ndarray:
        """floor((x . w + b + 2**(shift-1)) / 2**shift), before any clip."""
        return (x @ self.w.T + self.round) >> self.shift

    def __call__(self, x: np.ndarray, relu: bool, limit: int = ACT_LIMIT) -> np.ndarray:
        return np.clip(self.acc(x), 0 if relu else -limit, limit)


def conv(x: np.ndarray, layer: Layer, k: int, stride: int, pad: int, relu: bool) -> np.ndarray:
    """(H, W, Cin) -> (H', W', Cout), zero padding, columns in (Cin, ky, kx) order."""
    h, w, cin = x.shape
    p = np.zeros((h + 2 * pad, w + 2 * pad, cin), dtype=np.int64)
    p[pad : pad + h, pad : pad + w] = x
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    cols = np.empty((oh, ow, cin * k * k), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            window = p[oy * stride : oy * stride + k, ox * stride : ox * stride + k]  # (ky, kx, Cin)
            cols[oy, ox] = window.transpose(2, 0, 1).reshape(-1)
    return layer(cols.reshape(oh * ow, -1), relu).reshape(oh, ow, -1)


class Net:
    def __init__(self, arrays: dict, prefix: str, channels: int):
        self.c = channels
        self.enc = [Layer(arrays, f"{prefix}.enc{i}") for i in (1, 2, 3)]
        self.feat = [Layer(arrays, f"{prefix}.feat{i}") for i in (1, 2)]
        self.heads = [[Layer(arrays, f"{prefix}.head{k}.{n}") for n in ("first", "layer1", "layer2", "out")]
                      for k in range(channels)]

    def posterior(self, pixels: np.ndarray) -> np.ndarray:
        """(th, tw, C) network inputs of one tile -> (th/8, tw/8, 8): 4 means, 4 log-sigmas."""
        a = conv(pixels, self.enc[0], 4, 2, 1, True)
        a = conv(a, self.enc[1], 4, 2, 1, True)
        return conv(a, self.enc[2], 4, 2, 1, False)

    def features(self, z: np.ndarray) -> np.ndarray:
        """(rows, cols, 4) latent values of one tile -> (rows, cols, 32 C)."""
        return conv(conv(z, self.feat[0], 3, 1, 1, True), self.feat[1], 1, 1, 0, False)

    def head(self, k: int, inputs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(M, taps + C + k) inputs, (M, 32) features of the pixel's block -> (M, 12 + 4k)."""
        first, l1, l2, out = self.heads[k]
        h = np.clip(first.acc(inputs), -ACT_LIMIT, ACT_LIMIT) + features
        h = np.maximum(h, 0)
        return out(l2(l1(h, True), True), False, OUT_LIMIT)


class Model:
    def __init__(self, data: bytes):
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        self.config = json.loads(arrays["config_json"].tobytes())
        assert self.config["kind"] == "natural" and self.config["format"] == 1
        for name in ("sigmoid", "normal_cdf", "neg_exp", "inv_scale", "inv_sigma", "latent_edges",
                     "latent_centres", "coarse_centres"):
            setattr(self, name, [int(v) for v in arrays[name]])
        self.scale_base = round(self.config["log_scale_min"] * 1024)
        self.sigma_base = round(self.config["log_sigma_min"] * 1024)
        self.nets = {1: Net(arrays, "gray", 1), 3: Net(arrays, "rgb", 3)}
