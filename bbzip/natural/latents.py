"""The latents of each lane's tile: which are coded by bits back, which coarsely, and their
pushes and pops (the schedule itself is in bbzip/natural/coder.py; docs/IMAGES.md)."""

from __future__ import annotations

import numpy as np

from bbzip.ans.rans import Message
from bbzip.fixedpoint.coding import LatentPosteriors
from bbzip.fixedpoint.fixed import EXP_BITS, scale_index
from bbzip.natural.constants import BLOCK, LATENT
from bbzip.natural.search import pop_where, push_where
from bbzip.natural.tiles import Tiling, zeros_on_demand

# A latent channel whose posterior standard deviation averages below this carries
# information worth a few bits: the encoder then gives that channel's latents coded
# without bits back 2 bits each, else none (the prior median).
_INFORMATIVE_SIGMA = 0.7


def coarse_precision(mu: np.ndarray, log_sigma: np.ndarray, tables) -> tuple[int, ...]:
    """The encoder's rule for the precision of the latents coded without bits back."""
    inv_sigma = tables.inv_sigma[scale_index(log_sigma, tables.log_sigma_min, len(tables.inv_sigma))]
    mean_inv = inv_sigma.reshape(-1, LATENT).mean(axis=0)
    return tuple(2 if float(v) > (1 << EXP_BITS) / _INFORMATIVE_SIGMA else 0 for v in mean_inv)


class Latents:
    """Each lane's latent grid (its tile's 8x8 blocks) as fixed-point values, and how each
    block row is coded: by bits back, or (the lane's last two block rows, whose posterior
    pops would find an empty lane) as the bucket of the posterior mean at ``coarse_bits``
    bits of precision per channel (0: the prior median), pushed under a uniform distribution."""

    def __init__(self, tiling: Tiling, tables, coarse_bits: tuple[int, ...], part: slice = slice(None)):
        self.tables, self.coarse_bits = tables, coarse_bits
        self.rows, self.cols = tiling.th // BLOCK, tiling.tw // BLOCK
        heights, widths = (e[part] for e in tiling.lane_extent())
        block_rows = -(-heights // BLOCK)  # the lane's rows of blocks inside the image
        inside_cols = np.arange(self.cols)[None, :] < -(-widths // BLOCK)[:, None]
        spread = lambda rows: np.repeat(inside_cols & rows[:, None], LATENT, axis=1)
        self.coded = [spread(j < block_rows - 2) for j in range(self.rows)]
        self.coarse = [spread((j >= block_rows - 2) & (j < block_rows)) for j in range(self.rows)]
        shape = (len(heights), self.rows, self.cols * LATENT)
        self.buckets = zeros_on_demand(shape, np.int64)  # fine buckets, or coarse ones; rows as decoded
        # Per latent slot (block-major, channel-minor): precision and coarse_centres index of
        # bucket 0.
        self.slot_bits = np.tile(np.array(coarse_bits, dtype=np.int64), self.cols)
        self.coarse_base = (1 << self.slot_bits) - 1

    def set_coarse(self, mu: np.ndarray) -> None:
        """The encoder's coarse buckets: the posterior means' buckets at coarse_bits."""
        fine = np.searchsorted(self.tables.latent_edges[1:-1], mu.reshape(self.buckets.shape), side="right")
        coarse = fine >> (self.tables.prior_precision - self.slot_bits)
        for j in range(self.rows):
            self.buckets[:, j] = np.where(self.coarse[j], coarse[:, j], self.buckets[:, j])

    def values(self, rows: slice) -> np.ndarray:
        buckets = self.buckets[:, rows]
        coarse = np.stack(self.coarse[rows], axis=1)
        return np.where(coarse, self.tables.coarse_centres[self.coarse_base + np.where(coarse, buckets, 0)],
                        self.tables.latent_centres[np.where(coarse, 0, buckets)])

    def features(self, net, j: int) -> np.ndarray:
        """Features (lanes, cols, C*HIDDEN) of block row j: from latent rows j-1 .. j+1."""
        low = max(j - 1, 0)
        z = self.values(slice(low, j + 2))
        return net.features(z.reshape(len(z), -1, self.cols, LATENT), rows=slice(j - low, j - low + 1))[:, 0]

    def _uniform(self, j: int):
        """(slot, mask, precision) of the row's latents under uniform distributions: the
        bits-back ones under the prior, then the coarse ones."""
        fine = [(k, self.coded[j][:, k], self.tables.prior_precision) for k in range(self.coded[j].shape[1])]
        coarse = [(k, self.coarse[j][:, k], int(self.slot_bits[k])) for k in range(self.coarse[j].shape[1])]
        return [(k, on, bits) for k, on, bits in fine + coarse if bits and on.any()]

    def push_prior(self, message: Message, j: int) -> None:
        if j >= self.rows:
            return
        for k, on, precision in reversed(self._uniform(j)):
            message.push(np.where(on, self.buckets[:, j, k], 0), np.where(on, 1, 1 << precision), precision)

    def pop_prior(self, message: Message, j: int) -> None:
        if j >= self.rows:
            return
        for k, on, precision in self._uniform(j):
            slots = message.peek(message.lanes, precision).astype(np.int64)
            message.pop(np.where(on, slots, 0), np.where(on, 1, 1 << precision), precision)
            self.buckets[:, j, k] = np.where(on, slots, self.buckets[:, j, k])

    def _posteriors(self, j: int, mu: np.ndarray, log_sigma: np.ndarray):
        mu, log_sigma = mu[:, j].reshape(len(mu), -1), log_sigma[:, j].reshape(len(mu), -1)
        return [LatentPosteriors(mu[:, k], log_sigma[:, k], self.tables) for k in range(mu.shape[1])]

    def pop_posterior(self, message: Message, j: int, mu: np.ndarray, log_sigma: np.ndarray) -> None:
        coded = self.coded[j]
        if not coded.any():
            return
        for k, dist in enumerate(self._posteriors(j, mu, log_sigma)):
            self.buckets[:, j, k] = np.where(coded[:, k], pop_where(message, dist, coded[:, k]), self.buckets[:, j, k])

    def push_posterior(self, message: Message, j: int, mu: np.ndarray, log_sigma: np.ndarray) -> None:
        coded = self.coded[j]
        if not coded.any():
            return
        for k, dist in reversed(list(enumerate(self._posteriors(j, mu, log_sigma)))):
            push_where(message, dist, self.buckets[:, j, k], coded[:, k])
