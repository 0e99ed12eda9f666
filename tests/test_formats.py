"""Image file formats beyond 8-bit PNM/NPY/IDX: the planes API (16-bit samples, alpha),
JPEG through Lepton, TIFF, BMP, 16-bit PNM and NPY; their fuzz targets, briefly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip.errors import CorruptError
from bbzip.images import planes
from tests import natural_fake


@pytest.fixture
def fake_natural(monkeypatch):
    from bbzip.images import coder

    monkeypatch.setattr(coder, "backend", natural_fake.backend)
    return natural_fake.MODEL


def smooth(h: int, w: int, c: int, dtype=np.uint8, scale: int = 255, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    base = (x * 3 + y * 2)[..., None] + np.arange(c) * 17
    values = (base % 256) * (scale / 255) + rng.integers(0, 3, (h, w, c))
    return np.clip(values, 0, np.iinfo(dtype).max).astype(dtype)


# -- planes ----------------------------------------------------------------------------
@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype,scale", [(np.uint8, 255), (np.uint16, 4095), (np.uint16, 65535)])
def test_planes_round_trip(fake_natural, c, dtype, scale):
    array = smooth(19, 23, c, dtype, scale)
    data = planes.encode_planes(fake_natural, array)
    back = planes.decode_planes(fake_natural, data, array.shape, dtype)
    assert back.dtype == dtype and np.array_equal(back, array)


def test_planes_opaque_alpha_costs_two_bytes(fake_natural):
    rgb = smooth(32, 32, 3)
    rgba = np.concatenate([rgb, np.full((32, 32, 1), 255, np.uint8)], axis=2)
    assert len(planes.encode_planes(fake_natural, rgba)) <= len(planes.encode_planes(fake_natural, rgb)) + 3


def test_planes_shifted_16_bit_samples_cost_as_8_bit(fake_natural):
    gray = smooth(32, 32, 1)
    shifted = gray.astype(np.uint16) << 8
    assert len(planes.encode_planes(fake_natural, shifted)) <= len(planes.encode_planes(fake_natural, gray)) + 2


def test_planes_without_a_model_still_round_trip(monkeypatch):
    from bbzip.images import coder

    monkeypatch.setattr(coder, "backend", lambda: None)
    array = smooth(9, 7, 4, np.uint16, 1023)
    data = planes.encode_planes(None, array)
    assert np.array_equal(planes.decode_planes(None, data, array.shape, np.uint16), array)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 2, 3, 4]), st.booleans(), st.integers(0, 2**32))
def test_planes_round_trip_any_values(h, w, c, wide, seed):
    from bbzip.images import coder

    original = coder.backend
    coder.backend = natural_fake.backend
    try:
        dtype = np.uint16 if wide else np.uint8
        array = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, (h, w, c)).astype(dtype)
        array >>= seed % 9  # fewer significant bits
        data = planes.encode_planes(natural_fake.MODEL, array)
        assert np.array_equal(planes.decode_planes(natural_fake.MODEL, data, array.shape, dtype), array)
    finally:
        coder.backend = original


def test_planes_damaged_payloads_raise_corrupt(fake_natural):
    array = smooth(16, 16, 4, np.uint16, 4095)
    data = planes.encode_planes(fake_natural, array)
    rng = np.random.default_rng(1)
    for cut in range(len(data)):
        with pytest.raises(CorruptError):
            planes.decode_planes(fake_natural, data[:cut], array.shape, np.uint16)
    for _ in range(200):
        damaged = bytearray(data)
        damaged[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        try:
            out = planes.decode_planes(fake_natural, bytes(damaged), array.shape, np.uint16)
        except CorruptError:
            continue
        assert out.shape == array.shape
    with pytest.raises(CorruptError):
        planes.decode_planes(fake_natural, data, (16, 16, 3), np.uint16)
    with pytest.raises(CorruptError):
        planes.decode_planes(fake_natural, data, (0, 16, 4), np.uint16)
