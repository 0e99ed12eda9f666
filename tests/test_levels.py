"""Compression levels: what each level may run, and that the zstd coder is a safe one."""

import io
from pathlib import Path

import numpy as np
import pytest

from bbzip import api, levels
from bbzip.coders import zstd_coder
from bbzip.coders.zstd_coder import ZstdCoder
from bbzip.errors import CorruptError, UnsupportedError

DATA = Path(__file__).parent / "data"


def text(n_lines=3000):
    return b"".join(b"line %d: the quick brown fox jumps over the lazy dog %d\n" % (i, i % 97)
                    for i in range(n_lines))


def skewed(n, seed=1):
    rng = np.random.default_rng(seed)
    p = 0.6 ** np.arange(256)
    return rng.choice(256, size=n, p=p / p.sum()).astype(np.uint8).tobytes()


def coders_of(packed):
    return {b.coder for b in api.stream_info(io.BytesIO(packed)).blocks}


@pytest.mark.parametrize("level", api.LEVELS)
def test_every_level_round_trips(level):
    for data in (b"", b"x", text(), skewed(50_000), np.random.default_rng(2).bytes(20_000)):
        assert api.decompress(api.compress(data, level=level)) == data


@pytest.mark.parametrize("level", [0, 10, -1, "6"])
def test_levels_outside_1_to_9_are_refused(level):
    with pytest.raises(UnsupportedError, match="level"):
        api.compress(b"abc", level=level)


def test_fast_level_is_zstd_or_stored_only():
    assert coders_of(api.compress(text(), level=1)) == {"zstd"}
    assert coders_of(api.compress(skewed(100_000), level=1)) == {"zstd"}
    assert coders_of(api.compress(np.random.default_rng(3).bytes(100_000), level=1)) == {"stored"}


def test_order0_still_wins_on_skewed_iid_bytes_at_the_default_level():
    data = skewed(300_000)
    assert coders_of(api.compress(data)) == {"order0"}
    assert len(api.compress(data)) < len(api.compress(data, "zstd"))


def test_zstd_is_not_run_where_samples_say_order0_wins(monkeypatch):
    data = skewed(1 << 20) + text(20_000)[: 1 << 19]  # skewed, then text the samples see
    levels_run = []
    encode = ZstdCoder.encode

    def spy(self, block, level=6, *args, **kwargs):
        levels_run.append((len(block), level))
        return encode(self, block, level, *args, **kwargs)

    monkeypatch.setattr(ZstdCoder, "encode", spy)
    assert coders_of(api.compress(skewed(2 << 20))) == {"order0"}
    assert {level for _, level in levels_run} == {1}  # the samples only
    assert max(size for size, _ in levels_run) == levels.LZ_SAMPLE_BYTES
    levels_run.clear()
    assert coders_of(api.compress(data)) == {"zstd"}
    assert (len(data), 6) in levels_run
    levels_run.clear()
    api.compress(skewed(2 << 20), level=9)  # the smallest of everything: zstd runs too
    assert (2 << 20, 9) in levels_run


def test_default_level_is_zstd_on_text_and_level_9_the_smallest():
    data = text()
    assert coders_of(api.compress(data)) == {"zstd"}
    assert len(api.compress(data, level=9)) <= min(len(api.compress(data, c, level=9)) for c in ("zstd", "lzma"))


def test_fast_levels_never_run_a_network(monkeypatch):
    import bbzip.vae.coder

    def refuse(*args, **kwargs):
        raise AssertionError("a learned coder ran")

    monkeypatch.setattr(bbzip.vae.coder, "encode_image_block", refuse)
    images = (DATA / "t10k-first8-idx3-ubyte").read_bytes()
    for level in range(1, levels.LEARNED_MIN_LEVEL):
        packed = api.compress(images, level=level)
        assert api.decompress(packed) == images


def test_images_get_the_learned_coder_at_the_default_level():
    images = (DATA / "t10k-first8-idx3-ubyte").read_bytes()
    assert coders_of(api.compress(images)) == {"vae"}


def test_levels_of_the_lz_coder_trade_size_for_effort():
    data = b"".join(p.read_bytes() for p in sorted(Path(api.__file__).parent.rglob("*.py")))
    sizes = [len(ZstdCoder().encode(data, level)) for level in (1, 6, 7)]
    assert sizes[0] > max(sizes[1:])


def test_zstd_output_does_not_depend_on_workers_or_feeding(monkeypatch):
    # Jobs of 1 MiB (overlap 4 MiB at window 2**23) so that a 6 MiB block has several.
    monkeypatch.setattr(zstd_coder, "JOB_BYTES", 1 << 20)
    data = text(60_000) + skewed(1 << 20) + text(60_000)[::-1]
    outputs = {bytes(ZstdCoder().encode(data, 6, workers)) for workers in (1, 2, 3)}
    monkeypatch.setattr(zstd_coder, "_FEED", 12345)
    outputs.add(bytes(ZstdCoder().encode(data, 6, 2)))
    assert len(outputs) == 1
    assert ZstdCoder().decode(outputs.pop(), len(data)) == data


def test_a_block_of_4_to_16_mib_is_two_jobs_whatever_the_workers(monkeypatch):
    """One block between SPLIT_BYTES and JOB_BYTES (a 13 MB tar) is cut into two jobs so
    that two threads share it; the bytes still do not depend on the worker count."""
    data = text(40_000)  # 2.4 MB
    whole = bytes(ZstdCoder().encode(data, 6, 2))
    monkeypatch.setattr(zstd_coder, "SPLIT_BYTES", 1 << 20)
    assert zstd_coder.parameters(6, 1, len(data)).job_size == -(-len(data) // 2)
    outputs = {bytes(ZstdCoder().encode(data, 6, workers)) for workers in (1, 2, 3)}
    assert len(outputs) == 1 and outputs != {whole}  # split: other bytes than one job
    assert ZstdCoder().decode(outputs.pop(), len(data)) == data


def test_cli_output_of_a_split_block_is_the_same_for_any_thread_count(exe, tmp_path):
    import subprocess

    data = text(80_000)[: zstd_coder.SPLIT_BYTES + 12345]  # one block, two jobs
    assert zstd_coder.split(len(data))
    outs = [subprocess.run([exe, "-c", f"-T{n}"], input=data, capture_output=True, check=True).stdout
            for n in (1, 2)]
    assert outs[0] == outs[1] and coders_of(outs[0]) == {"zstd"}
    assert api.decompress(outs[0]) == data


def test_zstd_payload_is_a_standard_frame_checked_against_its_length():
    import zstandard

    data = text()
    payload = ZstdCoder().encode(data)
    assert zstandard.ZstdDecompressor().decompress(payload) == data
    with pytest.raises(CorruptError, match="length"):
        ZstdCoder().decode(payload, len(data) - 1)
    with pytest.raises(CorruptError):
        ZstdCoder().decode(payload + payload, len(data))  # a second frame is not allowed
    with pytest.raises(CorruptError):
        ZstdCoder().decode(b"\x28\xb5\x2f\xfd" + bytes(20), len(data))


def test_zstd_refuses_frames_without_a_size_or_with_a_huge_window():
    import zstandard

    data = bytes(5000)
    sizeless = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    no_size = sizeless.compress(data) + sizeless.flush()
    with pytest.raises(CorruptError, match="length"):
        ZstdCoder().decode(no_size, len(data))
    # zstd shrinks the window to a known content size, so ask for 2**27 by hand: clear the
    # single-segment flag and insert a window descriptor (exponent 17: 2**(10 + 17)).
    frame = bytearray(zstandard.ZstdCompressor().compress(data))
    assert frame[4] >> 6 == 1 and frame[4] & 0x20  # a 2-byte size, single segment
    wide = bytes(frame[:4]) + bytes([frame[4] & ~0x20, 17 << 3]) + bytes(frame[5:])
    assert zstandard.get_frame_parameters(wide).window_size == 1 << 27
    with pytest.raises(CorruptError, match="window"):
        ZstdCoder().decode(wide, len(data))


def test_a_frame_lying_about_its_size_is_stopped_without_holding_its_data():
    """10 MiB of zeros in a frame whose header says 100,000 bytes: refused, small peak."""
    import tracemalloc

    import zstandard

    frame = bytearray(zstandard.ZstdCompressor(level=3).compress(bytes(10 << 20)))
    descriptor = frame[4]
    assert descriptor >> 6 == 2 and not descriptor & 0x23  # 4-byte size, a window byte, no dict
    frame[6:10] = (100_000).to_bytes(4, "little")
    tracemalloc.start()
    try:
        with pytest.raises(CorruptError):
            ZstdCoder().decode(bytes(frame), 100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, peak


def test_a_small_text_file_is_compressed_without_numpy():
    """Start-up: numpy's import is most of a small file's time, and order-0 cannot win here."""
    import subprocess
    import sys

    probe = ("import sys; from bbzip import api; data = b'The quick brown fox. ' * 50; "
             "assert api.decompress(api.compress(data)) == data; print('numpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    assert r.stdout.strip() == b"False"


def test_order0_floor_is_below_its_estimate():
    from bbzip.coders import order0

    rng = np.random.default_rng(7)
    for block in (b"a", b"ab" * 300, text(2000), skewed(5000), rng.bytes(3000), bytes(16 << 10)):
        assert levels._order0_floor(block) <= order0.estimate_size(order0.byte_counts(block))
