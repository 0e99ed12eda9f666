"""zlib's trees.c decisions and bit output for the blocks that lz77.parse found: Huffman
trees built with zlib's heap (ties broken by subtree depth), lengths limited by its
overflow fix-up, the code-length code's run rules and bl_order, and the choice between a
stored, a static and a dynamic block by zlib's opt_len/static_len estimates."""

from __future__ import annotations

import numpy as np

from bbzip.deflate._jit import jit

L_CODES, D_CODES, BL_CODES = 286, 30, 19
HEAP_SIZE = 2 * L_CODES + 1
MAX_BITS, MAX_BL_BITS = 15, 7
END_BLOCK = 256


def _tables():
    extra_lbits = np.array([0] * 8 + [b for b in range(1, 6) for _ in range(4)] + [0], np.int64)
    base_length = np.zeros(29, np.int64)
    length_code = np.zeros(256, np.int64)
    lc = 0
    for code in range(28):
        base_length[code] = lc
        for _ in range(1 << extra_lbits[code]):
            length_code[lc] = code
            lc += 1
    base_length[28] = 255
    length_code[255] = 28  # length 258 has its own code, not code 27 with extra bits 31
    extra_dbits = np.array([0, 0] + [b for b in range(14) for _ in range(2)], np.int64)
    base_dist = np.zeros(30, np.int64)
    d = 0
    for code in range(30):
        base_dist[code] = d
        d += 1 << extra_dbits[code]
    extra_blbits = np.array([0] * 16 + [2, 3, 7], np.int64)
    static_llen = np.array([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8, np.int64)
    static_dlen = np.full(30, 5, np.int64)
    return extra_lbits, base_length, length_code, extra_dbits, base_dist, extra_blbits, static_llen, static_dlen


EXTRA_LBITS, BASE_LENGTH, LENGTH_CODE, EXTRA_DBITS, BASE_DIST, EXTRA_BLBITS, STATIC_LLEN, STATIC_DLEN = _tables()
BL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15], np.int64)


@jit
def dist_code(d):
    """Code of distance d + 1 (d = distance - 1)."""
    if d < 4:
        return d
    bits = 0
    v = d
    while v > 1:
        v >>= 1
        bits += 1
    return 2 * bits + ((d >> (bits - 1)) & 1)


@jit
def _smaller(freq, depth, n, m):
    return freq[n] < freq[m] or (freq[n] == freq[m] and depth[n] <= depth[m])


@jit
def _downheap(freq, depth, heap, heap_len, k):
    v = heap[k]
    j = k << 1
    while j <= heap_len:
        if j < heap_len and _smaller(freq, depth, heap[j + 1], heap[j]):
            j += 1
        if _smaller(freq, depth, v, heap[j]):
            break
        heap[k] = heap[j]
        k = j
        j <<= 1
    heap[k] = v


@jit
def gen_codes(lens, max_code, bl_count, codes):
    """Canonical codes, bit-reversed for LSB-first output."""
    next_code = np.zeros(MAX_BITS + 1, np.int64)
    code = 0
    for bits in range(1, MAX_BITS + 1):
        code = (code + bl_count[bits - 1]) << 1
        next_code[bits] = code
    for n in range(max_code + 1):
        length = lens[n]
        if length == 0:
            continue
        c = next_code[length]
        next_code[length] += 1
        r = 0
        for _ in range(length):
            r = (r << 1) | (c & 1)
            c >>= 1
        codes[n] = r


@jit
def build_tree(freq, lens, codes, elems, stree, extra, extra_base, max_length, heap, depth, dad):
    """zlib's build_tree + gen_bitlen + gen_codes: returns (max_code, opt_len delta,
    static_len delta); ``stree`` of length 0 means no static tree."""
    opt = 0
    stat = 0
    heap_len = 0
    heap_max = HEAP_SIZE
    max_code = -1
    for n in range(elems):
        if freq[n] != 0:
            heap_len += 1
            heap[heap_len] = n
            max_code = n
            depth[n] = 0
        else:
            lens[n] = 0
    # At least two codes of non-zero frequency, so that the decoder sees a complete code.
    while heap_len < 2:
        if max_code < 2:
            max_code += 1
            node = max_code
        else:
            node = 0
        heap_len += 1
        heap[heap_len] = node
        freq[node] = 1
        depth[node] = 0
        opt -= 1
        if stree.shape[0] > 0:
            stat -= stree[node]
    for n in range(heap_len // 2, 0, -1):
        _downheap(freq, depth, heap, heap_len, n)
    node = elems
    while True:
        n = heap[1]
        heap[1] = heap[heap_len]
        heap_len -= 1
        _downheap(freq, depth, heap, heap_len, 1)
        m = heap[1]
        heap_max -= 1
        heap[heap_max] = n
        heap_max -= 1
        heap[heap_max] = m
        freq[node] = freq[n] + freq[m]
        depth[node] = max(depth[n], depth[m]) + 1
        dad[n] = node
        dad[m] = node
        heap[1] = node
        node += 1
        _downheap(freq, depth, heap, heap_len, 1)
        if heap_len < 2:
            break
    heap_max -= 1
    heap[heap_max] = heap[1]
    # gen_bitlen: lengths from the root down, in the heap's order of removal
    bl_count = np.zeros(MAX_BITS + 1, np.int64)
    lens[heap[heap_max]] = 0
    overflow = 0
    h = heap_max + 1
    while h < HEAP_SIZE:
        n = heap[h]
        bits = lens[dad[n]] + 1
        if bits > max_length:
            bits = max_length
            overflow += 1
        lens[n] = bits
        h += 1
        if n > max_code:
            continue
        bl_count[bits] += 1
        xbits = extra[n - extra_base] if n >= extra_base else 0
        f = freq[n]
        opt += f * (bits + xbits)
        if stree.shape[0] > 0:
            stat += f * (stree[n] + xbits)
    if overflow > 0:
        while overflow > 0:
            bits = max_length - 1
            while bl_count[bits] == 0:
                bits -= 1
            bl_count[bits] -= 1
            bl_count[bits + 1] += 2
            bl_count[max_length] -= 1
            overflow -= 2
        h = HEAP_SIZE
        for bits in range(max_length, 0, -1):
            k = bl_count[bits]
            while k != 0:
                h -= 1
                m = heap[h]
                if m > max_code:
                    continue
                if lens[m] != bits:
                    opt += (bits - lens[m]) * freq[m]
                    lens[m] = bits
                k -= 1
    gen_codes(lens, max_code, bl_count, codes)
    return max_code, opt, stat
