"""Peak memory of a command and every process it starts, as a user's `top` would add it up.

A thread samples /proc every SAMPLE_S seconds (sooner at first): the sum of the tree's current RSS (a pool of
workers holds memory in several processes at once) and each process's own high-water mark
(VmHWM, which catches spikes between samples). The peak is the larger. Not ``ru_maxrss``:
Linux carries the forking parent's RSS into it, so every child would look as big as the bench.
A command that ends before the first sample reports None.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

# Quick first samples so that short commands get one; then 50 ms (a scan of /proc costs
# about 1.5 ms of CPU, which the measured command's core may have to share).
FIRST_SAMPLES_S = (0.005, 0.005, 0.01, 0.02)
SAMPLE_S = 0.05


def process_tree() -> dict[int, list[int]]:
    """Every process's children, from one scan of /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # the name is in parentheses and may hold spaces: fields start after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; zeros once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return rss, hwm


def tree_rss_kib(root: int) -> int:
    """The larger of the summed resident memory of `root` and its descendants now, and the
    largest high-water mark among them."""
    tree, total, highest, todo = process_tree(), 0, 0, [root]
    while todo:
        pid = todo.pop()
        rss, hwm = _memory_kib(pid)
        total, highest = total + rss, max(highest, hwm)
        todo += tree.get(pid, [])
    return max(total, highest)


def tree_pss_kib(root: int) -> int:
    """The summed PSS of ``root`` and its descendants now (KiB)."""
    children, total, todo = process_tree(), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            pass
        todo += children.get(pid, [])
    return total


def run_with_peak(argv: list[str], **popen: Any) -> tuple[int, float | None]:
    """Run argv to the end; return its exit status and the peak RSS of its tree in MB (MiB)."""
    proc = subprocess.Popen(argv, **popen)
    peak, done = [0], threading.Event()

    def sample() -> None:
        waits = iter(FIRST_SAMPLES_S)
        while not done.wait(next(waits, SAMPLE_S)):
            peak[0] = max(peak[0], tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    has_proc = os.path.isdir("/proc")
    if has_proc:
        sampler.start()
    try:
        proc.wait()
    finally:
        done.set()
        if has_proc:
            sampler.join()
    return proc.returncode, peak[0] / 1024 if peak[0] else None
