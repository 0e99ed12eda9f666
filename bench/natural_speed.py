"""The natural-image coder's speed as whole processes: seconds per million subpixels to
compress (``bbzip -k``) and decompress (``bbzip -dk``) PPM/PGM photos, with the compiled
kernels and with the numpy path alone (BBZIP_KERNELS=numpy), at -T1 and at the default -T.

    python -m bench.natural_speed PHOTO.ppm [...] [--runs N] [--variants compiled,numpy]

Wall time (best of N runs) and the CPU time of the child process (user + sys, its median);
each file's round trip is checked byte for byte. A first run that compiles numba's kernels
(cold cache) is reported apart: ``--cold`` empties numba's cache of bbzip.natural first.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bbzip.natural

BBZIP = [sys.executable, "-m", "bbzip"]


def _subpixels(path: Path) -> int:
    from bbzip.natural.images import load_image_file

    return load_image_file(path).size


def _run(args: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU of the child) seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _clear_numba_cache() -> None:
    cache = Path(bbzip.natural.__file__).parent / "__pycache__"
    for module in ("kernels", "fused"):
        for entry in cache.glob(f"{module}.*.nb[ic]"):
            entry.unlink()


def measure(photos: list[Path], variant: str, threads: str, runs: int) -> dict:
    env = {**os.environ}
    env.pop("BBZIP_KERNELS", None)
    if variant == "numpy":
        env["BBZIP_KERNELS"] = "numpy"
    flags = [] if threads == "default" else [f"-T{threads}"]
    totals = {"compress": [0.0, []], "decompress": [0.0, []]}
    with tempfile.TemporaryDirectory() as work:
        for photo in photos:
            copy = Path(work) / photo.name
            shutil.copyfile(photo, copy)
            for step, args in (("compress", ["-kf", str(copy)]), ("decompress", ["-dkf", f"{copy}.bbz"])):
                times = [_run(BBZIP + flags + args, env) for _ in range(runs)]
                totals[step][0] += min(wall for wall, _ in times)
                totals[step][1].append(statistics.median(cpu for _, cpu in times))
            if copy.read_bytes() != photo.read_bytes():
                raise SystemExit(f"{photo}: the round trip changed the file")
    million = sum(_subpixels(p) for p in photos) / 1e6
    return {step: (wall / million, sum(cpu) / million) for step, (wall, cpu) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--variants", default="compiled,numpy")
    parser.add_argument("--threads", default="1,default")
    parser.add_argument("--cold", action="store_true", help="empty numba's cache first and time that run too")
    args = parser.parse_args()
    million = sum(_subpixels(p) for p in args.photos) / 1e6
    print(f"{len(args.photos)} photos, {million:.2f} M subpixels; s per million subpixels (wall best of "
          f"{args.runs} / child CPU)")
    if args.cold:
        _clear_numba_cache()
        cold = measure(args.photos[:1], "compiled", "1", 1)
        print(f"cold numba cache, first photo: compress {cold['compress'][0]:.2f} / decompress "
              f"{cold['decompress'][0]:.2f} s per M (wall)")
    for variant in args.variants.split(","):
        for threads in args.threads.split(","):
            result = measure(args.photos, variant, threads, args.runs)
            print(f"{variant:8s} -T{threads:8s} compress {result['compress'][0]:6.2f} wall {result['compress'][1]:6.2f} "
                  f"cpu   decompress {result['decompress'][0]:6.2f} wall {result['decompress'][1]:6.2f} cpu",
                  flush=True)


if __name__ == "__main__":
    main()
