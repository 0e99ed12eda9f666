"""Model files as bytes: reading them (no pickle), their IDs, and where they are looked for.

A model file is an .npz of integer arrays plus a JSON config, loaded with
allow_pickle=False. Its ID is the first 8 bytes of the file's SHA-256; a .bbz block
records it, and decoding uses only a file whose hash gives that ID. Shipped models are
also checked against the SHA-256 in models/manifest.json, so a damaged or tampered
shipped file is refused rather than used.

Where models are looked for, in order: the shipped models/, each directory in
$BBZIP_MODEL_PATH, the user data directory (user_dir()), then files named with --model.

This layer knows no kind of model: ``bbzip.vae.model`` (digits) and
``bbzip.natural.model`` (photos) parse the bytes it finds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from bbzip.constants import MODEL_ID_BYTES
from bbzip.errors import MissingModelError, ModelError

PATH_ENV = "BBZIP_MODEL_PATH"
T = TypeVar("T")


def model_id_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:MODEL_ID_BYTES]


def read_arrays(data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """A model file's arrays and its JSON config; ModelError if it is no model file."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        config = json.loads(arrays.pop("config_json").tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read model file ({exc})") from None
    if not isinstance(config, dict):
        raise ModelError("cannot read model file (its config is not a JSON object)")
    return arrays, config


def read_config(data: bytes) -> dict:
    """A model file's JSON config, without building the network."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return json.loads(npz["config_json"].tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read model file ({exc})") from None


def shipped_dir() -> Path:
    """The installed bbzip.models package, or models/ when run from a source checkout."""
    from importlib.resources import files

    try:
        return Path(str(files("bbzip.models")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "models"


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


_PARSED: dict[bytes, object] = {}  # by full SHA-256: a changed file is never served stale
_IDS: dict[tuple[str, int, int], bytes] = {}  # (path, size, mtime) -> model ID, for searches


def parsed(data: bytes, parse: Callable[[bytes], T]) -> T:
    """``parse(data)``, kept for the next caller that finds the same bytes."""
    digest = hashlib.sha256(data).digest()
    if digest not in _PARSED:
        if len(_PARSED) >= 8:
            _PARSED.clear()
        _PARSED[digest] = parse(data)
    return _PARSED[digest]


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None


def file_data(path: str | os.PathLike, expected_sha256: str | None = None) -> bytes:
    """A model file's bytes, checked against ``expected_sha256`` when given."""
    data = read_file(Path(path))
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelError(f"model file {path} does not match its recorded SHA-256 (damaged or tampered)")
    return data


def shipped_data(name: str) -> bytes:
    """The bytes of the shipped model ``name``, checked against the manifest."""
    for entry in manifest():
        if entry["name"] == name:
            return file_data(shipped_dir() / entry["file"], entry["sha256"])
    raise MissingModelError(f"the model {name!r} is not installed")


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


def find_data(model_id: bytes, extra: tuple[str | os.PathLike, ...] = ()) -> bytes:
    """The bytes of the model whose ID is ``model_id``: shipped, on the search path, or one
    of ``extra``."""
    for entry in manifest():
        if bytes.fromhex(entry["sha256"])[:MODEL_ID_BYTES] == model_id:
            return file_data(shipped_dir() / entry["file"], entry["sha256"])
    for path in candidate_files(extra):
        if _file_id(path) == model_id:
            data = read_file(path)
            if model_id_of(data) == model_id:  # the file may have changed since it was hashed
                return data
    raise MissingModelError(f"needs model {model_id.hex()}, which is not installed "
                            f"(put it in ${PATH_ENV} or {user_dir()}, or name it with --model)")
