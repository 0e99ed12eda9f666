"""What bbzip prints: one-line messages on stderr, progress bars, consoles for tables.

Shared by the file commands and model_commands.py. rich and tqdm are imported only where a
table or a bar is really shown (start-up time matters: batch jobs run bbzip per file).
"""

from __future__ import annotations

import sys

PROG = "bbzip"
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
# A bar appears only once a run has taken this long: short runs stay silent.
PROGRESS_DELAY_S = 1.0


def line(text: str) -> None:
    """One line on stderr. A file name that is not valid in the locale's encoding comes back
    as the bytes the user gave (as gzip prints it), not as a \\udcXX escape."""
    err = sys.stderr
    if err is None:  # started with fd 2 closed
        return
    encoding = getattr(err, "encoding", None) or "utf-8"
    try:
        data = (text + "\n").encode(encoding, "surrogateescape")
    except UnicodeEncodeError:
        data = (text + "\n").encode(encoding, "backslashreplace")
    buffer = getattr(err, "buffer", None)
    if buffer is None:  # a text-only stream (a test's capture): no bytes to give it
        err.write(data.decode(encoding, "replace"))
        err.flush()
        return
    err.flush()
    buffer.write(data)
    buffer.flush()


def say(message: str) -> None:
    line(f"{PROG}: {message}")


def display_name(name: str) -> str:
    return "stdin" if name == "-" else name


def saving(raw: int, packed: int) -> float:
    """Space saved in percent, as gzip -v and -l print it (negative when the output grew)."""
    return 0.0 if raw == 0 else 100.0 * (1.0 - packed / raw)


def isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


def console(file):
    """A rich Console for a table. Off a terminal rich would squeeze tables into 80 columns;
    there they are as wide as they are."""
    from rich.console import Console

    return Console(file=file, highlight=False, width=None if isatty(file) else 250)


class Progress:
    """The api's progress callback: a tqdm bar on a terminal stderr, drawn only once the run
    has taken PROGRESS_DELAY_S (tqdm's delay=), so quick files never flash one."""

    def __init__(self, desc: str, total: int | None, enabled: bool) -> None:
        self.done = 0
        self._bar = None
        if enabled:
            from tqdm import tqdm

            # No monitor thread: worker processes are forked only from a process with one
            # thread (bbzip.parallel_processes), and the bar is updated often enough anyway.
            tqdm.monitor_interval = 0
            self._bar = tqdm(total=total, desc=desc.encode(errors="surrogateescape").decode(errors="replace"),
                             unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False,
                             dynamic_ncols=True, delay=PROGRESS_DELAY_S)

    def __call__(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
