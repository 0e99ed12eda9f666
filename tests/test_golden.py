"""Golden .bbz files freeze the format: each must decode byte for byte, forever."""

import io
from pathlib import Path

import pytest

from bbzip import api
from bbzip.container import StreamEnd, StreamReader

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.bbz"))


def test_golden_files_exist():
    assert len(CASES) >= 8


def _needs_lepton(name: str) -> None:
    if name.endswith("-jpeg"):
        pytest.importorskip("lepton_jpeg_python")  # coder 0x07 decodes with it only (bbzip[jpeg])


@pytest.mark.parametrize("name", CASES)
def test_golden_file_decodes_byte_for_byte(name):
    _needs_lepton(name)
    packed = (GOLDEN / f"{name}.bbz").read_bytes()
    assert api.decompress(packed) == (GOLDEN / f"{name}.raw").read_bytes()


NATURAL = ("photo-ppm-natural", "scan-pgm-natural", "crops-npy-natural")
# 0x06 paths (docs/SPEC-natural.md) and what each golden must exercise: tile side, lane
# groups, plain coder, runs and shapes of its block.
PATHS = {
    "tiles64-pgm-natural": {"sides": {64}, "groups": {1}, "runs": 1, "shapes": 1},
    "tiles128-pgm-natural": {"sides": {128}, "groups": {1}, "runs": 1, "shapes": 1},
    "tiles256-pgm-natural": {"sides": {256}, "groups": {1}, "runs": 1, "shapes": 1},
    "groups5-pgm-natural": {"sides": {32}, "groups": {5}, "runs": 1, "shapes": 1},
    "lanes64-npy-natural": {"sides": {32}, "groups": {2}, "runs": 1, "shapes": 1},
    "lanes64-npy-natural-context": {"sides": {32}, "groups": {2}, "runs": 1, "shapes": 1},
    "tar-natural": {"sides": {32}, "groups": {1}, "runs": 4, "shapes": 3, "plain": 0x04},
}


@pytest.mark.parametrize("name, coder", [
    ("skewed-order0", "order0"), ("text-lzma", "lzma"), ("random-stored", "stored"),
    ("text-zstd", "zstd"), ("source-zstd-level6", "zstd"),
    ("digits-idx-vae", "vae"), ("digit-pgm-vae", "vae"),
    ("binarized-idx-vae", "vae"), ("binary-pgm-vae", "vae"),
    ("photo-ppm-natural", "natural"), ("scan-pgm-natural", "natural"), ("crops-npy-natural", "natural"),
    *((f"{name}-calibrated", "natural") for name in NATURAL), ("pair-npy-natural-per-image", "natural"),
    *((name, "natural") for name in PATHS),
    ("photo-jpeg", "jpeg"), *((name, "imagefile") for name in CASES if name.endswith("-imagefile")),
    ("photo-ppm-natural-bands", "natural"), ("photo-ppm-natural-vae2", "natural"), ("scan-pgm-natural-vae2", "natural"),
    *((f"{name}-natural-context", "natural") for name in ("photo-ppm", "scan-pgm")),
    *((f"{name}-png", "png") for name in ("natural-rgb-31x24", "gradient-rgba16-20x16", "natural-gray-alpha-31x24")),
])
def test_golden_files_use_the_coder_they_freeze(name, coder):
    info = api.stream_info(io.BytesIO((GOLDEN / f"{name}.bbz").read_bytes()))
    assert {b.coder for b in info.blocks} == {coder}


def _coder_ids(packed: bytes) -> set[int]:
    reader = StreamReader(io.BytesIO(packed))
    ids = set()
    while reader.next_stream():
        while not isinstance(item := reader.next_block(), StreamEnd):
            ids.add(item.coder_id)
            reader.skip_payload(item)
    return ids


VAE_GOLDEN = [(f"{name}{suffix}", coder_id, model) for suffix, coder_id in (("-vae", 0x03), ("-vae05", 0x05))
              for name, model in (("digits-idx", "mnist-vae"), ("digit-pgm", "mnist-vae"),
                                  ("binarized-idx", "mnist-binary-vae"), ("binary-pgm", "mnist-binary-vae"))]


@pytest.mark.parametrize("name, coder_id, model", VAE_GOLDEN)
def test_golden_vae_files_keep_their_coder_id(name, coder_id, model):
    assert _coder_ids((GOLDEN / f"{name}.bbz").read_bytes()) == {coder_id}


def test_compression_writes_the_smaller_vae_coder_for_each_model():
    """0x05 for binary images, 0x03 for 8-bit ones (docs/VAE.md has the measurements)."""
    from tests.make_golden import inputs

    for name, coder_id in (("binarized-idx-vae05", 0x05), ("digits-idx-vae05", 0x03)):
        data, coder = inputs()[name]
        assert _coder_ids(api.compress(data, coder)) == {coder_id}


@pytest.mark.parametrize("name, model", [
    # The first natural files need the first natural model, shipped as natural-vae-1 for them.
    *((name, "natural-vae-1") for name in NATURAL),
    *((f"{name}-calibrated", "natural-vae") for name in NATURAL), ("pair-npy-natural-per-image", "natural-vae"),
    ("photo-ppm-natural-bands", "natural-vae"),
    *((f"{name}-natural-context", "natural-vae") for name in ("photo-ppm", "scan-pgm", "lanes64-npy")),
    # Written with natural-vae-2, the default since; the files above still name natural-vae.
    ("photo-ppm-natural-vae2", "natural-vae-2"), ("scan-pgm-natural-vae2", "natural-vae-2"),
    *((name, model) for name, _, model in VAE_GOLDEN),
])
def test_golden_vae_files_name_the_shipped_model_they_need(name, model):
    from bbzip.vae.model import manifest

    wanted = {e["name"]: e["sha256"][:16] for e in manifest()}[model]
    info = api.stream_info(io.BytesIO((GOLDEN / f"{name}.bbz").read_bytes()))
    assert {b.model_id for b in info.blocks} == {wanted}


def _writer_cases():
    from tests.make_golden import inputs

    return sorted(inputs().items())


# Compression is deterministic, so today's writer must reproduce each golden file byte for
# byte, not only read it. When a writer changes on purpose (a new coder ID, a new model), its
# old golden stays above for decoding and leaves this list; the new output gets a golden.
WRITTEN_BY_TODAYS_WRITER = {name for name, _ in _writer_cases()} - {
    "skewed-order0",  # order-0 now takes one lane per 800 bytes (skewed-order0-lanes800)
    "binarized-idx-vae", "binary-pgm-vae",  # binary digits: now written as 0x05 (-vae05)
    "digits-idx-vae05", "digit-pgm-vae05",  # 8-bit digits as 0x05: decoded, written as 0x03
    *NATURAL,  # natural images: now written with the calibration fields (-calibrated)
    "pair-npy-natural-per-image",  # written with the per-image size threshold lifted
    # written with the tile budget or the group count forced (tests/make_golden.py)
    "tiles64-pgm-natural", "tiles128-pgm-natural", "tiles256-pgm-natural", "groups5-pgm-natural",
    "photo-ppm-natural-bands",  # written with small bands (test_photos.py reproduces it)
    # written with the context classes forced; and the crops that now take them unforced
    "photo-ppm-natural-context", "scan-pgm-natural-context", "lanes64-npy-natural",
}


def _first_natural_byte(name: str) -> int:
    """The first byte of the natural-image model's payload in a golden file's first block:
    tile side and calibration flags (docs/IMAGES.md)."""
    from tests.fuzz.fields import natural_fields

    reader = StreamReader(io.BytesIO((GOLDEN / f"{name}.bbz").read_bytes()))
    reader.next_stream()
    payload = reader.read_payload(reader.next_block())
    group = next(f for f in natural_fields(payload, 0, len(payload)) if f.kind == "nat-group-size")
    return payload[group.end]


def test_golden_natural_files_freeze_both_header_forms():
    """The first natural files have no calibration flags; the -calibrated ones use them."""
    assert all(_first_natural_byte(name) & 0xC0 == 0 for name in NATURAL)
    flags = [_first_natural_byte(f"{name}-calibrated") & 0xC1 for name in NATURAL]
    assert all(flag in (0x40, 0x80, 0xC0) for flag in flags) and any(f & 0x40 for f in flags) and any(f & 0x80 for f in flags)
    assert _first_natural_byte("pair-npy-natural-per-image") & 0x01


@pytest.mark.parametrize("name, case", _writer_cases())
def test_compression_reproduces_the_golden_file(name, case, monkeypatch):
    data, coder = case
    _needs_lepton(name)
    if not name.endswith("-vae2"):  # written with natural-vae, the default before natural-vae-2
        monkeypatch.setattr("bbzip.natural.model.DEFAULT_NAME", "natural-vae")
    if name not in WRITTEN_BY_TODAYS_WRITER:
        pytest.skip("frozen for decoding only: today's writer makes other bytes on purpose")
    assert (GOLDEN / f"{name}.raw").read_bytes() == data
    assert api.compress(data, coder) == (GOLDEN / f"{name}.bbz").read_bytes(), (
        f"compress() no longer writes golden {name}.bbz: if that is on purpose, drop {name} from "
        "WRITTEN_BY_TODAYS_WRITER (the file still must decode) and add a golden for the new output")


def _natural_layout(name: str) -> dict:
    """Tile sides, group counts, plain coder, runs and shapes of a golden's 0x06 blocks."""
    from bbzip.coders.varint import decode_varint
    from bbzip.images.coder import read_runs
    from bbzip.natural import header

    reader = StreamReader(io.BytesIO((GOLDEN / f"{name}.bbz").read_bytes()))
    reader.next_stream()
    layout = {"sides": set(), "groups": set(), "runs": 0, "shapes": 0, "plain": set()}
    while not isinstance(item := reader.next_block(), StreamEnd):
        payload = memoryview(reader.read_payload(item))
        runs, shapes, pos = read_runs(payload, item.raw_size)
        layout["plain"].add(payload[pos])
        size, pos = decode_varint(payload, pos + 1, len(payload))
        pos += size
        layout["runs"] += len(runs)
        layout["shapes"] += len(shapes)
        for (_, _, channels), members in shapes.items():
            size, pos = decode_varint(payload, pos, len(payload))
            count = sum(runs[i][2] for i in members)
            side, _, messages = header.unpack(payload[pos : pos + size], count, channels, 8)
            layout["sides"].add(side)
            layout["groups"].add(len(messages))
            pos += size
    return layout


@pytest.mark.parametrize("name", sorted(PATHS))
def test_golden_natural_files_freeze_their_path(name):
    want = dict(PATHS[name])
    plain = want.pop("plain", None)
    layout = _natural_layout(name)
    assert {key: layout[key] for key in want} == want
    if plain is not None:
        assert layout["plain"] == {plain}


# Image files with more pixels than a band: imagefile blocks of one band each (TIFF, BMP;
# bytes after the last band are a plain block), or a PNG's one block with its pixels in bands.
# Written with small bands, as make_golden._compress does (test_formats.py reproduces them).
WRITTEN_BY_TODAYS_WRITER -= {"photo-tiff-strips-imagefile-bands", "photo-bmp24-imagefile-bands",
                             "scan-tiff16-tiles-imagefile-bands", "photo-rgba-png-bands"}
BANDED_FILES = {"photo-tiff-strips-imagefile-bands": ("imagefile", 2), "photo-bmp24-imagefile-bands": ("imagefile", 2),
                "scan-tiff16-tiles-imagefile-bands": ("imagefile", 3), "photo-rgba-png-bands": ("png", 1)}


@pytest.mark.parametrize("name", sorted(BANDED_FILES))
def test_golden_image_files_in_bands_keep_their_layout(name):
    coder, count = BANDED_FILES[name]
    packed = (GOLDEN / f"{name}.bbz").read_bytes()
    coders = [b.coder for b in api.stream_info(io.BytesIO(packed)).blocks]
    assert coders.count(coder) == count and set(coders) - {coder} <= {"lzma", "zstd", "order0", "stored"}
    if coder == "png":
        reader = StreamReader(io.BytesIO(packed))
        reader.next_stream()
        assert reader.read_payload(reader.next_block())[0] == 1  # version 1: bands
