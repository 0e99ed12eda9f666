"""The natural-image coder (bbzip/natural/): round trips, the bits-back message oracle,
tiling, determinism and damaged payloads, with a random-weight stand-in model."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip.ans.rans import Message
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.natural import calibration, coder
from bbzip.natural.tiles import TARGET_TILES, Tiling, choose_side
from tests.natural_helpers import random_natural_model, smooth_images

MODEL, MODEL_BYTES = random_natural_model(0)


@pytest.mark.parametrize("shape", [(1, 8, 8, 1), (1, 19, 13, 1), (2, 11, 9, 3), (1, 40, 20, 1)])
def test_round_trip(shape):
    images = smooth_images(shape, seed=sum(shape))
    payload = coder.encode(MODEL, images)
    assert np.array_equal(coder.decode(MODEL, payload, shape), images)


_REAL_DECODE_FORKED = coder._decode_forked


def _decode_forked_logged(*args):
    """coder._decode_forked, leaving the process ID of whoever ran it in a file."""
    with open(os.environ["BBZIP_TEST_FORK_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")
    return _REAL_DECODE_FORKED(*args)


def test_lane_groups_decode_alike_in_one_process_or_several(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what lets the decoder fork
    log = tmp_path / "pids"
    monkeypatch.setenv("BBZIP_TEST_FORK_LOG", str(log))
    monkeypatch.setattr(coder, "_decode_forked", _decode_forked_logged)  # forked children inherit it
    images = smooth_images((70, 8, 9, 1), seed=4)  # 70 lanes: two groups
    payload = coder.encode(MODEL, images)
    assert payload[1 + 4 + 3] == 2
    assert threading.active_count() == 1, "another test left threads running: the decoder may not fork"
    for workers in (1, 2, 3):
        log.write_text("")
        assert np.array_equal(coder.decode(MODEL, payload, images.shape, workers=workers), images)
        pids = log.read_text().split()
        # The first run of groups is decoded here, every other one in a forked process.
        assert len(pids) == min(workers, 2) - 1 and str(os.getpid()) not in pids, (workers, pids)
    assert coder.lane_groups(70, 2) == [slice(0, 35), slice(35, 70)]


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(8, 17), w=st.integers(8, 17), c=st.sampled_from([1, 3]),
       seed=st.integers(0, 2**16))
def test_round_trip_any_size(n, h, w, c, seed):
    images = np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)
    assert np.array_equal(coder.decode(MODEL, coder.encode(MODEL, images), images.shape), images)


def test_message_comes_back_unchanged():
    """The bits-back oracle: pushing images onto a message full of other data and popping
    them must return that message exactly, heads and tail, not only the images."""
    images = smooth_images((2, 12, 10, 3), seed=5)
    tiling = Tiling.of(2, 12, 10, choose_side(2, 12, 10))
    rng = np.random.default_rng(1)
    heads = rng.integers(1 << 32, 1 << 63, size=tiling.lanes, dtype=np.uint64)
    message = Message(tiling.lanes, rng.integers(0, 1 << 32, size=300, dtype=np.uint32), heads)
    before = message.copy()
    settings = coder.Settings((2, 0, 2, 0), (-2, 0, 3))
    coder.push_images(MODEL, message, tiling, images, settings)
    assert not message.same_as(before)
    assert np.array_equal(tiling.from_tiles(coder.pop_images(MODEL, message, tiling, 3, settings)), images)
    assert message.same_as(before)


def test_message_comes_back_unchanged_with_tile_deltas_and_corrections():
    """The oracle again with every calibration field in use: the deltas ride on the lanes."""
    images = smooth_images((1, 40, 36, 3), seed=6)
    tiling = Tiling.of(1, 40, 36, 32)
    rng = np.random.default_rng(2)
    heads = rng.integers(1 << 32, 1 << 63, size=tiling.lanes, dtype=np.uint64)
    message = Message(tiling.lanes, rng.integers(0, 1 << 32, size=50, dtype=np.uint32), heads)
    before = message.copy()
    deltas = rng.integers(-8, 9, size=(tiling.lanes, 3))
    adjust = rng.integers(-6, 7, size=(3, calibration.ADJUST_SIZE))
    settings = coder.Settings((2, 0, 2, 0), (3, -1, 5), True, deltas, adjust)
    coder.push_images(MODEL, message, tiling, images, settings)
    assert np.array_equal(tiling.from_tiles(coder.pop_images(MODEL, message, tiling, 3, settings)), images)
    assert message.same_as(before)


@pytest.mark.parametrize("deltas, corrections, flags", [(False, False, 0x00), (True, False, 0x80),
                                                        (False, True, 0x40), (True, True, 0xC0)])
def test_header_flags_follow_the_calibration_in_use(monkeypatch, deltas, corrections, flags):
    """Payloads without tile deltas or corrections (every file written before them) decode
    as before; with them, the header says so and the decoder follows."""
    chosen = calibration.choose_calibration

    def choose(*args):
        lanes, c = args[2].lanes, args[2].channels
        tile_deltas = np.arange(lanes * c).reshape(lanes, c) % 17 - 8 if deltas else None
        adjust = np.arange(c * calibration.ADJUST_SIZE).reshape(c, -1) % 9 - 4 if corrections else None
        return chosen(*args)._replace(deltas=tile_deltas, adjust=adjust)

    monkeypatch.setattr(coder, "choose_calibration", choose)
    images = smooth_images((2, 19, 13, 3), seed=7)
    payload = coder.encode(MODEL, images)
    assert payload[0] & 0xC0 == flags
    assert np.array_equal(coder.decode(MODEL, payload, images.shape), images)
    if corrections:
        with pytest.raises(CorruptError):
            coder.decode(MODEL, payload[:20], images.shape)  # the corrections cut short


@pytest.mark.parametrize("corrections", [False, True])
def test_settings_per_image(monkeypatch, corrections):
    """Offsets and corrections per image (flag 0x01): the oracle, and a round trip through
    the payload with two lane groups."""
    images = smooth_images((3, 40, 24, 3), seed=10)
    rng = np.random.default_rng(3)
    tiling = Tiling.of(3, 40, 24, 32)
    offsets = rng.integers(-20, 30, size=(3, 3))
    adjust = rng.integers(-8, 9, size=(3, 3, calibration.ADJUST_SIZE)) if corrections else None
    deltas = rng.integers(-8, 9, size=(tiling.lanes, 3))
    settings = coder.Settings((2, 0, 0, 2), offsets, True, deltas, adjust)
    assert settings.per_image
    message = Message(tiling.lanes, rng.integers(0, 1 << 32, size=40, dtype=np.uint32),
                      rng.integers(1 << 32, 1 << 63, size=tiling.lanes, dtype=np.uint64))
    before = message.copy()
    coder.push_images(MODEL, message, tiling, images, settings)
    assert np.array_equal(tiling.from_tiles(coder.pop_images(MODEL, message, tiling, 3, settings)), images)
    assert message.same_as(before)

    many = smooth_images((70, 8, 9, 1), seed=11)  # 70 lanes: two lane groups
    gray_offsets = lambda n: np.pad(rng.integers(-9, 9, size=(n, 1)), ((0, 0), (0, 2)))  # 2nd, 3rd unused
    monkeypatch.setattr(coder, "_choose_settings", lambda model, tiling, prepared: coder.Settings(
        (0, 2, 0, 0), gray_offsets(tiling.n), False, None,
        rng.integers(-5, 6, size=(tiling.n, 1, calibration.ADJUST_SIZE)) if corrections else None))
    payload = coder.encode(MODEL, many)
    assert payload[0] & 0x01 and bool(payload[0] & 0x40) == corrections
    assert np.array_equal(coder.decode(MODEL, payload, many.shape), many)
    with pytest.raises(CorruptError):  # per-image settings for one image: not a payload
        coder.decode(MODEL, payload, (1, 8, 9, 1))
    with pytest.raises(CorruptError):  # the per-image bytes cut short
        coder.decode(MODEL, payload[:12], many.shape)
    second = bytearray(payload)
    second[1 + 4 + 3 + 1 + 1] = 1  # the second image's offset for a 2nd channel, which gray lacks
    with pytest.raises(CorruptError, match="offsets"):
        coder.decode(MODEL, bytes(second), many.shape)


def test_a_few_images_with_settings_each_keep_their_own_lane_groups(monkeypatch):
    """Each image's lanes form the groups they would alone (so a set codes as its images
    one by one, less the shared framing), and any number of workers decodes them alike."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # what lets the decoder fork
    monkeypatch.setattr(coder, "PER_IMAGE_PIXELS", 0)
    tiling = Tiling.of(3, 64, 64, 32)
    assert coder.choose_groups(tiling, per_image=True) == 3 and coder.choose_groups(tiling) == 1
    assert coder.choose_groups(Tiling.of(3, 256, 256, 32), per_image=True) == 6
    assert coder.choose_groups(Tiling.of(9, 256, 256, 32), per_image=True) == 2  # over 16: two
    images = np.concatenate([smooth_images((1, 64, 64, 1), seed=12),
                             np.random.default_rng(4).integers(0, 256, size=(1, 64, 64, 1), dtype=np.uint8)])
    payload = coder.encode(MODEL, images)
    assert payload[0] & 0x01 and payload[1 + 4 + 3] == 2  # settings per image, a group each
    for workers in (1, 2, 3):
        assert np.array_equal(coder.decode(MODEL, payload, images.shape, workers=workers), images)


@pytest.mark.parametrize("c, h, w", [(1, 32, 32), (3, 64, 32), (1, 16, 24), (3, 8, 8), (1, 256, 40)])
def test_the_decoders_posterior_of_one_block_row_equals_the_encoders(c, h, w):
    """The decoder computes each block row's posterior from its receptive field only; the
    values must be the encoder's, from the whole tile, exactly."""
    net = MODEL.network(c)
    inputs = (np.random.default_rng(h * w + c).integers(0, 256, size=(5, h, w, c)) - 128) * 16
    mu, log_sigma = net.posterior_of_tiles(inputs)
    for row in range(h // 8):
        row_mu, row_log_sigma = net.posterior_of_block_row(inputs, row)
        assert np.array_equal(row_mu[:, row], mu[:, row]) and np.array_equal(row_log_sigma[:, row], log_sigma[:, row])


def test_smooth_images_cost_less_than_noise():
    """The model is used: correlated pixels must code smaller than uniform noise would."""
    smooth = smooth_images((1, 24, 24, 1), seed=2)
    noise = np.random.default_rng(2).integers(0, 256, size=smooth.shape, dtype=np.uint8)
    assert len(coder.encode(MODEL, smooth)) < len(coder.encode(MODEL, noise))


def test_tiling_covers_the_image_without_padding_lanes():
    tiling = Tiling.of(1, 70, 33, 32)
    assert (tiling.th, tiling.tw, tiling.rows, tiling.cols) == (32, 32, 3, 2)
    heights, widths = tiling.lane_extent()
    assert sorted(zip(heights.tolist(), widths.tolist())) == sorted(
        [(32, 32), (32, 1), (32, 32), (32, 1), (6, 32), (6, 1)])
    small = Tiling.of(3, 9, 17, 32)
    assert (small.th, small.tw, small.lanes) == (16, 24, 3)
    images = smooth_images((1, 70, 33, 3))
    assert np.array_equal(tiling.from_tiles(tiling.to_tiles(images)), images)


def test_side_grows_with_the_image():
    assert choose_side(1, 256, 256, 3) == 32  # below LARGE_BLOCK: decoders without numba step through it
    assert choose_side(1, 512, 512) == 64  # the largest side that leaves MIN_TILES tiles
    assert choose_side(1, 1024, 512, 3) == 128
    assert choose_side(1, 4000, 3000) == 128
    assert choose_side(300, 32, 32, 3) == 32  # a larger side would not cut fewer tiles
    for n, h, w in [(1, 512, 512), (1, 4000, 3000), (300, 32, 32)]:
        side = choose_side(n, h, w)
        assert Tiling.of(n, h, w, side).lanes <= TARGET_TILES or side == 256


def test_tiny_or_odd_shapes_are_refused():
    for shape in [(1, 7, 20, 1), (1, 20, 20, 2), (0, 20, 20, 1)]:
        with pytest.raises(UnsupportedError):
            coder.encode(MODEL, np.zeros(shape, np.uint8))
        with pytest.raises(CorruptError):
            coder.decode(MODEL, b"\x04" + bytes(64), shape)


def test_gray_payloads_have_one_encoding():
    """A gray image uses the first of the three scale offsets: the other two must be 0, or
    two payloads would decode to the same image."""
    images = smooth_images((1, 12, 12, 1), seed=3)
    payload = coder.encode(MODEL, images)
    assert payload[1 + 4 + 1 : 1 + 4 + 3] == b"\0\0"  # after the first byte and 4 coarse bits
    for at in (1 + 4 + 1, 1 + 4 + 2):
        for value in (1, 0xFF):
            bad = bytearray(payload)
            bad[at] = value
            with pytest.raises(CorruptError, match="offsets"):
                coder.decode(MODEL, bytes(bad), images.shape)


def test_damaged_payloads_fail_cleanly():
    images = smooth_images((1, 12, 12, 1), seed=3)
    payload = coder.encode(MODEL, images)
    with pytest.raises(CorruptError):
        coder.decode(MODEL, payload[:-3], images.shape)
    with pytest.raises(CorruptError):
        coder.decode(MODEL, b"\x06" + payload[1:], images.shape)  # side 48 or a flag: neither exists
    with pytest.raises(CorruptError):
        coder.decode(MODEL, payload[:1] + b"\x09" + payload[2:], images.shape)  # 9 bits: too fine
    with pytest.raises(CorruptError):
        coder.decode(MODEL, payload[:4], images.shape)
    with pytest.raises(CorruptError):
        coder.decode(MODEL, b"", images.shape)
    rng = np.random.default_rng(0)
    detected = 0
    for _ in range(10):
        bad = bytearray(payload)
        bad[rng.integers(1, len(bad))] ^= 1 << int(rng.integers(8))
        try:
            out = coder.decode(MODEL, bytes(bad), images.shape)
        except CorruptError:
            detected += 1
            continue
        assert out.shape == images.shape  # undetected here; the block checksum catches it
    # The final-state check catches most flips on its own (9 of these 10 today).
    assert detected >= 8


_SUBPROCESS = """
import sys, hashlib
sys.path.insert(0, {root!r})
from tests.natural_helpers import random_natural_model, smooth_images
from bbzip.natural import calibration, coder
model, _ = random_natural_model(0)
print(hashlib.sha256(coder.encode(model, smooth_images((2, 20, 17, 3), seed=9))).hexdigest())
"""


_BASELINE = {"OPENBLAS_NUM_THREADS": "1"}


def _encoded_hash(env: dict) -> str:
    script = _SUBPROCESS.format(root=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True).stdout


@pytest.fixture(scope="module")
def baseline_hash() -> str:
    return _encoded_hash(_BASELINE)


@pytest.mark.parametrize("env", [{"OPENBLAS_NUM_THREADS": "2"},
                                 {"OPENBLAS_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell"},
                                 {"OPENBLAS_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "Prescott"}])
def test_same_bytes_for_any_blas_threads_or_kernel(env, baseline_hash):
    assert env != _BASELINE  # each case differs from the run it is compared with
    assert _encoded_hash(env) == baseline_hash
