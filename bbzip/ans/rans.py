"""A stack-like rANS message over many lanes (craystack's shape, ryg_rans' arithmetic).

Each lane has a head kept in [2**W, 2**(2W)) between operations, where W is the word size;
renormalisation moves whole W-bit words between a head and one shared tail stack. With
W-bit words and precision <= W, every push emits at most one word per lane and every pop
reads at most one, so renormalisation is a single masked step with no loop; heads are held
in uint64 so every intermediate value is exact.

Two word sizes are offered. W=32 (64-bit heads) allows up to 32 bits of precision, which
the bits-back coder needs for sharply peaked pixel distributions. W=16 (32-bit heads)
halves the 2W/8 bytes that each lane's final head costs, so the order-0 coder can afford
twice the lanes, and lanes are what numpy vectorises over.

ANS is last-in first-out: symbols are popped in the reverse of the order they were pushed.
The tail is shared by all lanes; a renormalising push appends the words of the
overflowing lanes in ascending lane order, and the mirroring pop takes them back in the
same order, so a message can be grown on any prefix of its lanes.
"""

from __future__ import annotations

import numpy as np

from bbzip.errors import CorruptError

WORD_DTYPES = {16: np.dtype("<u2"), 32: np.dtype("<u4")}


class Message:
    """rANS state: ``lanes`` heads plus a tail stack of W-bit words.

    ``borrow_zeros`` is the explicit initial-bits policy of the bits-back coder: an encoder
    that pops from an exhausted tail reads zero words instead of failing, and records how
    many it borrowed. A decoder never borrows: popping past the data is corruption.
    """

    __slots__ = (
        "_size",
        "_word_dtype",
        "_words",
        "borrow_zeros",
        "borrowed",
        "head",
        "head_low",
        "word_bits",
    )

    def __init__(self, lanes: int, words: np.ndarray | None = None, heads: np.ndarray | None = None,
                 borrow_zeros: bool = False, word_bits: int = 32):
        if lanes < 1:
            raise ValueError("a message needs at least one lane")
        self.word_bits = word_bits
        self._word_dtype = WORD_DTYPES[word_bits].newbyteorder("=")
        self.head_low = np.uint64(1 << word_bits)
        self.head = (np.full(lanes, self.head_low, dtype=np.uint64) if heads is None
                     else heads.astype(np.uint64))
        data = np.zeros(0, self._word_dtype) if words is None else np.asarray(words, self._word_dtype)
        self._words = np.empty(max(1024, 2 * len(data)), dtype=self._word_dtype)
        self._words[: len(data)] = data
        self._size = len(data)
        self.borrow_zeros = borrow_zeros
        self.borrowed = 0

    @property
    def lanes(self) -> int:
        return len(self.head)

    @property
    def tail_words(self) -> int:
        return self._size

    def tail(self) -> np.ndarray:
        return self._words[: self._size].copy()

    def copy(self) -> Message:
        other = Message(self.lanes, self.tail(), self.head.copy(), self.borrow_zeros, self.word_bits)
        other.borrowed = self.borrowed
        return other

    def same_as(self, other: Message) -> bool:
        return np.array_equal(self.head, other.head) and np.array_equal(self.tail(), other.tail())

    def _append(self, words: np.ndarray) -> None:
        need = self._size + len(words)
        if need > len(self._words):
            grown = np.empty(max(need, 2 * len(self._words)), dtype=self._word_dtype)
            grown[: self._size] = self._words[: self._size]
            self._words = grown
        self._words[self._size : need] = words
        self._size = need

    def _take(self, count: int) -> np.ndarray:
        if count > self._size:
            if not self.borrow_zeros:
                raise CorruptError("compressed data ends early (rANS tail exhausted)")
            missing = count - self._size
            self.borrowed += missing
            self._words = np.concatenate([np.zeros(missing, self._word_dtype), self._words])
            self._size += missing
        self._size -= count
        return self._words[self._size : self._size + count]

    # -- coding -------------------------------------------------------------------------
    def push(self, starts: np.ndarray, freqs: np.ndarray, precision: int) -> None:
        """Encode one symbol on each of lanes [0, len(starts)) given its (start, freq)."""
        n = len(starts)
        head = self.head[:n]
        freqs = freqs.astype(np.uint64, copy=False)
        # Renormalise first so the update below lands back in [2**W, 2**2W): the head
        # must be < freq * 2**(2W - precision), i.e. head >> (2W - precision) < freq.
        over = (head >> np.uint64(2 * self.word_bits - precision)) >= freqs
        if over.any():
            idx = np.flatnonzero(over)
            self._append(head[idx].astype(self._word_dtype))  # keeps the low W bits
            head[idx] >>= np.uint64(self.word_bits)
        quotient, remainder = np.divmod(head, freqs)
        head[:] = (quotient << np.uint64(precision)) + remainder + starts.astype(np.uint64, copy=False)

    def peek(self, n: int, precision: int) -> np.ndarray:
        """The cumulative-frequency slots of lanes [0, n): which symbol comes next."""
        return self.head[:n] & np.uint64((1 << precision) - 1)

    def pop(self, starts: np.ndarray, freqs: np.ndarray, precision: int) -> None:
        """Complete a pop whose symbols were found from ``peek``: undo ``push`` exactly."""
        n = len(starts)
        head = self.head[:n]
        slots = head & np.uint64((1 << precision) - 1)
        head[:] = freqs.astype(np.uint64, copy=False) * (head >> np.uint64(precision)) + slots - starts.astype(np.uint64, copy=False)
        self.refill(head)

    def refill(self, head: np.ndarray) -> None:
        """Pull one word into every head (a view of self.head) that fell below 2**W."""
        under = head < self.head_low
        if under.any():
            idx = np.flatnonzero(under)
            head[idx] = (head[idx] << np.uint64(self.word_bits)) | self._take(len(idx)).astype(np.uint64)

    # -- serialisation ------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Heads (little-endian, 2W bits each) then the tail words (little-endian, W bits)."""
        head_dtype = "<u8" if self.word_bits == 32 else "<u4"
        words = self._words[: self._size].astype(WORD_DTYPES[self.word_bits], copy=False)
        return b"".join([self.head.astype(head_dtype).tobytes(), words])

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, lanes: int, word_bits: int = 32) -> Message:
        head_dtype = "<u8" if word_bits == 32 else "<u4"
        word_bytes = word_bits // 8
        head_bytes = 2 * word_bytes * lanes
        if len(data) < head_bytes or (len(data) - head_bytes) % word_bytes:
            raise CorruptError("rANS stream has an impossible length")
        heads = np.frombuffer(data, dtype=head_dtype, count=lanes).astype(np.uint64)
        if (heads < np.uint64(1 << word_bits)).any():
            raise CorruptError("rANS stream has an invalid state")
        words = np.frombuffer(data, dtype=WORD_DTYPES[word_bits], offset=head_bytes)
        return cls(lanes, words, heads, word_bits=word_bits)

    def is_initial(self) -> bool:
        """True when every head is back at its initial value and the tail holds only zeros."""
        return bool((self.head == self.head_low).all() and not self._words[: self._size].any())
