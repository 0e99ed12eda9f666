"""Natural-image model files: integer weights and CDF tables in one .npz (no pickle).

A file holds two networks, "gray" (1 channel) and "rgb" (3), and the tables every
probability is read from. Its config says ``"kind": "natural"``; bbzip.vae.model's search
finds these files by ID like the digit models.
"""

from __future__ import annotations

from types import SimpleNamespace

from bbzip import modelfile
from bbzip.ans.rans import Message
from bbzip.errors import ModelError
from bbzip.fixedpoint import invariants
from bbzip.natural.network import NaturalNet

KIND = "natural"
FORMAT = 1
# The model new files are written with; the earlier ones (natural-vae-1, natural-vae) keep
# shipping for the files that name them.
DEFAULT_NAME = "natural-vae-2"
PRECISIONS = ("pixel_precision", "posterior_precision", "prior_precision")
# Fixed seed of every natural-image message's initial bits (docs/FORMAT.md).
SEED = 0x6262_7A69_7000_0006


class NaturalModel:
    def __init__(self, name: str, model_id: bytes, config: dict, arrays: dict):
        self.name, self.model_id, self.config = name, model_id, config
        self.tables = SimpleNamespace(**{key: arrays[key] for key in invariants.TABLES},
                                      **{key: config[key] for key in PRECISIONS},
                                      log_scale_min=config["log_scale_min"],
                                      log_sigma_min=config["log_sigma_min"])
        self._nets = {1: NaturalNet(arrays, "gray", 1), 3: NaturalNet(arrays, "rgb", 3)}

    binary = False  # a field the digit models' callers read

    def network(self, channels: int) -> NaturalNet:
        return self._nets[channels]

    # The message's initial state (seeded initial bits, docs/FORMAT.md), in one place so
    # encoder and decoder cannot disagree.
    @staticmethod
    def new_message(lanes: int) -> Message:
        return Message.seeded(lanes, SEED)

    @staticmethod
    def read_message(data, lanes: int) -> Message:
        return Message.from_bytes(data, lanes, seed=SEED)

    @staticmethod
    def is_initial(message: Message) -> bool:
        return message.is_initial()


def parse_natural(data: bytes, model_id: bytes | None = None) -> NaturalModel:
    arrays, config = modelfile.read_arrays(data)
    return natural_model(arrays, config, modelfile.model_id_of(data) if model_id is None else model_id)


def natural_model(arrays: dict, config: dict, model_id: bytes) -> NaturalModel:
    """The model of a natural-image model file's arrays and config; ModelError, with one
    line saying why, for a file that breaks a bound exact integer coding needs."""
    if config.get("kind") != KIND or config.get("format") != FORMAT:
        raise ModelError(f"not a natural-image model of format {FORMAT}")
    try:
        invariants.check_natural_model(arrays, config)
        return NaturalModel(config["name"], model_id, config, arrays)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"cannot read model file ({exc})") from None


def default_natural_model() -> NaturalModel | None:
    """The shipped natural-image model, or None when it is not installed."""
    try:
        return modelfile.parsed(modelfile.shipped_data(DEFAULT_NAME), parse_natural)
    except ModelError:
        return None
