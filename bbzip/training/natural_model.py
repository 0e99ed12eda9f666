"""The float natural-image VAE that `make model-natural` trains; frozen by bbzip.natural.freeze.

Fully convolutional, so one model codes any height and width:

* latents: ``LATENT`` channels on a grid of 8x8-pixel blocks, a diagonal Gaussian posterior
  from a three-layer strided encoder, a standard normal prior;
* pixels: per subpixel, a discretised logistic mixture whose means are offset from the
  LOCO-I (MED) prediction (for R and B: G plus the MED prediction of their difference
  from G), from a causal 7x7 neighbourhood of every channel (plus a
  validity channel, so tile edges are seen as edges), the earlier channels of the same
  pixel (linear in the means, as PixelCNN++), and features upsampled from the latents.

Gray images use their own encoder and one pixel head; RGB images are coded in the order
G, R, B with three heads. Layer shapes here are the contract with bbzip/natural/network.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bbzip.natural.constants import (
    BLOCK,
    CODING_ORDER,
    CONTEXT,
    HIDDEN,
    LATENT,
    LOG_SCALE_MAX,
    LOG_SCALE_MIN,
    LOG_SIGMA_MAX,
    LOG_SIGMA_MIN,
    MEAN_SCALE,
    MIXTURES,
    RESIDUAL_SCALE,
)
from bbzip.training.model import discretized_logistic_mixture_logp


def context_mask() -> torch.Tensor:
    """The causal half of a 7x7 window: three rows above, three pixels to the left."""
    mask = torch.zeros(CONTEXT, CONTEXT)
    half = CONTEXT // 2
    mask[:half, :] = 1
    mask[half, :half] = 1
    return mask


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 128.0) / 64.0


def med_prediction(x: torch.Tensor, corner: float = 128.0) -> torch.Tensor:
    """LOCO-I's median edge detector on (N, C, H, W) pixels, each crop its own tile:
    the first row predicts from the left, the first column from above, the corner
    ``corner``."""
    a = F.pad(x, (1, 0, 0, 0))[..., :, :-1]
    b = F.pad(x, (0, 0, 1, 0))[..., :-1, :]
    c = F.pad(x, (1, 0, 1, 0))[..., :-1, :-1]
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    med = torch.where(c >= hi, lo, torch.where(c <= lo, hi, a + b - c))
    med[..., 0, :] = a[..., 0, :]
    med[..., :, 0] = b[..., :, 0]
    med[..., 0, 0] = corner
    return med


def colour_base(x: torch.Tensor, med: torch.Tensor) -> torch.Tensor:
    """The centre of each channel's mixture before the network's offset: MED for the first
    channel (G); for the others, this pixel's G plus the MED prediction of the channel's
    difference from G (the predictor of WebP's subtract-green transform), kept in 0..255."""
    if x.shape[1] == 1:
        return med
    difference = med_prediction(x[:, 1:] - x[:, :1], corner=0.0)
    return torch.cat([med[:, :1], (x[:, :1] + difference).clamp(0, 255)], dim=1)


class Encoder(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 32, 4, 2, 1)
        self.conv2 = nn.Conv2d(32, 32, 4, 2, 1)
        self.conv3 = nn.Conv2d(32, 2 * LATENT, 4, 2, 1)
        with torch.no_grad():
            self.conv3.weight.mul_(0.1)
            self.conv3.bias.zero_()

    def forward(self, xn: torch.Tensor):
        h = F.relu(self.conv1(xn))
        h = F.relu(self.conv2(h))
        mu, log_sigma = self.conv3(h).chunk(2, dim=1)
        return mu, log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)


class Features(nn.Module):
    """Latent grid -> per-block features for every head (added before the first ReLU)."""

    def __init__(self, heads: int):
        super().__init__()
        self.conv1 = nn.Conv2d(LATENT, 32, 3, 1, 1)
        self.conv2 = nn.Conv2d(32, heads * HIDDEN, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(z)))


class PixelHeads(nn.Module):
    """The per-subpixel likelihood for ``channels`` channels (1 gray, 3 RGB in coding order)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        spatial = channels + 1  # pixel channels and validity
        self.spatial = nn.ModuleList(nn.Conv2d(spatial, HIDDEN, CONTEXT, padding=CONTEXT // 2, bias=False)
                                     for _ in range(channels))
        # Pointwise inputs of head k: every channel's MED prediction, the residuals of
        # the earlier channels of this pixel.
        self.point = nn.ModuleList(nn.Conv2d(channels + k, HIDDEN, 1) for k in range(channels))
        self.layer1 = nn.ModuleList(nn.Conv2d(HIDDEN, HIDDEN, 1) for _ in range(channels))
        self.layer2 = nn.ModuleList(nn.Conv2d(HIDDEN, HIDDEN, 1) for _ in range(channels))
        self.out = nn.ModuleList(nn.Conv2d(HIDDEN, (3 + k) * MIXTURES, 1) for k in range(channels))
        self.register_buffer("mask", context_mask()[None, None])
        with torch.no_grad():
            for out in self.out:
                out.weight.mul_(0.1)
                out.bias.zero_()
                out.bias[2 * MIXTURES : 3 * MIXTURES] = 1.0

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Bits of every subpixel of x (N, C, H, W) given per-pixel features (N, C*HIDDEN, H, W)."""
        med = med_prediction(x)
        base = colour_base(x, med)
        valid = torch.ones_like(x[:, :1])
        spatial_in = torch.cat([normalise(x), valid], dim=1)
        residual = (x - med) / RESIDUAL_SCALE
        bits = []
        for k in range(self.channels):
            pre = F.conv2d(spatial_in, self.spatial[k].weight * self.mask, padding=CONTEXT // 2)
            point_in = torch.cat([normalise(med), residual[:, :k]], dim=1)
            pre = pre + self.point[k](point_in) + features[:, k * HIDDEN : (k + 1) * HIDDEN]
            h = F.relu(pre)
            h = F.relu(self.layer1[k](h))
            h = F.relu(self.layer2[k](h))
            out = self.out[k](h)
            logits = out[:, :MIXTURES]
            means = base[:, k : k + 1] + MEAN_SCALE * out[:, MIXTURES : 2 * MIXTURES]
            for c in range(k):
                coupling = out[:, (3 + c) * MIXTURES : (4 + c) * MIXTURES]
                means = means + coupling * (x[:, c : c + 1] - med[:, c : c + 1])
            log_scales = out[:, 2 * MIXTURES : 3 * MIXTURES].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
            logp = discretized_logistic_mixture_logp(x[:, k : k + 1], logits, means, log_scales)
            bits.append(-logp / math.log(2))
        return torch.cat(bits, dim=1)


class NaturalVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.gray_encoder, self.rgb_encoder = Encoder(1), Encoder(3)
        self.gray_features, self.rgb_features = Features(1), Features(3)
        self.gray_heads, self.rgb_heads = PixelHeads(1), PixelHeads(3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, C, H, W) pixels as float, RGB already in coding order, H and W multiples of
        BLOCK. Returns (pixel bits, latent KL bits), each summed per image."""
        gray = x.shape[1] == 1
        encoder = self.gray_encoder if gray else self.rgb_encoder
        mu, log_sigma = encoder(normalise(x))
        z = mu + torch.randn_like(mu) * log_sigma.exp()
        features = (self.gray_features if gray else self.rgb_features)(z)
        features = F.interpolate(features, scale_factor=BLOCK, mode="nearest")
        pixel_bits = (self.gray_heads if gray else self.rgb_heads)(x, features)
        kl = 0.5 * (mu.pow(2) + (2 * log_sigma).exp() - 1 - 2 * log_sigma)
        return pixel_bits.sum((1, 2, 3)), kl.sum((1, 2, 3)) / math.log(2)


def to_coding_order(rgb: torch.Tensor) -> torch.Tensor:
    return rgb[:, list(CODING_ORDER)]
