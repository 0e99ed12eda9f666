"""Static order-0 rANS over bytes: one frequency table per block, many lanes.

Payload: varint lanes, byte precision, 32-byte bitmap of the symbols present, a varint
frequency for each present symbol but the last (which takes the remainder), then the rANS
message (heads, then tail words). The exact payload size follows from the counts alone,
which lets the auto coder decide without encoding.
"""

from __future__ import annotations

import numpy as np

from bbzip.ans.quantise import counts_to_freqs, cumulative
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError
from bbzip.fixedpoint.cost import COST_BITS, code_length

# With 16-bit words a head can be as small as 2**16; as the precision nears that, rANS's
# rounding starts to cost (measured: 15 bits is the sweet spot; 16 loses 0.05 %).
MAX_PRECISION = 15
MAX_LANES = 16384
WORD_BITS = 16
HEAD_BYTES = 2 * WORD_BITS // 8
LOW = np.uint32(1 << WORD_BITS)  # every head stays in [LOW, 2**32)
# Each lane's final head costs HEAD_BYTES whatever it holds (about 3 net of the data it
# carries); one lane per this many bytes of coded output keeps that near 0.4 %. More lanes
# means fewer, wider numpy steps, which is where the speed comes from: 800 decodes about
# 1.6 times as fast as 1600 did, for 0.2 % more output.
OUTPUT_BYTES_PER_LANE = 800


# Never more than this many sequential steps per block, even when the output is tiny
# (nearly constant data): speed then matters more than a few bytes of heads.
MAX_STEPS = 16384


def choose_lanes(coded_bits: int, symbols: int) -> int:
    wanted = max(int(coded_bits) // (8 * OUTPUT_BYTES_PER_LANE), symbols // MAX_STEPS)
    return max(1, min(MAX_LANES, wanted))


def _table_bytes(freqs: np.ndarray) -> int:
    """Bitmap plus a varint (7 bits a byte) per present symbol but the last."""
    stored = freqs[np.flatnonzero(freqs)[:-1]]
    return 32 + int(len(stored) + (stored >= 1 << 7).sum() + (stored >= 1 << 14).sum())


def _coded_units(counts: np.ndarray, freqs: np.ndarray, precision: int) -> int:
    """The block's code length in 2**-COST_BITS bits, in integers: the plan decides bytes
    (lanes, precision, and whether order-0 wins at all), and numpy's float log2 may differ
    in the last bit between CPUs. Each term is below 2**26 * 2**28, their sum below 2**63."""
    present = counts > 0
    return int((counts[present] * code_length(freqs[present], precision)).sum())


def _plan(counts: np.ndarray) -> tuple[int, np.ndarray, int, int]:
    """Pick precision and lanes for the smallest payload: (precision, freqs, lanes, size)."""
    used = int((counts > 0).sum())
    symbols = int(counts.sum())
    lowest = max(1, (max(used, 2) - 1).bit_length())  # ceil(log2(used))
    best = None
    for precision in range(lowest, MAX_PRECISION + 1):
        freqs = counts_to_freqs(counts, precision)
        units = _coded_units(counts, freqs, precision)
        lanes = choose_lanes(units >> COST_BITS, symbols)
        # A final head holds on average half a word of data beyond its initial value.
        words = -(-max(0, units - (WORD_BITS // 2 * lanes << COST_BITS)) // (WORD_BITS << COST_BITS))
        size = (len(encode_varint(lanes)) + 1 + _table_bytes(freqs) + words * WORD_BITS // 8
                + HEAD_BYTES * lanes)
        if best is None or size < best[3]:
            best = (precision, freqs, lanes, size)
    return best


def byte_counts(data) -> np.ndarray:
    """Histogram of byte values. np.bincount widens its input to int64 first, so count in
    1 MiB slices: 8 MiB of scratch instead of eight times the block."""
    view = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, len(view), 1 << 20):
        counts += np.bincount(view[start : start + (1 << 20)], minlength=256)
    return counts


def estimate_size(counts: np.ndarray) -> int:
    """Payload bytes of ``encode`` for a block with these counts, to within about 0.05 %."""
    return _plan(counts)[3]


class Order0Coder:
    coder_id = 1
    name = "order0"
    model_id = b""

    def encode(self, block: bytes, counts: np.ndarray | None = None) -> bytearray:
        """The payload, built in place: a block's output is written once, into one buffer."""
        data = np.frombuffer(block, dtype=np.uint8)
        if counts is None:
            counts = byte_counts(block)
        precision, freqs, lanes, size = _plan(counts)
        header = bytearray(encode_varint(lanes))
        header.append(precision)
        header += np.packbits(freqs > 0, bitorder="little").tobytes()
        for f in freqs[np.flatnonzero(freqs)[:-1]]:
            header += encode_varint(int(f))
        words = max(0, size - len(header) - HEAD_BYTES * lanes) // 2
        return encode_symbols(data, freqs, precision, lanes, header, words)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        view = memoryview(payload)
        lanes, pos = decode_varint(view, 0, min(MAX_LANES, max(1, raw_size)))
        # The encoder never takes more than MAX_STEPS sequential steps per 16384 symbols;
        # fewer lanes would let a few hostile bytes keep one lane decoding for minutes.
        if lanes < max(1, raw_size // MAX_STEPS):
            raise CorruptError(f"order-0 block has too few lanes ({lanes}) for {raw_size} bytes")
        if pos + 33 > len(view):
            raise CorruptError("order-0 block header is truncated")
        precision = view[pos]
        if not 1 <= precision <= MAX_PRECISION:
            raise CorruptError(f"order-0 block has an invalid precision {precision}")
        present = np.flatnonzero(np.unpackbits(np.frombuffer(view[pos + 1 : pos + 33], np.uint8),
                                               bitorder="little"))
        pos += 33
        if raw_size and not len(present):
            raise CorruptError("order-0 block has an empty frequency table")
        freqs = np.zeros(256, dtype=np.int64)
        total = 1 << precision
        for symbol in present[:-1]:
            freqs[symbol], pos = decode_varint(view, pos, total)
        if len(present):
            freqs[present[-1]] = total - int(freqs.sum())
            if (freqs[present] < 1).any():
                raise CorruptError("order-0 frequency table does not sum to its precision")
        return decode_symbols(view[pos:], lanes, freqs, precision, raw_size)


def encode_symbols(data: np.ndarray, freqs: np.ndarray, precision: int, lanes: int, header: bytes,
                   words_hint: int = 0) -> bytearray:
    """``header`` then the rANS message of ``data``: heads, then 16-bit tail words, as
    `Message.to_bytes` writes them.

    The mirror of `decode_symbols`, and like it not written through `Message`: heads stay in
    uint32 (they are < 2**32 by the format), and the tail words go straight into the
    payload, sized from ``words_hint`` (the plan's estimate), so that a block's output
    exists once: through `Message`, it existed three times at the end (a word buffer grown
    by doubling, its bytes, then header + bytes)."""
    present = np.flatnonzero(freqs)
    # A lone symbol has freq 2**precision: coding it leaves the state unchanged.
    coded = len(present) > 1 and len(data)
    # The estimate is within about 0.05 % of the words; going past it costs a copy.
    capacity = words_hint * 1025 // 1024 + 1024 if coded else 0
    words_at = len(header) + 4 * lanes
    out = bytearray(words_at + 2 * capacity)
    out[: len(header)] = header
    head = np.full(lanes, LOW, dtype=np.uint32)
    if coded:
        out = _push_all(data, freqs, precision, head, out, words_at)
    out[len(header) : words_at] = head.astype("<u4").tobytes()
    return out


def _push_all(data: np.ndarray, freqs: np.ndarray, precision: int, head: np.ndarray, out: bytearray,
              words_at: int) -> bytearray:
    """Push every symbol, last chunk of lanes first (the decoder pops chunk 0 first); the
    tail words go to ``out`` from ``words_at`` on, which is cut to size at the end."""
    lanes = len(head)
    words = np.frombuffer(out, dtype="<u2", offset=words_at)
    total = 0
    freq_of = freqs.astype(np.uint32)
    start_of = cumulative(freqs)[:-1].astype(np.uint32)
    scale, shift = np.uint32(1 << precision), np.uint32(2 * WORD_BITS - precision)
    f_all, s_all, t_all = (np.empty(lanes, dtype=np.uint32) for _ in range(3))
    u_all = np.empty(lanes, dtype=bool)
    for offset in range(((len(data) - 1) // lanes) * lanes, -1, -lanes):
        chunk = data[offset : offset + lanes].astype(np.intp)  # take() converts any other type
        n = len(chunk)
        h, f, s, t, u = head[:n], f_all[:n], s_all[:n], t_all[:n], u_all[:n]
        freq_of.take(chunk, out=f)
        start_of.take(chunk, out=s)
        # Renormalise first so the update lands back in [2**16, 2**32): a head must be
        # < freq * 2**(32 - precision) to code a symbol of that freq.
        np.greater_equal(np.right_shift(h, shift, out=t), f, out=u)
        idx = u.nonzero()[0]
        k = len(idx)
        if k:
            if total + k > len(words):
                del words  # a bytearray with a view on it cannot grow
                out.extend(bytes(2 * max(k, len(out) // 8)))
                words = np.frombuffer(out, dtype="<u2", offset=words_at)
            words[total : total + k] = h[idx]  # the low 16 bits, lowest lane first
            total += k
            h[idx] >>= np.uint32(WORD_BITS)
        # (h // f) * 2**precision + h % f + start, written as h + (h // f) * (2**precision - f)
        # + start: no remainder needed, and no term leaves uint32, the sum being a head.
        np.floor_divide(h, f, out=t)
        np.subtract(scale, f, out=f)
        np.multiply(t, f, out=t)
        np.add(h, t, out=h)
        np.add(h, s, out=h)
    del words
    del out[words_at + 2 * total :]
    return out


def decode_symbols(message: memoryview, lanes: int, freqs: np.ndarray, precision: int, count: int) -> bytes:
    """Decode ``count`` symbols from a rANS message (heads, then 16-bit tail words).

    The hottest loop of this coder, so the message is walked here rather than through
    `Message`: heads stay in uint32 (they are < 2**32 by the format), the symbol, its
    frequency and ``slot - start`` come from three tables indexed by the slot, every step
    writes into preallocated arrays, and the tail is a read pointer into the payload."""
    head_bytes = 4 * lanes
    if len(message) < head_bytes or (len(message) - head_bytes) % 2:
        raise CorruptError("rANS stream has an impossible length")
    head = np.frombuffer(message, dtype="<u4", count=lanes).astype(np.uint32)
    if (head < LOW).any():
        raise CorruptError("rANS stream has an invalid state")
    words = np.frombuffer(message, dtype="<u2", offset=head_bytes).astype(np.uint32)
    top = len(words)  # words[:top] are still unread; the top of the stack is words[top - 1]
    present = np.flatnonzero(freqs)
    if len(present) == 1:
        if (head != LOW).any() or top:
            raise CorruptError("order-0 block has data left over after decoding")
        return bytes([int(present[0])]) * count
    starts = cumulative(freqs)
    slot_symbol = np.repeat(np.arange(256, dtype=np.uint8), freqs)
    # freq (< 2**15 with two or more symbols) and slot - start (< 2**15) in one word: one
    # gather and two cheap ops instead of two gathers.
    slot_delta = np.arange(1 << precision) - np.repeat(starts[:-1], freqs)
    slot_packed = ((slot_delta << 16) | np.repeat(freqs, freqs)).astype(np.uint32)
    out = np.empty(count, dtype=np.uint8)
    mask, shift = np.uint32((1 << precision) - 1), np.uint32(precision)
    low16, word_shift = np.uint32(0xFFFF), np.uint32(WORD_BITS)
    slots = np.empty(lanes, dtype=np.intp)  # take() would convert any other index type first
    packed = np.empty(lanes, dtype=np.uint32)
    scratch = np.empty(lanes, dtype=np.uint32)
    under = np.empty(lanes, dtype=bool)
    for offset in range(0, count, lanes):
        n = min(lanes, count - offset)
        h, s, p, t, u = head[:n], slots[:n], packed[:n], scratch[:n], under[:n]
        np.bitwise_and(h, mask, out=s)
        slot_symbol.take(s, out=out[offset : offset + n])
        slot_packed.take(s, out=p)
        np.right_shift(h, shift, out=h)
        np.multiply(h, np.bitwise_and(p, low16, out=t), out=h)
        np.add(h, np.right_shift(p, word_shift, out=t), out=h)
        np.less(h, LOW, out=u)
        idx = u.nonzero()[0]  # nearly every step has some lanes to refill
        k = len(idx)
        if k:
            if k > top:
                raise CorruptError("compressed data ends early (rANS tail exhausted)")
            # Lanes refill in ascending order, the lowest lane taking the deepest word.
            h[idx] = (h[idx] << word_shift) | words[top - k : top]
            top -= k
    if (head != LOW).any() or top:
        raise CorruptError("order-0 block has data left over after decoding")
    return out.tobytes()
