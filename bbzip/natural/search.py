"""Finding each lane's symbol from its rANS slot, and pushes and pops that skip lanes.

The decoder's hot path: on the small arrays of one step numpy's per-call cost dominates, so
the searches are shaped to make few, wide calls.
"""

from __future__ import annotations

import numpy as np

from bbzip.ans.rans import Message
from bbzip.natural.mixture import LEVELS, Mixtures

_FINE = np.arange(1, 16, dtype=np.int64)[:, None]


def _search(message: Message, starts, precision: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return search_slots(message.peek(message.lanes, precision).astype(np.int64), starts, precision)


def search_slots(slots: np.ndarray, starts, precision: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lane's symbol (of 256) and its slot range [low, high): two rounds of 16-ary
    search; the second round's probes and the first round's bracket give both bounds."""
    n = len(slots)
    lanes = np.arange(n)
    bounds = np.empty((17, n), dtype=np.int64)
    bounds[0], bounds[16] = 0, 1 << precision
    bounds[1:16] = starts(_FINE * 16 + np.zeros_like(slots))
    coarse = (bounds[1:16] <= slots).sum(axis=0)
    low, high = bounds[coarse, lanes], bounds[coarse + 1, lanes]
    bounds[0], bounds[16] = low, high
    bounds[1:16] = starts(coarse * 16 + _FINE)
    fine = (bounds[1:16] <= slots).sum(axis=0)
    return coarse * 16 + fine, bounds[fine, lanes], bounds[fine + 1, lanes]


WINDOW = 8  # symbols probed around each mixture's centre
_WINDOW = np.arange(WINDOW, dtype=np.int64)[:, None]
_ALL = np.arange(1, 256, dtype=np.int64)[:, None]
# Up to this many lanes outside their window, one call over all 255 symbols beats two
# rounds of 16-ary search.
_FULL_SCAN_LANES = 4


def search_near(message: Message, mixtures: Mixtures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_search`` for pixels, first among the WINDOW symbols around the mixture's centre: one
    call settles most lanes; the rest are searched in full."""
    n = message.lanes
    lanes = np.arange(n)
    slots = message.peek(n, mixtures.precision).astype(np.int64)
    first = np.minimum(np.maximum(mixtures.guess() - (WINDOW // 2 - 1), 1), LEVELS - WINDOW)
    window = mixtures.interior_starts(first + _WINDOW)
    count = (window <= slots).sum(axis=0)
    miss = np.flatnonzero((count == 0) | (count == WINDOW))
    inside = np.minimum(np.maximum(count, 1), WINDOW - 1)
    symbols = first + inside - 1
    low, high = window[inside - 1, lanes], window[inside, lanes]
    if len(miss) > _FULL_SCAN_LANES:
        part = mixtures.subset(miss)
        found, found_low, found_high = search_slots(slots[miss], part.interior_starts, part.precision)
        symbols[miss], low[miss], high[miss] = found, found_low, found_high
    elif len(miss):
        # A few lanes outside their window: every symbol's start in one call.
        part = mixtures.subset(miss)
        every = np.empty((LEVELS + 1, len(miss)), dtype=np.int64)
        every[0], every[LEVELS] = 0, 1 << mixtures.precision
        every[1:LEVELS] = part.interior_starts(_ALL + np.zeros(len(miss), dtype=np.int64))
        found = (every[1:LEVELS] <= slots[miss]).sum(axis=0)
        columns = np.arange(len(miss))
        symbols[miss], low[miss], high[miss] = found, every[found, columns], every[found + 1, columns]
    return symbols, low, high


def pop_where(message: Message, dist, active: np.ndarray) -> np.ndarray:
    symbols, low, high = _search(message, dist.starts, dist.precision)
    message.pop(np.where(active, low, 0), np.where(active, high - low, 1 << dist.precision), dist.precision)
    return np.where(active, symbols, 0)


def push_where(message: Message, dist, symbols: np.ndarray, active: np.ndarray) -> None:
    low = dist.starts(symbols)
    high = dist.starts(symbols + 1)
    message.push(np.where(active, low, 0), np.where(active, high - low, 1 << dist.precision), dist.precision)
