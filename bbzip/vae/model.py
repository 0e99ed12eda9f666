"""Frozen model files: loading (no pickle), hashing, and finding a model by its ID.

A model file is an .npz of integer arrays plus a JSON config, loaded with
allow_pickle=False. Its ID is the first 8 bytes of the file's SHA-256; a .bbz block
records it, and decoding uses only a file whose hash gives that ID. Shipped models are
also checked against the SHA-256 in models/manifest.json, so a damaged or tampered
shipped file is refused rather than used.

Where models are looked for, in order: the shipped models/, each directory in
$BBZIP_MODEL_PATH, the user data directory (user_dir()), then files named with --model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bbzip.constants import MODEL_ID_BYTES
from bbzip.errors import MissingModelError, ModelError
from bbzip.vae.network import IntegerVAE

FORMAT = 1
DEFAULT_MODEL = "mnist-vae"
BINARY_MODEL = "mnist-binary-vae"
PATH_ENV = "BBZIP_MODEL_PATH"


@dataclass(frozen=True)
class FrozenModel:
    name: str
    model_id: bytes
    config: dict
    network: IntegerVAE
    tables: SimpleNamespace

    @property
    def binary(self) -> bool:
        """True for a Bernoulli model: pixels are the symbols 0 and 1."""
        return self.config.get("pixel_levels", 256) == 2


def model_id_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:MODEL_ID_BYTES]


def read_config(data: bytes) -> dict:
    """A model file's JSON config, without building the network."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return json.loads(npz["config_json"].tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read model file ({exc})") from None


def parse_model(data: bytes) -> FrozenModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        config = json.loads(arrays.pop("config_json").tobytes())
        if config.get("kind") == "natural":
            from bbzip.natural.model import parse_natural

            return parse_natural(data, model_id_of(data))
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
        network = IntegerVAE(arrays, config["latent"], config["hidden"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:  # damaged file
        raise ModelError(f"cannot read model file ({exc})") from None
    return FrozenModel(config["name"], model_id_of(data), config, network, tables)


def shipped_dir() -> Path:
    """The installed bbzip.models package, or models/ when run from a source checkout."""
    from importlib.resources import files

    try:
        return Path(str(files("bbzip.models")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "models"


def user_dir() -> Path:
    """The platform's per-user data directory for bbzip models ($XDG_DATA_HOME on Linux)."""
    from platformdirs import user_data_path

    return user_data_path("bbzip", appauthor=False) / "models"


def search_path() -> list[Path]:
    """Directories searched for models, in order (shipped first)."""
    env = [Path(p) for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
    return [shipped_dir(), *env, user_dir()]


def manifest() -> list[dict]:
    path = shipped_dir() / "manifest.json"
    return json.loads(path.read_text())["models"] if path.exists() else []


_PARSED: dict[bytes, FrozenModel] = {}  # by full SHA-256: a changed file is never served stale
_IDS: dict[tuple[str, int, int], bytes] = {}  # (path, size, mtime) -> model ID, for searches


def _parse_cached(data: bytes) -> FrozenModel:
    digest = hashlib.sha256(data).digest()
    if digest not in _PARSED:
        if len(_PARSED) >= 8:
            _PARSED.clear()
        _PARSED[digest] = parse_model(data)
    return _PARSED[digest]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None


def load_model_file(path: str | os.PathLike, expected_sha256: str | None = None) -> FrozenModel:
    data = _read(Path(path))
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelError(f"model file {path} does not match its recorded SHA-256 (damaged or tampered)")
    return _parse_cached(data)


def shipped_model(name: str) -> FrozenModel:
    for entry in manifest():
        if entry["name"] == name:
            return load_model_file(shipped_dir() / entry["file"], entry["sha256"])
    raise MissingModelError(f"the model {name!r} is not installed")


def default_model(binary: bool = False) -> FrozenModel:
    """The shipped model for 8-bit images, or for binary ones."""
    return shipped_model(BINARY_MODEL if binary else DEFAULT_MODEL)


def _file_id(path: Path) -> bytes | None:
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _IDS:
        try:
            _IDS[key] = model_id_of(path.read_bytes())
        except OSError:
            return None
    return _IDS[key]


def candidate_files(extra: tuple[str | os.PathLike, ...] = ()) -> list[Path]:
    """Model files on the search path (not the shipped ones, which the manifest lists)."""
    files: list[Path] = []
    for directory in search_path()[1:]:
        if directory.is_dir():
            files += sorted(directory.glob("*.npz"))
    return files + [Path(p) for p in extra]


def find_model(model_id: bytes, extra: tuple[str | os.PathLike, ...] = ()) -> FrozenModel:
    """The model whose ID is ``model_id``: shipped, on the search path, or one of ``extra``."""
    for entry in manifest():
        if bytes.fromhex(entry["sha256"])[:MODEL_ID_BYTES] == model_id:
            return load_model_file(shipped_dir() / entry["file"], entry["sha256"])
    for path in candidate_files(extra):
        if _file_id(path) == model_id:
            data = _read(path)
            if model_id_of(data) == model_id:  # the file may have changed since it was hashed
                return _parse_cached(data)
    raise MissingModelError(f"needs model {model_id.hex()}, which is not installed "
                     f"(put it in ${PATH_ENV} or {user_dir()}, or name it with --model)")


class ModelListing(SimpleNamespace):
    """One row of ``bbzip models``."""


def installed_models(extra: tuple[str | os.PathLike, ...] = ()) -> list[ModelListing]:
    """Every model bbzip can find, shipped first; damaged files are listed as such."""
    rows = []
    for entry in manifest():
        path = shipped_dir() / entry["file"]
        try:
            load_model_file(path, entry["sha256"])
            problem = ""
        except ModelError as exc:
            problem = str(exc)
        rows.append(ModelListing(
            name=entry["name"], model_id=entry["sha256"][: 2 * MODEL_ID_BYTES], source="shipped",
            path=path, input_shape=entry.get("input_shape"), likelihood=entry.get("likelihood", "?"),
            bits_per_pixel=entry.get("test_bits_per_pixel"), rate_on=entry.get("test_data", f"{entry.get('test_images', '?')} test images"),
            problem=problem))
    for path in candidate_files(extra):
        try:
            data = _read(path)
            config = read_config(data)
        except ModelError as exc:
            rows.append(ModelListing(name=path.stem, model_id="-", source=str(path.parent), path=path,
                                     input_shape=None, likelihood="?", bits_per_pixel=None, rate_on="",
                                     problem=str(exc)))
            continue
        evaluation = config.get("evaluation") or {}
        rows.append(ModelListing(
            name=config.get("name", path.stem), model_id=model_id_of(data).hex(), source=str(path.parent),
            path=path, input_shape=config.get("input_shape"), likelihood=config.get("likelihood", "?"),
            bits_per_pixel=evaluation.get("bits_per_pixel"), rate_on=evaluation.get("data", ""), problem=""))
    return rows
