"""The frozen VAE evaluated exactly: integer weights and activations, float64 arithmetic.

Mirrors bbzip/training/model.py layer for layer. Activations are float64 arrays holding
integers (units 2**-ACT_BITS); every product sum is an integer below 2**53, so the BLAS
summation order cannot change a result, and requantisation (add bias, multiply by a power
of two, floor) is exact too. The result is bit-identical on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bbzip.vae.fixed import ACT_BITS, ACT_LIMIT

IMAGE = 28
PIXELS = IMAGE * IMAGE
# Sub-batch for the convolutional stacks: small enough that each layer's arrays stay in
# cache (elementwise passes over larger ones are bound by memory bandwidth).
NET_BATCH = 16
OUTPUT_LIMIT = (1 << (ACT_BITS + 11)) - 1
CONTEXT = 5
CONTEXT_MASK = np.zeros((CONTEXT, CONTEXT), dtype=bool)
CONTEXT_MASK[: CONTEXT // 2, :] = True
CONTEXT_MASK[CONTEXT // 2, : CONTEXT // 2] = True
CONTEXT_TAPS = int(CONTEXT_MASK.sum())


@dataclass(frozen=True)
class Layer:
    """y = floor((x @ weight.T + bias + half) * 2**-shift), per output channel."""

    weight_t: np.ndarray  # (in, out) float64 of integers
    offset: np.ndarray  # bias + rounding half, float64 of integers
    scale: np.ndarray  # 2**-shift, float64 (exact)

    @classmethod
    def from_arrays(cls, weight: np.ndarray, bias: np.ndarray, shift: np.ndarray) -> Layer:
        weight = np.asarray(weight, dtype=np.float64)
        shift = np.asarray(shift, dtype=np.int64)
        return cls(np.ascontiguousarray(weight.reshape(len(shift), -1).T),
                   np.asarray(bias, np.float64) + np.ldexp(1.0, shift - 1),
                   np.ldexp(1.0, -shift))

    def __call__(self, x: np.ndarray, relu: bool, limit: int = ACT_LIMIT) -> np.ndarray:
        y = x @ self.weight_t
        y += self.offset
        y *= self.scale
        np.floor(y, out=y)
        np.maximum(y, 0 if relu else -limit, out=y)
        return np.minimum(y, limit, out=y)


def conv(x: np.ndarray, layer: Layer, kernel: int, stride: int, pad: int) -> np.ndarray:
    """NCHW convolution by im2col; the column order matches torch's (Cin, kh, kw)."""
    n, c = x.shape[:2]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    h, w = windows.shape[2:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * kernel * kernel)
    return layer(cols, relu=True).reshape(n, h, w, -1).transpose(0, 3, 1, 2)


# ConvTranspose2d(kernel 4, stride 2, padding 1): output row 2m + parity gets input rows
# m + shift through kernel row k, for these (shift, k) pairs; columns alike.
_TAPS = {0: ((0, 1), (-1, 3)), 1: ((0, 2), (1, 0))}


def deconv_weights(weight: np.ndarray) -> np.ndarray:
    """torch's (in, out, 4, 4) -> (parity y, parity x, 4*in, out) for ``deconv``."""
    blocks = np.empty((2, 2, 4 * weight.shape[0], weight.shape[1]))
    for py in range(2):
        for px in range(2):
            taps = [weight[:, :, ky, kx] for _, ky in _TAPS[py] for _, kx in _TAPS[px]]
            blocks[py, px] = np.concatenate(taps, axis=0)
    return blocks


def deconv(x: np.ndarray, weights: np.ndarray, layer: Layer, relu: bool) -> np.ndarray:
    """The transposed convolution on NHWC as four 2x2 convolutions, one per output parity.

    Each output pixel is a plain product of its 2x2 input neighbourhood (4*in values) with
    one weight block: no scatter-add, and integer sums stay exact in float64.
    """
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.empty((n, 2 * h, 2 * w, weights.shape[-1]))
    for py in range(2):
        for px in range(2):
            patches = np.concatenate(
                [padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, _ in _TAPS[py] for dx, _ in _TAPS[px]],
                axis=3,
            )
            out[:, py::2, px::2] = (patches.reshape(n * h * w, 4 * c) @ weights[py, px]).reshape(n, h, w, -1)
    out += layer.offset
    out *= layer.scale
    np.floor(out, out=out)
    np.maximum(out, 0 if relu else -ACT_LIMIT, out=out)
    return np.minimum(out, ACT_LIMIT, out=out)


class IntegerVAE:
    """Encoder, decoder trunk and per-pixel head of the frozen model."""

    def __init__(self, arrays: dict[str, np.ndarray], latent: int, hidden: int):
        self.latent, self.hidden = latent, hidden
        layer = lambda name: Layer.from_arrays(arrays[f"{name}.w"], arrays[f"{name}.b"], arrays[f"{name}.shift"])
        self.enc_conv1 = layer("enc_conv1")
        self.enc_conv2 = layer("enc_conv2")
        self.enc_fc1 = layer("enc_fc1")
        self.enc_fc2 = layer("enc_fc2")
        self.dec_fc1 = layer("dec_fc1")
        self.dec_fc2 = layer("dec_fc2")
        # Transposed convolutions: weights are (in, out*16) with per-out-channel shifts.
        self.dec_deconv1, self.deconv1_w = self._deconv_layer(arrays, "dec_deconv1")
        self.dec_deconv2, self.deconv2_w = self._deconv_layer(arrays, "dec_deconv2")
        self.ctx = layer("ctx")
        self.head1 = layer("head1")
        self.head2 = layer("head2")
        self.input_lut = np.asarray(arrays["input_lut"], dtype=np.float64)

    @staticmethod
    def _deconv_layer(arrays, name: str) -> tuple[Layer, np.ndarray]:
        """Per-output-channel bias and shift as a Layer; the weights in parity blocks."""
        weight = np.asarray(arrays[f"{name}.w"], dtype=np.float64)  # torch's (in, out, ky, kx)
        shift = np.asarray(arrays[f"{name}.shift"], dtype=np.int64)
        bias_only = Layer(np.zeros((0, len(shift))),
                          np.asarray(arrays[f"{name}.b"], np.float64) + np.ldexp(1.0, shift - 1),
                          np.ldexp(1.0, -shift))
        return bias_only, deconv_weights(weight)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) pixel symbols -> (N, 2*latent) int64: posterior means then log-sigmas."""
        out = np.empty((len(images), 2 * self.latent), dtype=np.int64)
        for i in range(0, len(images), NET_BATCH):
            a = self.input_lut[images[i : i + NET_BATCH]][:, None]
            a = conv(a, self.enc_conv1, 4, 2, 1)
            a = conv(a, self.enc_conv2, 4, 2, 1)
            a = self.enc_fc1(a.reshape(len(a), -1), relu=True)
            out[i : i + NET_BATCH] = self.enc_fc2(a, relu=False)
        return out

    def features(self, z: np.ndarray, pixel_major: bool = False) -> np.ndarray:
        """(N, latent) fixed-point latents -> (N, 784, hidden) per-pixel decoder features,
        or (784, N, hidden) with ``pixel_major`` (what the decoder reads one pixel at a time)."""
        # float32 holds these integers (|a| < 2**17) exactly, at half the memory.
        out = np.empty((PIXELS, len(z), self.hidden) if pixel_major else (len(z), PIXELS, self.hidden),
                       dtype=np.float32)
        target = out.transpose(1, 0, 2) if pixel_major else out
        for i in range(0, len(z), NET_BATCH):
            a = self.dec_fc1(z[i : i + NET_BATCH].astype(np.float64), relu=True)
            # torch flattens (64, 7, 7) channel-first; the deconvolutions work channel-last.
            a = self.dec_fc2(a, relu=True).reshape(len(a), 64, 7, 7).transpose(0, 2, 3, 1)
            a = deconv(a, self.deconv1_w, self.dec_deconv1, relu=True)
            a = deconv(a, self.deconv2_w, self.dec_deconv2, relu=False)
            target[i : i + NET_BATCH] = a.reshape(len(a), PIXELS, self.hidden)
        return out

    def context(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) pixel symbols -> (N, 784, 12) causal neighbourhoods, as network inputs."""
        a = np.pad(self.input_lut[images], ((0, 0), (2, 2), (2, 2)))
        windows = sliding_window_view(a, (CONTEXT, CONTEXT), axis=(1, 2))
        return windows[..., CONTEXT_MASK].reshape(len(images), PIXELS, CONTEXT_TAPS)

    def head(self, features: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Per-pixel likelihood parameters (mixtures: 3 per component; binary: a logit)."""
        c = self.ctx(context, relu=False)
        g = np.maximum(features + c, 0)
        g = self.head1(g, relu=True)
        # Mixture means are in pixel units (up to a few hundred), beyond the hidden range.
        return self.head2(g, relu=False, limit=OUTPUT_LIMIT).astype(np.int64)
