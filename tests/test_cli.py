"""The bbzip command line, run as users run it: the installed console script, real files, pipes.

Behaviour tests use subprocesses (exit statuses, signals, terminals and pipes are the point);
CliRunner only checks argument parsing. The console script must be installed
(`pip install -e .`): a missing script fails the tests instead of skipping them.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bbzip import api, cli
from bbzip.cli import files as cli_files
from bbzip.cli import listing as cli_listing
from bbzip.cli.output import PROGRESS_DELAY_S


@pytest.fixture
def bbzip(exe, tmp_path):
    """Run the bbzip script in tmp_path: bbzip(*args, input=bytes) -> CompletedProcess."""

    def run(*args: str, input: bytes | None = None, cwd: Path = tmp_path, timeout: float = 60):
        return subprocess.run(
            [exe, *args],
            check=False,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            cwd=cwd,
            timeout=timeout,
        )

    return run


def random_bytes(n: int, seed: int = 1234) -> bytes:
    return random.Random(seed).randbytes(n)


def text_bytes(n_lines: int = 3000, seed: int = 99) -> bytes:
    rng = random.Random(seed)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "bits", "back"]
    return "".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
        for _ in range(n_lines)
    ).encode()


def one_error_line(stderr: bytes, name: str) -> str:
    """Assert stderr is exactly one `bbzip: NAME: reason` line (no traceback); return it."""
    text = stderr.decode()
    assert "Traceback" not in text
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(f"bbzip: {name}: "), text
    return lines[0]


def listing(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


# -------------------------------------------------------------------------------- argument parsing


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], cli.Job(mode="compress")),
        (["-d"], cli.Job(mode="decompress")),
        (["-dc", "a.bbz", "b.bbz"], cli.Job("decompress", ("a.bbz", "b.bbz"), to_stdout=True)),
        (["-kfqv", "x"], cli.Job("compress", ("x",), keep=True, force=True, quiet=True, verbose=True)),
        (["-t", "x.bbz"], cli.Job(mode="test", files=("x.bbz",))),
        (["-l", "x.bbz"], cli.Job(mode="list", files=("x.bbz",))),
        (["-9c", "x"], cli.Job("compress", ("x",), to_stdout=True, level=9)),
        (["-dc1", "x.bbz"], cli.Job("decompress", ("x.bbz",), to_stdout=True, level=1)),
        (["--fast", "-T0", "-rnN"], cli.Job("compress", level=1, recursive=True)),
        (["--best", "-T", "3", "-4"], cli.Job("compress", level=4, threads=3)),
        (["compress", "--best"], cli.Job("compress", level=9)),
        (["info", "--json", "a.bbz"], cli.Job("info", ("a.bbz",), json=True)),
        (["--coder", "stored", "-S", ".zz", "-"], cli.Job("compress", ("-",), coder="stored", suffix=".zz")),
        (["--", "compress"], cli.Job(mode="compress", files=("compress",))),
        (["compress", "-c", "info"], cli.Job(mode="compress", files=("info",), to_stdout=True)),
        (["decompress", "-k", "a.bbz"], cli.Job(mode="decompress", files=("a.bbz",), keep=True)),
        (["test", "a.bbz"], cli.Job(mode="test", files=("a.bbz",))),
        (["decompress", "-T", "2", "a.bbz"], cli.Job(mode="decompress", files=("a.bbz",), threads=2)),
        (["-dT3", "a.bbz"], cli.Job(mode="decompress", files=("a.bbz",), threads=3)),
        (["test", "-T1", "a.bbz"], cli.Job(mode="test", files=("a.bbz",), threads=1)),
        (["info", "a.bbz", "b.bbz"], cli.Job(mode="info", files=("a.bbz", "b.bbz"))),
    ],
)
def test_parse(argv, expected):
    assert cli.parse(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [["--coder", "bogus", "x"], ["-S", "", "x"], ["-S", "a/b", "x"], ["--nope"],
     ["decompress", "--coder", "stored"], ["info", "-c", "x.bbz"], ["-T", "-1"], ["test", "-9"]],
)
def test_parse_rejects_bad_arguments_with_status_1(argv, capsys):
    assert cli.parse(argv) == 1
    assert "Error" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "expected"), [(["-d"], None), (["-d", "-T", "3"], 3), (["-t", "-T2"], 2)])
def test_decoding_runs_on_the_threads_asked_for(monkeypatch, tmp_path, argv, expected):
    # Decoding blocks in parallel is what makes a two-block image file decode in half the time.
    packed = tmp_path / "x.bbz"
    packed.write_bytes(api.compress(b"some bytes " * 100))
    seen = []
    real = api.decompress_stream
    monkeypatch.setattr(api, "decompress_stream", lambda *a, **k: seen.append(k["threads"]) or real(*a, **k))
    assert cli_files.run(cli.parse([*argv, "-k", str(packed)])) == 0
    assert seen == [expected or cli_files.usable_cores()]


def test_clirunner_gzip_options_make_a_job():
    result = CliRunner().invoke(
        cli.gzip_command, ["-d", "-c", "--suffix", ".b", "f.b"], standalone_mode=False
    )
    assert result.exception is None, result.output
    assert result.return_value == cli.Job("decompress", ("f.b",), to_stdout=True, suffix=".b")


def test_clirunner_coder_choice_lists_names():
    result = CliRunner().invoke(cli.compress_command, ["--help"])
    assert result.exit_code == 0
    for name in ("auto", "stored", "order0", "lzma"):
        assert name in result.output


# ------------------------------------------------------------------------- version, help, start-up


def test_version_from_script_and_module(bbzip, tmp_path):
    r = bbzip("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"bbzip \d+\.\d+\.\d+\S*\n", r.stdout.decode())
    m = subprocess.run(
        [sys.executable, "-m", "bbzip", "--version"], check=False, capture_output=True, timeout=60
    )
    assert m.returncode == 0, m.stderr
    assert m.stdout == r.stdout


def test_help_names_the_commands(bbzip):
    r = bbzip("--help")
    assert r.returncode == 0
    for word in ("compress", "decompress", "test", "info", "--stdout", "--keep", "--coder"):
        assert word in r.stdout.decode()
    assert bbzip("info", "--help").returncode == 0


def test_small_compress_imports_no_heavy_modules(tmp_path):
    (tmp_path / "small.txt").write_bytes(b"hello\n" * 10)
    code = (
        "import sys\n"
        "sys.argv = ['bbzip', '-c', 'small.txt']\n"
        "import bbzip.cli\n"
        "try:\n    bbzip.cli.main()\n"
        "except SystemExit as e:\n    status = e.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'rich', 'tqdm'})\n"
        "sys.stderr.write(f'{status} {heavy}')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert r.stderr.decode() == "0 []"
    assert r.stdout  # it did compress


# ------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "data", [random_bytes(100_000), text_bytes(), b"", b"x"], ids=["random", "text", "empty", "one"]
)
def test_file_round_trip_replaces_files(bbzip, tmp_path, data):
    f = tmp_path / "data.bin"
    f.write_bytes(data)
    r = bbzip("data.bin")
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {"data.bin.bbz"}
    r = bbzip("-d", "data.bin.bbz")
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {"data.bin"}
    assert f.read_bytes() == data


def test_subcommands_round_trip(bbzip, tmp_path):
    data = text_bytes(500)
    (tmp_path / "t.txt").write_bytes(data)
    assert bbzip("compress", "t.txt").returncode == 0
    assert listing(tmp_path) == {"t.txt.bbz"}
    assert bbzip("decompress", "t.txt.bbz").returncode == 0
    assert (tmp_path / "t.txt").read_bytes() == data


@pytest.mark.parametrize("data", [random_bytes(70_000, seed=7), text_bytes(800)], ids=["random", "text"])
def test_pipe_round_trip(bbzip, data):
    packed = bbzip(input=data)
    assert (packed.returncode, packed.stderr) == (0, b"")
    assert packed.stdout != data
    plain = bbzip("-d", input=packed.stdout)
    assert (plain.returncode, plain.stderr) == (0, b"")
    assert plain.stdout == data
    # The subcommands and "-" mean the same.
    assert bbzip("decompress", "-", input=bbzip("compress", "-", input=data).stdout).stdout == data


@pytest.mark.parametrize("coder", ["stored", "order0", "lzma"])
def test_forced_coder_round_trips_and_shows_in_info(bbzip, tmp_path, coder):
    data = text_bytes(400)
    (tmp_path / "t").write_bytes(data)
    r = bbzip("compress", "--coder", coder, "-k", "t")
    assert (r.returncode, r.stderr) == (0, b"")
    info = bbzip("info", "t.bbz")
    assert info.returncode == 0
    coders_column = re.findall(r"\b(stored|order0|lzma|vae)\b", info.stdout.decode())
    assert set(coders_column) == {coder}
    assert bbzip("-dc", "t.bbz").stdout == data


def test_tar_round_trip(exe, tmp_path):
    if shutil.which("tar") is None:
        pytest.fail("tar is needed for this test")
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_bytes(text_bytes(300))
    (tree / "sub" / "b.bin").write_bytes(random_bytes(30_000, seed=3))
    (tree / "sub" / "deeper" / "empty").write_bytes(b"")
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    tar = ["tar", "-I", exe]
    r = subprocess.run([*tar, "-cf", "x.tar.bbz", "tree"], check=False, cwd=tmp_path, env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.tar.bbz").read_bytes()[:512] != b"tree"  # compressed, not a plain tar
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([*tar, "-xf", "../x.tar.bbz"], check=False, cwd=out, env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for p in tree.rglob("*"):
        q = out / p.relative_to(tmp_path)
        assert q.is_dir() == p.is_dir()
        if p.is_file():
            assert q.read_bytes() == p.read_bytes()
    assert len(list(tree.rglob("*"))) == len(list((out / "tree").rglob("*")))


# ------------------------------------------------------------------------------- gzip's file rules


def test_keep_and_verbose(bbzip, tmp_path):
    data = text_bytes(300)
    (tmp_path / "a").write_bytes(data)
    r = bbzip("-kv", "a")
    assert r.returncode == 0
    assert re.fullmatch(r"a:\t *-?\d+\.\d% -- created a\.bbz\n", r.stderr.decode())
    assert listing(tmp_path) == {"a", "a.bbz"}
    (tmp_path / "a").unlink()
    r = bbzip("-dv", "a.bbz")
    assert re.fullmatch(r"a\.bbz:\t *-?\d+\.\d% -- replaced with a\n", r.stderr.decode())
    assert listing(tmp_path) == {"a"}
    assert (tmp_path / "a").read_bytes() == data


def test_custom_suffix(bbzip, tmp_path):
    (tmp_path / "a").write_bytes(b"abc" * 100)
    assert bbzip("-S", ".zz", "a").returncode == 0
    assert listing(tmp_path) == {"a.zz"}
    r = bbzip("-d", "a.zz")  # default suffix: refused
    assert r.returncode == 2
    assert listing(tmp_path) == {"a.zz"}
    assert bbzip("decompress", "--suffix", ".zz", "a.zz").returncode == 0
    assert (tmp_path / "a").read_bytes() == b"abc" * 100


def test_existing_output_is_refused_without_force(bbzip, tmp_path):
    (tmp_path / "a").write_bytes(b"new data " * 50)
    (tmp_path / "a.bbz").write_bytes(b"precious")
    r = bbzip("a")  # gzip 1.12: a warning (status 2), shown even with -q
    assert r.returncode == 2
    assert "already exists; not overwritten" in one_error_line(r.stderr, "a.bbz")
    assert bbzip("-q", "a").stderr == r.stderr
    assert (tmp_path / "a.bbz").read_bytes() == b"precious"
    assert listing(tmp_path) == {"a", "a.bbz"}
    r = bbzip("-f", "a")
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {"a.bbz"}
    assert bbzip("-dc", "a.bbz").stdout == b"new data " * 50
    # The same rule when decompressing.
    (tmp_path / "a").write_bytes(b"precious")
    r = bbzip("-d", "a.bbz")
    assert r.returncode == 2
    one_error_line(r.stderr, "a")
    assert (tmp_path / "a").read_bytes() == b"precious"
    assert bbzip("-df", "a.bbz").returncode == 0
    assert (tmp_path / "a").read_bytes() == b"new data " * 50


def test_unknown_suffix_is_ignored_unless_stdout(bbzip, tmp_path):
    packed = api.compress(b"hello world\n")
    (tmp_path / "data.gz").write_bytes(packed)
    (tmp_path / ".bbz").write_bytes(packed)
    r = bbzip("-d", "data.gz", ".bbz")
    assert r.returncode == 2
    lines = r.stderr.decode().splitlines()
    assert lines == ["bbzip: data.gz: unknown suffix -- ignored", "bbzip: .bbz: unknown suffix -- ignored"]
    assert listing(tmp_path) == {"data.gz", ".bbz"}
    r = bbzip("-dc", "data.gz")
    assert (r.returncode, r.stdout) == (0, b"hello world\n")


def test_compressing_a_bbz_file_is_skipped_unless_force(bbzip, tmp_path):
    # gzip 1.12: "gzip: x.gz already has .gz suffix -- unchanged", status 0; -q silences it.
    (tmp_path / "x.bbz").write_bytes(b"whatever")
    r = bbzip("x.bbz")
    assert (r.returncode, r.stderr) == (0, b"bbzip: x.bbz: already has .bbz suffix -- unchanged\n")
    assert listing(tmp_path) == {"x.bbz"}
    assert (bbzip("-q", "x.bbz").returncode, bbzip("-q", "x.bbz").stderr) == (0, b"")
    r = bbzip("-c", "x.bbz")  # as gzip -c: compressed to stdout
    assert (r.returncode, r.stderr) == (0, b"")
    assert bbzip("-d", input=r.stdout).stdout == b"whatever"
    assert bbzip("-f", "x.bbz").returncode == 0
    assert listing(tmp_path) == {"x.bbz.bbz"}


def test_stdout_keeps_inputs_and_concatenates(bbzip, tmp_path):
    a, b = text_bytes(100, seed=1), random_bytes(5000, seed=2)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    r = bbzip("-c", "a", "b")
    assert r.returncode == 0
    assert listing(tmp_path) == {"a", "b"}
    (tmp_path / "ab.bbz").write_bytes(r.stdout)
    r = bbzip("-dc", "ab.bbz")
    assert (r.returncode, r.stdout) == (0, a + b)
    assert listing(tmp_path) == {"a", "b", "ab.bbz"}


def test_mode_and_mtime_are_carried(bbzip, tmp_path):
    f = tmp_path / "a"
    f.write_bytes(text_bytes(50))
    os.chmod(f, 0o640)
    mtime_ns = 1_234_567_890_123_456_789
    os.utime(f, ns=(mtime_ns, mtime_ns))
    assert bbzip("a").returncode == 0
    st = (tmp_path / "a.bbz").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o640, mtime_ns)
    os.chmod(tmp_path / "a.bbz", 0o604)
    assert bbzip("-d", "a.bbz").returncode == 0
    st = f.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o604, mtime_ns)


def test_non_regular_inputs_are_skipped(bbzip, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "target").write_bytes(b"linked data\n")
    (tmp_path / "link").symlink_to("target")
    r = bbzip("dir", "link")
    assert r.returncode == 2
    assert r.stderr.decode().splitlines() == [
        "bbzip: dir: is a directory -- ignored",
        "bbzip: link: is a symbolic link -- ignored",
    ]
    assert listing(tmp_path) == {"dir", "target", "link"}
    r = bbzip("-c", "link")  # -c reads through the link
    assert r.returncode == 0
    assert bbzip("-d", input=r.stdout).stdout == b"linked data\n"
    assert bbzip("-f", "link").returncode == 0  # -f compresses the link's target, drops the link
    assert listing(tmp_path) == {"dir", "target", "link.bbz"}
    assert (tmp_path / "target").read_bytes() == b"linked data\n"


# ---------------------------------------------------------------------------------------- failures


def _damage(kind: str, packed: bytes) -> bytes:
    if kind == "truncated":
        return packed[: len(packed) * 2 // 3]
    if kind == "wrong-magic":
        return b"NOPE" + packed[4:]
    if kind == "flipped":
        i = len(packed) // 2
        return packed[:i] + bytes([packed[i] ^ 0x40]) + packed[i + 1 :]
    if kind == "garbage":
        return random_bytes(3000, seed=5)
    assert kind == "empty"
    return b""


@pytest.mark.parametrize("kind", ["truncated", "wrong-magic", "flipped", "garbage", "empty"])
def test_damaged_input_fails_cleanly(bbzip, tmp_path, kind):
    bad = _damage(kind, api.compress(text_bytes(2000), coder="order0"))
    (tmp_path / "bad.bbz").write_bytes(bad)
    for args in (("-d", "bad.bbz"), ("test", "bad.bbz")):
        r = bbzip(*args)
        assert r.returncode == 1, (args, r)
        one_error_line(r.stderr, "bad.bbz")
        assert listing(tmp_path) == {"bad.bbz"}  # no output, no temp file, input kept
        assert (tmp_path / "bad.bbz").read_bytes() == bad
    r = bbzip("-d", input=bad)
    assert r.returncode == 1
    one_error_line(r.stderr, "stdin")


def test_multiple_files_one_failure(bbzip, tmp_path):
    a, b = text_bytes(200, seed=1), text_bytes(200, seed=2)
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    r = bbzip("a", "missing", "b")
    assert r.returncode == 1
    assert "No such file" in one_error_line(r.stderr, "missing")
    assert listing(tmp_path) == {"a.bbz", "b.bbz"}
    (tmp_path / "bad.bbz").write_bytes(b"BBZ? not really")
    r = bbzip("-d", "a.bbz", "bad.bbz", "b.bbz")
    assert r.returncode == 1
    one_error_line(r.stderr, "bad.bbz")
    assert listing(tmp_path) == {"a", "b", "bad.bbz"}
    assert ((tmp_path / "a").read_bytes(), (tmp_path / "b").read_bytes()) == (a, b)


def test_test_command(bbzip, tmp_path):
    (tmp_path / "a").write_bytes(text_bytes(100))
    assert bbzip("-k", "a").returncode == 0
    before = listing(tmp_path)
    r = bbzip("test", "a.bbz")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    r = bbzip("-tv", "a.bbz")
    assert (r.returncode, r.stderr) == (0, b"a.bbz:\t OK\n")
    assert listing(tmp_path) == before
    r = bbzip("test", "a.bbz", "a")  # a plain file is not a .bbz stream
    assert r.returncode == 1
    one_error_line(r.stderr, "a")


def test_info_shows_counts_sizes_and_ratio(bbzip, tmp_path):
    data = text_bytes(1500)
    (tmp_path / "t").write_bytes(data)
    (tmp_path / "r").write_bytes(random_bytes(20_000))
    assert bbzip("compress", "--coder", "order0", "t").returncode == 0
    assert bbzip("compress", "--coder", "stored", "r").returncode == 0
    r = bbzip("info", "t.bbz", "r.bbz")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for word in ("order0", "stored", str(len(data)), "20000", "Bits/byte", "Ratio"):
        assert word in out, out
    t_row = next(line for line in out.splitlines() if line.startswith("t.bbz"))
    assert str((tmp_path / "t.bbz").stat().st_size) in t_row.split()
    assert "total" in out
    r = bbzip("-l", "t.bbz", "nothing.bbz")  # a bad file is reported, the rest listed
    assert r.returncode == 1
    assert str(len(data)) in r.stdout.decode()
    one_error_line(r.stderr, "nothing.bbz")


def test_info_table_bits_per_pixel_and_model_prefix(capsys):
    image = api.BlockInfo("vae", "0123456789abcdef", raw_size=7840, payload_size=980, pixels=7840)
    text = api.BlockInfo("order0", "", raw_size=1000, payload_size=500)
    cli_listing.info_table([
        ("img.bbz", api.StreamInfo(1, [image, text], raw_size=8840, compressed_size=1500)),
        ("txt.bbz", api.StreamInfo(1, [text], raw_size=1000, compressed_size=520)),
    ])
    lines = capsys.readouterr().out.splitlines()
    assert "Bits/pixel" in lines[0]
    img = lines[2].split()
    assert img[:3] == ["img.bbz", "1", "2"]
    assert "01234567" in img and "0123456789abcdef" not in lines[2]
    # raw, compressed, ratio, bits/byte, and bits/pixel from the image blocks' payload only
    assert img[-5:] == ["8840", "1500", "5.893", "1.357", "1.000"]
    assert lines[3].split()[-5:] == ["1000", "520", "1.923", "4.160", "-"]
    cli_listing.info_table([("txt.bbz", api.StreamInfo(1, [text], 1000, 520))])
    assert "Bits/pixel" not in capsys.readouterr().out


# ----------------------------------------------------------------------- terminals, pipes, signals


def _pty() -> tuple[int, int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return master, slave


def _drain(fd: int, sink: bytearray) -> threading.Thread:
    def loop():
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO once the last writer closed the pty
                return
            if not chunk:
                return
            sink.extend(chunk)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def test_terminals_are_refused_without_force(exe, tmp_path):
    master, slave = _pty()
    try:
        r = subprocess.run([exe], check=False, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                           timeout=60)
        assert r.returncode == 1
        assert r.stderr.startswith(b"bbzip: compressed data not written to a terminal")
        r = subprocess.run([exe, "-d"], check=False, stdin=slave, capture_output=True, timeout=60)
        assert r.returncode == 1
        assert r.stderr.startswith(b"bbzip: compressed data not read from a terminal")
        r = subprocess.run([exe, "-f"], check=False, stdin=subprocess.DEVNULL, stdout=slave,
                           stderr=subprocess.PIPE, timeout=60)
        assert (r.returncode, r.stderr) == (0, b"")
    finally:
        os.close(slave)
        os.close(master)


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_only_on_a_terminal_for_slow_runs(exe, tmp_path, quiet):
    """tqdm's delay=: a run that is over quickly draws nothing; a slow one draws a bar."""
    (tmp_path / "small").write_bytes(bytes(1 << 20))
    master, slave = _pty()
    seen = bytearray()
    try:
        q = ["-q"] if quiet else []
        fast = subprocess.run([exe, "-c", *q, "small"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=slave, timeout=60, check=False)
        assert fast.returncode == 0
        p = subprocess.Popen([exe, "--coder", "stored", *q], cwd=tmp_path, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        reader = _drain(master, seen)
        p.stdin.write(bytes(api.BLOCK_SIZE + 1))  # one block coded at once, the next one late
        p.stdin.flush()
        time.sleep(PROGRESS_DELAY_S + 1)
        p.stdin.write(bytes(1000))
        p.stdin.close()
        assert p.wait(timeout=60) == 0
        reader.join(timeout=10)
    finally:
        os.close(master)
    if quiet:
        assert seen == b""
    else:
        assert seen.count(b"B/s") >= 1 and seen.startswith(b"\rstdin:"), bytes(seen)


def test_broken_pipe_exits_quietly(bbzip, exe, tmp_path):
    (tmp_path / "big").write_bytes(bytes(8 << 20))
    assert bbzip("--coder", "stored", "big").returncode == 0
    for args in (["-dc", "big.bbz"], ["-c", "--coder", "stored", "big.bbz"]):
        p = subprocess.Popen([exe, "-f", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        assert len(p.stdout.read(10)) == 10
        p.stdout.close()  # as `| head -c 10` does
        err = p.stderr.read()
        p.wait(timeout=60)
        assert err == b"", err.decode()
        assert p.returncode == -signal.SIGPIPE  # like gzip; tar tolerates it
    assert listing(tmp_path) == {"big.bbz"}


def test_shell_pipeline_into_head(exe, tmp_path):
    data = random_bytes(4 << 20, seed=11)
    (tmp_path / "r").write_bytes(data)
    r = subprocess.run(
        f"'{exe}' -c r | '{exe}' -d | head -c 10", check=False, shell=True, cwd=tmp_path,
        capture_output=True, timeout=60,
    )
    assert (r.stdout, r.stderr) == (data[:10], b"")


def _wait_blocked_reading(pid: int, d: Path) -> None:
    """Wait until bbzip has its temp output open and sleeps reading the FIFO.

    A signal that lands just before the blocking read() starts is only acted on once read()
    returns (CPython runs Python handlers between bytecodes), so the test waits until the
    process sleeps in the kernel's pipe read, where a signal interrupts it at once.
    """
    wchan = Path(f"/proc/{pid}/wchan")
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, "bbzip never started its output"
        if any(n.endswith(".tmp") for n in listing(d)):
            where = wchan.read_text() if wchan.exists() else "0"
            if where in ("", "0"):  # no /proc, or the kernel hides it: give it time instead
                time.sleep(0.5)
                return
            if "pipe" in where:
                return
        time.sleep(0.01)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_removes_partial_output(exe, tmp_path, sig, status):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = subprocess.Popen([exe, "-f", "fifo"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "wb") as w:  # opens once bbzip opens the other end
            w.write(b"some input that never ends\n" * 100)
            w.flush()
            _wait_blocked_reading(p.pid, tmp_path)
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
    except BrokenPipeError:
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == status
    assert (out, err) == (b"", b"")
    assert listing(tmp_path) == {"fifo"}  # temp file gone, no fifo.bbz, input still there


# ------------------------------------------------------------------------------ images and models


def _idx(count: int, seed: int = 5) -> bytes:
    rng = random.Random(seed)
    header = struct.pack(">IIII", 0x803, count, 28, 28)
    return header + bytes(rng.choice((0, 0, 0, 255, 128)) for _ in range(count * 784))


@pytest.mark.parametrize("tail", ["extra", "cut"])
def test_forced_vae_codes_the_images_and_the_rest_with_auto(bbzip, tmp_path, tail):
    data = _idx(2) + b"trailing bytes" if tail == "extra" else _idx(2)[:-100]
    (tmp_path / "d.idx").write_bytes(data)
    r = bbzip("compress", "--coder", "vae", "-k", "d.idx")
    assert (r.returncode, r.stderr) == (0, b"")
    assert "vae" in bbzip("info", "d.idx.bbz").stdout.decode()
    assert bbzip("-dc", "d.idx.bbz").stdout == data


def test_model_given_for_other_input_is_said_with_v(bbzip, tmp_path):
    model = Path(__file__).parent.parent / "models" / "mnist-vae.npz"
    (tmp_path / "t").write_bytes(text_bytes(20))
    r = bbzip("-c", "--model", str(model), "t")
    assert (r.returncode, r.stderr) == (0, b"")
    r = bbzip("-cv", "--model", str(model), "t")
    assert r.returncode == 0
    assert "t: not an image format bbzip knows; --model ignored" in r.stderr.decode()


def test_a_natural_model_given_with_coder_natural_is_used(bbzip, tmp_path):
    """--coder natural --model FILE codes with that file (what `bbzip train photos/` makes),
    and -v does not call it ignored."""
    from bbzip.vae.model import manifest

    model = Path(__file__).parent.parent / "models" / "natural-vae.npz"
    photo = (Path(__file__).parent / "data" / "natural-rgb-31x24.ppm").read_bytes()
    (tmp_path / "p.ppm").write_bytes(photo)
    r = bbzip("-cv", "--coder", "natural", "--model", str(model), "p.ppm")
    assert r.returncode == 0 and "ignored" not in r.stderr.decode()
    (tmp_path / "p.ppm.bbz").write_bytes(r.stdout)
    wanted = {e["name"]: e["sha256"][:16] for e in manifest()}["natural-vae"]
    assert wanted in bbzip("info", "--json", "p.ppm.bbz").stdout.decode()
    assert bbzip("-dc", "p.ppm.bbz").stdout == photo
