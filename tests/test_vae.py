"""The bits-back VAE coder on a tiny random-weight model: exactness, determinism, formats."""

import hashlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bbzip import api, container
from bbzip.errors import CorruptError, MissingModelError, ModelError
from bbzip.vae import bitsback, network
from bbzip.vae.coder import VaeCoder
from tests.vae_helpers import digits, pop_both_ways, tiny_model, tiny_model_bytes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.mark.parametrize("count", [0, 1, 2, 3, 6, 23])
def test_bits_back_round_trip_returns_message_to_its_initial_state(model, count):
    images = digits(count, seed=count)
    data = bitsback.encode(model, images)
    # decode() itself raises unless the message ends exactly in its initial state.
    assert np.array_equal(bitsback.decode(model, data, count), images)


def test_a_damaged_payload_never_decodes_to_data(installed_tiny_model):
    """Bits-back's end-state check catches most flipped bits and the block's CRC the rest:
    every flip anywhere in a VAE payload is a CorruptError, never output."""
    packed = api.compress(_idx(digits(3)), coder="vae")
    reader = container.StreamReader(io.BytesIO(packed))
    reader.next_stream()
    header = reader.next_block()
    start = reader.consumed
    assert header.coder_id != 0 and header.payload_size > 100
    for pos in range(start, start + header.payload_size, header.payload_size // 25):
        damaged = bytearray(packed)
        damaged[pos] ^= 0x10
        with pytest.raises(CorruptError):
            api.decompress(bytes(damaged))


def test_bits_back_beats_coding_each_image_alone(model):
    images = digits(21, seed=5)
    chained = len(bitsback.encode(model, images))
    alone = sum(len(bitsback.encode(model, images[i : i + 1])) for i in range(len(images)))
    assert chained < alone


def test_lanes_and_batches_cover_every_image_once():
    for count in (1, 2, 5, 17, 1000, 10000):
        lanes = bitsback.choose_lanes(count)
        batches = bitsback.schedule(count, lanes)
        assert [b.start for b in batches] == [0] + [b.stop for b in batches[:-1]]
        assert batches[-1].stop == count and not batches[0].bits_back
        assert all(b.stop - b.start <= lanes for b in batches)
    assert bitsback.choose_lanes(1) == 1
    assert bitsback.choose_lanes(10000) == bitsback.MAX_LANES


def _shipped_or_tiny(name):
    if name == "tiny":
        return tiny_model()
    from bbzip.vae.model import default_model

    try:
        return default_model()
    except MissingModelError:
        pytest.skip("no shipped digit model")


@pytest.mark.parametrize("name", ["tiny", "shipped"])
def test_compiled_and_numpy_pixel_steps_pop_alike_from_any_message(name):
    """The compiled pop against numpy's on random heads and words (not an encoder's): the
    same symbols and the same message after every step, middle pixels, refills and all."""
    pytest.importorskip("numba")
    model = _shipped_or_tiny(name)
    decoded = pop_both_ways(model, 37, 60_000)
    (numpy_symbols, numpy_message), (compiled_symbols, compiled_message) = decoded
    assert np.array_equal(numpy_symbols, compiled_symbols)
    assert len(np.unique(numpy_symbols)) > 100  # every kind of pixel: black, white, middle
    assert numpy_message.same_as(compiled_message)


def test_big_blocks_decode_through_the_compiled_step(model, monkeypatch):
    pytest.importorskip("numba")
    from bbzip.vae import compiled

    calls = []
    real = compiled.mixture_pop
    monkeypatch.setattr(compiled, "mixture_pop", lambda *args: calls.append(1) or real(*args))
    images = digits(12, seed=4)
    data = bitsback.encode(model, images)
    assert np.array_equal(bitsback.decode(model, data, len(images)), images)
    assert len(calls) == 784 * len(bitsback.schedule(len(images), bitsback.choose_lanes(len(images))))
    monkeypatch.setattr(bitsback, "COMPILED_MIN_STEPS", 10**9)  # the numpy step, same images
    assert np.array_equal(bitsback.decode(model, data, len(images)), images)
    assert len(calls) == 784 * 12


def _reference_slots(model, images, z):
    """Every pixel's (start, freq) the plain way: IntegerVAE.head over all pixels, then the
    distributions' CDFs; (n, 784) each."""
    from bbzip.vae.distributions import PixelBernoulli, PixelMixtures

    net = model.network
    head_out = net.head(net.features(z), net.context(images))
    pixels = (PixelBernoulli if model.binary else PixelMixtures)(head_out.reshape(-1, head_out.shape[-1]),
                                                                  model.tables)
    symbols = images.reshape(-1).astype(np.int64)
    start = pixels.starts(symbols)
    return start.reshape(-1, 784), (pixels.starts(symbols + 1) - start).reshape(-1, 784)


@pytest.mark.parametrize("binary", [False, True])
def test_encoder_pixel_slots_equal_the_plain_head_and_cdfs(binary):
    """The encoder's fused likelihood pass (bbzip/vae/likelihood.py) against the reference
    statement of the model, on digits, noise and latents across the activation range."""
    model = tiny_model(binary=binary)
    rng = np.random.default_rng(11)
    images = digits(40, seed=9)
    images[:8] = rng.integers(0, 256, (8, 28, 28))  # noise: every symbol, every context
    if binary:
        images = (images > 127).astype(np.uint8)
    latent = model.network.latent
    for z in (model.tables.latent_centres[rng.integers(0, 256, (40, latent))],
              model.network.encode(images)[:, :latent],
              rng.integers(-(2**17), 2**17, (40, latent))):
        start, freq = bitsback._pixel_slots(model, images, z)
        reference_start, reference_freq = _reference_slots(model, images, z)
        assert np.array_equal(start.T, reference_start) and np.array_equal(freq.T, reference_freq)


def test_network_batch_size_does_not_change_the_output(model, monkeypatch):
    images = digits(9, seed=2)
    reference = bitsback.encode(model, images)
    for batch in (1, 4):
        monkeypatch.setattr(network, "NET_BATCH", batch)
        assert bitsback.encode(model, images) == reference


def test_same_bytes_under_one_and_two_threads_and_any_blas_kernel(tmp_path):
    """Encode in fresh processes with different BLAS thread counts and OpenBLAS kernels
    (OPENBLAS_CORETYPE picks the kernel a DYNAMIC_ARCH build runs; these run on any x86-64
    and are ignored elsewhere): identical output."""
    script = textwrap.dedent("""
        import hashlib, sys
        sys.path.insert(0, sys.argv[1])
        from tests.vae_helpers import digits, tiny_model
        from bbzip.vae import bitsback
        data = bitsback.encode(tiny_model(), digits(7, seed=3))
        print(hashlib.sha256(data).hexdigest())
    """)
    digests = set()
    for threads, kernel in (("1", None), ("2", None), ("1", "Prescott"), ("2", "Nehalem")):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        if kernel:
            env["OPENBLAS_CORETYPE"] = kernel
        out = subprocess.run([sys.executable, "-c", script, str(ROOT)], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_model_files_load_without_pickle_and_hash_to_their_id():
    data = tiny_model_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    assert tiny_model().model_id == hashlib.sha256(data).digest()[:8]


def test_missing_or_different_model_is_a_clear_error(model, tmp_path, monkeypatch):
    coder = VaeCoder(model)
    images = digits(2)
    payload = coder.encode_segment(images.tobytes(), 0)
    from bbzip.coders import registry

    monkeypatch.setenv("BBZIP_MODEL_PATH", str(tmp_path))
    with pytest.raises(ModelError, match=model.model_id.hex()):
        registry.decoder_for(registry.VAE_CODER_ID, model.model_id)
    # Found through the search path once the file is there; a different model is refused.
    (tmp_path / "tiny.npz").write_bytes(tiny_model_bytes())
    found = registry.decoder_for(registry.VAE_CODER_ID, model.model_id)
    assert found.decode(payload, images.size) == images.tobytes()
    with pytest.raises(ModelError):
        registry.decoder_for(registry.VAE_CODER_ID, tiny_model(seed=1).model_id)


def _pgm(header=b"P5\n28 28\n255\n", pixels=None):
    return header + (digits(1).tobytes() if pixels is None else pixels)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _idx(images, rows=28, cols=28):
    return bytes([0, 0, 8, 3]) + len(images).to_bytes(4, "big") + rows.to_bytes(4, "big") + \
        cols.to_bytes(4, "big") + images.tobytes()


@pytest.fixture
def installed_tiny_model(tmp_path, monkeypatch):
    """Make the tiny model the default model, as if it were shipped."""
    import json

    data = tiny_model_bytes()
    (tmp_path / "mnist-vae.npz").write_bytes(data)
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [{
        "name": "mnist-vae", "file": "mnist-vae.npz", "sha256": hashlib.sha256(data).hexdigest()}]}))
    monkeypatch.setattr("bbzip.modelfile.shipped_dir", lambda: tmp_path)
    return tmp_path


@pytest.mark.parametrize("data", [
    _idx(digits(5)), _pgm(b"P5\n# made by a test\n28 28\n255\n"), _npy(digits(4)), _npy(digits(1)[0]),
])
def test_forced_vae_round_trips_images_byte_for_byte(installed_tiny_model, data):
    packed = api.compress(data, coder="vae")
    assert {b.coder for b in api.stream_info(io.BytesIO(packed)).blocks} == {"vae"}
    assert api.decompress(packed) == data


@pytest.mark.parametrize("data", [_idx(digits(3)) + b"trailing bytes", _idx(digits(3))[:-100]])
def test_images_with_extra_or_missing_bytes_stay_lossless(installed_tiny_model, data):
    packed = api.compress(data)
    assert api.decompress(packed) == data


def test_images_are_never_split_across_blocks(installed_tiny_model, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 784 * 3 + 100)
    data = _idx(digits(8))
    packed = api.compress(data, coder="vae")
    blocks = api.stream_info(io.BytesIO(packed)).blocks
    assert [b.raw_size for b in blocks] == [16 + 3 * 784, 3 * 784, 2 * 784]
    assert api.decompress(packed) == data


def test_decompress_without_the_model_names_the_model(installed_tiny_model, monkeypatch, tmp_path_factory):
    packed = api.compress(_idx(digits(2)), coder="vae")
    empty = tmp_path_factory.mktemp("empty")
    monkeypatch.setattr("bbzip.modelfile.shipped_dir", lambda: empty)
    monkeypatch.setenv("BBZIP_MODEL_PATH", str(empty))
    with pytest.raises(ModelError, match=tiny_model().model_id.hex()):
        api.decompress(packed)
