"""Where bbzip shares an option with gzip it does what gzip 1.12 does.

Each behaviour runs twice through the same assertions: once with the gzip installed on this
machine (the reference: the test shows what gzip does) and once with the bbzip console
script. Where bbzip differs on purpose (trailing garbage stays an error; messages put a
colon after the file name, as all of bbzip's do) the test says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import listing, text_bytes


class Tool:
    def __init__(self, name: str, path: str, suffix: str) -> None:
        self.name, self.path, self.suffix = name, path, suffix

    def __call__(self, *args: str, cwd: Path, input: bytes | None = None, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([self.path, *args], cwd=cwd, input=input, capture_output=True, timeout=120,
                              stdin=None if input is not None else subprocess.DEVNULL, check=False, **kw)

    def pack(self, data: bytes, cwd: Path) -> bytes:
        r = self("-c", cwd=cwd, input=data)
        assert r.returncode == 0, r.stderr
        return r.stdout


@pytest.fixture(params=["gzip", "bbzip"])
def tool(request, exe) -> Tool:
    if request.param == "gzip":
        path = shutil.which("gzip")
        if path is None:
            pytest.skip("gzip is not installed: nothing to compare with")
        version = subprocess.run([path, "--version"], capture_output=True, check=False).stdout
        if not version.startswith(b"gzip 1.12"):
            pytest.skip("the reference is gzip 1.12")
        return Tool("gzip", path, ".gz")
    return Tool("bbzip", exe, ".bbz")


def _lines(r: subprocess.CompletedProcess) -> list[str]:
    text = r.stderr.decode(errors="replace")
    assert "Traceback" not in text
    return [ln for ln in text.splitlines() if ln]  # gzip starts some messages with a blank line


def test_an_already_suffixed_input_is_left_alone_with_status_0(tool, tmp_path):
    name = "x" + tool.suffix
    (tmp_path / name).write_bytes(b"whatever")
    r = tool(name, cwd=tmp_path)
    assert r.returncode == 0
    assert re.fullmatch(rf"{tool.name}: {name}:? already has \{tool.suffix} suffix -- unchanged",
                        *_lines(r))
    assert tool("-q", name, cwd=tmp_path).stderr == b""
    assert listing(tmp_path) == {name}
    r = tool("-c", name, cwd=tmp_path)  # to stdout it is compressed like any other file
    assert (r.returncode, r.stderr) == (0, b"")
    assert tool("-dc", cwd=tmp_path, input=r.stdout).stdout == b"whatever"


def test_an_existing_output_is_a_warning_even_with_q(tool, tmp_path):
    (tmp_path / "a").write_bytes(b"new")
    (tmp_path / ("a" + tool.suffix)).write_bytes(b"precious")
    for args in (["a"], ["-q", "a"]):
        r = tool(*args, cwd=tmp_path)
        assert r.returncode == 2
        [message] = _lines(r)
        assert message.startswith(f"{tool.name}: a{tool.suffix}")
        assert re.search(r"already exists;\s+not overwritten$", message)
    assert (tmp_path / ("a" + tool.suffix)).read_bytes() == b"precious"


def test_dcf_copies_data_that_is_not_compressed_through(tool, tmp_path):
    plain = text_bytes(50)
    packed = tool.pack(b"packed part\n", tmp_path)
    (tmp_path / "plain").write_bytes(plain)
    (tmp_path / "mixed").write_bytes(packed + plain)
    r = tool("-dcf", "plain", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, plain, b"")
    r = tool("-dcf", "mixed", cwd=tmp_path)  # a compressed stream, then plain data
    assert (r.returncode, r.stdout, r.stderr) == (0, b"packed part\n" + plain, b"")
    r = tool("-df", cwd=tmp_path, input=plain)  # stdin to stdout: as -dcf
    assert (r.returncode, r.stdout) == (0, plain)
    r = tool("-dcf", cwd=tmp_path, input=b"")
    assert (r.returncode, r.stdout) == (0, b"")
    # Without -f, plain data is not compressed data: gzip calls a trailing part a warning
    # ("trailing garbage ignored", status 2); bbzip keeps it an error (status 1).
    assert tool("-dc", "plain", cwd=tmp_path).returncode == 1
    assert tool("-dc", "mixed", cwd=tmp_path).returncode == (2 if tool.name == "gzip" else 1)
    # Writing a file, -f does not turn plain data into an output.
    (tmp_path / ("p" + tool.suffix)).write_bytes(plain)
    assert tool("-df", "p" + tool.suffix, cwd=tmp_path).returncode == 1
    assert not (tmp_path / "p").exists()


def test_d_finds_the_compressed_file_by_its_suffix(tool, tmp_path):
    (tmp_path / "f").write_bytes(b"data\n")
    assert tool("f", cwd=tmp_path).returncode == 0
    assert listing(tmp_path) == {"f" + tool.suffix}
    r = tool("-dc", "f", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, b"data\n")
    r = tool("-d", "f", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, b"")
    assert listing(tmp_path) == {"f"}


def test_trailing_zero_bytes_are_padding(tool, tmp_path):
    name = "z" + tool.suffix
    (tmp_path / name).write_bytes(tool.pack(b"hello\n", tmp_path) + bytes(10240))
    for args in (["-dc", name], ["-t", name]):
        r = tool(*args, cwd=tmp_path)
        assert (r.returncode, r.stderr) == (0, b""), args
    assert tool("-dc", name, cwd=tmp_path).stdout == b"hello\n"
    r = tool("-d", cwd=tmp_path, input=tool.pack(b"x", tmp_path) + bytes(3))
    assert (r.returncode, r.stdout) == (0, b"x")


def test_recursive_walks_directories_quietly(tool, tmp_path):
    d = tmp_path / "d"
    (d / "e").mkdir(parents=True)
    (d / "one").write_bytes(b"1\n")
    (d / "e" / "two").write_bytes(b"2\n")
    (d / "e" / ("old" + tool.suffix)).write_bytes(tool.pack(b"old\n", tmp_path))
    r = tool("-r", "d", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, b"")  # the suffixed file is skipped without a word
    assert sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) == [
        f"e/old{tool.suffix}", f"e/two{tool.suffix}", f"one{tool.suffix}"]
    (d / "plain").write_bytes(b"p\n")
    r = tool("-dr", "d", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, b"")  # "plain" has no suffix: skipped quietly
    assert (d / "one").read_bytes() == b"1\n" and (d / "e" / "old").read_bytes() == b"old\n"
    assert tool("d", cwd=tmp_path).returncode == 2  # without -r a directory is skipped
    assert tool("-rv", "d", cwd=tmp_path).returncode == 0


def test_name_options_are_accepted(tool, tmp_path):
    (tmp_path / "a").write_bytes(b"a\n")
    for args in (["-n", "-k", "a"], ["--no-name", "-kf", "a"], ["-N", "-kf", "a"], ["--name", "-kf", "a"]):
        r = tool(*args, cwd=tmp_path)
        assert (r.returncode, r.stderr) == (0, b""), args
    r = tool("-dcN", "a" + tool.suffix, cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, b"a\n")


def test_level_options_combine_like_gzips(tool, tmp_path):
    data = text_bytes(200)
    for args in (["-9c"], ["-c1"], ["--fast", "-c"], ["--best", "-c"], ["-3", "-c", "-8"]):
        r = tool(*args, cwd=tmp_path, input=data)
        assert r.returncode == 0, (args, r.stderr)
        back = tool("-dc9", cwd=tmp_path, input=r.stdout)  # decompression ignores the level
        assert (back.returncode, back.stdout) == (0, data)


@pytest.mark.parametrize("ignored", [True, False], ids=["ignored", "default"])
def test_closed_output_pipe(tool, tmp_path, ignored):
    """A caller that ignores SIGPIPE sees status 1 and one line, as with cat; otherwise the
    process dies of SIGPIPE quietly (what tar expects of a filter)."""
    (tmp_path / "big").write_bytes(os.urandom(4 << 20))
    assert tool("-1", "big", cwd=tmp_path).returncode == 0
    trap = "trap '' PIPE; " if ignored else ""
    # bash starts the tool with the caller's disposition (ignored signals stay ignored).
    script = f"{trap}'{tool.path}' -dc big{tool.suffix} | head -c 10 >/dev/null; echo \"status ${{PIPESTATUS[0]}}\" >&2"
    r = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, timeout=120, check=False)
    lines = r.stderr.decode().splitlines()
    if ignored:
        assert re.fullmatch(rf"{tool.name}: stdout: Broken pipe", lines[-2]), lines
        assert lines[-1] == "status 1"
    else:
        assert lines == [f"status {128 + signal.SIGPIPE}"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-l", "NAME"]])
def test_output_errors_are_one_line_and_status_1(tool, tmp_path, args):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    (tmp_path / "a").write_bytes(b"a\n")
    assert tool("a", cwd=tmp_path).returncode == 0
    args = [a.replace("NAME", "a" + tool.suffix) for a in args]
    with open("/dev/full", "wb") as full:
        r = subprocess.run([tool.path, *args], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE,
                           timeout=60, check=False)
    assert r.returncode == 1
    [message] = _lines(r)
    assert message.startswith(f"{tool.name}: ") and message.endswith("No space left on device")


def test_list_has_gzips_layout(tool, tmp_path):
    (tmp_path / "t").write_bytes(text_bytes(400))
    (tmp_path / "u").write_bytes(b"tiny")
    assert tool("t", "u", cwd=tmp_path).returncode == 0
    sizes = {n: (tmp_path / (n + tool.suffix)).stat().st_size for n in "tu"}
    r = tool("-l", "t" + tool.suffix, cwd=tmp_path)
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "         compressed        uncompressed  ratio uncompressed_name"
    assert len(lines) == 2  # one file: no totals line
    r = tool("-l", "t" + tool.suffix, "u" + tool.suffix, cwd=tmp_path)
    _header, *rows = r.stdout.decode().splitlines()
    raw = {"t": len(text_bytes(400)), "u": 4}
    for row, name in zip(rows, ["t", "u", "(totals)"], strict=True):
        packed, unpacked, ratio, shown = row.split()
        assert row.startswith(" " * (19 - len(packed)) + packed)
        assert shown == name
        if name != "(totals)":
            assert (int(packed), int(unpacked)) == (sizes[name], raw[name])
            assert re.fullmatch(r"-?\d+\.\d%", ratio)
    assert int(rows[-1].split()[0]) == sum(sizes.values())
    assert int(rows[-1].split()[1]) == sum(raw.values())


def test_non_utf8_names_are_printed_as_their_bytes(tool, tmp_path):
    name = b"bad\xff"
    (tmp_path / os.fsdecode(name)).write_bytes(b"x")
    r = subprocess.run([tool.path, "-d", name], cwd=tmp_path, capture_output=True, timeout=60, check=False)
    assert r.returncode == 2
    assert r.stderr == tool.name.encode() + b": " + name + b": unknown suffix -- ignored\n"


# ------------------------------------------------------------------- bbzip only (no gzip analogue)


def test_info_json_gives_the_full_detail(exe, tmp_path):
    (tmp_path / "t").write_bytes(text_bytes(300))
    assert subprocess.run([exe, "compress", "--coder", "order0", "t"], cwd=tmp_path, check=False).returncode == 0
    r = subprocess.run([exe, "info", "--json", "t.bbz"], cwd=tmp_path, capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    [entry] = doc["files"]
    assert entry["file"] == "t.bbz" and entry["streams"] == 1 and entry["coders"] == {"order0": 1}
    assert entry["raw_size"] == len(text_bytes(300))
    assert entry["compressed_size"] == (tmp_path / "t.bbz").stat().st_size
    [block] = entry["block_list"]
    assert block["coder"] == "order0" and block["model_id"] is None and block["pixels"] == 0
    assert doc["totals"]["raw_size"] == entry["raw_size"]
