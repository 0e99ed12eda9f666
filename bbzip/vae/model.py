"""Frozen model files: loading (no pickle), hashing, and finding a model by its ID.

A model file is an .npz of integer arrays plus a JSON config, loaded with
allow_pickle=False. Its ID is the first 8 bytes of the file's SHA-256; a .bbz block
records it, and decoding refuses any model whose hash differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bbzip.errors import ModelError
from bbzip.vae.network import IntegerVAE

MODEL_ID_BYTES = 8
FORMAT = 1
DEFAULT_MODEL = "mnist-vae"


@dataclass(frozen=True)
class FrozenModel:
    name: str
    model_id: bytes
    config: dict
    network: IntegerVAE
    tables: SimpleNamespace


def model_id_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:MODEL_ID_BYTES]


def parse_model(data: bytes) -> FrozenModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        config = json.loads(arrays.pop("config_json").tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged file
        raise ModelError(f"cannot read model file ({exc})") from None
    if config.get("format") != FORMAT:
        raise ModelError(f"model format {config.get('format')} is not supported")
    tables = SimpleNamespace(
        sigmoid=arrays["sigmoid"], normal_cdf=arrays["normal_cdf"], neg_exp=arrays["neg_exp"],
        inv_scale=arrays["inv_scale"], inv_sigma=arrays["inv_sigma"],
        latent_edges=arrays["latent_edges"], latent_centres=arrays["latent_centres"],
        coarse_centres=arrays["coarse_centres"],
        log_scale_min=config["log_scale_min"], log_sigma_min=config["log_sigma_min"],
        pixel_precision=config["pixel_precision"], posterior_precision=config["posterior_precision"],
        prior_precision=config["prior_precision"],
    )
    network = IntegerVAE(arrays, config["latent"], config["mixtures"], config["hidden"])
    return FrozenModel(config["name"], model_id_of(data), config, network, tables)


def shipped_dir() -> Path:
    """The installed bbzip.models package, or models/ when run from a source checkout."""
    from importlib.resources import files

    try:
        return Path(str(files("bbzip.models")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "models"


def search_path() -> list[Path]:
    """Where models are looked for: $BBZIP_MODEL_PATH entries, then the shipped models."""
    dirs = [Path(p) for p in os.environ.get("BBZIP_MODEL_PATH", "").split(os.pathsep) if p]
    return dirs + [shipped_dir()]


def manifest() -> list[dict]:
    path = shipped_dir() / "manifest.json"
    return json.loads(path.read_text())["models"] if path.exists() else []


@lru_cache(maxsize=8)
def _load_file(path: str) -> FrozenModel:
    return parse_model(Path(path).read_bytes())


def load_model_file(path: str | os.PathLike, expected_sha256: str | None = None) -> FrozenModel:
    data = Path(path).read_bytes()
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelError(f"model file {path} does not match its recorded SHA-256 (damaged or tampered)")
    return _load_file(str(path))


def default_model() -> FrozenModel:
    for entry in manifest():
        if entry["name"] == DEFAULT_MODEL:
            return load_model_file(shipped_dir() / entry["file"], entry["sha256"])
    raise ModelError(f"the model {DEFAULT_MODEL!r} is not installed")


def find_model(model_id: bytes) -> FrozenModel:
    """The model whose ID is ``model_id``, from the manifest or the search path."""
    for entry in manifest():
        if bytes.fromhex(entry["sha256"])[:MODEL_ID_BYTES] == model_id:
            return load_model_file(shipped_dir() / entry["file"], entry["sha256"])
    for directory in search_path():
        for path in sorted(directory.glob("*.npz")) if directory.is_dir() else ():
            if model_id_of(path.read_bytes()) == model_id:
                return _load_file(str(path))
    raise ModelError(f"needs model {model_id.hex()}, which is not installed "
                     "(put it in $BBZIP_MODEL_PATH)")
