"""The seed files every mutation starts from: valid .bbz files of every coder."""

from __future__ import annotations

import io
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass, field

from bbzip.constants import IMAGE_BYTES
from tests.fuzz.common import (
    BINARY_IDS,
    BINARY_MODEL,
    DATA,
    MODEL_IDS,
    NATURAL_CODER_ID,
    VAE_CODER_IDS,
)
from tests.fuzz.fields import Field, Unit, layout


@dataclass
class Seed:
    name: str
    raw: bytes
    packed: bytes
    units: list[Unit] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    # (offset in packed, bytes of data decoded so far) at the end of each stream
    stream_ends: list[tuple[int, int]] = field(default_factory=list)
    coder_ids: set[int] = field(default_factory=set)
    model_ids: set[bytes] = field(default_factory=set)  # of the models its VAE blocks use

    @property
    def vae(self) -> bool:
        return bool(self.coder_ids & set(VAE_CODER_IDS))

    @property
    def natural(self) -> bool:
        return NATURAL_CODER_ID in self.coder_ids

    @property
    def blocks(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "block"]


def _inputs() -> list[tuple[str, bytes]]:
    rng = random.Random(20261123)
    text = b"".join(b"%d green bottles, hanging on the wall\n" % i for i in range(10, 0, -1))
    skewed = bytes(min(15, int(rng.expovariate(0.6))) + 0x41 for _ in range(1500))
    rare = bytearray(b"a" * 20000)
    rare[12345] = ord("b")
    return [
        ("one", b"x"),
        ("text", text),
        ("random", rng.randbytes(256)),
        ("skewed", skewed),
        ("constant", bytes(600)),
        ("rare", bytes(rare)),
    ]


def shipped_models() -> dict[str, bytes]:
    """Name -> model ID of every model models/manifest.json lists (no model is loaded)."""
    from bbzip.vae.model import MODEL_ID_BYTES, manifest

    return {e["name"]: bytes.fromhex(e["sha256"])[:MODEL_ID_BYTES] for e in manifest()}


def _idx(images: bytes) -> bytes:
    """An MNIST IDX file of these 28x28 images."""
    count = len(images) // IMAGE_BYTES
    return b"\x00\x00\x08\x03" + count.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + images


def binary_model_present() -> bool:
    """Whether the binary-image model ships (models/manifest.json). A campaign's workers are
    told the parent's answer (BBZIP_FUZZ_BINARY), so a model landing mid-run cannot make
    them build other seeds than the parent, and so another plan."""
    pinned = os.environ.get("BBZIP_FUZZ_BINARY")
    if pinned is not None:
        return pinned == "1"
    return BINARY_MODEL in shipped_models()


def _vae_inputs(binary: bool) -> list[tuple[str, bytes, str, int | None, str]]:
    """(name, data, coder, block size, model name) of the VAE seeds: a few digits each, as
    a VAE decode costs about 0.1 s an image. Binary seeds only when the binary model ships."""
    digits = (DATA / "t10k-first8-idx3-ubyte").read_bytes()[16:]
    text = b"".join(b"%d green bottles, hanging on the wall\n" % i for i in range(10, 0, -1))
    d0 = (DATA / "digit0.pgm").read_bytes()
    out = [
        ("digit0/vae", d0, "vae", None, "mnist-vae"),  # a canonical PGM header: code 1
        ("idx2/vae", _idx(digits[: 2 * IMAGE_BYTES]), "vae", None, "mnist-vae"),  # verbatim header
        # one digit a block: the IDX header goes with the first, the others have none
        ("idx3-blocks/vae", _idx(digits[: 3 * IMAGE_BYTES]), "vae", 800, "mnist-vae"),
        ("digit0+text/auto", d0 + text[:150], "auto", None, "mnist-vae"),  # VAE, then lzma
    ]
    if binary:
        binary_digits = (DATA / "binarized-first8-idx3-ubyte").read_bytes()[16:]
        out += [
            # maxval 1: canonical header code 5, ink 1
            ("binary-digit0/vae", (DATA / "binary-digit0.pgm").read_bytes(), "vae", None,
             BINARY_MODEL),
            ("binary-idx2/vae", _idx(binary_digits[: 2 * IMAGE_BYTES]), "vae", None, BINARY_MODEL),
            ("binary255-digit1/vae", (DATA / "binary255-digit1.pgm").read_bytes(), "vae", None,
             BINARY_MODEL),  # ink 255
        ]
    return out


def natural_stand_in() -> bool:
    """Whether the natural seeds use the stand-in (no natural model ships); workers are told
    the parent's answer (BBZIP_FUZZ_NATURAL_FAKE), as for the binary model."""
    pinned = os.environ.get("BBZIP_FUZZ_NATURAL_FAKE")
    if pinned is not None:
        return pinned == "1"
    from bbzip.images import coder

    natural = coder.backend()
    return natural is None or natural.default_model() is None


@contextmanager
def natural_coder():
    """Within: the natural-image coder the seeds are made and decoded with."""
    from bbzip.images import coder

    saved = coder.backend
    if natural_stand_in():
        from tests import natural_fake

        coder.backend = natural_fake.backend
    try:
        yield
    finally:
        coder.backend = saved


def _natural_inputs() -> list[tuple[str, bytes, str]]:
    """(name, data, coder) of the natural-image seeds: tiny images, so each decodes fast."""
    import tarfile

    import numpy as np

    rng = np.random.default_rng(6)
    # At least 8x8: the natural-image model codes nothing smaller.
    gray = (np.add.outer(np.arange(9), np.arange(11)) * 9 + rng.integers(0, 4, (9, 11))).astype(np.uint8)
    rgb = (np.arange(8 * 10 * 3).reshape(8, 10, 3) * 5 % 256).astype(np.uint8)
    pgm = b"P5\n# gray\n11 9\n255\n" + gray.tobytes()
    ppm = b"P6 10 8 255\n" + rgb.tobytes()
    buffer = io.BytesIO()
    np.save(buffer, np.stack([rgb, rgb[::-1], rgb[:, ::-1]]))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("a.pgm", pgm), ("notes", b"plain text\n" * 3), ("b.ppm", ppm), ("c.pgm", pgm)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return [
        ("pgm/natural", pgm, "natural"),  # one run, the header as stored plain bytes
        ("ppm+text/auto", ppm + b"and some trailing text", "auto"),
        ("npy3/natural", buffer.getvalue(), "natural"),  # one run of three RGB images
        ("tar/natural", archive.getvalue(), "natural"),  # runs of two shapes, LZMA plain bytes
    ]


def _compress(data: bytes, coder: str, block_size: int | None = None) -> bytes:
    from bbzip import api

    saved = api.BLOCK_SIZE
    if block_size is not None:
        api.BLOCK_SIZE = block_size
    try:
        return api.compress(data, coder)
    finally:
        api.BLOCK_SIZE = saved


# Seeds made in this process, by what decides them: making them codes digits and photos
# (seconds), and the tests and a campaign's parent ask for the same ones again and again.
_MADE: dict[tuple, list[Seed]] = {}


def build_seeds(binary: bool | None = None) -> list[Seed]:
    """The valid files every mutation starts from (deterministic); binary: whether to make
    seeds with the binary-image model (default: when it ships)."""
    binary = binary_model_present() if binary is None else binary
    key = (binary, tuple(sorted(shipped_models().items())), natural_stand_in())
    if key not in _MADE:
        _MADE[key] = _make_seeds(binary)
    return adopt_seeds(_MADE[key])


def adopt_seeds(seeds: list[Seed]) -> list[Seed]:
    """Sets the model IDs that mutations draw from to those of ``seeds``; a copy of the list."""
    shipped = shipped_models()
    MODEL_IDS[:] = sorted(set().union(*(s.model_ids for s in seeds)))
    BINARY_IDS.clear()
    BINARY_IDS.update(m for m in MODEL_IDS if m == shipped.get(BINARY_MODEL))
    return list(seeds)


def _make_seeds(binary: bool) -> list[Seed]:
    inputs = dict(_inputs())
    made: list[tuple[str, bytes, bytes]] = [("empty", b"", _compress(b"", "auto"))]
    for coder in ("stored", "order0", "lzma", "zstd"):
        for name, data in inputs.items():
            made.append((f"{name}/{coder}", data, _compress(data, coder)))
    mixed = inputs["text"][:200] + inputs["random"] + bytes(300) + inputs["skewed"][:500]
    for coder in ("stored", "order0", "lzma", "auto"):
        made.append((f"multi/{coder}", mixed, _compress(mixed, coder, block_size=256)))
    a, b = inputs["text"], inputs["skewed"][:700]
    for coder in ("order0", "lzma", "auto"):
        made.append(
            (
                f"concat/{coder}",
                a + b,
                _compress(a, coder) + _compress(b, "stored" if coder == "auto" else coder),
            )
        )
    vae = _vae_inputs(binary)
    for name, data, coder, block_size, _ in vae:
        made.append((name, data, _compress(data, coder, block_size)))
    with natural_coder():
        for name, data, coder in _natural_inputs():
            made.append((name, data, _compress(data, coder)))
    seeds = []
    for name, raw, packed in made:
        found = layout(packed)
        seed = Seed(name, raw, packed, found.units, found.fields, found.stream_ends, found.coder_ids, found.model_ids)
        seeds.append(seed)
    shipped = shipped_models()
    vae_seeds = seeds[len(seeds) - len(vae) - len(_natural_inputs()) : len(seeds) - len(_natural_inputs())]
    for seed, (_, _, _, _, model) in zip(vae_seeds, vae, strict=True):
        # Each VAE seed must really hold VAE blocks, of the model it is meant for.
        assert seed.vae and seed.model_ids == {shipped[model]}, (seed.name, seed.coder_ids)
    return seeds
