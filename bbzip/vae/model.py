"""Digit model files: the frozen VAE and its tables, and finding any model by its ID.

``bbzip.modelfile`` reads model files as bytes and says where they are looked for; this
module parses a digit model (and hands a natural-image model to ``bbzip.natural.model``),
so a .bbz block's model ID gives a model of either kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from bbzip import modelfile
from bbzip.constants import MODEL_ID_BYTES
from bbzip.errors import ModelError
from bbzip.fixedpoint import invariants
from bbzip.modelfile import manifest, model_id_of
from bbzip.vae.network import IntegerVAE

FORMAT = 1
DEFAULT_MODEL = "mnist-vae"
BINARY_MODEL = "mnist-binary-vae"


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


def parse_model(data: bytes):
    """A model file of either kind: a digit FrozenModel or a natural-image NaturalModel.
    ModelError, with one line saying why, for a file that is no model or breaks a bound
    that exact integer coding needs (docs/MODELS.md)."""
    arrays, config = modelfile.read_arrays(data)
    if config.get("kind") == "natural":
        from bbzip.natural.model import natural_model

        return natural_model(arrays, config, model_id_of(data))
    if config.get("format") != FORMAT:
        raise ModelError(f"model format {config.get('format')} is not supported")
    try:
        invariants.check_digit_model(arrays, config)
        tables = SimpleNamespace(
            **{key: np.ascontiguousarray(arrays[key], dtype=np.int64) for key in invariants.TABLES},
            log_scale_min=config["log_scale_min"], log_sigma_min=config["log_sigma_min"],
            pixel_precision=config["pixel_precision"], posterior_precision=config["posterior_precision"],
            prior_precision=config["prior_precision"],
        )
        network = IntegerVAE(arrays, config["latent"], config["hidden"])
        return FrozenModel(config["name"], model_id_of(data), config, network, tables)
    except (ValueError, KeyError, TypeError, IndexError) as exc:  # damaged file
        raise ModelError(f"cannot read model file ({exc})") from None


def load_model_file(path: str | os.PathLike, expected_sha256: str | None = None):
    return modelfile.parsed(modelfile.file_data(path, expected_sha256), parse_model)


def shipped_model(name: str):
    return modelfile.parsed(modelfile.shipped_data(name), parse_model)


def default_model(binary: bool = False) -> FrozenModel:
    """The shipped model for 8-bit images, or for binary ones."""
    return shipped_model(BINARY_MODEL if binary else DEFAULT_MODEL)


def find_model(model_id: bytes, extra: tuple[str | os.PathLike, ...] = ()):
    """The model whose ID is ``model_id``: shipped, on the search path, or one of ``extra``."""
    return modelfile.parsed(modelfile.find_data(model_id, extra), parse_model)


class ModelListing(SimpleNamespace):
    """One row of ``bbzip models``."""


def installed_models(extra: tuple[str | os.PathLike, ...] = ()) -> list[ModelListing]:
    """Every model bbzip can find, shipped first; damaged files are listed as such."""
    rows = []
    for entry in manifest():
        path = modelfile.shipped_dir() / entry["file"]
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
    for path in modelfile.candidate_files(extra):
        try:
            data = modelfile.read_file(path)
            config = modelfile.read_config(data)
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
