"""Every model-free coder round-trips any bytes; order-0 meets its size promise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip.coders import order0
from bbzip.coders.lzma_coder import LzmaCoder
from bbzip.coders.order0 import Order0Coder
from bbzip.coders.stored import StoredCoder
from bbzip.coders.zstd_coder import ZstdCoder
from bbzip.errors import CorruptError

CODERS = [Order0Coder(), LzmaCoder(), ZstdCoder(), StoredCoder()]


def skewed(n, seed=1):
    rng = np.random.default_rng(seed)
    p = 0.8 ** np.arange(256)
    return rng.choice(256, size=n, p=p / p.sum()).astype(np.uint8).tobytes()


@pytest.mark.parametrize("coder", CODERS, ids=lambda c: c.name)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000))
def test_round_trip_any_bytes(coder, data):
    assert coder.decode(coder.encode(data), len(data)) == data


@pytest.mark.parametrize("coder", CODERS, ids=lambda c: c.name)
@pytest.mark.parametrize("size", [1, 2, 255, 4096, 100_000, 1_000_003])
def test_round_trip_sizes(coder, size):
    data = skewed(size)
    assert coder.decode(coder.encode(data), size) == data


def test_order0_single_symbol_block_costs_only_its_header():
    data = b"\x07" * 10_000_000
    payload = Order0Coder().encode(data)
    assert len(payload) < 48 + 4 * order0.choose_lanes(0, len(data))
    assert Order0Coder().decode(payload, len(data)) == data


def test_order0_is_within_half_a_percent_of_entropy():
    data = skewed(2_000_000)
    counts = np.bincount(np.frombuffer(data, np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    entropy_bytes = -(p * np.log2(p)).sum() * len(data) / 8
    payload = Order0Coder().encode(data)
    assert len(payload) <= entropy_bytes * 1.005 + 1024
    # The auto coder decides on this estimate; it must track the real size closely.
    assert abs(order0.estimate_size(counts) - len(payload)) <= 0.0005 * len(payload) + 16


def test_order0_uses_more_lanes_for_bigger_outputs():
    assert order0.choose_lanes(8 * 100, 1000) == 1
    assert order0.choose_lanes(8e6 * 8, 10**7) > order0.choose_lanes(8e5 * 8, 10**7) > 1
    # nearly constant data still gets enough lanes to decode quickly
    assert order0.choose_lanes(8, 32 << 20) >= (32 << 20) // order0.MAX_STEPS


@pytest.mark.parametrize("coder", CODERS, ids=lambda c: c.name)
def test_wrong_length_or_truncation_is_corruption(coder):
    data = skewed(5000)
    payload = coder.encode(data)
    for bad in (payload[:-1], payload[: len(payload) // 2]):
        with pytest.raises(CorruptError):
            coder.decode(bad, len(data))
    with pytest.raises(CorruptError):
        coder.decode(payload, len(data) + 1)


def _through_message(data: bytes) -> tuple[tuple, bytes]:
    """Order-0's plan for ``data`` and its rANS message made with the generic `Message`, as
    the encoder once made it."""
    from bbzip.ans.quantise import cumulative
    from bbzip.ans.rans import Message

    symbols = np.frombuffer(data, dtype=np.uint8)
    plan = order0._plan(order0.byte_counts(data))
    precision, freqs, lanes, _ = plan
    starts, freq_of = cumulative(freqs)[:-1].astype(np.uint64), freqs.astype(np.uint64)
    message = Message(lanes, word_bits=order0.WORD_BITS)
    if (freqs > 0).sum() > 1:
        for offset in range(((len(symbols) - 1) // lanes) * lanes, -1, -lanes):
            chunk = symbols[offset : offset + lanes]
            message.push(starts[chunk], freq_of[chunk], precision)
    return plan, message.to_bytes()


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=5000), narrow=st.integers(0, 3))
def test_order0_in_place_encoder_writes_what_the_rans_message_would(data, narrow):
    data = bytes(b >> (2 * narrow) for b in data)  # fewer symbols: other precisions and lanes
    _, message = _through_message(data)
    assert bytes(Order0Coder().encode(data)).endswith(message)


@pytest.mark.parametrize("hint", [0, 10, 10**6])
def test_order0_encoder_fits_its_buffer_to_any_estimate(hint):
    data = skewed(200_000) + bytes(range(256)) * 50
    (precision, freqs, lanes, _), message = _through_message(data)
    symbols = np.frombuffer(data, np.uint8)
    assert bytes(order0.encode_symbols(symbols, freqs, precision, lanes, b"", hint)) == message


def test_order0_rejects_hostile_headers():
    data = skewed(5000)
    payload = bytearray(Order0Coder().encode(data))
    lanes_too_many = b"\xff\xff\x03" + bytes(payload[1:])
    with pytest.raises(CorruptError):
        Order0Coder().decode(lanes_too_many, len(data))
    bad_precision = bytearray(payload)
    bad_precision[1] = 40
    with pytest.raises(CorruptError):
        Order0Coder().decode(bytes(bad_precision), len(data))


def test_order0_decides_without_float_logarithms(monkeypatch):
    """Its plan (lanes, precision, and the size the auto coder compares) decides bytes;
    numpy's log2 may differ in the last bit from one CPU to another (issue 19)."""
    data = skewed(300_000)
    expected = Order0Coder().encode(data)

    def refuse(*args, **kwargs):
        raise AssertionError("a float logarithm decided order-0's bytes")

    monkeypatch.setattr(np, "log2", refuse)
    assert Order0Coder().encode(data) == expected
    assert order0.estimate_size(order0.byte_counts(data)) > 0
