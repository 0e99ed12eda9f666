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
same order. ``push``, ``peek`` and ``pop`` act on the lane prefix [0, n) or, given
``lanes=``, on any ascending array of lane indices (tiles of different sizes coded in
lockstep); the word order stays "ascending lane order" either way.

Initial bits, for bits-back coding (the encoder pops before anything was pushed):

* ``Message(lanes)``: heads at exactly 2**W, no borrowing (order-0; the 0x03 VAE decoder).
* ``Message(lanes, borrow_zeros=True)``: the 0x03 encoder; popping past the bottom of the
  tail reads zero words.
* ``Message.seeded(lanes, seed)``: the encoder side of seeded initial bits. Head j starts
  at 2**W + (u_j mod 2**W) and the k-th word borrowed from below the bottom of the tail is
  u_(lanes + k) mod 2**W, where u_i is output i of ``splitmix64(seed)``. The stream is
  computed with integer arithmetic of our own, identical on every machine and numpy.
* ``Message.from_bytes(data, lanes, seed=...)``: a decoder; it never borrows (popping past
  the data is corruption). ``is_initial()`` then requires the seeded heads back and the
  tail to hold exactly the words the encoder borrowed, deepest (last borrowed) first.
"""

from __future__ import annotations

import numpy as np

from bbzip.errors import CorruptError

WORD_DTYPES = {16: np.dtype("<u2"), 32: np.dtype("<u4")}
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed: int, start: int, count: int) -> np.ndarray:
    """Outputs start .. start+count-1 of SplitMix64 seeded with ``seed`` (uint64 array).

    Output i is mix(seed + (i + 1) * 0x9E3779B97F4A7C15 mod 2**64), with mix(z) =
    z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
    z ^ (z >> 31), all modulo 2**64 (numpy's uint64 arrays wrap, exactly).
    """
    z = np.arange(start + 1, start + count + 1, dtype=np.uint64)
    z *= _GAMMA
    z += np.uint64(seed & (2**64 - 1))
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    z ^= z >> np.uint64(31)
    return z


class Message:
    """rANS state: ``lanes`` heads plus a tail stack of W-bit words.

    ``borrow_zeros`` / ``Message.seeded`` are the explicit initial-bits policies of the
    bits-back coder: an encoder that pops from an exhausted tail reads zero or seeded
    words instead of failing, and counts them in ``borrowed``. A decoder never borrows.
    """

    __slots__ = (
        "_borrows",
        "_size",
        "_word_dtype",
        "_words",
        "borrowed",
        "head",
        "head_low",
        "seed",
        "word_bits",
    )

    def __init__(self, lanes: int, words: np.ndarray | None = None, heads: np.ndarray | None = None,
                 borrow_zeros: bool = False, word_bits: int = 32, seed: int | None = None):
        if lanes < 1:
            raise ValueError("a message needs at least one lane")
        self.word_bits = word_bits
        self._word_dtype = WORD_DTYPES[word_bits].newbyteorder("=")
        self.head_low = np.uint64(1 << word_bits)
        self.seed = seed
        if heads is not None:
            self.head = heads.astype(np.uint64)
        elif seed is not None:
            self.head = self._seeded_heads(lanes)
        else:
            self.head = np.full(lanes, self.head_low, dtype=np.uint64)
        data = np.zeros(0, self._word_dtype) if words is None else np.asarray(words, self._word_dtype)
        self._words = np.empty(max(1024, 2 * len(data)), dtype=self._word_dtype)
        self._words[: len(data)] = data
        self._size = len(data)
        self._borrows = borrow_zeros
        self.borrowed = 0

    @classmethod
    def seeded(cls, lanes: int, seed: int, word_bits: int = 32) -> Message:
        """An encoder's empty message with seeded heads that borrows seeded words."""
        message = cls(lanes, word_bits=word_bits, seed=seed)
        message._borrows = True
        return message

    def _seeded_heads(self, lanes: int) -> np.ndarray:
        return self.head_low | (splitmix64(self.seed, 0, lanes) & (self.head_low - np.uint64(1)))

    def _seeded_words(self, first: int, count: int) -> np.ndarray:
        """Borrowed words first .. first+count-1 (in borrowing order: shallowest first)."""
        if self.seed is None:
            return np.zeros(count, self._word_dtype)
        return splitmix64(self.seed, self.lanes + first, count).astype(self._word_dtype)

    @property
    def lanes(self) -> int:
        return len(self.head)

    @property
    def borrow_zeros(self) -> bool:
        return self._borrows and self.seed is None

    @property
    def tail_words(self) -> int:
        return self._size

    def tail(self) -> np.ndarray:
        return self._words[: self._size].copy()

    def copy(self) -> Message:
        other = Message(self.lanes, self.tail(), self.head.copy(), self._borrows, self.word_bits, self.seed)
        other.borrowed = self.borrowed
        return other

    def same_as(self, other: Message) -> bool:
        return np.array_equal(self.head, other.head) and np.array_equal(self.tail(), other.tail())

    def tail_room(self, words: int) -> np.ndarray:
        """The tail's buffer, with room for ``words`` more after ``tail_words``: a compiled
        push writes its words there, as ``push`` would append them, then calls
        ``set_tail_words``."""
        if self._size + words > len(self._words):
            grown = np.empty(max(self._size + words, 2 * len(self._words)), dtype=self._word_dtype)
            grown[: self._size] = self._words[: self._size]
            self._words = grown
        return self._words

    def set_tail_words(self, size: int) -> None:
        if not self._size <= size <= len(self._words):
            raise ValueError("the tail can only grow into its room")
        self._size = size

    def drop_tail_words(self, size: int) -> None:
        """After a compiled refill took the words from ``size`` up off the tail, as ``_take``
        would have (a decoder's: it never borrows)."""
        if not 0 <= size <= self._size:
            raise ValueError("a refill can only shrink the tail")
        self._size = size

    def _append(self, words: np.ndarray) -> None:
        need = self._size + len(words)
        self.tail_room(len(words))[self._size : need] = words
        self._size = need

    def _take(self, count: int) -> np.ndarray:
        if count > self._size:
            if not self._borrows:
                raise CorruptError("compressed data ends early (rANS tail exhausted)")
            missing = count - self._size
            # Below the bottom lies an endless virtual stack whose top is borrowed word 0;
            # the words taken now go under the real ones, the deepest (last) first.
            fresh = self._seeded_words(self.borrowed, missing)[::-1]
            self.borrowed += missing
            self._words = np.concatenate([fresh, self._words])
            self._size += missing
        self._size -= count
        return self._words[self._size : self._size + count]

    # -- coding -------------------------------------------------------------------------
    def push(self, starts: np.ndarray, freqs: np.ndarray, precision: int,
             lanes: np.ndarray | None = None) -> None:
        """Encode one symbol on each lane given its (start, freq): on lanes [0, len(starts)),
        or on the ascending lane indices ``lanes``."""
        head = self.head[: len(starts)] if lanes is None else self.head[lanes]
        # int64 (as the coders pass them) is viewed as uint64: values >= 0, no copy.
        freqs = freqs.view(np.uint64) if freqs.dtype == np.int64 else freqs.astype(np.uint64, copy=False)
        starts = starts.view(np.uint64) if starts.dtype == np.int64 else starts.astype(np.uint64, copy=False)
        # Renormalise first so the update below lands back in [2**W, 2**2W): the head
        # must be < freq * 2**(2W - precision), i.e. head >> (2W - precision) < freq.
        over = ((head >> np.uint64(2 * self.word_bits - precision)) >= freqs).nonzero()[0]
        if len(over):
            self._append(head[over].astype(self._word_dtype))  # keeps the low W bits
            head[over] >>= np.uint64(self.word_bits)
        # In place: the encoder pushes every pixel of a batch one by one, so calls count.
        quotient, remainder = np.divmod(head, freqs)
        np.left_shift(quotient, np.uint64(precision), out=head)
        head += remainder
        head += starts
        if lanes is not None:
            self.head[lanes] = head

    def peek(self, lanes: int | np.ndarray, precision: int) -> np.ndarray:
        """The cumulative-frequency slots of lanes [0, n) (an int) or of the given lanes:
        which symbol comes next."""
        head = self.head[:lanes] if isinstance(lanes, (int, np.integer)) else self.head[lanes]
        return head & np.uint64((1 << precision) - 1)

    def pop(self, starts: np.ndarray, freqs: np.ndarray, precision: int,
            lanes: np.ndarray | None = None) -> None:
        """Complete a pop whose symbols were found from ``peek``: undo ``push`` exactly."""
        head = self.head[: len(starts)] if lanes is None else self.head[lanes]
        slots = head & np.uint64((1 << precision) - 1)
        head[:] = freqs.astype(np.uint64, copy=False) * (head >> np.uint64(precision)) + slots - starts.astype(np.uint64, copy=False)
        self.refill(head)
        if lanes is not None:
            self.head[lanes] = head

    def refill(self, head: np.ndarray) -> None:
        """Pull one word into every head (an array of heads, updated in place) that fell
        below 2**W, in ascending order of position."""
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
    def from_bytes(cls, data: bytes | memoryview, lanes: int, word_bits: int = 32,
                   seed: int | None = None) -> Message:
        """A decoder's message; ``seed`` names the seeded initial state it must end in."""
        head_dtype = "<u8" if word_bits == 32 else "<u4"
        word_bytes = word_bits // 8
        head_bytes = 2 * word_bytes * lanes
        if len(data) < head_bytes or (len(data) - head_bytes) % word_bytes:
            raise CorruptError("rANS stream has an impossible length")
        heads = np.frombuffer(data, dtype=head_dtype, count=lanes).astype(np.uint64)
        if (heads < np.uint64(1 << word_bits)).any():
            raise CorruptError("rANS stream has an invalid state")
        words = np.frombuffer(data, dtype=WORD_DTYPES[word_bits], offset=head_bytes)
        return cls(lanes, words, heads, word_bits=word_bits, seed=seed)

    def is_initial(self) -> bool:
        """True when the message is back in its initial state: every head at 2**W and only
        zero words left (no seed), or the seeded heads and exactly the seeded words that an
        encoder would have borrowed, deepest first."""
        tail = self._words[: self._size]
        if self.seed is None:
            return bool((self.head == self.head_low).all() and not tail.any())
        return bool(np.array_equal(self.head, self._seeded_heads(self.lanes))
                    and np.array_equal(tail, self._seeded_words(0, self._size)[::-1]))
