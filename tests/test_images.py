"""Image inputs recognised by content: detection, blocks, tar scanning, the 0x06 framing and
the one chooser; bbzip.natural is replaced by a lossless stand-in (tests/natural_fake.py)."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from bbzip import api
from bbzip.coders import registry
from bbzip.errors import BBZError, CorruptError, ModelError, UnsupportedError
from bbzip.images import blocks, detect, files
from bbzip.images import coder as natural_block
from tests import natural_fake

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
MODEL_FREE = {"stored", "order0", "lzma"}


@pytest.fixture
def fake_natural(monkeypatch):
    monkeypatch.setattr(natural_block, "backend", natural_fake.backend)
    return natural_fake.MODEL


@pytest.fixture
def no_natural(monkeypatch):
    monkeypatch.setattr(natural_block, "backend", lambda: None)


def smooth(height, width, channels=1, count=1, seed=0) -> np.ndarray:
    """Gradient-like test images (what a photo coder is made for), uint8 (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    out = np.empty((count, height, width, channels), np.uint8)
    for i in range(count):
        for c in range(channels):
            a, b = rng.integers(1, 4, 2)
            out[i, :, :, c] = (a * yy + b * xx + 40 * c + 7 * i) % 256
    return out


def pnm(image: np.ndarray, header: bytes | None = None) -> bytes:
    height, width, channels = image.shape[-3:]
    if header is None:
        header = b"P%d\n%d %d\n255\n" % (5 if channels == 1 else 6, width, height)
    return header + image.tobytes()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def idx(images: np.ndarray) -> bytes:
    count, height, width = images.shape
    return bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (count, height, width)) + images.tobytes()


def coders_of(packed: bytes) -> set[str]:
    return {b.coder for b in api.stream_info(io.BytesIO(packed)).blocks}


def round_trip(data: bytes) -> set[str]:
    """Compress and decompress exactly; the coders used."""
    packed = api.compress(data)
    assert api.decompress(packed) == data
    return coders_of(packed)


# -- detection --------------------------------------------------------------------------
@pytest.mark.parametrize("data, kind, count, shape", [
    (pnm(smooth(3, 5)[0]), "pgm", 1, (3, 5, 1)),
    (pnm(smooth(7, 2, 3)[0]), "ppm", 1, (7, 2, 3)),
    (pnm(smooth(4, 4)[0], b"P5 # a comment\r\n4\t# another\n4\n# last\n100\n"), "pgm", 1, (4, 4, 1)),
    (pnm(smooth(4, 4)[0], b"P5\n4 4\n1\n"), "pgm", 1, (4, 4, 1)),
    (pnm(smooth(28, 28)[0]), "pgm", 1, (28, 28, 1)),
    (npy(smooth(6, 5)[0, :, :, 0]), "npy", 1, (6, 5, 1)),
    (npy(smooth(6, 5, 3)[0]), "npy", 1, (6, 5, 3)),
    (npy(smooth(6, 5, count=4)[..., 0]), "npy", 4, (6, 5, 1)),
    (npy(smooth(6, 5, 3, count=4)), "npy", 4, (6, 5, 3)),
    (idx(smooth(9, 7, count=5)[..., 0]), "idx", 5, (9, 7, 1)),
])
def test_image_layouts_are_recognised(data, kind, count, shape):
    layout = detect.sniff(data)
    assert (layout.kind, layout.count, layout.shape) == (kind, count, shape)
    assert data.startswith(layout.header)
    assert len(data) == len(layout.header) + count * layout.image_bytes


def test_npy_version_2_headers_are_parsed_by_numpy():
    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    array = smooth(5, 6, 3, count=2)
    npy_format.write_array(buffer, array, version=(2, 0))
    layout = detect.sniff(buffer.getvalue())
    assert (layout.count, layout.shape) == (2, (5, 6, 3))


NEAR_MISSES = {
    "16-bit pgm": b"P5\n4 4\n65535\n" + bytes(32),
    "maxval 0": b"P5\n4 4\n0\n" + bytes(16),
    "ascii pgm": b"P2\n2 2\n255\n0 0 0 0\n",
    "zero width": b"P5\n0 4\n255\n",
    "absurd dimensions": b"P6\n999999999 999999999\n255\n" + bytes(100),
    "absurd idx": bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + bytes(100),
    "empty idx": bytes([0, 0, 8, 3]) + bytes(4) + (28).to_bytes(4, "big") * 2,
    "float npy": npy(np.zeros((4, 4), np.float32)),
    "fortran npy": npy(np.asfortranarray(np.zeros((4, 5, 3), np.uint8))),
    "4-channel npy": npy(np.zeros((2, 4, 5, 4), np.uint8)),
    "1-d npy": npy(np.zeros(16, np.uint8)),
    "empty npy": npy(np.zeros((0, 4, 4), np.uint8)),
    "npy with a broken header": b"\x93NUMPY\x01\x00\x10\x00{'descr': '|u1',\n" + bytes(40),
    "text": b"hello, world",
}


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_near_misses_are_not_images(name):
    assert detect.sniff(NEAR_MISSES[name]) is None


# -- fallbacks: exact, through the other coders ---------------------------------------
FALLBACKS = {
    **NEAR_MISSES,
    "truncated pixels": pnm(smooth(40, 30)[0])[:-1],
    "header promising more than the file holds": b"P5\n4000 4000\n255\n" + bytes(1000),
    "idx header only": idx(smooth(8, 8, count=2)[..., 0])[:16],
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_what_image_coders_cannot_take_falls_to_the_other_coders_exactly(fake_natural, name):
    assert round_trip(FALLBACKS[name]) <= MODEL_FREE


def test_whole_images_before_a_truncation_keep_the_image_coder(fake_natural):
    data = npy(smooth(8, 8, count=3)[..., 0])[:-10]  # the header promises 3 images
    packed = api.compress(data)
    blocks_found = api.stream_info(io.BytesIO(packed)).blocks
    assert blocks_found[0].coder == "natural" and blocks_found[-1].raw_size == 64 - 10
    assert api.decompress(packed) == data


def test_absurd_dimensions_allocate_nothing_large(fake_natural):
    data = b"P5\n5000 5000\n255\n" + bytes(4096)  # 25 MB promised, 4 KiB there
    tracemalloc.start()
    try:
        packed = api.compress(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert api.decompress(packed) == data
    assert peak < 4 << 20


def test_trailing_bytes_after_images_stay_exact(fake_natural):
    assert "natural" in round_trip(pnm(smooth(20, 30, 3)[0]) + b"trailing bytes")


# -- round trips --------------------------------------------------------------------------
ROUND_TRIPS = {
    "pgm odd size": pnm(smooth(33, 17)[0]),
    "pgm with comments": pnm(smooth(20, 21)[0], b"P5\n# made by a test\n21 20\n255\n"),
    "ppm": pnm(smooth(24, 31, 3)[0]),
    "npy (H,W)": npy(smooth(16, 12)[0, :, :, 0]),
    "npy (H,W,3)": npy(smooth(16, 12, 3)[0]),
    "npy (N,H,W)": npy(smooth(16, 12, count=5)[..., 0]),
    "npy (N,H,W,3)": npy(smooth(16, 12, 3, count=5)),
    "idx": idx(smooth(9, 7, count=6)[..., 0]),
    "concatenated pgm and ppm": pnm(smooth(10, 11)[0]) + pnm(smooth(12, 9, 3)[0]),
}


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_every_image_kind_round_trips_through_the_natural_coder(fake_natural, name):
    data = ROUND_TRIPS[name]
    assert round_trip(data) == {"natural"}
    assert api.decompress(api.compress(data, coder="natural")) == data


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_without_a_natural_model_images_still_round_trip(no_natural, name):
    data = ROUND_TRIPS[name]
    assert round_trip(data) <= MODEL_FREE
    with pytest.raises(ModelError):
        api.compress(data, coder="natural")


def test_images_are_split_only_between_whole_images(fake_natural, monkeypatch):
    image_bytes = 16 * 12 * 3
    monkeypatch.setattr(api, "BLOCK_SIZE", 3 * image_bytes + 200)
    data = npy(smooth(16, 12, 3, count=8))
    header = len(detect.sniff(data).header)
    packed = api.compress(data)
    assert [b.raw_size for b in api.stream_info(io.BytesIO(packed)).blocks] == [
        header + 3 * image_bytes, 3 * image_bytes, 2 * image_bytes]
    assert api.decompress(packed) == data


def test_the_chooser_keeps_the_model_free_coder_when_it_is_smaller(fake_natural, monkeypatch):
    data = pnm(smooth(40, 40)[0])
    monkeypatch.setattr(natural_fake, "encode", lambda model, images: bytes(images.size + 100))
    assert coders_of(api.compress(data)) <= MODEL_FREE  # the stand-in now loses to everything


def test_images_the_model_refuses_become_plain_bytes(fake_natural):
    thin = pnm(smooth(1, 40)[0])  # the stand-in, like the real model, refuses some shapes
    assert round_trip(thin) <= MODEL_FREE
    with pytest.raises(UnsupportedError):
        api.compress(thin, coder="natural")
    data = make_tar({"thin.pgm": thin, "fine.pgm": pnm(smooth(30, 20)[0]), "thin2.pgm": thin})
    block, segment = next((b, s) for b, s in blocks.split(data, io.BytesIO(b""), 1 << 20) if s)
    assert len(segment.runs) == 3
    coder = natural_block.NaturalBlockCoder(natural_fake.MODEL, natural_fake.backend())
    payload = coder.encode_runs(block, segment.runs)
    assert payload[0] == 1 and coder.decode(payload, len(block)) == block  # one run kept
    assert "natural" in round_trip(data)


def test_forced_coders_refuse_what_they_cannot_code(fake_natural):
    with pytest.raises(UnsupportedError):
        api.compress(b"plain text", coder="natural")
    with pytest.raises(UnsupportedError):
        api.compress(pnm(smooth(30, 30)[0]), coder="vae")  # not 28x28


# -- tar ----------------------------------------------------------------------------------
def make_tar(members: dict[str, bytes], fmt=tarfile.GNU_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TAR_MEMBERS = {
    "imgs/a.pgm": pnm(smooth(21, 19)[0]),
    "imgs/b.ppm": pnm(smooth(17, 23, 3)[0]),
    "imgs/notes.txt": b"not an image\n" * 40,
    "imgs/c.npy": npy(smooth(8, 8, 3, count=3)),
    "imgs/d.idx": idx(smooth(9, 7, count=2)[..., 0]),
    "imgs/short.pgm": pnm(smooth(10, 10)[0])[:-5],
    "imgs/sixteen.pgm": b"P5\n4 4\n65535\n" + bytes(32),
    "imgs/e.pgm": pnm(smooth(21, 19, seed=2)[0]),
}


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_tar_members_are_found_and_round_trip(fake_natural, fmt):
    data = make_tar(TAR_MEMBERS, fmt)
    segments = [seg for _, seg in blocks.split(data, io.BytesIO(b""), api.BLOCK_SIZE)]
    shapes = [run.shape for seg in segments if isinstance(seg, blocks.ImageSegment) for run in seg.runs]
    assert shapes == [(21, 19, 1), (17, 23, 3), (8, 8, 3), (9, 7, 1), (21, 19, 1)]
    assert [seg.kind for seg in segments if isinstance(seg, files.WholeFile)] == ["pnm16"]  # a block of its own
    assert "natural" in round_trip(data)


def test_a_tar_of_images_is_no_larger_than_its_images_coded_one_by_one(fake_natural):
    photos = {f"photos/p{i}.pgm": pnm(smooth(60 + i, 50, seed=i)[0]) for i in range(6)}
    photos.update({f"photos/q{i}.ppm": pnm(smooth(40, 30 + i, 3, seed=i)[0]) for i in range(4)})
    alone = sum(len(api.compress(data)) for data in photos.values())
    packed = api.compress(make_tar(photos))
    assert "natural" in coders_of(packed) and len(packed) <= alone


def test_the_bytes_around_the_images_take_the_smallest_model_free_coder(fake_natural):
    """A tar's headers go to zstd when it beats lzma (it does on a folder of photos' headers),
    and such a block decodes."""
    from bbzip.coders import registry

    photos = {f"photos/photo-{i:02d}.pgm": pnm(smooth(30, 20 + i, seed=i)[0]) for i in range(8)}
    data = make_tar(photos)
    (block, segment), = [b for b in blocks.split(data, io.BytesIO(b""), 1 << 20) if b[1]]
    ends = [0] + [run.start + run.size for run in segment.runs]
    plain = b"".join(block[end:start] for end, start in zip(ends, [run.start for run in segment.runs] + [len(block)]))
    coder_id, payload = natural_block._encode_plain(plain)
    sizes = {name: len(registry.model_free(registry.BY_NAME[name].coder_id).encode(plain)) for name in ("lzma", "zstd")}
    assert len(payload) == min(sizes.values()) and coder_id == registry.BY_NAME[min(sizes, key=sizes.get)].coder_id
    assert api.decompress(api.compress(data, coder="natural")) == data


def test_a_tar_without_images_is_blocked_as_plain_data(fake_natural, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 4096)
    data = make_tar({f"t{i}.txt": b"line %d\n" % i * 300 for i in range(20)})
    found = list(blocks.split(data, io.BytesIO(b""), 4096))
    assert all(seg is None for _, seg in found)
    assert [len(d) for d, _ in found] == [4096] * (len(data) // 4096) + ([len(data) % 4096] if len(data) % 4096 else [])
    assert api.decompress(api.compress(data)) == data


def test_a_truncated_tar_stays_exact(fake_natural):
    data = make_tar(TAR_MEMBERS)
    for cut in (700, 1500, len(data) // 2, len(data) - 1000):
        assert api.decompress(api.compress(data[:cut])) == data[:cut]


# -- the 0x06 framing under attack ----------------------------------------------------------
def _block_of(data: bytes):
    (payload_block, segment), = [b for b in blocks.split(data, io.BytesIO(b""), 1 << 20) if b[1]]
    return payload_block, segment


def test_the_payload_layout_is_the_one_docs_format_specifies(fake_natural):
    from bbzip.coders.varint import encode_varint as v

    data = (DATA / "camera-crop.pgm").read_bytes()
    header = detect.sniff(data).header
    pixels = np.frombuffer(data, np.uint8, offset=len(header)).reshape(1, 48, 64, 1)
    model_payload = natural_fake.encode(natural_fake.MODEL, pixels)
    expected = (v(1) + v(len(header)) + v(1) + v(48) + v(64) + b"\x01"  # one run: gap, count, h, w, c
                + b"\x7f" + v(len(header)) + header  # plain bytes: the header, stored
                + v(len(model_payload)) + model_payload)  # one group
    (block, segment), = blocks.split(data, io.BytesIO(b""), 1 << 20)
    coder = natural_block.NaturalBlockCoder(natural_fake.MODEL, natural_fake.backend())
    assert coder.encode_runs(block, segment.runs) == expected
    packed = api.compress(data, coder="natural")
    assert api.stream_info(io.BytesIO(packed)).blocks[0].payload_size == len(expected)


def test_info_counts_the_pixels_of_natural_blocks(fake_natural):
    """`bbzip info` and `-l` read the runs of a natural block: pixels are height x width,
    whatever the channels; a damaged payload counts none instead of failing the listing."""
    data = make_tar({"a.ppm": pnm(smooth(20, 30, 3)[0]), "b.pgm": pnm(smooth(12, 16)[0]), "c.txt": b"x" * 900})
    info = api.stream_info(io.BytesIO(api.compress(data, coder="natural")))
    assert [b.pixels for b in info.blocks] == [20 * 30 + 12 * 16]
    assert natural_block.pixels_in_payload(b"\x05\x00", 1000) == 0


def test_hostile_lengths_are_refused_before_allocating(fake_natural):
    from bbzip.coders.varint import encode_varint

    coder = natural_block.NaturalBlockCoder(natural_fake.MODEL, natural_fake.backend())
    huge = encode_varint(1) + encode_varint(0) + b"".join(map(encode_varint, (1, 1 << 30, 1 << 30))) + b"\x03"
    tracemalloc.start()
    try:
        for payload, raw_size in [(huge, 100), (encode_varint(1 << 40), 10), (encode_varint(1) * 5, 10)]:
            with pytest.raises(CorruptError):
                coder.decode(payload, raw_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_damaged_payloads_fail_cleanly(fake_natural):
    data = make_tar(TAR_MEMBERS)
    block, segment = next((b, s) for b, s in blocks.split(data, io.BytesIO(b""), 1 << 20) if s)
    coder = natural_block.NaturalBlockCoder(natural_fake.MODEL, natural_fake.backend())
    payload = coder.encode_runs(block, segment.runs)
    assert coder.decode(payload, len(block)) == block
    rng = np.random.default_rng(0)
    for _ in range(300):
        damaged = bytearray(payload)
        for pos in rng.integers(0, len(damaged), rng.integers(1, 4)):
            damaged[pos] ^= 1 << int(rng.integers(8))
        cut = len(damaged) if rng.random() < 0.7 else int(rng.integers(len(damaged)))
        try:
            out = coder.decode(bytes(damaged[:cut]), len(block))
        except BBZError:
            continue
        assert len(out) == len(block)


def test_decoding_needs_a_natural_model(fake_natural):
    with pytest.raises(ModelError):
        registry.decoder_for(registry.NATURAL_CODER_ID, b"12345678")
    assert registry.decoder_for(registry.NATURAL_CODER_ID, natural_fake.MODEL.model_id).model is natural_fake.MODEL


# -- layers and registry ---------------------------------------------------------------------
def test_registry_names_and_ids_derive_from_one_table():
    assert api.CODER_NAMES == ("auto", *(entry.name for entry in registry.ENTRIES))
    assert len(registry.BY_ID) == len(registry.BY_NAME) == len(registry.ENTRIES)
    for entry in registry.ENTRIES:
        assert registry.coder_name(entry.coder_id) == entry.name
        if not entry.needs_model:
            assert registry.model_free_coder(entry.name).coder_id == entry.coder_id
    with pytest.raises(UnsupportedError):
        registry.decoder_for(0x55, b"")


def test_the_layers_below_api_never_import_it():
    script = ("import sys; import bbzip.images.choose, bbzip.images.coder, bbzip.vae.coder, "
              "bbzip.coders.registry, bbzip.streamio; "
              "assert 'bbzip.api' not in sys.modules, sorted(m for m in sys.modules if m.startswith('bbzip'))")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT)


# -- the real console script: files, pipes, tar -I --------------------------------------------
@pytest.fixture
def shim(tmp_path):
    """A console script with the natural stand-in installed, for `tar -I`."""
    path = tmp_path / "bin" / "bbzip"
    path.parent.mkdir()
    path.write_text(f"#!/bin/sh\nPYTHONPATH='{ROOT}' exec '{sys.executable}' -m tests.natural_fake \"$@\"\n")
    path.chmod(0o755)
    return str(path)


def _inputs() -> dict[str, bytes]:
    found = {f"{name}.bin": data for name, data in {**ROUND_TRIPS, **FALLBACKS}.items()}
    found.update({p.name: p.read_bytes() for p in sorted(DATA.glob("*")) if p.suffix in (".pgm", ".ppm", ".npy", ".idx")})
    return {name.replace(" ", "_").replace("(", "").replace(")", "").replace(",", ""): data
            for name, data in found.items()}


@pytest.mark.parametrize("script", ["real", "stand-in"])
def test_image_files_round_trip_through_files_pipes_and_tar(exe, shim, tmp_path, script):
    import shutil

    command = exe if script == "real" else shim
    tree = tmp_path / "imgs"
    tree.mkdir()
    for name, data in _inputs().items():
        # Digits go to the real VAE coder whatever the script: the real one's run covers them.
        if script == "real" or "digit" not in name:
            (tree / name).write_bytes(data)
    for path in sorted(tree.iterdir())[:4]:  # files (-k) and pipes
        data = path.read_bytes()
        subprocess.run([command, "-k", str(path)], check=True, timeout=120)
        assert subprocess.run([command, "-dc", f"{path}.bbz"], check=True, capture_output=True).stdout == data
        Path(f"{path}.bbz").unlink()
        packed = subprocess.run([command], input=data, check=True, capture_output=True, timeout=120).stdout
        assert subprocess.run([command, "-d"], input=packed, check=True, capture_output=True).stdout == data
    if shutil.which("tar") is None:
        pytest.skip("no tar here")
    subprocess.run(["tar", "-I", command, "-cf", "x.tar.bbz", "imgs"], check=True, cwd=tmp_path, timeout=300)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-I", command, "-xf", "../x.tar.bbz"], check=True, cwd=out, timeout=300)
    for path in tree.iterdir():
        assert (out / "imgs" / path.name).read_bytes() == path.read_bytes()
    if script == "stand-in":
        info = subprocess.run([command, "info", str(tmp_path / "x.tar.bbz")], check=True, capture_output=True)
        assert b"natural" in info.stdout


def test_a_digit_block_naming_a_natural_model_is_refused(tmp_path):
    from tests.natural_helpers import random_natural_model

    model, data = random_natural_model()
    path = tmp_path / "natural.npz"
    path.write_bytes(data)
    with pytest.raises(ModelError, match="not a digit model"):
        registry.decoder_for(registry.VAE_CODER_ID, model.model_id, (path,))
    from bbzip.vae.coder import choose_model

    with pytest.raises(UnsupportedError):
        choose_model((DATA / "digit0.pgm").read_bytes(), 13, model_path=path)


# -- the band rule (issue 17) ----------------------------------------------------------------
@pytest.mark.parametrize("height, width, channels, rows", [
    (512, 512, 1, 512),  # within two thirds of the budget: whole
    (512, 512, 3, 256),  # 768 KiB: within the budget, cut in two for -T2's second core
    (400, 600, 3, 256),  # in two, the first band in whole 64-row tiles
    (60, 4300, 3, 32),  # too short to cut in two at a 64-row tile: at 32 rows
    (2160, 3840, 3, 64),  # a wide photo: 64-row bands, so 64-pixel tiles
    (2880, 5120, 3, 32),  # wider than 64 rows allow: bands of one unit
    (1000, 1024, 3, 256),  # over the budget: the most whole 32-row units within it
])
def test_band_rows_cut_in_two_within_the_budget_and_by_the_budget_beyond(height, width, channels, rows):
    assert blocks.BAND_BYTES == 768 << 10
    assert blocks.band_rows(height, width, channels) == rows


def test_an_image_within_the_budget_is_cut_in_two_blocks():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (96, 64, 3), dtype=np.uint8)
    header = b"P6\n64 96\n255\n"
    data = header + pixels.tobytes()
    budget = 96 * 64 * 3  # the whole image fits: cut in two all the same, at 64 rows
    found = list(blocks.split(data[:4096], io.BytesIO(data[4096:]), 1 << 20, budget))
    sizes = [len(piece) for piece, segment in found if segment is not None]
    assert sizes == [len(header) + 64 * 64 * 3, 32 * 64 * 3]
    assert b"".join(piece for piece, _ in found) == data


def test_a_band_of_a_cut_image_may_take_a_side_of_16_tiles():
    from bbzip.natural import tiles

    assert tiles.choose_side(1, 288, 870, 3) == 128  # a dev photo's first band: 21 tiles
    assert tiles.choose_side(1, 201, 870, 3) == 64  # its last, under BAND_BLOCK: 32 tiles kept
    assert tiles.choose_side(1, 512, 512, 1) == 64  # a whole image keeps two lane groups
    assert tiles.choose_side(2, 144, 870, 3) == 64  # two images in a block are no band
    # BAND_BLOCK's premise: one image that large is never one band, but when a side of 128
    # leaves it MIN_TILES tiles all the same (32 rows or fewer: one row of tiles).
    for height, width in [(60, 4000), (33, 5400), (200, 1024), (256, 1024), (257, 1024), (400, 600), (32, 6000)]:
        if height * width * 3 >= tiles.BAND_BLOCK and blocks.band_rows(height, width, 3) == height:
            assert height <= 32 and -(-width // 128) >= tiles.MIN_TILES
