"""The shipped MNIST model on committed fixture digits; the full test set is slow-marked."""

import io
from pathlib import Path

import pytest

from bbzip import api
from bbzip.vae import model as model_module

DATA = Path(__file__).parent / "data"
MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _shipped():
    entries = model_module.manifest()
    if not any(e["name"] == model_module.DEFAULT_MODEL for e in entries):
        pytest.fail("the shipped model is missing from models/manifest.json")
    return model_module.default_model()


def test_manifest_describes_the_model():
    model = _shipped()
    entry = next(e for e in model_module.manifest() if e["name"] == model.name)
    for key in ("sha256", "input_shape", "likelihood", "latent", "precisions", "test_bits_per_pixel"):
        assert key in entry
    assert entry["input_shape"] == [28, 28]


@pytest.mark.parametrize("name", ["t10k-first8-idx3-ubyte", "digit0.pgm", "digit1.pgm", "digit2.pgm"])
def test_fixture_digits_round_trip_with_the_vae(name):
    _shipped()
    data = (DATA / name).read_bytes()
    packed = api.compress(data)
    assert {b.coder for b in api.stream_info(io.BytesIO(packed)).blocks} == {"vae"}
    assert api.decompress(packed) == data


def test_single_digit_pgm_is_small():
    _shipped()
    sizes = [len(api.compress((DATA / f"digit{i}.pgm").read_bytes())) for i in range(3)]
    assert sum(sizes) / len(sizes) <= 170


@pytest.mark.slow
@pytest.mark.mnist
def test_mnist_test_set_rate():
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present")
    import gzip

    raw = gzip.decompress((MNIST / "t10k-images-idx3-ubyte.gz").read_bytes())
    packed = api.compress(raw)
    assert len(packed) * 8 / 7_840_000 <= 1.28
    assert api.decompress(packed) == raw


def _shipped_binary():
    if not any(e["name"] == model_module.BINARY_MODEL for e in model_module.manifest()):
        pytest.fail("the shipped binary model is missing from models/manifest.json")
    return model_module.default_model(binary=True)


@pytest.mark.parametrize("name", ["binarized-first8-idx3-ubyte", "binary-digit0.pgm", "binary255-digit1.pgm"])
def test_binary_fixtures_route_to_the_binary_model_and_round_trip(name):
    model = _shipped_binary()
    data = (DATA / name).read_bytes()
    packed = api.compress(data)
    blocks = api.stream_info(io.BytesIO(packed)).blocks
    assert {(b.coder, b.model_id) for b in blocks} == {("vae", model.model_id.hex())}
    assert api.decompress(packed) == data


def test_binary_digits_cost_a_fraction_of_the_8bit_model():
    _shipped_binary()
    data = (DATA / "binarized-first8-idx3-ubyte").read_bytes()
    assert len(api.compress(data)) * 8 / (8 * 784) <= 0.4  # a lone first image pays its latents


@pytest.mark.slow
@pytest.mark.mnist
def test_binarized_mnist_test_set_rate():
    """The issue's floor: at most 0.19 bits/pixel on binarized MNIST t10k as one file."""
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present")
    import struct

    from bbzip.training.mnist import binarize, read_idx_images

    images = binarize(read_idx_images(MNIST / "t10k-images-idx3-ubyte.gz"))
    raw = b"\x00\x00\x08\x03" + struct.pack(">III", len(images), 28, 28) + images.tobytes()
    packed = api.compress(raw)
    assert len(packed) * 8 / images.size <= 0.19
    assert api.decompress(packed) == raw


def test_vae_decompression_never_imports_torch():
    import subprocess
    import sys

    _shipped()
    packed = api.compress((DATA / "digit0.pgm").read_bytes())
    script = (
        "import sys\n"
        "from bbzip import api\n"
        "data = api.decompress(sys.stdin.buffer.read())\n"
        "assert 'torch' not in sys.modules, 'decompress imported torch'\n"
        "sys.stdout.buffer.write(data)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], input=packed, capture_output=True, check=True)
    assert out.stdout == (DATA / "digit0.pgm").read_bytes()
