"""Photos at full size (issue 16): large images cut into bands of rows, one block each, so
memory follows a band; -T reaches the natural decoder; progress moves band by band; a
hostile block's claimed size allocates nothing (issue 19)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bbzip import api, parallel
from bbzip.container import (
    STREAM_HEADER,
    BlockHeader,
    StreamEnd,
    encode_block_header,
    encode_stream_end,
)
from bbzip.errors import CorruptError
from bbzip.images import blocks, detect
from bbzip.images import coder as natural_block
from tests import natural_fake
from tests.test_images import make_tar, npy, pnm, smooth

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_natural(monkeypatch):
    monkeypatch.setattr(natural_block, "backend", natural_fake.backend)


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of 3 KiB: 32 rows of a 32-pixel-wide RGB image."""
    monkeypatch.setattr(blocks, "BAND_BYTES", 32 * 32 * 3)


def shapes(packed: bytes) -> list[tuple[int, ...]]:
    """Every natural block's runs as (count, height, width, channels), in order."""
    from bbzip.container import StreamReader

    reader, found = StreamReader(io.BytesIO(packed)), []
    while reader.next_stream():
        while not isinstance(item := reader.next_block(), StreamEnd):
            payload = reader.read_payload(item)
            if item.coder_id == natural_block.NATURAL_CODER_ID:
                runs, by_shape, _ = natural_block.read_runs(memoryview(payload), item.raw_size)
                found += [(runs[i][2], *shape) for shape, members in by_shape.items() for i in members]
    return found


# -- the band rule ---------------------------------------------------------------------------
def test_band_rows_is_a_fixed_function_of_the_shape():
    budget = blocks.BAND_BYTES
    assert blocks.band_rows(100, 100, 3) == 100  # fits: the whole image
    rows = blocks.band_rows(4000, 2000, 3)
    assert rows % blocks.BAND_UNIT == 0 and rows * 2000 * 3 <= budget < (rows + blocks.BAND_UNIT) * 2000 * 3
    # Too wide for one unit of rows in the budget: one unit all the same (memory follows it).
    assert blocks.band_rows(4000, 200000, 3) == blocks.BAND_UNIT
    assert blocks.band_rows(20, 200000, 3) == 20


def test_images_of_any_size_are_detected_while_a_band_fits_a_block():
    assert detect.sniff(b"P6\n8000 6000\n255\n") is not None  # 144 MB: banded
    too_wide = b"P5\n%d 100\n255\n" % ((detect.MAX_IMAGE_BYTES // detect.MIN_BAND_ROWS) + 1)
    assert detect.sniff(too_wide) is None
    assert detect.sniff(b"P5\n%d 1\n255\n" % detect.MAX_IMAGE_BYTES) is not None  # one row is its band


# -- bands through the block splitter (the stand-in coder: framing only) ----------------------
def test_a_large_ppm_becomes_one_block_per_band(fake_natural, small_bands):
    image = smooth(100, 32, 3)[0]
    data = pnm(image)
    packed = api.compress(data)
    assert shapes(packed) == [(1, 32, 32, 3)] * 3 + [(1, 4, 32, 3)]
    assert api.decompress(packed) == data
    assert [b.raw_size for b in api.stream_info(io.BytesIO(packed)).blocks] == [
        len(data) - image.size + 32 * 96, 32 * 96, 32 * 96, 4 * 96]


def test_npy_stacks_are_banded_image_by_image(fake_natural, small_bands):
    data = npy(smooth(40, 32, 3, count=2))
    packed = api.compress(data)
    assert shapes(packed) == [(1, 32, 32, 3), (1, 8, 32, 3)] * 2
    assert api.decompress(packed) == data


def test_a_large_tar_member_is_banded_and_small_ones_packed_to_a_band(fake_natural, small_bands):
    members = {"big.ppm": pnm(smooth(70, 32, 3, seed=1)[0]),
               **{f"small{i}.pgm": pnm(smooth(20, 20, seed=i)[0]) for i in range(12)}}
    data = make_tar(members)
    packed = api.compress(data)
    found = shapes(packed)
    assert found[:3] == [(1, 32, 32, 3), (1, 32, 32, 3), (1, 6, 32, 3)]
    # 12 small images of 400 bytes: at most 7 to a block of 3 KiB of pixels.
    pixels = [b.pixels for b in api.stream_info(io.BytesIO(packed)).blocks if b.coder == "natural"]
    assert pixels[3:] == [7 * 400, 5 * 400]
    assert api.decompress(packed) == data


def test_a_truncated_band_keeps_its_whole_rows(fake_natural, small_bands):
    data = pnm(smooth(100, 32, 3)[0])[: -96 * 50 - 7]
    packed = api.compress(data)
    assert shapes(packed) == [(1, 32, 32, 3), (1, 17, 32, 3)]
    assert api.decompress(packed) == data


def test_progress_advances_band_by_band(fake_natural, small_bands):
    data = pnm(smooth(256, 32, 3)[0])
    seen = []
    out = io.BytesIO()
    api.compress_stream(io.BytesIO(data), out, progress=seen.append)
    assert len(seen) >= 8 and sum(seen) == len(data)
    back = []
    api.decompress_stream(io.BytesIO(out.getvalue()), io.BytesIO(), progress=back.append)
    assert len(back) >= 8


# -- bands through the real model ----------------------------------------------------------------
def test_bands_round_trip_the_same_bytes_for_any_thread_count(small_bands):
    pytest.importorskip("bbzip.natural.model")
    data = pnm(smooth(72, 32, 3, seed=3)[0])
    one = api.compress(data, threads=1)
    assert shapes(one) == [(1, 32, 32, 3), (1, 32, 32, 3), (1, 8, 32, 3)]
    assert api.compress(data, threads=2) == one
    assert api.decompress(one) == data


# -- -T reaches the natural decoder; library calls never fork unasked ----------------------------
def test_the_natural_decoder_forks_only_when_the_caller_asks(monkeypatch):
    from bbzip.natural import coder
    from tests.natural_helpers import random_natural_model, smooth_images

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    model, _ = random_natural_model(0)
    images = smooth_images((70, 8, 9, 1), seed=4)  # 70 lanes: two groups
    payload = coder.encode(model, images)
    forked = []
    original = coder._decode_in_processes
    monkeypatch.setattr(coder, "_decode_in_processes", lambda *a: forked.append(a[-1]) or original(*a))
    assert threading.active_count() == 1, "another test left threads running: the decoder may not fork"
    assert np.array_equal(coder.decode(model, payload, images.shape), images)
    assert forked == []
    assert np.array_equal(coder.decode(model, payload, images.shape, workers=2), images)
    assert forked == [2]


def test_api_hands_its_workers_to_the_natural_decoder(fake_natural, monkeypatch):
    asked = []
    monkeypatch.setattr(natural_fake, "decode",
                        lambda model, data, shape, workers=1, real=natural_fake.decode:
                        asked.append(workers) or real(model, data, shape))
    packed = api.compress(pnm(smooth(20, 20, 3)[0]))
    api.decompress(packed)
    api.decompress_stream(io.BytesIO(packed), io.BytesIO(), threads=3)
    assert asked == [1, 3]


def _where_bands_ran(monkeypatch, tmp_path: Path):
    """Make the stand-in coder leave a file per band named after the process that coded it."""
    def mark(kind):
        real = getattr(natural_fake, kind)

        def marked(*args, **kwargs):
            Path(tmp_path, f"{kind}-{os.getpid()}-{time.monotonic_ns()}").touch()
            time.sleep(0.02)  # long enough that every worker gets bands
            return real(*args, **kwargs)
        monkeypatch.setattr(natural_fake, kind, marked)

    mark("encode")
    mark("decode")
    return lambda kind: {int(path.name.split("-")[1]) for path in tmp_path.glob(f"{kind}-*")}


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_one_large_image_uses_every_worker_both_ways_and_library_calls_fork_none(
        fake_natural, small_bands, monkeypatch, tmp_path, threads):
    """Bands in parallel, compress and decompress: -T N runs N worker processes (forked, so
    they see the stand-in coder), each coding bands; threads=1 codes all of them here."""
    pids = _where_bands_ran(monkeypatch, tmp_path)
    monkeypatch.setattr(parallel, "POOL_MIN_BYTES", 0)  # 12 bands of 3 KiB: a pool all the same
    assert threading.active_count() == 1, "another test left threads running: the pool may not fork"
    data = pnm(smooth(32 * 12, 32, 3)[0])  # 12 bands
    packed = api.compress(data, threads=threads)
    out = io.BytesIO()
    api.decompress_stream(io.BytesIO(packed), out, threads=threads)
    assert out.getvalue() == data
    for kind in ("encode", "decode"):
        if threads == 1:
            assert pids(kind) == {os.getpid()}
        else:
            assert len(pids(kind)) == threads and os.getpid() not in pids(kind), (kind, pids(kind))


def test_the_command_line_shows_progress_band_by_band(fake_natural, small_bands, monkeypatch, tmp_path):
    """The bar's callback through the command line (a terminal's stderr): it moves once a band
    at least, compressing and decompressing, and ends at the file's size."""
    from bbzip import cli
    from bbzip.cli import files, output

    seen: list[list[int]] = []

    class Recorded(output.Progress):
        def __init__(self, desc, total, enabled):
            super().__init__(desc, total, False)
            seen.append([])

        def __call__(self, n):
            super().__call__(n)
            seen[-1].append(n)

    monkeypatch.setattr(files, "Progress", Recorded)
    monkeypatch.setattr(files, "isatty", lambda stream: True)
    path = tmp_path / "photo.ppm"
    data = pnm(smooth(32 * 12, 32, 3)[0])
    path.write_bytes(data)
    assert cli.run(cli.parse(["-T1", str(path)])) == 0
    assert cli.run(cli.parse(["-d", "-T1", str(path) + ".bbz"])) == 0
    assert path.read_bytes() == data
    packed_size = len(api.compress(data))
    assert len(seen[0]) >= 12 and sum(seen[0]) == len(data)
    assert len(seen[1]) >= 12 and sum(seen[1]) == packed_size


_PREPARED = """
import sys
from bbzip import parallel_natural
from bbzip.coders import registry
from bbzip.container import BlockHeader
from bbzip.natural import compiled
from bbzip.natural.model import default_natural_model

compiled.MIN_SUBPIXELS = {threshold}
model = default_natural_model()
parallel_natural.for_decoding(BlockHeader(registry.NATURAL_CODER_ID, model.model_id, 1 << 16, 0, 0), ())()
if "numba" not in sys.modules:
    print("no numba")
    sys.exit()
from bbzip.natural import fused, kernels
print(len(fused.decode_row.signatures), len(kernels.push_rows.signatures))
"""


@pytest.mark.parametrize(("threshold", "expected"), [(1 << 16, "1 0"), ((1 << 16) + 1, "no numba")])
def test_preparing_for_compiled_bands_loads_numba_and_the_kernels_of_that_way(threshold, expected):
    """What a parent loads before forking its workers: numba's import and the decoder's
    kernels (each about 0.5 s of CPU) for bands on the compiled path; nothing of numba else."""
    pytest.importorskip("bbzip.natural.model")
    pytest.importorskip("numba")
    out = subprocess.run([sys.executable, "-c", _PREPARED.format(threshold=threshold)], capture_output=True,
                         text=True, check=True, env={**os.environ, "BBZIP_KERNELS": ""}).stdout
    assert out.split("\n")[0] == expected


# -- memory --------------------------------------------------------------------------------------
_PEAK = """
import sys

# VmHWM, not ru_maxrss: ru_maxrss keeps the forking pytest process's peak across exec.
def peak_kib():
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))

sys.path.insert(0, {root!r})
from bbzip import api
from bbzip.images import blocks
from tests.test_images import pnm, smooth
blocks.BAND_BYTES = {band}
data = pnm(smooth({height}, {width}, 3)[0])
packed = api.compress(data)
assert api.decompress(packed) == data
print(peak_kib())
"""


def _peak_kib(height: int, width: int, band: int) -> int:
    script = _PEAK.format(root=str(ROOT), band=band, height=height, width=width)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                              check=True).stdout)


@pytest.mark.slow  # 30 s of real coding: make test-slow (make test stays under 10 minutes)
def test_peak_memory_follows_the_band_not_the_image():
    """The image 8 times as tall codes in the same memory, give or take a few MB; coded
    whole it would take about 160 bytes a subpixel more (13 MB)."""
    pytest.importorskip("bbzip.natural.model")
    band = 32 * 128 * 3
    small, large = _peak_kib(32, 128, band), _peak_kib(256, 128, band)
    assert large - small < 6 << 10, (small, large)


def test_peak_memory_does_not_grow_with_the_image():
    """make test's version of the one below (about 6 s of CPU): bands of 32 rows of 32 pixels,
    an image of one band and one of four, the same peak give or take 1 MB (130 KB measured;
    the four bands' coder memory at once, about 160 bytes a subpixel, would be 1.5 MB more)."""
    pytest.importorskip("bbzip.natural.model")
    band = 32 * 32 * 3
    small, large = _peak_kib(32, 32, band), _peak_kib(4 * 32, 32, band)
    assert large - small < 1 << 10, (small, large)


@pytest.mark.slow
def test_peak_memory_follows_the_real_band_size():
    band = blocks.BAND_BYTES
    width = 1024
    rows = band // (3 * width)
    # An image of one band is cut in two (both cores busy), so the small one holds two.
    small, large = _peak_kib(2 * rows, width, band), _peak_kib(4 * rows, width, band)
    assert large - small < 16 << 10, (small, large)


def _hostile(height: int, width: int, size: int, images: int = 1, channels: int = 1, side: int = 256) -> bytes:
    """A natural block claiming ``images`` height x width images, its payload ``size`` bytes
    of a tile header and noise (the shape of what issue 19's fuzzer found)."""
    from bbzip.coders.varint import encode_varint
    from bbzip.natural.model import default_natural_model

    model = default_natural_model()
    plain = bytes([natural_block._STORED]) + encode_varint(0)
    natural = bytes([side // 8, 0, 0, 0, 0, 0, 0, 0, 1]) + np.random.default_rng(0).bytes(size)
    payload = (encode_varint(1) + b"".join(map(encode_varint, (0, images, height, width))) + bytes([channels])
               + plain + encode_varint(len(natural)) + natural)
    raw = images * height * width * channels
    header = BlockHeader(natural_block.NATURAL_CODER_ID, model.model_id, raw, len(payload), 0)
    return STREAM_HEADER + encode_block_header(header) + payload + encode_stream_end(StreamEnd(raw, 0))


_HOSTILE = """
import sys

# VmHWM, not ru_maxrss: ru_maxrss keeps the forking pytest process's peak across exec.
def peak_kib():
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))

sys.path.insert(0, {root!r})
from bbzip import api
from bbzip.errors import CorruptError
try:
    api.decompress(open(sys.argv[1], "rb").read())
except CorruptError as exc:
    print(peak_kib(), exc)
"""


def _refusal_peak_kib(path: Path, kernels: str | None = None) -> list[str]:
    env = {**os.environ, **({"BBZIP_KERNELS": kernels} if kernels else {})}
    return subprocess.run([sys.executable, "-c", _HOSTILE.format(root=str(ROOT)), str(path)], env=env,
                          capture_output=True, text=True, check=True).stdout.split(maxsplit=1)


def test_a_block_claiming_a_huge_image_is_refused_before_memory_follows_the_claim(tmp_path):
    pytest.importorskip("bbzip.natural.model")
    path = tmp_path / "hostile.bbz"
    path.write_bytes(_hostile(8192, 8192, 8192))
    assert len(path.read_bytes()) < 8500
    with pytest.raises(CorruptError):
        api.decompress(path.read_bytes())
    out = _refusal_peak_kib(path)
    assert int(out[0]) < 200 << 10, out


# The largest claims a block may make (coder.MAX_BLOCK_SUBPIXELS, 32 Mi subpixels: old files
# may hold that much): gray and RGB, one image and several, the smallest and largest tiles.
# Each payload holds every lane's final head (8 bytes) and 8 KiB of noise.
_WORST_CLAIMS = [(1, 4096, 8192, 1, 256), (1, 4096, 8192, 1, 32), (2, 4096, 4096, 1, 256),
                 (8, 2048, 2048, 1, 64), (1, 2048, 5461, 3, 256), (2, 2048, 2730, 3, 32)]


@pytest.mark.parametrize(("images", "height", "width", "channels", "side"), _WORST_CLAIMS)
def test_the_largest_claims_are_refused_in_little_memory_and_time(tmp_path, images, height, width, channels, side):
    """Memory follows the rows decoded, not the claim: tiles are bytes and the canvas's pages
    are written only as rows are reached (about 465 MB for these claims before)."""
    pytest.importorskip("bbzip.natural.model")
    from bbzip.natural.coder import MAX_BLOCK_SUBPIXELS

    assert MAX_BLOCK_SUBPIXELS - 3 * 4096 < images * height * width * channels <= MAX_BLOCK_SUBPIXELS
    lanes = images * -(-height // side) * -(-width // side)
    path = tmp_path / "hostile.bbz"
    path.write_bytes(_hostile(height, width, 8 * lanes + 8192, images, channels, side))
    for kernels in (None, "numpy"):
        out = _refusal_peak_kib(path, kernels)
        assert int(out[0]) < 200 << 10 and "exhausted" in out[1], (kernels, out)


def test_the_banded_golden_file_is_what_the_writer_makes_in_bands(monkeypatch):
    """tests/golden/photo-ppm-natural-bands: one photo in two natural blocks of one band each."""
    pytest.importorskip("bbzip.natural.model")
    from tests.make_golden import _compress

    golden = ROOT / "tests" / "golden"
    raw, packed = (golden / "photo-ppm-natural-bands.raw").read_bytes(), (golden / "photo-ppm-natural-bands.bbz").read_bytes()
    assert shapes(packed) == [(1, 32, 32, 3), (1, 8, 32, 3)]
    assert _compress("photo-ppm-natural-bands", raw, "natural") == packed  # its bands, its model


def test_the_photo_bench_skips_cleanly_without_photos(tmp_path):
    from bench import photos
    from bench.measure import Results

    info = photos.run_photos(Results(1, ()), tmp_path / "absent", True, tmp_path)
    assert info["why"] and "Not run" in photos.markdown(Results(1, ()), info)
    assert photos.tree_pss_kib(os.getpid()) > 1000


@pytest.mark.slow
def test_a_photo_larger_than_a_band_through_the_console_script_same_bytes_for_any_t(exe):
    """The real band size through a pipe: two bands, decoded exactly, -T1 and -T2 alike."""
    data = pnm(smooth(200, 1024, 3, seed=5)[0])
    assert blocks.band_rows(200, 1024, 3) == 128  # fits one band, so cut in two: whole 64-row tiles first
    run = lambda *args, input: subprocess.run([exe, *args], input=input, capture_output=True, check=True,
                                              timeout=1800).stdout
    one = run("-c", "-T1", input=data)
    assert run("-c", "-T2", input=data) == one
    header = len(data) - 200 * 1024 * 3
    assert [b.raw_size for b in api.stream_info(io.BytesIO(one)).blocks] == [header + 128 * 3072, 72 * 3072]
    assert run("-d", "-c", "-T2", input=one) == data == run("-d", "-c", "-T1", input=one)


@pytest.mark.parametrize("height, width", [(433, 693), (791, 1265), (1118, 1789), (2121, 3771), (9776, 5120)])
def test_bands_are_as_many_as_the_budget_needs_and_of_even_height(height, width):
    """A photo's bands keep the cores evenly busy: no band is over the budget, there are no
    more of them than the budget needs, and the last one is not a sliver (693x433 RGB used
    to be 352 + 81 rows, one core idle for most of the time)."""
    rows = blocks.band_rows(height, width, 3)
    count = -(-height // rows)
    fewest = -(-height // (blocks.BAND_BYTES // (3 * width) // 32 * 32))
    assert rows * width * 3 <= blocks.BAND_BYTES and count == fewest
    # With many bands a short last one costs little; 32-row steps cannot even out finer.
    assert height - (count - 1) * rows >= rows // 2 or count >= 8
