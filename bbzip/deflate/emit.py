"""The bits of the blocks lz77.parse found, chosen and written as zlib's _tr_flush_block
does: bit strings LSB first; ``st`` holds [bit buffer, bit count, output length]."""

from __future__ import annotations

import numpy as np

from bbzip.deflate._jit import jit
from bbzip.deflate.trees import (
    BASE_DIST,
    BASE_LENGTH,
    BL_CODES,
    BL_ORDER,
    D_CODES,
    END_BLOCK,
    EXTRA_BLBITS,
    EXTRA_DBITS,
    EXTRA_LBITS,
    HEAP_SIZE,
    L_CODES,
    LENGTH_CODE,
    MAX_BITS,
    MAX_BL_BITS,
    STATIC_DLEN,
    STATIC_LLEN,
    build_tree,
    dist_code,
    gen_codes,
)

# numba caches a kernel under its own file's stamp, and these kernels read trees.py's tables
# and inline its kernels: an edit there must change this file too, or a warm cache would
# serve kernels built from the old ones. This digest of trees.py does that
# (tests/test_deflate.py checks it).
TREES_DIGEST = "af801ca2facbf3a9"

REP_3_6, REPZ_3_10, REPZ_11_138 = 16, 17, 18
STORED, STATIC, DYNAMIC = 0, 1, 2


@jit
def _send(out, st, value, length):
    buf = st[0] | (value << st[1])
    count = st[1] + length
    pos = st[2]
    while count >= 8:
        out[pos] = buf & 0xFF
        pos += 1
        buf >>= 8
        count -= 8
    st[0] = buf
    st[1] = count
    st[2] = pos


@jit
def _windup(out, st):
    if st[1] > 0:
        out[st[2]] = st[0] & 0xFF
        st[2] += 1
    st[0] = 0
    st[1] = 0


@jit
def _runs(lens, max_code, bl_freq, out, st, bl_lens, bl_codes, send):
    """zlib's scan_tree (send False: count code-length symbols) and send_tree (write them)."""
    prevlen = -1
    nextlen = lens[0]
    count = 0
    max_count, min_count = (138, 3) if nextlen == 0 else (7, 4)
    for n in range(max_code + 1):
        curlen = nextlen
        nextlen = lens[n + 1] if n < max_code else -1  # zlib's guard past max_code
        count += 1
        if count < max_count and curlen == nextlen:
            continue
        if count < min_count:
            if send:
                for _ in range(count):
                    _send(out, st, bl_codes[curlen], bl_lens[curlen])
            else:
                bl_freq[curlen] += count
        elif curlen != 0:
            if send:
                if curlen != prevlen:
                    _send(out, st, bl_codes[curlen], bl_lens[curlen])
                    count -= 1
                _send(out, st, bl_codes[REP_3_6], bl_lens[REP_3_6])
                _send(out, st, count - 3, 2)
            else:
                if curlen != prevlen:
                    bl_freq[curlen] += 1
                bl_freq[REP_3_6] += 1
        elif count <= 10:
            if send:
                _send(out, st, bl_codes[REPZ_3_10], bl_lens[REPZ_3_10])
                _send(out, st, count - 3, 3)
            else:
                bl_freq[REPZ_3_10] += 1
        else:
            if send:
                _send(out, st, bl_codes[REPZ_11_138], bl_lens[REPZ_11_138])
                _send(out, st, count - 11, 7)
            else:
                bl_freq[REPZ_11_138] += 1
        count = 0
        prevlen = curlen
        if nextlen == 0:
            max_count, min_count = 138, 3
        elif curlen == nextlen:
            max_count, min_count = 6, 3
        else:
            max_count, min_count = 7, 4


@jit
def _symbols(dists, lcs, first, end, out, st, llens, lcodes, dlens, dcodes):
    for i in range(first, end):
        dist = np.int64(dists[i])
        lc = np.int64(lcs[i])
        if dist == 0:
            _send(out, st, lcodes[lc], llens[lc])
        else:
            code = LENGTH_CODE[lc]
            _send(out, st, lcodes[code + 257], llens[code + 257])
            if EXTRA_LBITS[code] != 0:
                _send(out, st, lc - BASE_LENGTH[code], EXTRA_LBITS[code])
            dist -= 1
            code = dist_code(dist)
            _send(out, st, dcodes[code], dlens[code])
            if EXTRA_DBITS[code] != 0:
                _send(out, st, dist - BASE_DIST[code], EXTRA_DBITS[code])
    _send(out, st, lcodes[END_BLOCK], llens[END_BLOCK])


@jit
def static_codes():
    llens = np.zeros(HEAP_SIZE, np.int64)
    llens[:288] = STATIC_LLEN
    lcodes = np.zeros(HEAP_SIZE, np.int64)
    count = np.zeros(MAX_BITS + 1, np.int64)
    for n in range(288):
        count[llens[n]] += 1
    gen_codes(llens, 287, count, lcodes)
    dlens = np.zeros(HEAP_SIZE, np.int64)
    dlens[:D_CODES] = STATIC_DLEN
    dcodes = np.zeros(HEAP_SIZE, np.int64)
    count[:] = 0
    count[5] = D_CODES
    gen_codes(dlens, D_CODES - 1, count, dcodes)
    return llens, lcodes, dlens, dcodes


@jit
def write_blocks(data, dists, lcs, blocks, nblocks, fixed, final, out, kinds):
    """Write ``nblocks`` blocks into ``out``; the last is marked final when ``final``.
    Returns the byte count (the last partial byte included); ``kinds`` gets each block's
    type (0 stored, 1 static, 2 dynamic)."""
    st = np.zeros(3, np.int64)
    s_llens, s_lcodes, s_dlens, s_dcodes = static_codes()
    no_stree = np.zeros(0, np.int64)
    heap = np.zeros(HEAP_SIZE + 1, np.int64)
    depth = np.zeros(HEAP_SIZE, np.int64)
    dad = np.zeros(HEAP_SIZE, np.int64)
    for b in range(nblocks):
        first, end, start, stop, in_window = blocks[b, 0], blocks[b, 1], blocks[b, 2], blocks[b, 3], blocks[b, 4]
        last = 1 if final and b == nblocks - 1 else 0
        lfreq = np.zeros(HEAP_SIZE, np.int64)
        dfreq = np.zeros(HEAP_SIZE, np.int64)
        blfreq = np.zeros(HEAP_SIZE, np.int64)
        llens = np.zeros(HEAP_SIZE, np.int64)
        dlens = np.zeros(HEAP_SIZE, np.int64)
        bllens = np.zeros(HEAP_SIZE, np.int64)
        lcodes = np.zeros(HEAP_SIZE, np.int64)
        dcodes = np.zeros(HEAP_SIZE, np.int64)
        blcodes = np.zeros(HEAP_SIZE, np.int64)
        lfreq[END_BLOCK] = 1
        for i in range(first, end):
            if dists[i] == 0:
                lfreq[lcs[i]] += 1
            else:
                lfreq[LENGTH_CODE[lcs[i]] + 257] += 1
                dfreq[dist_code(np.int64(dists[i]) - 1)] += 1
        lmax, opt, stat = build_tree(lfreq, llens, lcodes, L_CODES, STATIC_LLEN, EXTRA_LBITS, 257, MAX_BITS, heap,
                                     depth, dad)
        dmax, o, s = build_tree(dfreq, dlens, dcodes, D_CODES, STATIC_DLEN, EXTRA_DBITS, 0, MAX_BITS, heap, depth,
                                dad)
        opt += o
        stat += s
        _runs(llens, lmax, blfreq, out, st, bllens, blcodes, False)
        _runs(dlens, dmax, blfreq, out, st, bllens, blcodes, False)
        _, o, _ = build_tree(blfreq, bllens, blcodes, BL_CODES, no_stree, EXTRA_BLBITS, 0, MAX_BL_BITS, heap, depth,
                             dad)
        opt += o
        max_blindex = BL_CODES - 1
        while max_blindex >= 3 and bllens[BL_ORDER[max_blindex]] == 0:
            max_blindex -= 1
        opt += 3 * (max_blindex + 1) + 5 + 5 + 4
        opt_lenb = (opt + 3 + 7) >> 3
        static_lenb = (stat + 3 + 7) >> 3
        if static_lenb <= opt_lenb or fixed:
            opt_lenb = static_lenb
        stored_len = stop - start
        if stored_len + 4 <= opt_lenb and in_window:
            kinds[b] = STORED
            _send(out, st, (STORED << 1) + last, 3)
            _windup(out, st)
            pos = st[2]
            out[pos] = stored_len & 0xFF
            out[pos + 1] = (stored_len >> 8) & 0xFF
            out[pos + 2] = ~stored_len & 0xFF
            out[pos + 3] = (~stored_len >> 8) & 0xFF
            pos += 4
            for i in range(stored_len):
                out[pos + i] = data[start + i]
            st[2] = pos + stored_len
        elif static_lenb == opt_lenb:
            kinds[b] = STATIC
            _send(out, st, (STATIC << 1) + last, 3)
            _symbols(dists, lcs, first, end, out, st, s_llens, s_lcodes, s_dlens, s_dcodes)
        else:
            kinds[b] = DYNAMIC
            _send(out, st, (DYNAMIC << 1) + last, 3)
            _send(out, st, lmax + 1 - 257, 5)
            _send(out, st, dmax + 1 - 1, 5)
            _send(out, st, max_blindex + 1 - 4, 4)
            for rank in range(max_blindex + 1):
                _send(out, st, bllens[BL_ORDER[rank]], 3)
            _runs(llens, lmax, blfreq, out, st, bllens, blcodes, True)
            _runs(dlens, dmax, blfreq, out, st, bllens, blcodes, True)
            _symbols(dists, lcs, first, end, out, st, llens, lcodes, dlens, dcodes)
    _windup(out, st)
    return st[2]
