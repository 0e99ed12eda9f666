"""The shipped natural-image model: pinned rates on small fixtures (exact byte counts), so a
change of model, tables, tiling or coding order shows up in CI, not only in the bench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bbzip.natural import coder
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model

DATA = Path(__file__).parent / "data"
MODEL = default_natural_model()
pytestmark = pytest.mark.skipif(MODEL is None, reason="the natural-image model is not installed")

# Payload bytes of bbzip.natural.coder.encode for each fixture; update on purpose only
# (a new model, a new encoder choice, or a format change with a new coder ID): natural-vae-2
# with the sampled calibration; natural-vae with the earlier encoder gave 265, 1181 and 1553.
PINNED = {
    "natural-gray-33x40.pgm": 257,
    "natural-rgb-31x24.ppm": 1185,
    "camera-crop.pgm": 1517,  # with tile deltas and corrections
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_rate_and_round_trip(name):
    image = load_image_file(DATA / name)[None]
    payload = coder.encode(MODEL, image)
    assert len(payload) == PINNED[name], f"{name}: {len(payload)} bytes ({8 * len(payload) / image.size:.3f} bits/subpixel)"
    assert np.array_equal(coder.decode(MODEL, payload, image.shape), image)


def test_learned_model_beats_a_flat_code_on_photos():
    """Sanity: a crop of a photo costs well under 8 bits a subpixel."""
    image = load_image_file(DATA / "natural-rgb-31x24.ppm")[None]
    assert 8 * len(coder.encode(MODEL, image)) / image.size < 6.0


@pytest.mark.parametrize("name", ["natural-gray-33x40.pgm", "camera-crop.pgm", "astronaut-crop.ppm", "interlaced"])
def test_calibration_does_not_make_payloads_larger(monkeypatch, name):
    """The encoder keeps tile deltas and corrections only when its sample of rows says they
    pay. On an interlaced image (every other row flat) a sample of odd rows only would
    mislead it, as it once did: +41 % on the gray fixture."""
    if name == "interlaced":
        image = load_image_file(DATA / "camera-crop.pgm")[None].copy()
        image[:, 1::2] = 128
    else:
        image = load_image_file(DATA / name)[None]
    chosen = coder.encode(MODEL, image)
    choose = coder.choose_calibration
    monkeypatch.setattr(coder, "choose_calibration", lambda *args: choose(*args)._replace(deltas=None, adjust=None))
    monkeypatch.setattr("bbzip.natural.context_classes.refine", lambda *args: args[-1])  # no calibration at all
    plain = coder.encode(MODEL, image)
    assert len(chosen) <= len(plain), f"{len(chosen)} > {len(plain)}"
