"""Models as a feature: binary-image model and routing, search by hash along the search
path, tampered files, `bbzip models`, and `bbzip train` end to end (tiny, fast)."""

import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip import api, modelfile
from bbzip.errors import CorruptError, MissingModelError, ModelError, UnsupportedError
from bbzip.vae import bitsback
from bbzip.vae import model as model_module
from bbzip.vae.coder import binary_ink
from tests.vae_helpers import digits, tiny_model, tiny_model_bytes

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def binary_digits(count: int, seed: int = 0) -> np.ndarray:
    """0/1 images: the test digits, binarised stochastically as binarized MNIST is."""
    rng = np.random.default_rng(seed)
    return (digits(count, seed) > rng.random((count, 28, 28)) * 255).astype(np.uint8)


def idx(images: np.ndarray) -> bytes:
    return b"\x00\x00\x08\x03" + len(images).to_bytes(4, "big") + bytes([0, 0, 0, 28, 0, 0, 0, 28]) + images.tobytes()


def model_ids(packed: bytes) -> set[str]:
    return {b.model_id for b in api.stream_info(io.BytesIO(packed)).blocks}


@pytest.fixture(scope="module")
def binary_model():
    return tiny_model(binary=True)


def install(directory: Path, models: dict[str, bytes]) -> Path:
    """Write models and their manifest into ``directory`` as a shipped models/ folder."""
    entries = []
    for name, data in models.items():
        (directory / f"{name}.npz").write_bytes(data)
        entries.append({"name": name, "file": f"{name}.npz", "sha256": hashlib.sha256(data).hexdigest(),
                        "input_shape": [28, 28], "likelihood": name, "test_bits_per_pixel": 0.5})
    (directory / "manifest.json").write_text(json.dumps({"models": entries}))
    return directory


@pytest.fixture
def shipped_pair(tmp_path, monkeypatch):
    """Tiny 8-bit and binary models installed as the shipped pair."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    install(shipped, {
        model_module.DEFAULT_MODEL: tiny_model_bytes(),
        model_module.BINARY_MODEL: tiny_model_bytes(binary=True),
    })
    monkeypatch.setattr("bbzip.modelfile.shipped_dir", lambda: shipped)
    return shipped


# -- the binary model ------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 7, 30])
def test_binary_bits_back_returns_the_message_to_its_initial_state(binary_model, count):
    images = binary_digits(count, seed=count)
    data = bitsback.encode(binary_model, images)
    assert np.array_equal(bitsback.decode(binary_model, data, count), images)


def test_binary_pixels_cost_what_the_model_says(binary_model, monkeypatch):
    """The coded size is the model's own information content: the sum of -log2 P over every
    symbol pushed (pixels under the likelihood, latents under the prior), less the sum over
    every symbol popped (latents under the posterior, the bits taken back), to within what
    the lanes' final heads and word granularity cost."""
    from bbzip.ans.rans import Message

    information = [0.0]
    push, pop = Message.push, Message.pop

    def counted(sign, method):
        def wrapper(self, starts, freqs, precision, *args, **kwargs):
            freqs = np.asarray(freqs, dtype=np.float64)
            information[0] += sign * float(np.sum(precision - np.log2(freqs)))
            return method(self, starts, freqs.astype(np.int64), precision, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(Message, "push", counted(1, push))
    monkeypatch.setattr(Message, "pop", counted(-1, pop))
    images = binary_digits(64, seed=3)
    coded = len(bitsback.encode(binary_model, images)) * 8
    lanes = bitsback.choose_lanes(len(images))
    # Each lane's final head holds up to 64 bits the information count does not include;
    # bits borrowed to start the chain make the coded size smaller than the count.
    assert information[0] - 64 * lanes - 64 <= coded <= information[0] + 64 * lanes + 64
    assert coded < 0.9 * images.size  # and a random-weight model beats 1 bit per pixel here


def test_binary_ink_tells_binary_images_apart():
    assert binary_ink(np.array([0, 1, 1, 0], np.uint8)) == 1
    assert binary_ink(np.array([0, 255, 0], np.uint8)) == 255
    assert binary_ink(np.zeros(5, np.uint8)) == 255
    assert binary_ink(np.array([0, 1, 255], np.uint8)) is None
    assert binary_ink(np.array([0, 2], np.uint8)) is None
    assert binary_ink(np.array([1, 1], np.uint8)) == 1


@pytest.mark.parametrize("ink", [1, 255])
def test_binary_images_route_to_the_binary_model(shipped_pair, binary_model, ink):
    """Routing picks the model; "vae" only stops the random-weight model losing to LZMA."""
    data = idx(binary_digits(5) * np.uint8(ink))
    packed = api.compress(data, coder="vae")
    assert model_ids(packed) == {binary_model.model_id.hex()}
    assert api.decompress(packed) == data


def test_binary_pgm_with_maxval_one_routes_to_the_binary_model(shipped_pair, binary_model):
    data = b"P5\n28 28\n1\n" + binary_digits(1).tobytes()
    packed = api.compress(data, coder="vae")
    assert model_ids(packed) == {binary_model.model_id.hex()}
    assert api.decompress(packed) == data


def test_grey_images_route_to_the_8bit_model(shipped_pair):
    data = idx(digits(3))
    packed = api.compress(data, coder="vae")
    assert model_ids(packed) == {tiny_model().model_id.hex()}
    assert api.decompress(packed) == data


def test_binary_images_use_the_8bit_model_when_no_binary_model_is_installed(tmp_path, monkeypatch):
    shipped = install(tmp_path, {model_module.DEFAULT_MODEL: tiny_model_bytes()})
    monkeypatch.setattr("bbzip.modelfile.shipped_dir", lambda: shipped)
    data = idx(binary_digits(2) * np.uint8(255))
    packed = api.compress(data, coder="vae")
    assert model_ids(packed) == {tiny_model().model_id.hex()}
    assert api.decompress(packed) == data


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 4), st.sampled_from([1, 255]), st.integers(0, 2**32 - 1))
def test_binary_round_trips(count, ink, seed):
    """Any binary images, through the forced binary model named on the command line."""
    rng = np.random.default_rng(seed)
    images = (rng.random((count, 28, 28)) < rng.random()).astype(np.uint8) * np.uint8(ink)
    path = _model_file(binary=True)
    data = idx(images)
    packed = api.compress(data, coder="vae", model=path)
    assert api.decompress(packed, models=(path,)) == data


_MODEL_FILES: dict[bool, str] = {}


def _model_file(binary: bool) -> str:
    """A tiny model written once per session to a temp file (hypothesis forbids tmp_path)."""
    if binary not in _MODEL_FILES:
        import tempfile

        fd, path = tempfile.mkstemp(suffix=".npz")
        os.write(fd, tiny_model_bytes(binary=binary))
        os.close(fd)
        _MODEL_FILES[binary] = path
    return _MODEL_FILES[binary]


def test_a_binary_model_refuses_grey_images(tmp_path):
    path = tmp_path / "b.npz"
    path.write_bytes(tiny_model_bytes(binary=True))
    with pytest.raises(UnsupportedError, match="binary images only"):
        api.compress(idx(digits(2)), coder="vae", model=path)


def test_a_binary_block_with_a_bad_ink_byte_is_corrupt(binary_model):
    from bbzip.vae.coder import VaeCoder

    coder = VaeCoder(binary_model)
    block = idx(binary_digits(2))
    payload = bytearray(coder.encode_segment(block, 16))
    ink_at = 1 + 16  # the varint (even: a verbatim 16-byte header), the header, then the ink byte
    assert payload[ink_at] == 1
    payload[ink_at] = 7
    with pytest.raises(CorruptError, match="ink"):
        coder.decode(bytes(payload), len(block))


# -- finding models --------------------------------------------------------------------


def test_a_model_found_only_through_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "mine.npz"
    path.write_bytes(tiny_model_bytes(seed=3))
    packed = api.compress(idx(digits(2)), coder="vae", model=path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    path.rename(other / "renamed.npz")  # found by its hash, whatever its name
    with pytest.raises(MissingModelError, match=tiny_model(seed=3).model_id.hex()):
        api.decompress(packed)
    monkeypatch.setenv("BBZIP_MODEL_PATH", os.pathsep.join([str(tmp_path / "missing"), str(other)]))
    assert api.decompress(packed) == idx(digits(2))


def test_a_model_found_in_the_user_data_directory(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    path.write_bytes(tiny_model_bytes(seed=4))
    packed = api.compress(idx(digits(1)), coder="vae", model=path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    user = modelfile.user_dir()
    assert user == tmp_path / "data" / "bbzip" / "models"
    user.mkdir(parents=True)
    path.rename(user / "m.npz")
    assert api.decompress(packed) == idx(digits(1))


def test_a_file_with_the_right_name_but_other_bytes_is_not_used(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    path.write_bytes(tiny_model_bytes(seed=5))
    packed = api.compress(idx(digits(1)), coder="vae", model=path)
    path.write_bytes(tiny_model_bytes(seed=6))
    monkeypatch.setenv("BBZIP_MODEL_PATH", str(tmp_path))
    with pytest.raises(MissingModelError):
        api.decompress(packed)


@pytest.mark.parametrize("name, golden_name, ink", [
    (model_module.DEFAULT_MODEL, "digits-idx-vae", None),
    (model_module.BINARY_MODEL, "binarized-idx-vae", 255),
])
def test_a_tampered_shipped_model_is_refused_by_hash(tmp_path, monkeypatch, name, golden_name, ink):
    """One byte changed in a shipped model file: refused by its manifest hash, never used,
    for compression (even by the auto coder) and decompression alike."""
    real = (ROOT / "models" / f"{name}.npz").read_bytes()
    shipped = install(tmp_path, {name: real})
    golden = (ROOT / "tests" / "golden" / f"{golden_name}.bbz").read_bytes()
    damaged = bytearray(real)
    damaged[len(damaged) // 2] ^= 0x01
    (shipped / f"{name}.npz").write_bytes(bytes(damaged))
    monkeypatch.setattr("bbzip.modelfile.shipped_dir", lambda: shipped)
    images = digits(2) if ink is None else np.where(digits(2) > 127, ink, 0).astype(np.uint8)
    for run in (lambda: api.decompress(golden), lambda: api.compress(idx(images))):
        with pytest.raises(ModelError, match="tampered"):
            run()


def test_a_tampered_model_fails_the_cli_with_one_line(exe, tmp_path):
    """Through the real console script, with a damaged copy of the repository's models."""
    models = tmp_path / "models"
    models.mkdir()
    real = (ROOT / "models" / "mnist-vae.npz").read_bytes()
    install(models, {model_module.DEFAULT_MODEL: real})
    damaged = bytearray(real)
    damaged[1000] ^= 0x80
    (models / "mnist-vae.npz").write_bytes(bytes(damaged))
    code = ("import sys; from bbzip import cli; from bbzip import modelfile; from pathlib import Path; "
            f"modelfile.shipped_dir = lambda: Path({str(models)!r}); cli.main(sys.argv[1:])")
    golden = ROOT / "tests" / "golden" / "digits-idx-vae.bbz"
    python = Path(exe).parent / "python"
    r = subprocess.run([str(python), "-c", code, "-dc", str(golden)], check=False, capture_output=True, timeout=120)
    assert r.returncode == 1 and r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "tampered" in lines[0], lines


# -- bbzip models ----------------------------------------------------------------------


def test_models_lists_shipped_and_search_path_models(exe, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.npz").write_bytes(tiny_model_bytes(seed=7))
    env = {**os.environ, "BBZIP_MODEL_PATH": str(extra)}
    r = subprocess.run([exe, "models"], check=False, capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for expected in ("mnist-vae", "d11b1024acc7277e", "28x28", "logistic", "1.1189", "tiny-7",
                     tiny_model(seed=7).model_id.hex(), str(extra)):
        assert expected in out, expected
    assert "bbzip models" in out and "BBZIP_MODEL_PATH" in out


def test_models_flags_an_unreadable_model_and_exits_non_zero(exe, tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    env = {**os.environ, "BBZIP_MODEL_PATH": str(tmp_path)}
    r = subprocess.run([exe, "models"], check=False, capture_output=True, timeout=60, env=env)
    assert r.returncode == 1
    assert "UNUSABLE" in r.stdout.decode() and "broken" in r.stdout.decode()


# -- bbzip train -----------------------------------------------------------------------


def test_train_a_tiny_model_then_compress_and_decompress_with_it(exe, tmp_path):
    pytest.importorskip("torch")
    r = subprocess.run([exe, "train", str(DATA / "t10k-first8-idx3-ubyte"), "--epochs", "2", "--latent", "4",
                        "-o", "mine.npz"], check=False, capture_output=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    summary = r.stderr.decode()
    for expected in ("float ELBO", "frozen model", "bits/pixel", "bbzip compress --model mine.npz"):
        assert expected in summary, expected
    model = model_module.load_model_file(tmp_path / "mine.npz")
    assert model.name == "mine" and not model.binary and model.config["latent"] == 4
    assert model.config["evaluation"]["bits_per_pixel"] > 0
    source = (DATA / "digit0.pgm").read_bytes()
    (tmp_path / "d.pgm").write_bytes(source)
    r = subprocess.run([exe, "compress", "--coder", "vae", "--model", "mine.npz", "d.pgm"],
                       check=False, capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert model_ids((tmp_path / "d.pgm.bbz").read_bytes()) == {model.model_id.hex()}
    r = subprocess.run([exe, "-dc", "d.pgm.bbz"], check=False, capture_output=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 1 and model.model_id.hex() in r.stderr.decode()
    r = subprocess.run([exe, "-dc", "--model", "mine.npz", "d.pgm.bbz"], check=False, capture_output=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == source


def test_train_picks_bernoulli_for_binary_pgm_directories(exe, tmp_path):
    pytest.importorskip("torch")
    pgms = tmp_path / "pgms"
    pgms.mkdir()
    for i, image in enumerate(binary_digits(4)):
        (pgms / f"{i}.pgm").write_bytes(b"P5\n28 28\n1\n" + image.tobytes())
    r = subprocess.run([exe, "train", "pgms", "--epochs", "1", "--latent", "2", "-q", "-o", "bin.npz"],
                       check=False, capture_output=True, timeout=300, cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, b"")
    model = model_module.load_model_file(tmp_path / "bin.npz")
    assert model.binary
    data = (pgms / "0.pgm").read_bytes()
    packed = api.compress(data, coder="vae", model=tmp_path / "bin.npz")
    assert api.decompress(packed, models=(tmp_path / "bin.npz",)) == data


@pytest.mark.parametrize("args, message", [
    (["nothing-here.idx"], "does not exist"),
    (["notes.txt"], "not a 28x28"),
    (["small.pgm"], "at least 8x8"),  # other sizes train a natural-image model, but not this small
])
def test_train_refuses_bad_data_in_one_line(exe, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "small.pgm").write_bytes(b"P5\n4 4\n255\n" + bytes(16))
    r = subprocess.run([exe, "train", *args, "-o", "m.npz"], check=False, capture_output=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0 and message in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode() and not (tmp_path / "m.npz").exists()


def test_train_will_not_overwrite_without_force(exe, tmp_path):
    (tmp_path / "m.npz").write_bytes(b"keep me")
    r = subprocess.run([exe, "train", str(DATA / "digit0.pgm"), "-o", "m.npz"], check=False, capture_output=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 1 and b"exists" in r.stderr
    assert (tmp_path / "m.npz").read_bytes() == b"keep me"


@pytest.mark.parametrize("output", ["/nonexistent/m.npz", "file/m.npz"])
def test_train_checks_the_output_path_before_training(exe, tmp_path, output):
    (tmp_path / "file").write_bytes(b"not a directory")
    r = subprocess.run([exe, "train", str(DATA / "digit0.pgm"), "-o", output], check=False, capture_output=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.decode().startswith(f"bbzip: {output}: ") and len(r.stderr.splitlines()) == 1
    assert b"training" not in r.stderr  # refused before any training started


def test_train_binarize_makes_a_bernoulli_model_from_8bit_images(exe, tmp_path):
    """`make model-binary`'s path: 8-bit digits, binarised afresh every batch."""
    r = subprocess.run([exe, "train", str(DATA / "t10k-first8-idx3-ubyte"), "--binarize", "--epochs", "1",
                        "--latent", "2", "-q", "-o", "b.npz"], check=False, capture_output=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert model_module.parse_model((tmp_path / "b.npz").read_bytes()).binary
