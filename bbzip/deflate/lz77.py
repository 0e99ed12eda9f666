"""zlib's match finder and block splitter, as deflate_fast (levels 1-3) and deflate_slow
(levels 4-9) run it on one input given whole with Z_FINISH.

Positions are kept as zlib keeps them, relative to a window of 2 * wsize bytes that slides
by wsize: a hash head or chain entry of 0 means "none" (zlib's NIL), which is why the first
byte of the input and the first byte after each slide can never be matched against, and
why the slides happen exactly where zlib's fill_window makes them (the first loop top with
lookahead < MIN_LOOKAHEAD and strstart >= wsize + MAX_DIST). The input itself stays whole:
window position p is data[base + p].

Output: the symbols (dist 0 and lc a literal byte, or dist 1..32768 and lc = length - 3)
and, per block, [first symbol, end symbol, block start, block end (absolute input
positions), 1 if the bytes are still in the window (a stored block may be chosen)].
"""

from __future__ import annotations

import numpy as np

from bbzip.deflate._jit import jit

MIN_MATCH = 3
MAX_MATCH = 258
MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1
TOO_FAR = 4096

# level: good_length, max_lazy (max_insert_length for levels 1-3), nice_length, max_chain
CONFIG = np.array(((0, 0, 0, 0), (4, 4, 8, 4), (4, 5, 16, 8), (4, 6, 32, 32), (4, 4, 16, 16), (8, 16, 32, 32),
                   (8, 16, 128, 128), (8, 32, 128, 256), (32, 128, 258, 1024), (32, 258, 258, 4096)), np.int64)

DEFAULT, FILTERED, HUFFMAN_ONLY, RLE, FIXED = range(5)


@jit
def _longest_match(data, base, prev, wmask, strstart, lookahead, cur_match, best_len, match_start, good, nice, chain,
                   max_dist):
    """zlib's longest_match: (length, match_start). Bytes past the input never decide
    anything, so they are not read: a match that reaches the end of the input stops the
    search as zlib's clipped nice_match does."""
    if best_len >= lookahead:  # only after a longer previous match, which wins regardless
        return lookahead, match_start
    chain_length = chain
    if best_len >= good:
        chain_length >>= 2
    nice_match = min(nice, lookahead)
    limit = strstart - max_dist if strstart > max_dist else 0
    longest = min(lookahead, MAX_MATCH)
    scan = base + strstart
    while True:
        m = base + cur_match
        if (data[m + best_len] == data[scan + best_len] and data[m + best_len - 1] == data[scan + best_len - 1]
                and data[m] == data[scan] and data[m + 1] == data[scan + 1]):
            length = 2
            while length < longest and data[m + length] == data[scan + length]:
                length += 1
            if length > best_len:
                match_start = cur_match
                best_len = length
                if length >= nice_match:
                    break
        cur_match = prev[cur_match & wmask]
        if cur_match <= limit:
            break
        chain_length -= 1
        if chain_length == 0:
            break
    if best_len <= lookahead:
        return best_len, match_start
    return lookahead, match_start


@jit
def _slide(head, prev, wsize):
    for table in (head, prev):
        for i in range(table.shape[0]):
            v = table[i]
            table[i] = v - wsize if v >= wsize else 0


@jit
def _end_block(blocks, nblocks, block_sym, nsym, base, block_start, strstart):
    """Record the block that ends at window position ``strstart``; return the block count and
    where the next block starts (its first symbol, its window position)."""
    blocks[nblocks, 0] = block_sym
    blocks[nblocks, 1] = nsym
    blocks[nblocks, 2] = base + block_start
    blocks[nblocks, 3] = base + strstart
    blocks[nblocks, 4] = 1 if block_start >= 0 else 0
    return nblocks + 1, nsym, strstart


@jit
def parse(data, level, strategy, mem_level, window_bits, max_blocks, dists, lcs, blocks):
    """Fill ``dists``/``lcs`` (at least len(data) + 1 entries) and ``blocks`` (rows of 5);
    return (symbol count, block count, whether the input ended). Stops after ``max_blocks`` blocks when that is > 0
    (the blocks so far are exactly those of the whole run)."""
    good, lazy, nice, chain = CONFIG[level, 0], CONFIG[level, 1], CONFIG[level, 2], CONFIG[level, 3]
    slow = level >= 4
    # zlib refills below MIN_LOOKAHEAD bytes ahead, deflate_rle at MAX_MATCH, deflate_huff
    # only when empty; the refill is where the window slides.
    fill_below = MIN_LOOKAHEAD if strategy < HUFFMAN_ONLY or strategy == FIXED else (
        MAX_MATCH + 1 if strategy == RLE else 1)
    n = data.shape[0]
    wsize = 1 << window_bits
    wmask = wsize - 1
    max_dist = wsize - MIN_LOOKAHEAD
    hash_bits = mem_level + 7
    hmask = (1 << hash_bits) - 1
    hshift = (hash_bits + MIN_MATCH - 1) // MIN_MATCH
    sym_limit = (1 << (mem_level + 6)) - 1
    head = np.zeros(1 << hash_bits, np.int64)
    prev = np.zeros(wsize, np.int64)
    base = 0
    read = 0
    strstart = 0
    lookahead = 0
    ins_h = 0
    block_start = 0
    nsym = 0
    block_sym = 0
    nblocks = 0
    match_length = MIN_MATCH - 1
    match_start = 0
    prev_length = MIN_MATCH - 1
    prev_match = 0
    match_available = False
    while True:
        if lookahead < fill_below:  # fill_window
            while True:
                more = 2 * wsize - lookahead - strstart
                if strstart >= wsize + max_dist:
                    base += wsize
                    match_start -= wsize
                    strstart -= wsize
                    block_start -= wsize
                    _slide(head, prev, wsize)
                    more += wsize
                if read == n:
                    break
                k = min(more, n - read)
                read += k
                lookahead += k
                if lookahead >= MIN_MATCH:
                    ins_h = ((np.int64(data[base + strstart]) << hshift) ^ data[base + strstart + 1]) & hmask
                if lookahead >= MIN_LOOKAHEAD or read == n:
                    break
            if lookahead == 0:
                break
        hash_head = 0
        if lookahead >= MIN_MATCH and strategy != HUFFMAN_ONLY and strategy != RLE:
            ins_h = ((ins_h << hshift) ^ data[base + strstart + 2]) & hmask
            hash_head = head[ins_h]
            prev[strstart & wmask] = hash_head
            head[ins_h] = strstart
        bflush = False
        if strategy == HUFFMAN_ONLY or strategy == RLE:
            match_length = 0
            if strategy == RLE and lookahead >= MIN_MATCH and base + strstart > 0 and strstart > 0:
                p = base + strstart
                c = data[p - 1]
                longest = min(lookahead, MAX_MATCH)
                while match_length < longest and data[p + match_length] == c:
                    match_length += 1
            if match_length >= MIN_MATCH:
                dists[nsym] = 1
                lcs[nsym] = match_length - MIN_MATCH
                lookahead -= match_length
                strstart += match_length
                match_length = 0
            else:
                dists[nsym] = 0
                lcs[nsym] = data[base + strstart]
                lookahead -= 1
                strstart += 1
            nsym += 1
            bflush = nsym - block_sym == sym_limit
        elif not slow:
            if hash_head != 0 and strstart - hash_head <= max_dist:
                match_length, match_start = _longest_match(data, base, prev, wmask, strstart, lookahead, hash_head,
                                                           MIN_MATCH - 1, match_start, good, nice, chain, max_dist)
            if match_length >= MIN_MATCH:
                dists[nsym] = strstart - match_start
                lcs[nsym] = match_length - MIN_MATCH
                nsym += 1
                bflush = nsym - block_sym == sym_limit
                lookahead -= match_length
                if match_length <= lazy and lookahead >= MIN_MATCH:
                    for _ in range(match_length - 1):
                        strstart += 1
                        ins_h = ((ins_h << hshift) ^ data[base + strstart + 2]) & hmask
                        prev[strstart & wmask] = head[ins_h]
                        head[ins_h] = strstart
                    strstart += 1
                else:
                    strstart += match_length
                    p = base + strstart
                    # zlib reads the window here even at the end; then the value is unused
                    b0 = data[p] if p < n else 0
                    b1 = data[p + 1] if p + 1 < n else 0
                    ins_h = ((np.int64(b0) << hshift) ^ b1) & hmask
                match_length = 0
            else:
                dists[nsym] = 0
                lcs[nsym] = data[base + strstart]
                nsym += 1
                bflush = nsym - block_sym == sym_limit
                lookahead -= 1
                strstart += 1
        else:
            prev_length = match_length
            prev_match = match_start
            match_length = MIN_MATCH - 1
            if hash_head != 0 and prev_length < lazy and strstart - hash_head <= max_dist:
                match_length, match_start = _longest_match(data, base, prev, wmask, strstart, lookahead, hash_head,
                                                           prev_length, match_start, good, nice, chain, max_dist)
                if match_length <= 5 and (strategy == FILTERED or (
                        match_length == MIN_MATCH and strstart - match_start > TOO_FAR)):
                    match_length = MIN_MATCH - 1
            if prev_length >= MIN_MATCH and match_length <= prev_length:
                max_insert = strstart + lookahead - MIN_MATCH
                dists[nsym] = strstart - 1 - prev_match
                lcs[nsym] = prev_length - MIN_MATCH
                nsym += 1
                bflush = nsym - block_sym == sym_limit
                lookahead -= prev_length - 1
                for _ in range(prev_length - 2):
                    strstart += 1
                    if strstart <= max_insert:
                        ins_h = ((ins_h << hshift) ^ data[base + strstart + 2]) & hmask
                        prev[strstart & wmask] = head[ins_h]
                        head[ins_h] = strstart
                match_available = False
                match_length = MIN_MATCH - 1
                strstart += 1
            elif match_available:
                dists[nsym] = 0
                lcs[nsym] = data[base + strstart - 1]
                nsym += 1
                if nsym - block_sym == sym_limit:  # flushed before strstart moves on
                    nblocks, block_sym, block_start = _end_block(blocks, nblocks, block_sym, nsym, base, block_start,
                                                                 strstart)
                    if nblocks == max_blocks:
                        return nsym, nblocks, False
                strstart += 1
                lookahead -= 1
            else:
                match_available = True
                strstart += 1
                lookahead -= 1
        if bflush:
            nblocks, block_sym, block_start = _end_block(blocks, nblocks, block_sym, nsym, base, block_start, strstart)
            if nblocks == max_blocks:
                return nsym, nblocks, False
    if match_available:
        dists[nsym] = 0
        lcs[nsym] = data[base + strstart - 1]
        nsym += 1
    nblocks = _end_block(blocks, nblocks, block_sym, nsym, base, block_start, strstart)[0]
    return nsym, nblocks, True
