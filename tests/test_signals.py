"""SIGTERM in the middle of the work ends bbzip within 0.5 s, with no output left behind:
compressing one large block at -6 -T2 (zstd's finish() is one long C call) and training
(torch's work and its shutdown). Through the installed console script, as users run it."""

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bbzip.coders import zstd_coder

PROMPT_S = 0.5


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _terminate_when_busy(p: subprocess.Popen, cpu: float) -> float:
    """SIGTERM once the process has used ``cpu`` seconds (it is then mid-work); the seconds
    it takes to end after that."""
    deadline = time.monotonic() + 120
    while _cpu_seconds(p.pid) < cpu:
        assert p.poll() is None, "bbzip ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    start = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    return time.monotonic() - start


def _words(size: int) -> bytes:
    """Text-like bytes that zstd's slower settings take a while over."""
    rng = np.random.default_rng(3)
    vocabulary = np.array([w.encode() for w in ["the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see"]])
    picks = vocabulary[rng.zipf(1.3, size // 3) % len(vocabulary)]
    return b" ".join(picks)[:size]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_mid_block_ends_compression_at_once(exe, tmp_path):
    (tmp_path / "big").write_bytes(_words(zstd_coder.JOB_BYTES - 1))  # one block, one long zstd call
    p = subprocess.Popen([exe, "-7", "-T2", "big"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = _terminate_when_busy(p, cpu=0.8)
    assert p.returncode == 128 + signal.SIGTERM
    assert took < PROMPT_S, f"{took:.2f} s to obey SIGTERM"
    assert sorted(os.listdir(tmp_path)) == ["big"]  # no big.bbz, no temp file
    assert p.stdout.read() == b""


@pytest.mark.slow  # torch's import and a few seconds of training
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_ends_training_at_once(exe, tmp_path):
    pytest.importorskip("torch")
    digits = (Path(__file__).parent / "data" / "t10k-first8-idx3-ubyte").read_bytes()
    images = np.tile(np.frombuffer(digits[16:], np.uint8), 250)
    (tmp_path / "d.idx").write_bytes(digits[:4] + (2000).to_bytes(4, "big") + digits[8:16] + images.tobytes())
    p = subprocess.Popen([exe, "train", "d.idx", "-o", "m.npz", "--minutes", "5", "-q"], cwd=tmp_path,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = _terminate_when_busy(p, cpu=6.0)  # torch imported, training under way
    assert p.returncode == 128 + signal.SIGTERM
    assert took < PROMPT_S, f"{took:.2f} s to obey SIGTERM"
    assert sorted(os.listdir(tmp_path)) == ["d.idx"]  # no model file, no temp file
