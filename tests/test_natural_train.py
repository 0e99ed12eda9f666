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


def test_a_thawed_shipped_model_freezes_back_to_the_same_integers():
    """A warm start from a model file (no float checkpoint is kept) begins at that model."""
    from pathlib import Path

    from bbzip import modelfile
    from bbzip.natural.freeze import freeze_arrays
    from bbzip.training.natural_thaw import thaw

    path = Path(__file__).parent.parent / "models" / "natural-vae.npz"
    shipped, _ = modelfile.read_arrays(path.read_bytes())
    again, _ = modelfile.read_arrays(freeze_arrays(thaw(path), "again", {})[0])
    assert sorted(shipped) == sorted(again)
    assert all(np.array_equal(shipped[name], again[name]) for name in shipped)


def test_development_photos_are_neither_trained_on_nor_validation(tmp_path):
    from bbzip.training.photos import DEV, dev_files, split_files

    for name in ("deb-PastelHills.ppm.gz", "deb-Kite.ppm.gz", "skimage-camera.pgm.gz", "README.md"):
        (tmp_path / name).write_bytes(b"")
    train, validation = split_files(tmp_path)
    assert [p.name for p in train] == ["deb-Kite.ppm.gz"]
    assert [p.name for p in validation] == ["skimage-camera.pgm.gz"]
    assert [p.name for p in dev_files(tmp_path)] == ["deb-PastelHills.ppm.gz"] and "PastelHills" in DEV
