"""Image file formats beyond 8-bit PNM/NPY/IDX: the planes API (16-bit samples, alpha),
JPEG through Lepton, TIFF, BMP, 16-bit PNM and NPY; their fuzz targets, briefly."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import tarfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip import api
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.images import files, planes
from bbzip.images.filecoder import ImageFileCoder, gather
from tests import formats_helpers as fh
from tests import natural_fake


@pytest.fixture
def fake_natural(monkeypatch):
    from bbzip.images import coder

    monkeypatch.setattr(coder, "backend", natural_fake.backend)
    return natural_fake.MODEL


smooth = fh.smooth


# -- planes ----------------------------------------------------------------------------
@pytest.mark.parametrize("c", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype,scale", [(np.uint8, 255), (np.uint16, 4095), (np.uint16, 65535)])
def test_planes_round_trip(fake_natural, c, dtype, scale):
    array = smooth(19, 23, c, dtype, scale)
    data = planes.encode_planes(fake_natural, array)
    back = planes.decode_planes(fake_natural, data, array.shape, dtype)
    assert back.dtype == dtype and np.array_equal(back, array)


def test_planes_opaque_alpha_costs_two_bytes(fake_natural):
    rgb = smooth(32, 32, 3)
    rgba = np.concatenate([rgb, np.full((32, 32, 1), 255, np.uint8)], axis=2)
    assert len(planes.encode_planes(fake_natural, rgba)) <= len(planes.encode_planes(fake_natural, rgb)) + 3


def test_planes_shifted_16_bit_samples_cost_as_8_bit(fake_natural):
    gray = smooth(32, 32, 1)
    shifted = gray.astype(np.uint16) << 8
    assert len(planes.encode_planes(fake_natural, shifted)) <= len(planes.encode_planes(fake_natural, gray)) + 2


def test_planes_without_a_model_still_round_trip(monkeypatch):
    from bbzip.images import coder

    monkeypatch.setattr(coder, "backend", lambda: None)
    array = smooth(9, 7, 4, np.uint16, 1023)
    data = planes.encode_planes(None, array)
    assert np.array_equal(planes.decode_planes(None, data, array.shape, np.uint16), array)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 2, 3, 4]), st.booleans(), st.integers(0, 2**32))
def test_planes_round_trip_any_values(h, w, c, wide, seed):
    from bbzip.images import coder

    original = coder.backend
    coder.backend = natural_fake.backend
    try:
        dtype = np.uint16 if wide else np.uint8
        array = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, (h, w, c)).astype(dtype)
        array >>= seed % 9  # fewer significant bits
        data = planes.encode_planes(natural_fake.MODEL, array)
        assert np.array_equal(planes.decode_planes(natural_fake.MODEL, data, array.shape, dtype), array)
    finally:
        coder.backend = original


def test_planes_damaged_payloads_raise_corrupt(fake_natural):
    array = smooth(16, 16, 4, np.uint16, 4095)
    data = planes.encode_planes(fake_natural, array)
    rng = np.random.default_rng(1)
    for cut in range(len(data)):
        with pytest.raises(CorruptError):
            planes.decode_planes(fake_natural, data[:cut], array.shape, np.uint16)
    for _ in range(200):
        damaged = bytearray(data)
        damaged[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        try:
            out = planes.decode_planes(fake_natural, bytes(damaged), array.shape, np.uint16)
        except CorruptError:
            continue
        assert out.shape == array.shape
    with pytest.raises(CorruptError):
        planes.decode_planes(fake_natural, data, (16, 16, 3), np.uint16)
    with pytest.raises(CorruptError):
        planes.decode_planes(fake_natural, data, (0, 16, 4), np.uint16)


# -- parsers ---------------------------------------------------------------------------
def coders_of(packed: bytes) -> list[str]:
    return [block.coder for block in api.stream_info(io.BytesIO(packed)).blocks]


@pytest.mark.parametrize("name", sorted(fh.samples()))
def test_every_layout_is_found_and_round_trips(fake_natural, name):
    data = fh.samples()[name]
    kind = files.sniff_file(data)
    found = files.pictures(data, kind)
    assert found, name
    payload = ImageFileCoder(fake_natural).encode(data, found)
    assert ImageFileCoder(fake_natural).decode(payload, len(data)) == data
    assert api.decompress(api.compress(data)) == data


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("layout", [{"rows_per_strip": 7}, {"tile": 16}, {}])
@pytest.mark.parametrize("c,dtype", [(1, np.uint8), (3, np.uint16), (4, np.uint8), (2, np.uint16)])
def test_tiff_pixels_are_where_the_tags_say(order, layout, c, dtype):
    array = smooth(21, 35, c, dtype, 60000 if dtype == np.uint16 else 255, seed=c)
    data = fh.tiff(array, order, **layout)
    (picture,) = files.pictures(data, files.sniff_file(data))
    assert np.array_equal(gather(data, picture), array)


@pytest.mark.parametrize("top_down", [False, True])
@pytest.mark.parametrize("c", [3, 4])
def test_bmp_pixels_are_where_the_header_says(top_down, c):
    array = smooth(13, 17, c, seed=c)  # 17 * 3 bytes a row: padded rows
    data = fh.bmp(array, top_down)
    (picture,) = files.pictures(data, "bmp")
    assert np.array_equal(gather(data, picture), array)


def test_pillow_reads_the_same_pixels():
    image = pytest.importorskip("PIL.Image")
    array = smooth(19, 23, 3)
    for data in (fh.tiff(array, ">", tile=16), fh.bmp(array), fh.bmp(array, top_down=True)):
        (picture,) = files.pictures(data, files.sniff_file(data))
        assert np.array_equal(np.asarray(image.open(io.BytesIO(data)).convert("RGB")), gather(data, picture))


def test_16_bit_pnm_and_npy_layouts():
    wide = smooth(9, 11, 3, np.uint16, 65535)
    (picture,) = files.pictures(fh.pnm16(wide), "pnm16")
    assert np.array_equal(gather(fh.pnm16(wide), picture), wide)
    stack = np.stack([wide, wide[::-1]]).astype(">u2")
    pictures = files.pictures(fh.npy(stack), "npy")
    assert [np.array_equal(gather(fh.npy(stack), p), a) for p, a in zip(pictures, stack)] == [True, True]
    assert files.sniff_file(fh.npy(smooth(9, 11, 3))) is None  # 8-bit RGB: detect.py's
    assert files.sniff_file(b"P5\n4 4\n255\n" + bytes(16)) is None
    assert files.sniff_file(fh.npy(np.zeros((4, 4), np.float32))) is None


def test_files_that_only_look_like_images_round_trip_exactly(fake_natural):
    for data in (b"BM" + bytes(60), b"II*\x00" + bytes(40), b"MM\x00*\x00\x00\x00\x08\xff\xff",
                 b"\xff\xd8\xff\xe0garbage" * 50, b"P5 3 3 65535\n" + bytes(7)):
        assert api.decompress(api.compress(data)) == data


@pytest.mark.parametrize("data", [
    fh.bmp(smooth(4, 4, 3))[:18] + struct.pack("<ii", 1 << 24, -(1 << 24)) + fh.bmp(smooth(4, 4, 3))[26:],
    b"P6\n999999999 999999999\n65535\n" + bytes(64),
    fh.npy(np.zeros((2, 2), np.uint16)).replace(b"(2, 2)", b"(99999999, 99999999)"),
    b"II*\x00\x08\x00\x00\x00\x03\x00" + struct.pack("<HHII", 256, 4, 1, 1 << 24) + struct.pack("<HHII", 257, 4, 1, 1 << 24)
    + struct.pack("<HHII", 273, 4, 0x3FFFFFFF, 40) + bytes(8),
])
def test_hostile_headers_allocate_nothing_large(fake_natural, data):
    tracemalloc.start()
    try:
        kind = files.sniff_file(data)
        assert kind is not None and files.pictures(data, kind) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert api.decompress(api.compress(data)) == data


def tar_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_tar_members_get_blocks_of_their_own(fake_natural):
    members = {"a.tif": fh.tiff(smooth(30, 40, 3), tile=16), "b.txt": b"notes\n" * 30,
               "c.bmp": fh.bmp(smooth(20, 25, 3)), "d.pgm": b"P5\n20 20\n255\n" + smooth(20, 20, 1).tobytes(),
               "e.pgm": fh.pnm16(smooth(20, 30, 1, np.uint16, 4095), 4095)}
    data = tar_of(members)
    from bbzip.images import blocks

    kinds = [seg.kind for _, seg in blocks.split(data, io.BytesIO(b""), api.BLOCK_SIZE) if isinstance(seg, files.WholeFile)]
    assert kinds == ["tiff", "bmp", "pnm16"]
    packed = api.compress(data)
    assert api.decompress(packed) == data
    assert "imagefile" in coders_of(packed)
    pixels = [b.pixels for b in api.stream_info(io.BytesIO(packed)).blocks if b.coder == "imagefile"]
    assert 30 * 40 in pixels  # the TIFF's, read from its payload for `bbzip info`


def test_forced_coders_on_image_files(fake_natural):
    data = fh.bmp(smooth(20, 25, 3))
    assert api.decompress(api.compress(data, coder="imagefile")) == data
    with pytest.raises(UnsupportedError):
        api.compress(data, coder="vae")
    with pytest.raises(UnsupportedError):
        api.compress(b"P5\n20 20\n255\n" + bytes(400), coder="imagefile")


# -- JPEG ------------------------------------------------------------------------------
def photo() -> bytes:
    rng = np.random.default_rng(3)
    data = fh.jpeg((smooth(64, 80, 3).astype(int) + rng.integers(0, 40, (64, 80, 3))).clip(0, 255).astype(np.uint8))
    if data is None:
        pytest.skip("Pillow is not installed")
    return data


def test_jpeg_goes_to_lepton_exactly():
    pytest.importorskip("lepton_jpeg_python")
    data = photo() + b"trailing bytes after the image"
    packed = api.compress(data)
    assert coders_of(packed) == ["jpeg"]
    assert api.decompress(packed) == data
    assert len(packed) < 0.95 * len(data)


def test_without_lepton_jpeg_falls_back_and_its_blocks_name_the_package(monkeypatch):
    pytest.importorskip("lepton_jpeg_python")
    data = photo()
    packed = api.compress(data)
    monkeypatch.setitem(sys.modules, "lepton_jpeg_python", None)  # import fails
    assert "jpeg" not in coders_of(api.compress(data))
    with pytest.raises(UnsupportedError, match="lepton-jpeg-python"):
        api.decompress(packed)


def test_damaged_lepton_payloads_raise_corrupt():
    pytest.importorskip("lepton_jpeg_python")
    from bbzip.images.jpeg import LeptonCoder

    data = photo()
    payload = LeptonCoder().encode(data)
    for cut in (0, 5, len(payload) // 2, len(payload) - 1):
        with pytest.raises(CorruptError):
            LeptonCoder().decode(payload[:cut], len(data))
    with pytest.raises(CorruptError):
        LeptonCoder().decode(payload, len(data) - 1)


def test_cli_info_names_the_new_coders(exe, tmp_path):
    pytest.importorskip("lepton_jpeg_python")
    path = tmp_path / "p.jpg"
    path.write_bytes(photo())
    subprocess.run([exe, "-k", str(path)], check=True, capture_output=True)
    listing = subprocess.run([exe, "info", "--json", str(path) + ".bbz"], check=True, capture_output=True).stdout
    assert '"jpeg"' in listing.decode()
    assert subprocess.run([exe, "-dc", str(path) + ".bbz"], check=True, capture_output=True).stdout == path.read_bytes()


# -- fuzz targets, briefly ---------------------------------------------------------------
@pytest.mark.parametrize("target", ["parse", "payload"])
def test_fuzz_targets_hold_briefly(target):
    from tests.fuzz import formats

    assert formats.run(120, seed=3, target=target) == []


def test_cli_pipe_of_a_tiff(exe):
    data = fh.tiff(smooth(24, 30, 3), ">", tile=16)
    packed = subprocess.run([exe, "-c"], input=data, check=True, capture_output=True).stdout
    assert subprocess.run([exe, "-dc"], input=packed, check=True, capture_output=True).stdout == data


# -- image files with more pixels than a band --------------------------------------------
def banded_inputs() -> dict[str, bytes]:
    photo = smooth(100, 40, 3)
    return {
        "tiff strips": fh.tiff(photo, rows_per_strip=7),
        "tiff tiles": fh.tiff(photo, ">", tile=16),
        "tiff 16-bit RGBA, two pages": fh.tiff(smooth(100, 40, 4, np.uint16, 4095), pages=2),
        "bmp bottom-up": fh.bmp(photo),
        "bmp top-down 32": fh.bmp(smooth(100, 40, 4), top_down=True),
        "pgm 16-bit, bytes after": fh.pnm16(smooth(130, 40, 1, np.uint16, 4095), 4095) + b"after the pixels",
        "npy uint16 stack": fh.npy(smooth(200, 40, 1, np.uint16).reshape(2, 100, 40)),
    }


@pytest.fixture
def small_bands(monkeypatch):
    from bbzip.images import blocks

    monkeypatch.setattr(blocks, "BAND_BYTES", 32 * 40 * 3)
    return blocks


@pytest.mark.parametrize("name", sorted(banded_inputs()))
def test_image_files_larger_than_a_band_are_coded_in_bands(fake_natural, small_bands, name):
    data = banded_inputs()[name]
    pieces = list(small_bands.split(data, io.BytesIO(b""), api.BLOCK_SIZE))
    assert b"".join(piece for piece, _ in pieces) == data
    bands = [segment for _, segment in pieces if isinstance(segment, files.WholeFile)]
    assert len(bands) >= 2 and all(len(segment.pictures) == 1 for segment in bands)
    for picture in (segment.pictures[0] for segment in bands):  # a band's worth of model input
        assert picture.height * picture.width * min(picture.channels, 3) <= small_bands.BAND_BYTES
    packed = api.compress(data, coder="imagefile")
    assert api.decompress(packed) == data
    assert coders_of(packed).count("imagefile") == len(bands)
    assert api.decompress(api.compress(data)) == data


def test_a_tiffs_bands_are_its_ppms(fake_natural, small_bands):
    """The same rows go to the model as when the pixels come as PPM: TIFF and BMP pay for
    their pixels what PPM does."""
    photo = smooth(130, 40, 3)
    ppm = b"P6\n40 130\n255\n" + photo.tobytes()
    ppm_rows = [segment.runs[0].height for _, segment in small_bands.split(ppm, io.BytesIO(b""), api.BLOCK_SIZE)
                if segment is not None]
    for data in (fh.tiff(photo, rows_per_strip=5), fh.bmp(photo, top_down=True)):
        rows = [segment.pictures[0].height for _, segment in small_bands.split(data, io.BytesIO(b""), api.BLOCK_SIZE)
                if segment is not None]
        assert rows == ppm_rows == [32, 32, 32, 32, 2]


def test_image_files_that_fit_a_band_stay_one_block(fake_natural, small_bands):
    data = fh.tiff(smooth(32, 40, 3), rows_per_strip=7)
    assert [type(s).__name__ for _, s in small_bands.split(data, io.BytesIO(b""), api.BLOCK_SIZE)] == ["WholeFile"]
    assert files.banded(data, "tiff", api.BLOCK_SIZE, lambda h, w, c: 32) is None


def test_tar_members_larger_than_a_band_are_coded_in_bands(fake_natural, small_bands):
    members = {"a.tif": fh.tiff(smooth(100, 40, 3), tile=16), "b.txt": b"notes\n" * 30,
               "c.bmp": fh.bmp(smooth(70, 40, 3))}
    data = tar_of(members)
    segments = [s for _, s in small_bands.split(data, io.BytesIO(b""), api.BLOCK_SIZE) if isinstance(s, files.WholeFile)]
    assert [s.kind for s in segments] == ["tiff"] * 4 + ["bmp"] * 3
    packed = api.compress(data, coder="imagefile")
    assert api.decompress(packed) == data


def test_bands_of_a_file_whose_rows_are_not_in_band_order_stay_whole(fake_natural, small_bands):
    """Strips stored last first: a band's rows are no byte range of their own."""
    from bbzip.images import filebands

    data = fh.tiff(smooth(100, 40, 3), rows_per_strip=10)
    picture = files.pictures(data, "tiff")[0]
    spans = picture.spans
    shuffled = picture._replace(spans=tuple(s._replace(offset=spans[len(spans) - 1 - i].offset)
                                            for i, s in enumerate(spans)))
    assert filebands.band_blocks(len(data), [shuffled], api.BLOCK_SIZE, lambda h, w, c: 32) is None
    assert filebands.band_blocks(len(data), [picture], api.BLOCK_SIZE, lambda h, w, c: 32) is not None


@pytest.mark.parametrize("name", ["photo-tiff-strips-imagefile-bands", "photo-bmp24-imagefile-bands",
                                  "scan-tiff16-tiles-imagefile-bands", "photo-rgba-png-bands"])
def test_todays_writer_reproduces_the_banded_golden_files(name):
    """With the real model and make_golden's small bands, byte for byte."""
    from pathlib import Path

    from tests.make_golden import _compress, inputs

    golden = Path(__file__).parent / "golden"
    data, coder = inputs()[name]
    assert (golden / f"{name}.raw").read_bytes() == data
    assert _compress(name, data, coder) == (golden / f"{name}.bbz").read_bytes()
