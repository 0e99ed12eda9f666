"""The container and the API: framing, limits, checksums, concatenation, typed errors."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip import api, container
from bbzip.container import BlockHeader, StreamEnd
from bbzip.errors import BBZError, CorruptError, FormatError, UnsupportedError


def sample(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(16, size=n, p=np.arange(16, 0, -1) / 136).astype(np.uint8).tobytes()


@pytest.mark.parametrize("coder", ["auto", "stored", "order0", "lzma", "zstd"])
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=2000))
def test_round_trip(coder, data):
    assert api.decompress(api.compress(data, coder)) == data


def test_empty_input_gives_a_small_valid_stream():
    packed = api.compress(b"")
    assert len(packed) <= 32
    assert api.decompress(packed) == b""


def test_incompressible_input_grows_by_at_most_64_bytes_per_mib():
    data = np.random.default_rng(7).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    assert len(api.compress(data)) - len(data) <= 64


def test_level_9_picks_the_smallest_coder():
    text = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(5000))
    skew = sample(200_000)
    for data in (text, skew):
        sizes = {c: len(api.compress(data, c, level=9)) for c in ("stored", "order0", "lzma", "zstd")}
        assert len(api.compress(data, level=9)) == min(sizes.values())


def test_multi_block_streams(monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 1000)
    data = sample(5500)
    packed = api.compress(data)
    info = api.stream_info(io.BytesIO(packed))
    assert len(info.blocks) == 6 and info.raw_size == len(data)
    assert info.compressed_size == len(packed)
    assert api.decompress(packed) == data


def test_concatenated_streams_decompress_to_the_concatenation():
    a, b = sample(3000, 1), b"second stream " * 50
    packed = api.compress(a) + api.compress(b, "lzma")
    assert api.decompress(packed) == a + b
    assert api.stream_info(io.BytesIO(packed)).streams == 2


def test_stream_decompression_reads_pipes_in_small_pieces():
    data = sample(10_000)
    packed = api.compress(data)

    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(len(buffer), 7, len(self.data) - self.pos)
            buffer[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    out = io.BytesIO()
    api.decompress_stream(Trickle(packed), out)
    assert out.getvalue() == data


@pytest.mark.parametrize("bad, error", [
    (b"", FormatError),
    (b"hello world", FormatError),
    (b"\x1f\x8b\x08\x00", FormatError),
    (container.MAGIC, CorruptError),
    (container.MAGIC + bytes([2 << 4]), FormatError),  # a future version
    (container.MAGIC + bytes([(1 << 4) | 1]), FormatError),  # reserved bits
])
def test_not_a_stream(bad, error):
    with pytest.raises(error):
        api.decompress(bad)


def _stream(*parts):
    return container.STREAM_HEADER + b"".join(parts)


def test_hostile_lengths_are_refused_before_allocation():
    huge = BlockHeader(1, b"", 1 << 40, 10, 0)
    with pytest.raises(CorruptError, match="limit"):
        api.decompress(_stream(container.encode_block_header(huge)))
    huge_payload = BlockHeader(1, b"", 10, 1 << 40, 0)
    with pytest.raises(CorruptError, match="limit"):
        api.decompress(_stream(container.encode_block_header(huge_payload)))
    endless_varint = _stream(bytes([1, 0]) + b"\xff" * 20)
    with pytest.raises(CorruptError):
        api.decompress(endless_varint)


def test_zero_length_block_unknown_coder_and_reserved_flags():
    with pytest.raises(CorruptError, match="empty block"):
        api.decompress(_stream(bytes([1, 0, 0, 0]) + b"\0" * 4))
    unknown = container.encode_block_header(BlockHeader(0x55, b"", 3, 3, 0)) + b"abc"
    with pytest.raises(UnsupportedError, match="unknown coder"):
        api.decompress(_stream(unknown))
    with pytest.raises(FormatError, match="reserved"):
        api.decompress(_stream(bytes([1, 0x80, 3, 3]) + b"\0" * 4))


def test_trailing_garbage_is_an_error():
    with pytest.raises(CorruptError, match="trailing garbage"):
        api.decompress(api.compress(b"abc") + b"junk")


def test_trailing_zero_bytes_are_padding_and_the_rest_is_left_unread():
    packed = api.compress(b"abc") + api.compress(b"def")
    assert api.decompress(packed + bytes(70_000)) == b"abcdef"  # tape/block-device padding
    src = io.BufferedReader(io.BytesIO(packed + bytes(3) + b"plain" * 1000))
    with pytest.raises(container.TrailingGarbage) as caught:
        api.decompress_stream(src, io.BytesIO())
    # What is not a stream is left for the caller: zeros counted, the rest unread.
    assert caught.value.zeros == 3
    assert caught.value.head + src.read() == b"plain" * 1000
    src = io.BufferedReader(io.BytesIO(b"plain text"))
    with pytest.raises(container.NotBBZ):
        api.decompress_stream(src, io.BytesIO())
    assert src.read() == b"plain text"
    with pytest.raises(container.NotBBZ, match="not in .bbz format"):
        api.decompress(bytes(100))  # zeros are padding only after a stream


def test_every_truncation_is_an_error():
    for coder in ("stored", "order0", "lzma", "zstd"):
        packed = api.compress(sample(300), coder)
        for cut in range(len(packed)):
            with pytest.raises(BBZError):
                api.decompress(packed[:cut])


def test_bit_flips_never_return_wrong_data():
    rng = np.random.default_rng(3)
    data = sample(2000)
    for coder in ("stored", "order0", "lzma", "zstd"):
        packed = api.compress(data, coder)
        for _ in range(150):
            damaged = bytearray(packed)
            pos = int(rng.integers(len(damaged)))
            damaged[pos] ^= 1 << int(rng.integers(8))
            try:
                assert api.decompress(bytes(damaged)) == data
            except BBZError:
                pass


def test_end_marker_checks_total_length_and_checksum():
    packed = api.compress(b"some data")
    end = container.encode_stream_end(StreamEnd(9, 0))
    body = packed[: -len(end)]
    with pytest.raises(CorruptError, match="checksum"):
        api.decompress(body + container.encode_stream_end(StreamEnd(10, 0)))
