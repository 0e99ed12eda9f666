"""Fault injection through the real command line, each run in its own process.

Faults: a file size limit hit mid-write, signals in the middle of the work, an unwritable
output directory, an input truncated or grown while it is read, a pipe writer that stops
early, many bbzip processes racing in one directory, special and hard-linked inputs, and
(slow) 2 GB through a pipe and a stream holding more than 4 GiB. The invariant checked
every time: no partial output and no temp file left behind, the input still there and
unchanged, one clear line on stderr (never a traceback), and a non-zero exit status when
the work did not complete.

Related tests elsewhere (not repeated here): tests/test_cli.py covers signals while reading
a FIFO during compression, a closed output pipe (`bbzip -dc big.bbz | head -c 10`), terminals
refused, directories and symlinks skipped, damaged inputs; tests/test_fuzz.py covers hostile
headers and the decoder fuzz subset.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from bbzip import api, container
from bbzip.coders.order0 import Order0Coder
from bbzip.container import BlockHeader, StreamEnd
from tests.test_cli import _wait_blocked_reading, listing, one_error_line

BIG = 48 << 20  # enough for about a second of work: time to act while bbzip is busy


def _run(
    exe: str, *args: str, cwd: Path, input: bytes | None = None, **kw
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [exe, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=120,
        stdin=None if input is not None else subprocess.DEVNULL,
        check=False,
        **kw,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _no_temp_files(d: Path) -> None:
    leftovers = [p.name for p in d.rglob("*") if p.name.startswith(".bbzip-")]
    assert leftovers == [], leftovers


@pytest.fixture(scope="session")
def big_pair(tmp_path_factory, exe) -> Path:
    """A directory with `big` (BIG bytes, 2 bits of entropy per byte) and `big.bbz` (order0)."""
    d = tmp_path_factory.mktemp("big")
    data = np.random.default_rng(5).integers(0, 4, BIG, dtype=np.uint8)
    (d / "big").write_bytes(data.tobytes())
    r = _run(exe, "-k", "--coder", "order0", "big", cwd=d)
    assert r.returncode == 0, r.stderr
    return d


def _copy(src_dir: Path, name: str, dst_dir: Path) -> str:
    shutil.copyfile(src_dir / name, dst_dir / name)
    return _sha(dst_dir / name)


def _start_and_catch_in_the_act(exe: str, args: list[str], cwd: Path) -> subprocess.Popen:
    """Start bbzip and stop it (SIGSTOP) as soon as its temp output exists: whatever the test
    then does happens, deterministically, while the work is under way."""
    p = subprocess.Popen(
        [exe, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(n.startswith(".bbzip-") for n in os.listdir(cwd)):
        assert p.poll() is None, f"bbzip finished before it could be interrupted: {p.returncode}"
        assert time.monotonic() < deadline, "bbzip never created its output"
        time.sleep(0.002)
    os.kill(p.pid, signal.SIGSTOP)
    return p


def _resume(p: subprocess.Popen) -> tuple[bytes, bytes]:
    os.kill(p.pid, signal.SIGCONT)
    try:
        return p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()


# ------------------------------------------------------------------------- file size limit


def _size_limit(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize("mode", ["compress", "decompress"])
def test_file_size_limit_hit_mid_write(exe, tmp_path, mode):
    data = random.Random(3).randbytes(3 << 20)
    (tmp_path / "a").write_bytes(data)
    if mode == "decompress":
        assert _run(exe, "--coder", "stored", "a", cwd=tmp_path).returncode == 0
    name = "a" if mode == "compress" else "a.bbz"
    before = _sha(tmp_path / name)
    args = [] if mode == "compress" else ["-d"]
    r = _run(exe, *args, name, cwd=tmp_path, preexec_fn=_size_limit(1 << 20))
    assert r.returncode == 1
    assert "File too large" in one_error_line(r.stderr, name)
    assert listing(tmp_path) == {name}  # no output, no temp file
    assert _sha(tmp_path / name) == before


def test_file_size_limit_on_standard_output(exe, tmp_path):
    (tmp_path / "a").write_bytes(random.Random(4).randbytes(3 << 20))
    with open(tmp_path / "out", "wb") as out:
        r = subprocess.run(
            [exe, "-c", "--coder", "stored", "a"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=_size_limit(1 << 20),
            timeout=120,
            check=False,
        )
    assert r.returncode == 1
    assert "File too large" in one_error_line(r.stderr, "a")
    assert listing(tmp_path) == {"a", "out"}


# ------------------------------------------------------------------------------- signals


@pytest.mark.parametrize("mode", ["compress", "decompress"])
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_the_middle_of_a_large_file(exe, tmp_path, big_pair, mode, sig, status):
    name = "big" if mode == "compress" else "big.bbz"
    before = _copy(big_pair, name, tmp_path)
    p = _start_and_catch_in_the_act(
        exe, ["--coder", "order0", name] if mode == "compress" else ["-d", name], tmp_path
    )
    os.kill(p.pid, sig)
    out, err = _resume(p)
    assert p.returncode == status, err
    assert (out, err) == (b"", b"")  # like gzip: killed quietly, nothing half-done left
    assert listing(tmp_path) == {name}
    assert _sha(tmp_path / name) == before


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_while_decompressing_from_a_stalled_fifo(exe, tmp_path, sig, status):
    packed = api.compress(random.Random(6).randbytes(200_000), "stored")
    os.mkfifo(tmp_path / "data.bbz")
    p = subprocess.Popen(
        [exe, "-df", "data.bbz"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with open(tmp_path / "data.bbz", "wb") as w:
            w.write(packed[:100_000])  # a block header and part of its payload, then a stall
            w.flush()
            _wait_blocked_reading(p.pid, tmp_path)
            p.send_signal(sig)
            out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == status
    assert (out, err) == (b"", b"")
    assert listing(tmp_path) == {"data.bbz"}


# ------------------------------------------------------------------ unwritable directories


@contextlib.contextmanager
def _read_only(d: Path):
    """Make directory `d` unwritable, even for root; yield how, or skip when impossible."""
    if os.geteuid() != 0:
        d.chmod(0o555)
        try:
            yield "chmod 555"
        finally:
            d.chmod(0o755)
        return
    if (
        shutil.which("chattr")
        and subprocess.run(["chattr", "+i", str(d)], capture_output=True, check=False).returncode
        == 0
    ):
        try:
            yield "chattr +i"
        finally:
            subprocess.run(["chattr", "-i", str(d)], check=True)
        return
    mounted = subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True, check=False)
    if mounted.returncode == 0:
        try:
            if (
                subprocess.run(
                    ["mount", "-o", "remount,ro,bind", str(d)], capture_output=True, check=False
                ).returncode
                == 0
            ):
                yield "read-only bind mount"
                return
        finally:
            subprocess.run(["umount", str(d)], check=True)
    pytest.skip("running as root without chattr +i or mount: no way to make a directory unwritable")


@pytest.mark.parametrize("mode", ["compress", "decompress"])
def test_read_only_output_directory(exe, tmp_path, mode):
    ro = tmp_path / "ro"
    ro.mkdir()
    data = b"some text for the read-only directory\n" * 500
    (ro / "a").write_bytes(data)
    if mode == "decompress":
        assert _run(exe, "a", cwd=ro).returncode == 0
    name = "a" if mode == "compress" else "a.bbz"
    target = "a.bbz" if mode == "compress" else "a"
    before = _sha(ro / name)
    with _read_only(ro) as how:
        assert not os.access(ro, os.W_OK) or how != "chmod 555"
        r = _run(exe, *([] if mode == "compress" else ["-d"]), f"ro/{name}", cwd=tmp_path)
        assert r.returncode == 1, (how, r)
        line = one_error_line(r.stderr, f"ro/{target}")
        assert any(
            w in line
            for w in ("Permission denied", "Operation not permitted", "Read-only file system")
        ), line
        assert listing(ro) == {name}
        # Writing to stdout still works from a read-only directory.
        r = _run(exe, "-c" if mode == "compress" else "-dc", f"ro/{name}", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout
    assert _sha(ro / name) == before


# ---------------------------------------------------------------- inputs changing under us


@pytest.mark.parametrize("change", ["truncated", "emptied", "grown"])
@pytest.mark.parametrize("mode", ["compress", "decompress"])
def test_input_changed_while_being_read(exe, tmp_path, big_pair, mode, change):
    name = "big" if mode == "compress" else "big.bbz"
    _copy(big_pair, name, tmp_path)
    path = tmp_path / name
    p = _start_and_catch_in_the_act(
        exe, ["--coder", "stored", name] if mode == "compress" else ["-d", name], tmp_path
    )
    size = path.stat().st_size
    if change == "grown":
        with open(path, "ab") as f:
            f.write(bytes(1 << 20))
    else:
        os.truncate(path, size // 3 if change == "truncated" else 0)
    after = _sha(path)
    _, err = _resume(p)
    assert p.returncode == 1, err
    line = one_error_line(err, name)
    if mode == "compress":  # the data read is all valid: only the size check can tell
        assert "size changed while it was being read" in line, line
    assert listing(tmp_path) == {name}  # the input is kept (as it now is); no output
    assert _sha(path) == after


def test_pipe_writer_stopping_early(exe, tmp_path):
    """A FIFO whose writer goes away mid-stream: a truncated stream, so nothing is written."""
    packed = api.compress(random.Random(7).randbytes(300_000), "stored")
    os.mkfifo(tmp_path / "data.bbz")

    def writer():
        with open(tmp_path / "data.bbz", "wb") as w:
            w.write(packed[: len(packed) // 2])

    t = threading.Thread(target=writer)
    t.start()
    r = _run(exe, "-df", "data.bbz", cwd=tmp_path)
    t.join(timeout=30)
    assert r.returncode == 1
    assert "unexpected end of data" in one_error_line(r.stderr, "data.bbz")
    assert listing(tmp_path) == {"data.bbz"}


# --------------------------------------------------------------------------- concurrency


def _files(d: Path, n: int) -> dict[str, bytes]:
    rng = random.Random(8)
    contents = {}
    for i in range(n):
        kind = i % 3
        data = (
            rng.randbytes(20_000)
            if kind == 0
            else b"".join(b"line %d of file %d\n" % (j, i) for j in range(1500))
            if kind == 1
            else bytes(rng.choice(b"aaaaabbbc") for _ in range(30_000))
        )
        (d / f"f{i:02d}").write_bytes(data)
        contents[f"f{i:02d}"] = data
    return contents


def _xargs(exe: str, d: Path, names: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["xargs", "-0", "-P", "4", "-n", "2", exe, *args],
        cwd=d,
        input=b"".join(n.encode() + b"\0" for n in names),
        capture_output=True,
        timeout=300,
        check=False,
    )


def test_concurrent_runs_in_one_directory(exe, tmp_path):
    if shutil.which("xargs") is None:
        pytest.fail("xargs is needed for this test")
    contents = _files(tmp_path, 12)  # 6 processes a pass, 4 at a time
    names = sorted(contents)
    r = _xargs(exe, tmp_path, names)
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {n + ".bbz" for n in names}
    r = _xargs(exe, tmp_path, [n + ".bbz" for n in names], "-d")
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == set(names)
    assert all((tmp_path / n).read_bytes() == contents[n] for n in names)


def test_concurrent_runs_racing_for_the_same_files(exe, tmp_path):
    """Every file named three times, four processes at once: each is coded exactly once, the
    losers of each race fail cleanly, and nothing is lost or left half-written."""
    contents = _files(tmp_path, 6)
    names = sorted(contents) * 3  # 9 processes a pass, 4 at a time: every file raced for
    random.Random(9).shuffle(names)
    for mode, args, suffix_in, suffix_out in (
        ("compress", (), "", ".bbz"),
        ("decompress", ("-d",), ".bbz", ""),
    ):
        r = _xargs(exe, tmp_path, [n + suffix_in for n in names], *args)
        for line in r.stderr.decode().splitlines():
            assert line.startswith("bbzip: ") and any(
                w in line for w in ("already exists", "File exists", "No such file")
            ), line
        assert r.returncode in (0, 123), r  # 123: some bbzip exited non-zero (a lost race)
        assert listing(tmp_path) == {n + suffix_out for n in contents}, mode
    assert all((tmp_path / n).read_bytes() == data for n, data in contents.items())


# ----------------------------------------------------------------------------- file types


def test_hard_links_are_skipped_unless_forced(exe, tmp_path):
    (tmp_path / "a").write_bytes(b"linked twice\n" * 100)
    os.link(tmp_path / "a", tmp_path / "b")
    r = _run(exe, "a", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.decode() == "bbzip: a: has 1 other link -- ignored\n"
    assert listing(tmp_path) == {"a", "b"}
    r = _run(exe, "-c", "a", cwd=tmp_path)  # -c leaves the input alone: allowed
    assert r.returncode == 0
    assert api.decompress(r.stdout) == b"linked twice\n" * 100
    r = _run(exe, "-f", "a", cwd=tmp_path)  # -f: this name goes, the other keeps the data
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {"a.bbz", "b"}
    assert (tmp_path / "b").read_bytes() == b"linked twice\n" * 100
    # The same rule when decompressing.
    os.link(tmp_path / "a.bbz", tmp_path / "c.bbz")
    os.link(tmp_path / "a.bbz", tmp_path / "d.bbz")
    r = _run(exe, "-d", "a.bbz", cwd=tmp_path)
    assert (r.returncode, r.stderr.decode()) == (2, "bbzip: a.bbz: has 2 other links -- ignored\n")
    assert listing(tmp_path) == {"a.bbz", "b", "c.bbz", "d.bbz"}


def test_devices_are_skipped_unless_forced_or_stdout(exe, tmp_path):
    r = _run(exe, "/dev/null", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.decode() == "bbzip: /dev/null: is not a regular file -- ignored\n"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not os.path.exists("/dev/null.bbz")
    r = _run(exe, "-c", "/dev/null", cwd=tmp_path)
    assert r.returncode == 0
    assert api.decompress(r.stdout) == b""
    r = _run(exe, "-dc", "/dev/null", cwd=tmp_path)  # as gzip: an empty input is an error
    assert r.returncode == 1
    assert "empty input" in one_error_line(r.stderr, "/dev/null")


def test_proc_files_of_size_zero_still_compress_with_stdout(exe, tmp_path):
    """/proc files claim size 0 but hold data: the changed-size check must not refuse them."""
    if not os.path.isfile("/proc/version"):
        pytest.skip("no /proc/version here")
    r = _run(exe, "-c", "/proc/version", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, b"")
    assert api.decompress(r.stdout) == Path("/proc/version").read_bytes()


def test_fifos_are_skipped_unless_forced_or_stdout(exe, tmp_path):
    os.mkfifo(tmp_path / "fifo")
    r = _run(exe, "fifo", cwd=tmp_path)  # never opened: no writer needed, no hang
    assert r.returncode == 2
    assert r.stderr.decode() == "bbzip: fifo: is not a regular file -- ignored\n"

    def writer():
        with open(tmp_path / "fifo", "wb") as w:
            w.write(b"through a fifo\n" * 10)

    t = threading.Thread(target=writer)
    t.start()
    r = _run(exe, "-c", "fifo", cwd=tmp_path)
    t.join(timeout=30)
    assert r.returncode == 0
    assert api.decompress(r.stdout) == b"through a fifo\n" * 10
    assert listing(tmp_path) == {"fifo"}


# --------------------------------------------------------------------------- huge streams


@pytest.mark.slow
def test_two_gigabytes_through_a_pipe_in_bounded_memory(exe, tmp_path):
    """2 GB of random and skewed stretches through `bbzip | bbzip -d`, byte-exact, each bbzip
    under 300 MB of peak RSS (bench/pipeline.py; `make bench` runs the same pipeline next
    to gzip and zstd)."""
    from bench.pipeline import run_pipe

    result = run_pipe([exe], [exe, "-d"], 2_000_000_000, api.BLOCK_SIZE, tmp_path)
    assert result.exact, result
    print(f"peak RSS: compress {result.compress_peak_mb:.0f} MB, "
          f"decompress {result.decompress_peak_mb:.0f} MB, {result.mb_per_s:.1f} MB/s")
    assert max(result.compress_peak_mb, result.decompress_peak_mb) <= 300, result


def test_incompressible_blocks_skip_the_full_lzma_run(monkeypatch):
    """What keeps 2 GB of mixed data to minutes: on random blocks the auto coder must not run
    full LZMA (about 0.5 s per MiB) only to store the block anyway."""
    from bbzip.coders import registry

    lzma_coder = registry.model_free_coder("lzma")
    calls = []
    real = lzma_coder.encode
    monkeypatch.setattr(lzma_coder, "encode", lambda block, **kw: calls.append(len(block)) or real(block, **kw))
    data = np.random.default_rng(11).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    packed = api.compress(data, level=9)  # the level that runs LZMA at all
    assert calls == []
    assert [b.coder for b in api.stream_info(io.BytesIO(packed)).blocks] == ["stored"]
    text = b"".join(b"row %d, a compressible line of text\n" % i for i in range(8_000))
    api.compress(text, level=9)
    assert calls == [len(text)]  # where LZMA can win it still runs


def _gf2_times(matrix: list[int], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), as zlib's crc32_combine (GF(2) matrices)."""
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << i for i in range(31)]  # the operator for one zero bit
    even = [_gf2_times(odd, odd[i]) for i in range(32)]  # two zero bits
    odd = [_gf2_times(even, even[i]) for i in range(32)]  # four zero bits
    while True:
        even = [_gf2_times(odd, odd[i]) for i in range(32)]  # apply len2's bits, a byte first
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = [_gf2_times(even, even[i]) for i in range(32)]
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def test_crc32_combine_matches_zlib():
    rng = random.Random(10)
    for _ in range(20):
        a, b = rng.randbytes(rng.randint(0, 3000)), rng.randbytes(rng.randint(0, 3000))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


BLOCK = 64 << 20  # the largest block the format allows
BLOCKS = 65  # 65 x 64 MiB = 4,362,076,160 bytes: past 2**32


@pytest.fixture(scope="module")
def over_4gib(tmp_path_factory) -> tuple[Path, int]:
    """A valid .bbz of 65 blocks of 64 MiB of one byte value (order0, about 16 KiB each),
    built from one encoded block; the stream CRC is combined arithmetically, not computed
    over 4 GiB."""
    block = b"\x07" * BLOCK
    payload = Order0Coder().encode(block)
    block_crc = zlib.crc32(block)
    del block
    header = container.encode_block_header(BlockHeader(1, b"", BLOCK, len(payload), block_crc))
    stream_crc = 0
    for _ in range(BLOCKS):
        stream_crc = crc32_combine(stream_crc, block_crc, BLOCK)
    path = tmp_path_factory.mktemp("huge") / "huge.bbz"
    with open(path, "wb") as f:
        f.write(container.STREAM_HEADER)
        for _ in range(BLOCKS):
            f.write(header + payload)
        f.write(container.encode_stream_end(StreamEnd(BLOCKS * BLOCK, stream_crc)))
    return path, BLOCKS * BLOCK


def test_info_lists_a_stream_over_4_gib_with_its_size(exe, over_4gib):
    path, size = over_4gib
    assert size > 1 << 32
    r = _run(exe, "info", path.name, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    row = next(
        line for line in r.stdout.decode().splitlines() if line.startswith(path.name)
    ).split()
    assert row[1:3] == ["1", str(BLOCKS)]  # streams, blocks
    assert str(size) in row  # 4362076160, not wrapped at 2**32
    assert str(path.stat().st_size) in row
    with open(path, "rb") as f:
        info = api.stream_info(f)
    assert (info.raw_size, len(info.blocks)) == (size, BLOCKS)


def test_test_command_verifies_a_stream_over_4_gib(exe, over_4gib):
    path, _ = over_4gib
    r = _run(exe, "test", "-v", path.name, cwd=path.parent)
    assert (r.returncode, r.stderr.decode()) == (0, f"{path.name}:\t OK\n")


@pytest.mark.slow
def test_test_command_checks_the_crc_of_all_4_gib(exe, over_4gib, tmp_path):
    """One bit of the end marker's CRC changed: every block still checks, only the CRC of the
    whole 4 GiB (carried past 2**32 bytes) can tell."""
    path, _ = over_4gib
    damaged = tmp_path / "damaged.bbz"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    damaged.write_bytes(bytes(data))
    r = _run(exe, "test", damaged.name, cwd=tmp_path)
    assert r.returncode == 1
    assert "checksum" in one_error_line(r.stderr, damaged.name)
