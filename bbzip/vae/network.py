"""The frozen VAE evaluated exactly: integer weights and activations, float64 arithmetic.

Mirrors bbzip/training/model.py layer for layer. Activations are float64 arrays holding
integers (units 2**-ACT_BITS); every product sum is an integer below 2**53, so the BLAS
summation order cannot change a result, and requantisation (add bias, multiply by a power
of two, floor) is exact too. The result is bit-identical on every machine.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bbzip.fixedpoint.fixed import ACT_BITS
from bbzip.fixedpoint.layer import Layer
from bbzip.vae.trunk import IMAGE, PIXELS, Decoder, Encoder

# Images per pass of the convolutional stacks: enough rows for efficient matrix products,
# few enough that each layer's buffers stay in the core's cache.
NET_BATCH = 16
OUTPUT_LIMIT = (1 << (ACT_BITS + 11)) - 1
CONTEXT = 5
CONTEXT_MASK = np.zeros((CONTEXT, CONTEXT), dtype=bool)
CONTEXT_MASK[: CONTEXT // 2, :] = True
CONTEXT_MASK[CONTEXT // 2, : CONTEXT // 2] = True
CONTEXT_TAPS = int(CONTEXT_MASK.sum())


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
        # Transposed convolutions: torch's (in, out, 4, 4) weights, per-out-channel shifts.
        self.dec_deconv1, deconv1 = self._deconv_layer(arrays, "dec_deconv1")
        self.dec_deconv2, deconv2 = self._deconv_layer(arrays, "dec_deconv2")
        self.ctx = layer("ctx")
        self.head1 = layer("head1")
        self.head2 = layer("head2")
        self.input_lut = np.asarray(arrays["input_lut"], dtype=np.float64)
        self._encoder = Encoder(self)
        self._decoder = Decoder(self, deconv1, deconv2)

    @staticmethod
    def _deconv_layer(arrays, name: str) -> tuple[Layer, np.ndarray]:
        """Per-output-channel bias and shift as a Layer, and the weights as they are."""
        weight = np.asarray(arrays[f"{name}.w"], dtype=np.float64)  # torch's (in, out, ky, kx)
        shift = np.asarray(arrays[f"{name}.shift"], dtype=np.int64)
        bias_only = Layer(np.zeros((0, len(shift))),
                          np.asarray(arrays[f"{name}.b"], np.float64) + np.ldexp(1.0, shift - 1),
                          np.ldexp(1.0, -shift))
        return bias_only, weight

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) pixel symbols -> (N, 2*latent) int64: posterior means then log-sigmas."""
        return self._encoder(images, NET_BATCH)

    def features(self, z: np.ndarray, pixel_major: bool = False) -> np.ndarray:
        """(N, latent) fixed-point latents -> (N, 784, hidden) per-pixel decoder features,
        or (784, N, hidden) with ``pixel_major`` (what the decoder reads one pixel at a time)."""
        # float32 holds these integers (|a| < 2**17) exactly, at half the memory.
        return self._decoder(z, pixel_major, NET_BATCH)

    def context(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) pixel symbols -> (N, 784, 12) causal neighbourhoods, as network inputs."""
        a = np.pad(self.input_lut[images], ((0, 0), (2, 2), (2, 2)))
        windows = sliding_window_view(a, (CONTEXT, CONTEXT), axis=(1, 2))
        return windows[..., CONTEXT_MASK].reshape(len(images), PIXELS, CONTEXT_TAPS)

    def head(self, features: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Per-pixel likelihood parameters (mixtures: 3 per component; binary: a logit).

        The plain statement of the head (with ``context`` and the distributions' classes):
        the coder runs faster equivalents of it, ``likelihood`` when encoding and the
        stepper when decoding, which must give the same values."""
        c = self.ctx(context, relu=False)
        g = np.maximum(features + c, 0)
        g = self.head1(g, relu=True)
        # Mixture means are in pixel units (up to a few hundred), beyond the hidden range.
        return self.head2(g, relu=False, limit=OUTPUT_LIMIT).astype(np.int64)
