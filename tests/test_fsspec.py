"""`.bbz` as an fsspec compression (bbzip/integrations/fsspec_compression.py, docs/ZARR.md)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from bbzip import api
from bbzip.errors import CorruptError

fsspec = pytest.importorskip("fsspec", reason="needs the zarr extra: pip install -e '.[zarr]'")

from bbzip.integrations import fsspec_compression

DATA = Path(__file__).parent / "data"
TEXT = b"".join(b"line %d of a text that fsspec reads through bbzip\n" % i for i in range(3000))


@pytest.fixture
def memfs():
    fs = fsspec.filesystem("memory")
    yield fs
    for path in fs.find("/bbz-tests"):
        fs.rm(path)


def test_infer_finds_bbz():
    from fsspec.utils import infer_compression

    assert infer_compression("s3://bucket/x.ppm.bbz") == "bbzip"
    assert "bbzip" in fsspec.available_compressions()


def test_writes_the_bytes_of_bbzip_and_reads_them_back(memfs):
    photo = (DATA / "natural-rgb-31x24.ppm").read_bytes()
    for name, data in (("photo.ppm", photo), ("text.txt", TEXT), ("empty", b"")):
        url = f"memory://bbz-tests/{name}.bbz"
        with fsspec.open(url, "wb", compression="infer") as f:
            for start in range(0, len(data), 1000):  # many small writes
                f.write(data[start : start + 1000])
        assert memfs.cat(f"/bbz-tests/{name}.bbz") == api.compress(data)
        with fsspec.open(url, "rb", compression="infer") as f:
            assert f.read() == data


def test_text_mode_and_partial_reads(memfs):
    memfs.pipe("/bbz-tests/t.txt.bbz", api.compress(TEXT))
    with fsspec.open("memory://bbz-tests/t.txt.bbz", "rt", compression="infer") as f:
        assert f.readline() == "line 0 of a text that fsspec reads through bbzip\n"
        assert sum(1 for _ in f) == 2999
    with fsspec.open("memory://bbz-tests/t.txt.bbz", "rb", compression="bbzip") as f:
        assert f.read(4) == b"line"  # and closing early stops the decoder


def test_streams_block_by_block_in_bounded_memory(monkeypatch, memfs):
    """With 4 KiB blocks, a 155 KB text is 38 blocks; the decoder runs at most a few blocks
    ahead of a reader that has read one byte, and the writer's bytes are bbzip's."""
    monkeypatch.setattr(api, "BLOCK_SIZE", 4096)
    packed = api.compress(TEXT)
    with fsspec.open("memory://bbz-tests/s.bbz", "wb", compression="infer") as f:
        f.write(TEXT)
    assert memfs.cat("/bbz-tests/s.bbz") == packed
    assert len(api.stream_info(io.BytesIO(packed)).blocks) == 38
    written = []
    real_write = fsspec_compression._ChannelWriter.write

    def counting_write(self, data):
        written.append(len(data))
        return real_write(self, data)

    monkeypatch.setattr(fsspec_compression._ChannelWriter, "write", counting_write)
    with fsspec.open("memory://bbz-tests/s.bbz", "rb", compression="infer") as f:
        assert f.read(1) == b"l"
        threading.Event().wait(0.5)  # time for a runaway decoder to run far ahead
        # one handed over and read, QUEUE_DEPTH queued, one waiting to be put
        assert len(written) <= fsspec_compression.QUEUE_DEPTH + 2
        assert b"l" + f.read() == TEXT


def test_damaged_files_raise_corrupt_error_on_read(memfs):
    memfs.pipe("/bbz-tests/bad.bbz", api.compress(TEXT)[:-7])
    with pytest.raises(CorruptError), fsspec.open("memory://bbz-tests/bad.bbz", "rb", compression="infer") as f:
        f.read()


class _FailingFile(io.RawIOBase):
    def writable(self):
        return True

    def write(self, data):
        raise OSError("disk full")


def test_a_failing_target_raises_in_the_writer_without_hanging():
    writer = fsspec_compression.bbz_file(_FailingFile(), mode="w")
    with pytest.raises(OSError, match="disk full"):
        for _ in range(100):
            writer.write(TEXT)
        writer.close()


def test_a_huge_write_is_handed_over_in_pieces(monkeypatch):
    pieces = []
    real_put = fsspec_compression._RawWriter._put

    def recording_put(self, item):
        pieces.append(0 if item is fsspec_compression._END else len(item))
        return real_put(self, item)

    monkeypatch.setattr(fsspec_compression._RawWriter, "_put", recording_put)
    target = io.BytesIO()
    data = TEXT * 20  # 3 MB in one write
    with fsspec_compression.bbz_file(target, mode="wb") as f:
        f.write(memoryview(data))
    assert max(pieces) == fsspec_compression.BUFFER_SIZE and sum(pieces) == len(data)
    assert target.getvalue() == api.compress(data)
