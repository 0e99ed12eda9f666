"""The photos bench's processes: each codec as a Python process of its own, and a process run to
its end with its wall and CPU time and the peak memory of its tree (bench/photos.py)."""

from __future__ import annotations

import os
import subprocess
import threading
import time

from bench.rss import tree_pss_kib

SAMPLE_S = 0.25  # coding phases last seconds; a scan of /proc costs a few ms
FIRST_SAMPLE_S = 0.01  # doubled after each sample up to SAMPLE_S

# The other codecs, each as a script run by a Python process of its own: argv = mode, in, out.
CODEC_SCRIPT = """
import sys, numpy as np, imagecodecs as ic
mode, src, dst = sys.argv[1:4]
threads = {threads}
if mode == "c":
    data = open(src, "rb").read()
    fields = data.split(maxsplit=4)
    w, h = int(fields[1]), int(fields[2])
    image = np.frombuffer(data[len(data) - w * h * 3:], np.uint8).reshape(h, w, 3)
    out = {encode}
    open(dst, "wb").write(bytes(out))
else:
    image = np.asarray(({decode})(open(src, "rb").read()))
    h, w = image.shape[:2]
    open(dst, "wb").write(b"P6\\n%d %d\\n255\\n" % (w, h) + np.ascontiguousarray(image[..., :3]).tobytes())
"""
CODECS = {
    "JPEG XL e7": ("ic.jpegxl_encode(image, lossless=True, effort=7, numthreads=threads)",
                   "lambda b: ic.jpegxl_decode(b, numthreads=threads)"),
    # cwebp -lossless's defaults: at its best (level 100, method 6, the natural table's) about 9 CPU s/M
    "WebP lossless": ("ic.webp_encode(image, level=75, lossless=True, method=4)", "ic.webp_decode"),
    "PNG (zlib 9)": ("ic.png_encode(image, level=9)", "ic.png_decode"),
}


def user_env(**extra: str) -> dict:
    """The environment a user's shell gives: without the OPENBLAS_NUM_THREADS=1 that `make bench`
    sets for the bench's own process (bbzip's natural coder reads it)."""
    return {**{k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}, **extra}


def run_measured(argv: list[str], stdout=None, env: dict | None = None) -> dict:
    """Run argv to its end: wall and CPU seconds (its whole tree), peak summed PSS in MB."""
    env = env or user_env()
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, env=env)
    peak, done = [0], threading.Event()

    def sample() -> None:
        # The first samples come fast: a small photo's decode is over in a fraction of a second.
        wait = FIRST_SAMPLE_S
        while True:
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))
            if done.wait(wait):
                return
            wait = min(2 * wait, SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    lines = err.decode(errors="replace").strip().splitlines()
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": cpu, "peak_mb": peak[0] / 1024 if peak[0] else None,
            "error": lines[-1] if lines else ""}
