"""The numcodecs codec `bbzip` and Zarr formats 2 and 3 (bbzip/integrations, docs/ZARR.md)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bbzip import api
from bbzip.errors import CorruptError, UnsupportedError

numcodecs = pytest.importorskip("numcodecs", reason="needs the zarr extra: pip install -e '.[zarr]'")
zarr = pytest.importorskip("zarr")

from bbzip.integrations.chunks import decode_chunk, encode_chunk
from bbzip.integrations.numcodecs_codec import Bbzip

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"


def pnm_pixels(name: str) -> np.ndarray:
    """The pixels of a PGM/PPM fixture, (H, W) or (H, W, 3)."""
    from bbzip.images.detect import sniff

    data = (DATA / name).read_bytes()
    layout = sniff(data)
    pixels = np.frombuffer(data[len(layout.header):], np.uint8)
    return pixels.reshape(layout.shape if layout.channels == 3 else layout.shape[:2])


def coders_of(payload: bytes) -> set[str]:
    return {block.coder for block in api.stream_info(io.BytesIO(payload)).blocks}


def test_numcodecs_finds_the_codec_through_its_entry_point():
    from numcodecs.registry import entries

    assert entries["bbzip"].value == "bbzip.integrations.numcodecs_codec:Bbzip"
    codec = numcodecs.get_codec({"id": "bbzip", "level": 5})
    assert isinstance(codec, Bbzip) and codec.level == 5
    assert codec.get_config() == {"id": "bbzip", "level": 5, "coder": "auto"}
    assert numcodecs.get_codec(codec.get_config()) == codec


def test_a_photo_chunk_is_exact_and_under_four_fifths_of_zstd_9():
    """The issue's floor, on the astronaut crop (a photo's 40x32 RGB pixels)."""
    chunk = pnm_pixels("astronaut-crop.ppm")
    payload = Bbzip().encode(chunk)
    assert coders_of(payload) == {"natural"}
    back = Bbzip().decode(payload)
    assert back.dtype == np.uint8 and back.shape == chunk.shape and np.array_equal(back, chunk)
    assert len(payload) <= 0.8 * len(numcodecs.Zstd(level=9).encode(chunk))


@pytest.mark.parametrize("name, shape", [("natural-gray-33x40.pgm", (2, 16, 16)),
                                         ("natural-rgb-31x24.ppm", (2, 12, 10, 3))])
def test_image_stacks_take_the_learned_coder(name, shape):
    image = pnm_pixels(name)
    _, height, width = shape[:3]
    chunk = np.stack([image[:height, :width], image[height : 2 * height, :width]])
    assert chunk.shape == shape
    payload = encode_chunk(chunk)
    assert coders_of(payload) == {"natural"}
    assert np.array_equal(decode_chunk(payload), chunk)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(st.sampled_from(["<u2", ">u2", "<i4", "<f4", "<f8", "bool", "<c8", "u1"]),
                  hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_other_chunks_round_trip_through_the_generic_coders(chunk):
    """Any dtype and shape (16-bit too, until 16-bit images land), with dtype and shape in
    the payload; numpy's NaNs and signed zeros come back bit for bit."""
    payload = encode_chunk(chunk, level=3)
    back = decode_chunk(payload)
    assert back.dtype == chunk.dtype and back.shape == chunk.shape
    assert back.tobytes() == chunk.tobytes()


def test_fortran_order_and_strided_chunks_keep_their_values_and_layout():
    array = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    fortran = np.asfortranarray(array)
    back = decode_chunk(encode_chunk(fortran))
    assert back.flags.f_contiguous and np.array_equal(back, array)
    assert np.array_equal(decode_chunk(encode_chunk(array[:, ::2])), array[:, ::2])


def test_decode_fills_out_and_accepts_any_buffer():
    chunk = np.arange(24, dtype="<u2").reshape(4, 6)
    payload = Bbzip(level=2).encode(chunk)
    out = np.empty_like(chunk)
    assert Bbzip().decode(np.frombuffer(payload, np.uint8), out=out) is out
    assert np.array_equal(out, chunk)
    flat = np.empty(24, "<u2")
    Bbzip().decode(bytearray(payload), out=flat)
    assert np.array_equal(flat, chunk.ravel())


def test_bad_configurations_and_object_chunks_are_refused():
    with pytest.raises(UnsupportedError, match="level"):
        Bbzip(level=0)
    with pytest.raises(UnsupportedError, match="coder"):
        numcodecs.get_codec({"id": "bbzip", "coder": "gzip"})
    with pytest.raises(UnsupportedError, match="object"):
        Bbzip().encode(np.array(["a", None], dtype=object))
    from bbzip.integrations.zarr3 import Bbzip as Bbzip3

    with pytest.raises(UnsupportedError, match="level"):
        Bbzip3(level=10)


def test_damaged_payloads_raise_corrupt_error():
    payload = Bbzip(level=2).encode(np.arange(100, dtype=np.int32))
    with pytest.raises(CorruptError):
        Bbzip().decode(payload[:-3])
    with pytest.raises(CorruptError, match="NPY"):
        decode_chunk(api.compress(b"not an npy file"))
    npy = io.BytesIO()
    np.save(npy, np.arange(3))
    with pytest.raises(CorruptError, match="after its array"):
        decode_chunk(api.compress(npy.getvalue() + b"x"))
    with pytest.raises(CorruptError):  # a pickled object array must never be unpickled
        npy = io.BytesIO()
        np.save(npy, np.array([{}], dtype=object), allow_pickle=True)
        decode_chunk(api.compress(npy.getvalue()))


def test_golden_payload_decodes_to_its_array():
    """The payload format is frozen: tests/golden/zarr-chunk-rgb.bbz (test_golden checks its
    bytes) holds the NPY file tests/golden/zarr-chunk-rgb.raw."""
    payload = (GOLDEN / "zarr-chunk-rgb.bbz").read_bytes()
    expected = np.load(GOLDEN / "zarr-chunk-rgb.raw")
    assert expected.shape == (12, 16, 3) and coders_of(payload) == {"natural"}
    assert np.array_equal(Bbzip().decode(payload), expected)


READ_BACK = """
import json, sys, zarr
print(json.dumps({p: zarr.open_array(p, mode="r")[:].tolist() for p in sys.argv[1:]}))
"""


def test_zarr_formats_2_and_3_round_trip_and_reopen_without_importing_bbzip(tmp_path):
    """Written here; read back in a fresh process that never imports bbzip itself: zarr and
    numcodecs find the codec through the entry points."""
    from bbzip.integrations.zarr3 import Bbzip as Bbzip3

    image = pnm_pixels("natural-rgb-31x24.ppm")[:12, :16]  # one chunk: learned coding is slow
    gray = np.arange(600, dtype=np.uint16).reshape(20, 30)  # partial chunks at the edges
    paths = {}
    for fmt, data, codecs in (
            (2, image, {"compressors": Bbzip(level=6)}),
            (3, image, {"serializer": Bbzip3(level=6), "compressors": None}),
            (2, gray, {"compressors": Bbzip(level=2)}),
            (3, gray, {"serializer": Bbzip3(level=2), "compressors": None})):
        path = str(tmp_path / f"v{fmt}-{data.dtype}.zarr")
        array = zarr.create_array(path, shape=data.shape, chunks=(12, 16, *data.shape[2:]),
                                  dtype=data.dtype, zarr_format=fmt, **codecs)
        array[:] = data
        assert np.array_equal(zarr.open_array(path, mode="r")[:], data)
        paths[path] = data
    meta = json.loads((tmp_path / "v3-uint8.zarr" / "zarr.json").read_text())
    assert meta["codecs"] == [{"name": "numcodecs.bbzip", "configuration": {"level": 6}}]
    meta = json.loads((tmp_path / "v2-uint8.zarr" / ".zarray").read_text())
    assert meta["compressor"] == {"id": "bbzip", "level": 6, "coder": "auto"}
    assert coders_of((tmp_path / "v3-uint8.zarr" / "c" / "0" / "0" / "0").read_bytes()) == {"natural"}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", READ_BACK, *paths],
                         capture_output=True, text=True, check=True, timeout=300)
    for path, values in json.loads(out.stdout).items():
        assert np.array_equal(np.array(values), paths[path])


NO_OPTIONAL = """
import sys, bbzip, bbzip.api, bbzip.cli, bbzip.integrations, bbzip.integrations.chunks
bbzip.decompress(bbzip.compress(b"x" * 1000))
loaded = sorted(m for m in ("zarr", "numcodecs", "fsspec", "dask", "distributed") if m in sys.modules)
print(",".join(loaded))
"""


def test_importing_bbzip_imports_no_zarr_fsspec_or_dask():
    out = subprocess.run([sys.executable, "-c", NO_OPTIONAL], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.strip() == ""


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    from bbzip.integrations import require

    monkeypatch.setitem(sys.modules, "zarr_not_here", None)
    with pytest.raises(UnsupportedError, match=r"pip install 'bbzip\[zarr\]'"):
        require("zarr_not_here", "zarr")


def test_no_warning_escapes_the_numcodecs_codec():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Bbzip(level=1).decode(Bbzip(level=1).encode(np.zeros(10, np.uint8)))


def test_zarr_3_arrays_open_without_the_not_in_the_spec_warning():
    """zarr warned on every bbzip codec it built, so on every array opened (the message is
    filtered where the codec is built, and only there)."""
    from bbzip.integrations.zarr3 import Bbzip as Bbzip3

    data = np.arange(60, dtype=np.uint16).reshape(6, 10)
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        array = zarr.create_array(zarr.storage.MemoryStore(), shape=data.shape, chunks=(4, 8), dtype=data.dtype,
                                  serializer=Bbzip3(level=2), compressors=None)
        array[:] = data
        assert np.array_equal(zarr.open_array(array.store, mode="r")[:], data)
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="not in the Zarr version 3"):  # other numcodecs wrappers still warn
        zarr.codecs.numcodecs.Zstd(level=1)


def test_the_bench_floor_is_checked_per_photo():
    from bench.zarr_bench import floor_check, markdown

    names = ["a", "a", "b"]
    rows = {("bbzip (level 6)", 1): {"sizes": [70, 70, 90], "bytes": 230, "exact": True, "digest": "x",
                                     "write_s": 1.0, "read_s": 0.5},
            ("Zstd(level=9)", 1): {"sizes": [100, 100, 100], "bytes": 300, "exact": True, "digest": "y",
                                   "write_s": 0.1, "read_s": 0.1}}
    check = floor_check(rows, names, 1)
    assert check["status"] == "FAIL" and check["worst"] == pytest.approx(0.9)  # photo b
    rows["bbzip (level 6)", 1]["sizes"][2] = 80
    assert floor_check(rows, names, 1)["status"] == "PASS"
    text = markdown({"rows": rows, "tiles": 3, "photos": ["a", "b"], "workers": (1,), "floor": check})
    assert "| bbzip (level 6) | 230 " in text and "**FAIL**" in text
    assert markdown({"why": "no photos"}) == "### Zarr\n\nNot run: no photos.\n"
