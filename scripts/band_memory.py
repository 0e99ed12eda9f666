"""Research (issue 17): peak PSS of the process tree (bench.rss.tree_pss_kib) and the wall and
CPU time of ``bbzip -T<threads>`` on one image, per band budget in KiB.

    python scripts/band_memory.py IMAGE.ppm [--threads 2] [--unit 32] [kib ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

from bench.rss import tree_pss_kib

CHILD = ("import sys; from bbzip.images import blocks; blocks.BAND_BYTES = int(sys.argv[1]) << 10;"
         " blocks.BAND_UNIT = int(sys.argv[2]); from bbzip.cli import main; sys.argv = ['bbzip'] + sys.argv[3:];"
         " sys.exit(main())")


def run(kib: int, unit: int, args: list[str]) -> tuple[int, float, float, float]:
    """Exit status, peak PSS (MiB), wall and CPU seconds of the tree."""
    out = open(f"/tmp/rate2/band{kib}.bbz", "wb")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(kib), str(unit), *args], stdout=out)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    start, cpu = time.monotonic(), os.times()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    return status, peak[0] / 1024, time.monotonic() - start, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unit", type=int, default=32)
    parser.add_argument("budgets", nargs="*", type=int, default=[512, 1024, 2048])
    args = parser.parse_args()
    for kib in args.budgets:
        status, peak, wall, cpu = run(kib, args.unit, ["-c", f"-T{args.threads}", args.image])
        print(f"band {kib} KiB unit {args.unit} -T{args.threads} compress: status {status} peak {peak:.0f} MiB wall {wall:.0f}s cpu {cpu:.0f}s size {os.path.getsize(f'/tmp/rate2/band{kib}.bbz')}", flush=True)


if __name__ == "__main__":
    main()
