"""The float VAE that `make model` trains; frozen to integers by bbzip.vae.freeze.

Layer shapes here are the contract with the integer runtime in bbzip/vae/network.py:
change one and the other must follow.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bbzip.constants import LOG_SCALE, LOG_SIGMA, MEAN_SCALE

# Pixel-unit parametrisation of the mixture so the frozen model can use the same
# numbers: mean = MEAN_SCALE * raw + 127.5, log-scale clamped to this range.
LOG_SCALE_MIN, LOG_SCALE_MAX = LOG_SCALE
LOG_SIGMA_MIN, LOG_SIGMA_MAX = LOG_SIGMA


def context_mask(size: int = 5) -> torch.Tensor:
    """Causal mask: the two rows above and the two pixels to the left (12 taps)."""
    mask = torch.zeros(size, size)
    half = size // 2
    mask[:half, :] = 1
    mask[half, :half] = 1
    return mask


LIKELIHOODS = ("logistic", "bernoulli")


class VAE(nn.Module):
    """``likelihood`` "logistic": 8-bit pixels, a mixture of discretised logistics;
    "bernoulli": binary pixels (symbols 0 and 1), one logit per pixel."""

    def __init__(self, latent: int = 32, hidden: int = 32, mixtures: int = 5, likelihood: str = "logistic"):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}")
        self.latent, self.hidden, self.mixtures, self.likelihood = latent, hidden, mixtures, likelihood
        self.levels = 2 if likelihood == "bernoulli" else 256
        outputs = 1 if likelihood == "bernoulli" else 3 * mixtures
        self.enc_conv1 = nn.Conv2d(1, 32, 4, 2, 1)
        self.enc_conv2 = nn.Conv2d(32, 64, 4, 2, 1)
        self.enc_fc1 = nn.Linear(64 * 7 * 7, 256)
        self.enc_fc2 = nn.Linear(256, 2 * latent)
        self.dec_fc1 = nn.Linear(latent, 256)
        self.dec_fc2 = nn.Linear(256, 64 * 7 * 7)
        self.dec_deconv1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.dec_deconv2 = nn.ConvTranspose2d(32, hidden, 4, 2, 1)
        self.ctx_conv = nn.Conv2d(1, hidden, 5, padding=2, bias=False)
        self.head1 = nn.Conv2d(hidden, hidden, 1)
        self.head2 = nn.Conv2d(hidden, outputs, 1)
        self.register_buffer("ctx_mask", context_mask(5)[None, None])
        # Start with broad pixel distributions: narrow ones give enormous early gradients
        # that saturate the encoder before it learns anything.
        with torch.no_grad():
            self.head2.weight.mul_(0.1)
            self.head2.bias.zero_()
            if likelihood == "bernoulli":
                self.head2.bias.fill_(-2.0)  # most pixels are background
            else:
                self.head2.bias[2 * mixtures :] = 3.0
            self.enc_fc2.weight.mul_(0.1)
            self.enc_fc2.bias.zero_()

    def encode(self, x01: torch.Tensor):
        h = F.relu(self.enc_conv1(x01))
        h = F.relu(self.enc_conv2(h))
        h = F.relu(self.enc_fc1(h.flatten(1)))
        mu, log_sigma = self.enc_fc2(h).chunk(2, dim=1)
        return mu, log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)

    def decode_features(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.dec_fc1(z))
        h = F.relu(self.dec_fc2(h)).view(-1, 64, 7, 7)
        h = F.relu(self.dec_deconv1(h))
        return self.dec_deconv2(h)

    def head_outputs(self, features: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
        ctx = F.conv2d(x01, self.ctx_conv.weight * self.ctx_mask, padding=2)
        h = F.relu(features + ctx)
        h = F.relu(self.head1(h))
        return self.head2(h)

    def mixture_params(self, features: torch.Tensor, x01: torch.Tensor):
        out = self.head_outputs(features, x01)
        k = self.mixtures
        logits = out[:, :k]
        means = MEAN_SCALE * out[:, k : 2 * k] + 127.5
        log_scales = out[:, 2 * k :].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
        return logits, means, log_scales

    def forward(self, x: torch.Tensor, beta: float = 1.0, free_nats: float = 0.0):
        """Return (loss, recon_bits, kl_bits) per image; x holds pixel symbols as float (N,1,28,28):
        0..255 for the logistic likelihood, 0 and 1 for the Bernoulli one.

        ``free_nats`` is the free-bits floor per latent dimension (batch mean): dimensions
        below it cost nothing, which keeps the local-context decoder from making the
        latent useless early in training. The reported kl_bits is always the true KL.
        """
        x01 = x / (self.levels - 1)
        mu, log_sigma = self.encode(x01)
        z = mu + torch.randn_like(mu) * log_sigma.exp()
        features = self.decode_features(z)
        if self.likelihood == "bernoulli":
            logit = self.head_outputs(features, x01)
            recon = F.binary_cross_entropy_with_logits(logit, x, reduction="none").sum((1, 2, 3))
        else:
            logits, means, log_scales = self.mixture_params(features, x01)
            recon = -discretized_logistic_mixture_logp(x, logits, means, log_scales).sum((1, 2, 3))
        kl_dims = 0.5 * (mu.pow(2) + (2 * log_sigma).exp() - 1 - 2 * log_sigma)
        kl = kl_dims.sum(1)
        if free_nats > 0:
            penalised = kl_dims.mean(0).clamp(min=free_nats).sum().expand_as(kl)
        else:
            penalised = kl
        recon_bits, kl_bits = recon / math.log(2), kl / math.log(2)
        return recon_bits + beta * penalised / math.log(2), recon_bits, kl_bits


def discretized_logistic_mixture_logp(x, logits, means, log_scales):
    """log P(x) for integer pixels 0..255 under a K-mixture of logistics (PixelCNN++)."""
    x = x.expand_as(means)
    centered = x - means
    inv_s = torch.exp(-log_scales)
    plus = inv_s * (centered + 0.5)
    minus = inv_s * (centered - 0.5)
    log_cdf_plus = plus - F.softplus(plus)
    log_one_minus_cdf_minus = -F.softplus(minus)
    cdf_delta = torch.sigmoid(plus) - torch.sigmoid(minus)
    mid = inv_s * centered
    log_pdf_mid = mid - log_scales - 2.0 * F.softplus(mid)
    inner = torch.where(
        cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid
    )
    log_probs = torch.where(
        x < 0.5, log_cdf_plus, torch.where(x > 254.5, log_one_minus_cdf_minus, inner)
    )
    return torch.logsumexp(log_probs + F.log_softmax(logits, dim=1), dim=1, keepdim=True)
