"""The rANS message: pop(push(m, x)) == (m, x), checked on the message itself."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip.ans.quantise import cdf_to_starts, counts_to_freqs, cumulative
from bbzip.ans.rans import Message
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
