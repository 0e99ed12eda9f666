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
