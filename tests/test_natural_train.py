"""`bbzip train` on images that are not 28x28 digits: a natural-image model (needs torch)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bbzip.natural.model import parse_natural
from bbzip.vae.model import model_id_of
from tests.natural_helpers import smooth_images

pytest.importorskip("torch")


def test_train_command_makes_a_natural_model_that_codes_photos(tmp_path):
    np.save(tmp_path / "crops.npy", smooth_images((6, 40, 24, 3), seed=1))
    (tmp_path / "scan.pgm").write_bytes(b"P5\n30 20\n255\n" + smooth_images((20, 30, 1), seed=2).tobytes())
    out = tmp_path / "mine.npz"
    run = subprocess.run([sys.executable, "-m", "bbzip", "train", str(tmp_path / "crops.npy"),
                          str(tmp_path / "scan.pgm"), "--minutes", "0.02", "--validation", "2", "-o", str(out)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = out.read_bytes()
    model = parse_natural(data, model_id_of(data))
    assert model.config["evaluation"]["bits_per_pixel"] > 0
    images = smooth_images((2, 24, 40, 3), seed=3)
    from bbzip.natural import coder

    assert np.array_equal(coder.decode(model, coder.encode(model, images), images.shape), images)
