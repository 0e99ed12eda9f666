"""The rANS message: pop(push(m, x)) == (m, x), checked on the message itself."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip.ans.quantise import cdf_to_starts, counts_to_freqs, cumulative
from bbzip.ans.rans import Message, splitmix64
from bbzip.errors import CorruptError


@st.composite
def coding_problems(draw):
    lanes = draw(st.integers(1, 9))
    steps = draw(st.integers(0, 40))
    precision = draw(st.integers(4, 24))
    word_bits = draw(st.sampled_from([16, 32]))
    if word_bits == 16:
        precision = min(precision, 16)
    seed = draw(st.integers(0, 2**32 - 1))
    return lanes, steps, precision, word_bits, seed


@settings(max_examples=150, deadline=None)
@given(coding_problems())
def test_pop_undoes_push_exactly(problem):
    lanes, steps, precision, word_bits, seed = problem
    rng = np.random.default_rng(seed)
    alphabet = 5
    rows_freqs, rows_starts, rows_syms, widths = [], [], [], []
    for _ in range(steps):
        width = int(rng.integers(1, lanes + 1))  # any prefix of the lanes
        counts = rng.integers(0, 50, size=(width, alphabet)) ** 3 + 1
        freqs = np.stack([counts_to_freqs(c, precision) for c in counts])
        starts = np.cumsum(freqs, axis=1) - freqs
        rows_freqs.append(freqs)
        rows_starts.append(starts)
        rows_syms.append(rng.integers(0, alphabet, size=width))
        widths.append(width)
    initial = Message(lanes, rng.integers(0, 2**word_bits, size=3), word_bits=word_bits)
    message = initial.copy()
    for syms, starts, freqs in zip(rows_syms, rows_starts, rows_freqs):
        lanes_idx = np.arange(len(syms))
        message.push(starts[lanes_idx, syms], freqs[lanes_idx, syms], precision)
    restored = Message.from_bytes(message.to_bytes(), lanes, word_bits=word_bits)
    decoded = []
    for starts, freqs in zip(reversed(rows_starts), reversed(rows_freqs)):
        slots = restored.peek(len(starts), precision).astype(np.int64)
        syms = (starts <= slots[:, None]).sum(axis=1) - 1
        lanes_idx = np.arange(len(syms))
        restored.pop(starts[lanes_idx, syms], freqs[lanes_idx, syms], precision)
        decoded.append(syms)
    assert [s.tolist() for s in decoded[::-1]] == [s.tolist() for s in rows_syms]
    assert restored.same_as(initial)


def test_popping_past_the_data_is_corruption():
    message = Message(1)
    with pytest.raises(CorruptError):
        # A frequency-1 symbol at precision 32 shrinks the head below 2**32 at once.
        message.pop(np.array([0]), np.array([1]), 32)


def test_borrowing_encoder_returns_to_initial_state():
    """The bits-back policy: an encoder may pop before any push, a decoder must restore."""
    precision = 8
    encoder = Message(2, borrow_zeros=True)
    freqs = np.full(2, 1)  # maximally informative pops: 8 bits each
    popped = []
    for _ in range(10):
        slots = encoder.peek(2, precision)
        encoder.pop(slots.astype(np.int64), freqs, precision)
        popped.append(slots.copy())
    assert encoder.borrowed > 0
    decoder = Message.from_bytes(encoder.to_bytes(), 2)
    for slots in reversed(popped):
        decoder.push(slots.astype(np.int64), freqs, precision)
    assert decoder.is_initial()


def test_truncated_or_invalid_streams_are_rejected():
    message = Message(2)
    message.push(np.array([3, 4]), np.array([1, 1]), 16)
    data = message.to_bytes()
    with pytest.raises(CorruptError):
        Message.from_bytes(data[:-1], 2)
    with pytest.raises(CorruptError):
        Message.from_bytes(b"\0" * 16, 2)  # heads below 2**32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=300), st.integers(9, 24))
def test_counts_to_freqs_invariants(counts, precision):
    counts = np.array(counts)
    if (counts > 0).sum() > 2**precision:
        return
    freqs = counts_to_freqs(counts, precision)
    if counts.sum() == 0:
        assert not freqs.any()
        return
    assert freqs.sum() == 2**precision
    assert ((freqs >= 1) == (counts > 0)).all()
    assert (freqs[counts == 0] == 0).all()


@given(st.integers(2, 300), st.integers(9, 24), st.data())
def test_cdf_to_starts_gives_every_symbol_a_slot(alphabet, precision, data):
    if alphabet > 2**precision // 2:
        return
    cdf_bits = 30
    cdf = np.sort(np.array(data.draw(st.lists(st.integers(0, 2**cdf_bits), min_size=alphabet - 1,
                                              max_size=alphabet - 1)), dtype=np.int64))
    cdf = np.concatenate([[0], cdf, [2**cdf_bits]])
    starts = cdf_to_starts(cdf, cdf_bits, np.arange(alphabet + 1), alphabet, precision)
    assert starts[0] == 0 and starts[-1] == 2**precision
    assert (np.diff(starts) >= 1).all()
    assert (cumulative(np.diff(starts)) == starts).all()


# -- seeded initial bits and lane subsets ------------------------------------------------
def _reference_splitmix64(seed: int, count: int) -> list[int]:
    """SplitMix64 in Python integers, to check the numpy version against."""
    mask, state, out = 2**64 - 1, seed, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def test_splitmix64_matches_the_published_generator():
    # Vigna's splitmix64.c: seed 0 gives 0xE220A8397B1DCDAF first; seed 1234567 gives
    # 6457827717110365317, 3203168211198807973.
    assert int(splitmix64(0, 0, 1)[0]) == 0xE220A8397B1DCDAF
    assert [int(v) for v in splitmix64(1234567, 0, 2)] == [6457827717110365317, 3203168211198807973]
    for seed in (0, 5, 2**63 + 11, 2**64 - 1):
        assert [int(v) for v in splitmix64(seed, 4, 6)] == _reference_splitmix64(seed, 10)[4:]


def test_seeded_message_starts_from_the_seeded_stream():
    for word_bits in (16, 32):
        message = Message.seeded(5, seed=77, word_bits=word_bits)
        low = [v % 2**word_bits for v in _reference_splitmix64(77, 5)]
        assert message.head.tolist() == [2**word_bits + v for v in low]
        assert not message.borrow_zeros and message.tail_words == 0


@st.composite
def lane_subset_problems(draw):
    lanes = draw(st.integers(1, 7))
    word_bits = draw(st.sampled_from([16, 32]))
    precision = draw(st.integers(3, word_bits))
    seed = draw(st.integers(0, 2**64 - 1))
    steps = draw(st.lists(st.tuples(st.booleans(),  # True: push, False: pop
                                    st.lists(st.booleans(), min_size=lanes, max_size=lanes),
                                    st.integers(0, 2**32 - 1)), max_size=40))
    return lanes, word_bits, precision, seed, steps


def _distribution(rng, width, precision, alphabet=5):
    counts = rng.integers(0, 30, size=(width, alphabet)) ** 3 + 1
    freqs = np.stack([counts_to_freqs(c, min(precision, 24)) << max(0, precision - 24) for c in counts])
    return np.cumsum(freqs, axis=1) - freqs, freqs


def _symbols_at(message, lanes, starts, precision):
    slots = message.peek(lanes, precision).astype(np.int64)
    return (starts <= slots[:, None]).sum(axis=1) - 1


@settings(max_examples=150, deadline=None)
@given(lane_subset_problems())
def test_seeded_pushes_and_pops_on_lane_subsets_come_back_exactly(problem):
    """The bits-back oracle on any mix of pushes and pops (pops first borrow seeded words)
    on any lane subsets: the decoder restores every symbol and the seeded initial state."""
    lanes, word_bits, precision, seed, steps = problem
    encoder = Message.seeded(lanes, seed, word_bits=word_bits)
    record = []
    for is_push, chosen, dist_seed in steps:
        subset = np.flatnonzero(chosen).astype(np.int64)
        if not len(subset):
            continue
        rng = np.random.default_rng(dist_seed)
        starts, freqs = _distribution(rng, len(subset), precision)
        rows = np.arange(len(subset))
        if is_push:
            symbols = rng.integers(0, starts.shape[1], len(subset))
            encoder.push(starts[rows, symbols], freqs[rows, symbols], precision, lanes=subset)
        else:
            symbols = _symbols_at(encoder, subset, starts, precision)
            encoder.pop(starts[rows, symbols], freqs[rows, symbols], precision, lanes=subset)
        record.append((is_push, subset, starts, freqs, symbols))
    decoder = Message.from_bytes(encoder.to_bytes(), lanes, word_bits=word_bits, seed=seed)
    for is_push, subset, starts, freqs, symbols in reversed(record):
        rows = np.arange(len(subset))
        if is_push:
            found = _symbols_at(decoder, subset, starts, precision)
            assert found.tolist() == symbols.tolist()
            decoder.pop(starts[rows, found], freqs[rows, found], precision, lanes=subset)
        else:
            decoder.push(starts[rows, symbols], freqs[rows, symbols], precision, lanes=subset)
    assert decoder.is_initial()
    assert decoder.tail_words == encoder.borrowed
    assert decoder.same_as(Message(lanes, splitmix64(seed, lanes, encoder.borrowed)[::-1],
                                   Message.seeded(lanes, seed, word_bits).head, word_bits=word_bits))


def test_lane_subset_equals_the_same_steps_on_a_prefix():
    """Acting on lanes [1, 3] of four touches only those heads, and the words come out in
    ascending lane order, as a push on a two-lane message would write them."""
    precision = 32
    full = Message(4)
    full.head[:] = [2**40, 2**63 + 5, 2**41, 2**63 + 9]
    pair = Message(2, heads=full.head[[1, 3]].copy())
    for message, lanes in ((full, np.array([1, 3])), (pair, None)):
        message.push(np.array([0, 0]), np.array([1, 1]), precision, lanes=lanes)
    assert full.head[[0, 2]].tolist() == [2**40, 2**41]
    assert full.head[[1, 3]].tolist() == pair.head.tolist()
    assert full.tail().tolist() == pair.tail().tolist() == [5, 9]


def test_seeded_decoder_that_pops_past_the_data_is_corruption():
    decoder = Message.from_bytes(Message.seeded(2, 9).to_bytes(), 2, seed=9)
    assert decoder.is_initial()
    with pytest.raises(CorruptError):
        for _ in range(3):
            decoder.pop(np.array([0, 0]), np.array([1, 1]), 32)


def test_seeded_state_mismatch_is_detected():
    encoder = Message.seeded(3, seed=4)
    popped = []
    for _ in range(5):  # 16-bit pops: the first from the heads, later ones borrow words
        slots = encoder.peek(3, 16).astype(np.int64)
        encoder.pop(slots, np.ones(3, np.int64), 16)
        popped.append(slots)
    assert encoder.borrowed > 0

    def restored(seed, symbols=popped):
        decoder = Message.from_bytes(encoder.to_bytes(), 3, seed=seed)
        for slots in reversed(symbols):
            decoder.push(slots, np.ones(3, np.int64), 16)
        return decoder

    assert restored(4).is_initial()
    assert not restored(5).is_initial()  # another seed's heads and words
    assert not restored(None).is_initial()  # the unseeded state: 2**32 and zero words
    wrong = [s.copy() for s in popped]
    wrong[-1][1] ^= 1  # the last pop read borrowed words: give back others
    assert not restored(4, wrong).is_initial()
    wrong = [s.copy() for s in popped]
    wrong[0][2] ^= 1  # the first pop read the seeded head: give back another
    assert not restored(4, wrong).is_initial()
