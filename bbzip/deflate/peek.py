"""What the first block of a deflate stream says about the writer: its type, whether it is
the last, how many symbols it holds (zlib ends a non-final block at 2^(memLevel+6) - 1),
its shortest match and farthest distance. Read at compress time to skip parameters that
cannot have written the stream, so that streams of other deflaters are refused at once."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bbzip.deflate._jit import jit
from bbzip.deflate.trees import BASE_DIST, BASE_LENGTH, BL_ORDER, EXTRA_DBITS, EXTRA_LBITS

# numba caches a kernel under its own file's stamp, and these kernels read trees.py's tables
# and inline its kernels: an edit there must change this file too, or a warm cache would
# serve kernels built from the old ones. This digest of trees.py does that
# (tests/test_deflate.py checks it).
TREES_DIGEST = "af801ca2facbf3a9"


class FirstBlock(NamedTuple):
    final: bool
    kind: int  # 0 stored, 1 static, 2 dynamic
    symbols: int  # literals and matches (stored: bytes)
    shortest: int  # shortest match length (0: no matches)
    farthest: int  # largest distance (0: no matches)


@jit
def _bits(data, st, n):
    """n bits LSB first from bit position st[0]; -1 past the end."""
    v = 0
    for i in range(n):
        p = st[0]
        if (p >> 3) >= data.shape[0]:
            return -1
        v |= ((data[p >> 3] >> (p & 7)) & 1) << i
        st[0] = p + 1
    return v


@jit
def _table(lengths, n, count, symbol):
    count[:] = 0
    for s in range(n):
        count[lengths[s]] += 1
    offs = np.zeros(17, np.int64)
    for length in range(1, 16):
        offs[length + 1] = offs[length] + count[length]
    for s in range(n):
        if lengths[s] != 0:
            symbol[offs[lengths[s]]] = s
            offs[lengths[s]] += 1


@jit
def _decode(data, st, count, symbol):
    code = first = index = 0
    for length in range(1, 16):
        b = _bits(data, st, 1)
        if b < 0:
            return -1
        code |= b
        c = count[length]
        if code - c < first:
            return symbol[index + code - first]
        index += c
        first += c
        first <<= 1
        code <<= 1
    return -1


@jit
def _first_block(data):
    """(status 0 ok / -1 bad, final, kind, symbols, shortest, farthest)."""
    st = np.zeros(1, np.int64)
    final = _bits(data, st, 1)
    kind = _bits(data, st, 2)
    if final < 0 or kind < 0 or kind == 3:
        return -1, 0, 0, 0, 0, 0
    if kind == 0:
        p = (st[0] + 7) >> 3
        if p + 4 > data.shape[0]:
            return -1, 0, 0, 0, 0, 0
        return 0, final, 0, np.int64(data[p]) | (np.int64(data[p + 1]) << 8), 0, 0
    lengths = np.zeros(320, np.int64)
    lcount, lsym = np.zeros(16, np.int64), np.zeros(288, np.int64)
    dcount, dsym = np.zeros(16, np.int64), np.zeros(32, np.int64)
    if kind == 1:
        lengths[:144] = 8
        lengths[144:256] = 9
        lengths[256:280] = 7
        lengths[280:288] = 8
        nlen, ndist = 288, 30
        lengths[288:318] = 5
    else:
        nlen = _bits(data, st, 5) + 257
        ndist = _bits(data, st, 5) + 1
        ncode = _bits(data, st, 4) + 4
        if ndist < 1 or ncode < 4 or nlen > 286 or ndist > 30:
            return -1, 0, 0, 0, 0, 0
        clen = np.zeros(19, np.int64)
        for i in range(ncode):
            clen[BL_ORDER[i]] = _bits(data, st, 3)
        ccount, csym = np.zeros(16, np.int64), np.zeros(19, np.int64)
        _table(clen, 19, ccount, csym)
        i = 0
        while i < nlen + ndist:
            s = _decode(data, st, ccount, csym)
            if s < 0:
                return -1, 0, 0, 0, 0, 0
            if s < 16:
                lengths[i] = s
                i += 1
                continue
            if s == 16:
                if i == 0:
                    return -1, 0, 0, 0, 0, 0
                rep, v = 3 + _bits(data, st, 2), lengths[i - 1]
            elif s == 17:
                rep, v = 3 + _bits(data, st, 3), 0
            else:
                rep, v = 11 + _bits(data, st, 7), 0
            if i + rep > nlen + ndist:
                return -1, 0, 0, 0, 0, 0
            for _ in range(rep):
                lengths[i] = v
                i += 1
        lengths[288 : 288 + ndist] = lengths[nlen : nlen + ndist]
    _table(lengths[:nlen], nlen, lcount, lsym)
    _table(lengths[288 : 288 + ndist], ndist, dcount, dsym)
    symbols = 0
    shortest = 0
    farthest = 0
    while True:
        s = _decode(data, st, lcount, lsym)
        if s < 0 or s > 285:
            return -1, 0, 0, 0, 0, 0
        if s == 256:
            return 0, final, kind, symbols, shortest, farthest
        symbols += 1
        if s > 256:
            code = s - 257
            length = BASE_LENGTH[code] + 3 + _bits(data, st, EXTRA_LBITS[code])
            d = _decode(data, st, dcount, dsym)
            if d < 0 or d > 29:
                return -1, 0, 0, 0, 0, 0
            dist = BASE_DIST[d] + 1 + _bits(data, st, EXTRA_DBITS[d])
            if shortest == 0 or length < shortest:
                shortest = length
            farthest = max(farthest, dist)
    return -1, 0, 0, 0, 0, 0


def first_block(stream: bytes) -> FirstBlock | None:
    """The first block of raw deflate data, or None when it cannot be read."""
    status, final, kind, symbols, shortest, farthest = _first_block(np.frombuffer(stream, np.uint8))
    if status != 0:
        return None
    return FirstBlock(bool(final), int(kind), int(symbols), int(shortest), int(farthest))
