"""The fixed-point runtime: model files that break a bound of exact coding are refused on
load and at freeze time, and the compiled digit step cannot run stale conventions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from bbzip.errors import ModelError
from bbzip.fixedpoint import fixed
from bbzip.vae.model import parse_model
from tests.natural_helpers import random_natural_model
from tests.vae_helpers import random_float_arrays, tiny_model_bytes

ROOT = Path(__file__).resolve().parents[1]


def _unpack(data: bytes) -> tuple[dict, dict]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return arrays, json.loads(arrays.pop("config_json").tobytes())


def _broken(data: bytes, change) -> bytes:
    """The model file with ``change`` made (uncompressed: quicker, and as valid)."""
    arrays, config = _unpack(data)
    change(arrays, config)
    arrays["config_json"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _set(key, value):
    return lambda arrays, config: (arrays if key in arrays else config).__setitem__(key, value)


def _edit(key, fn):
    def change(arrays, config):
        arrays[key] = fn(arrays[key].copy())
    return change


def _at(index, value):
    def fn(a):
        a[index] = value
        return a
    return fn


# (what is broken, how, a word of the refusal)
BROKEN = [
    ("first mixture weight 0 (a weight sum of 0)", _edit("neg_exp", _at(0, 0)), "neg_exp[0]"),
    ("a bias past 2**53", _edit("head1.b", _at(0, 1 << 53)), "2**53"),
    ("a shift of 41", _edit("enc_fc1.shift", _at(0, 41)), "enc_fc1.shift"),
    ("a weight of 12 bits", _edit("ctx.w", _at((0, 0), 4096)), "ctx.w"),
    ("float weights", _edit("head2.w", lambda a: a.astype(np.float64)), "integer"),
    ("a short logistic table", _edit("sigmoid", lambda a: a[:-2]), "sigmoid"),
    ("a decreasing normal CDF", _edit("normal_cdf", _at(20000, 0)), "normal_cdf"),
    ("a CDF above 1", _edit("sigmoid", _at(-1, (1 << 30) + 1)), "sigmoid"),
    ("an empty scale table", _edit("inv_scale", lambda a: a[:0]), "inv_scale"),
    ("an inverse scale of 2**40", _edit("inv_sigma", _at(0, 1 << 40)), "inv_sigma"),
    ("latent edges out of order", _edit("latent_edges", _at(3, 0)), "latent_edges"),
    ("too few latent centres", _edit("latent_centres", lambda a: a[:-1]), "latent_centres"),
    ("pixel precision 40", _set("pixel_precision", 40), "pixel_precision"),
    ("posterior below the prior", _set("posterior_precision", 4), "posterior_precision"),
    ("a prior of 2**30 buckets", _set("prior_precision", 30), "prior_precision"),
    ("log_scale_min off the table's step", _set("log_scale_min", -3.99), "log_scale_min"),
    ("a head of another width", _edit("head2.w", lambda a: a[:, :-1]), "head"),
    ("an input table of 3 levels", _edit("input_lut", lambda a: a[:3]), "input_lut"),
]


@pytest.fixture(scope="module")
def digit_data() -> bytes:
    return tiny_model_bytes()


@pytest.mark.parametrize("what, change, word", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_digit_model_that_breaks_a_bound_is_refused_on_load(digit_data, what, change, word):
    with pytest.raises(ModelError) as caught:
        parse_model(_broken(digit_data, change))
    message = str(caught.value)
    assert word in message and "\n" not in message, message


def test_bbzip_refuses_a_malformed_model_in_one_line(exe, tmp_path, digit_data):
    from tests.vae_helpers import digits

    (tmp_path / "bad.npz").write_bytes(_broken(digit_data, _edit("neg_exp", _at(0, 0))))
    images = digits(3)
    (tmp_path / "d.idx").write_bytes(b"\0\0\x08\x03" + b"".join(v.to_bytes(4, "big") for v in (3, 28, 28))
                                     + images.tobytes())
    r = subprocess.run([exe, "-k", "--model", "bad.npz", "d.idx"], cwd=tmp_path, capture_output=True,
                       check=False, timeout=300)
    assert r.returncode == 1 and not (tmp_path / "d.idx.bbz").exists()
    why = "model file breaks a bound of exact coding: neg_exp[0] is not positive"
    assert r.stderr.decode().splitlines() == [f"bbzip: d.idx: {why}"]


def test_the_tiny_and_the_shipped_models_keep_every_bound(digit_data):
    parse_model(digit_data)
    from bbzip.vae.model import default_model

    try:
        default_model()
    except ModelError as exc:
        if "not installed" not in str(exc):
            raise


@pytest.fixture(scope="module")
def natural_data() -> bytes:
    return random_natural_model()[1]


NATURAL_BROKEN = [
    ("first mixture weight 0", _edit("neg_exp", _at(0, 0)), "neg_exp[0]"),
    ("a head bias past 2**53", _edit("rgb.head2.layer1.b", _at(0, -(1 << 53))), "rgb.head2.layer1"),
    ("a shift of 0", _edit("gray.enc1.shift", _at(0, 0)), "gray.enc1.shift"),
    ("a head with too few outputs", _edit("rgb.head1.out.w", lambda a: a[:-1]), "rgb.head1"),
    ("a latent of another width", _set("latent", 5), "latent"),
    ("a short logistic table", _edit("sigmoid", lambda a: a[1:]), "sigmoid"),
]


@pytest.mark.parametrize("what, change, word", NATURAL_BROKEN, ids=[b[0] for b in NATURAL_BROKEN])
def test_a_natural_model_that_breaks_a_bound_is_refused_on_load(natural_data, what, change, word):
    from bbzip.natural.model import parse_natural

    broken = _broken(natural_data, change)
    for parse in (parse_natural, parse_model):  # directly, and found by its ID
        with pytest.raises(ModelError) as caught:
            parse(broken)
        assert word in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_freezing_refuses_what_loading_would():
    from bbzip.natural.freeze import freeze_arrays as freeze_natural
    from bbzip.vae.freeze import freeze_arrays
    from tests.natural_helpers import float_shapes

    arrays = random_float_arrays()
    arrays["head1.bias"] = arrays["head1.bias"] * 0 + 1e12  # * 2**(shift + 10): past 2**53
    with pytest.raises(ModelError, match="head1"):
        freeze_arrays(arrays, "big-bias", {})
    floats = {name: np.full(shape, 0.01, np.float32) for name, shape in float_shapes().items()}
    floats["gray_features.conv1.bias"][:] = 1e9
    with pytest.raises(ModelError, match="gray.feat1"):
        freeze_natural(floats, "big-bias", {})


# -- the compiled digit step ------------------------------------------------------------------

def _kernels():
    pytest.importorskip("numba")
    from numba.core.registry import CPUDispatcher

    from bbzip.vae import compiled

    return compiled, [v for v in vars(compiled).values() if isinstance(v, CPUDispatcher)]


def test_no_compiled_kernel_reads_a_number_from_outside_its_arguments():
    """numba keys its on-disk cache on compiled.py alone: a number a kernel read as a global
    (from bbzip/fixedpoint/fixed.py, say) would stay compiled in after it changed."""
    _, kernels = _kernels()
    assert len(kernels) >= 4
    for kernel in kernels:
        fn = kernel.py_func
        for name in fn.__code__.co_names:
            value = fn.__globals__.get(name)
            if value is None:
                continue  # an attribute or a builtin, not a global of the module
            assert isinstance(value, types.ModuleType) or value in kernels, (fn.__name__, name)


def test_importing_the_compiled_step_leaves_the_warnings_filter_alone():
    pytest.importorskip("numba")
    code = ("import warnings; before = list(warnings.filters); import bbzip.vae.compiled; "
            "from numba.core.errors import NumbaWarning; "
            "assert not [f for f in warnings.filters if f[2] is NumbaWarning], warnings.filters")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)


_STEPS_AGREE = """
import sys
import numpy as np
from bbzip.fixedpoint import fixed
if sys.argv[1] == "changed":  # as if fixed.py had been edited since the cache was written
    fixed.CDF_INDEX_SHIFT += 1
from tests.vae_helpers import pop_both_ways, tiny_model
(numpy_symbols, _), (compiled_symbols, _) = pop_both_ways(tiny_model(), 9, 20_000)
assert np.array_equal(numpy_symbols, compiled_symbols), "the compiled step disagrees with the numpy step"
"""


@pytest.mark.slow
def test_a_changed_convention_reaches_a_warm_numba_cache(tmp_path):
    """The stale-cache case itself: a cache written with today's constants, then a process
    whose fixed-point constants differ; its compiled and numpy steps must still agree."""
    _kernels()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    for case in ("today", "changed"):
        r = subprocess.run([sys.executable, "-c", _STEPS_AGREE, case], check=False, cwd=ROOT, env=env,
                           capture_output=True, timeout=600)
        assert r.returncode == 0, (case, r.stderr.decode()[-2000:])
    assert any(tmp_path.rglob("*.nbi")), "numba wrote no cache: the test proved nothing"


def test_the_compiled_step_takes_its_conventions_from_fixed():
    compiled, _ = _kernels()
    assert compiled.constants().tolist() == [fixed.ACT_BITS, fixed.CDF_BITS, fixed.CDF_INDEX_SHIFT, fixed.SCALE_INDEX_SHIFT,
                               fixed.CDF_HALF_TABLE, 32]
