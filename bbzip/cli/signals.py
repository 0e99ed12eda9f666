"""How a bbzip process ends on a signal or a closed pipe.

SIGINT, SIGTERM and SIGHUP unwind like Ctrl-C, so `fileio.atomic_output` removes its temp file,
and the process exits with 128 + the signal's number. A closed stdout ends the run as gzip's
does: killed by SIGPIPE, or, for a caller that ignores SIGPIPE, one line and status 1.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from bbzip.cli.output import say
from bbzip.fileio import FATAL_SIGNALS

ERROR = 1


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame) -> NoReturn:
    for s in FATAL_SIGNALS:  # ignore repeats while unwinding
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def install_handlers() -> None:
    for s in FATAL_SIGNALS:
        try:
            if signal.getsignal(s) is not signal.SIG_IGN:  # e.g. nohup: stay ignored
                signal.signal(s, _on_signal)
        except ValueError:
            return  # not the main thread: leave signals alone


def exit_status(exc: KeyboardInterrupt) -> int:
    return 128 + getattr(exc, "signum", signal.SIGINT)


def leave(status: int) -> NoReturn:
    """End at once after a fatal signal, once the run has unwound (temp files removed).

    A normal exit would finalise the interpreter, and freeing a zstd context waits for its
    worker threads to finish their jobs: seconds in the middle of a block. Nothing is
    flushed to stdout: what the interrupted run buffered is no output anyone asked for."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os._exit(status)


def _caller_ignores_sigpipe() -> bool:
    """Did bbzip inherit SIGPIPE ignored (a `trap '' PIPE` script)?

    CPython sets SIGPIPE to ignored before any of our code runs, so the inherited disposition
    cannot be read; the parent's is the best evidence (children inherit ignored signals). A
    Python parent is the exception: it ignores SIGPIPE and SIGXFSZ itself but resets both in
    the children it starts, so a parent ignoring both tells nothing and reads as "default".
    """
    if not hasattr(signal, "SIGXFSZ"):
        return False
    try:
        with open(f"/proc/{os.getppid()}/status", encoding="ascii", errors="replace") as f:
            mask = next((ln.split()[1] for ln in f if ln.startswith("SigIgn:")), "0")
        ignored = int(mask, 16)
    except (OSError, ValueError, IndexError):
        return False

    def has(sig: int) -> bool:
        return bool(ignored >> (sig - 1) & 1)

    return has(signal.SIGPIPE) and not has(signal.SIGXFSZ)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush of what is still buffered
    cannot print "Exception ignored ... BrokenPipeError" (or ENOSPC) after we are done."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def broken_pipe() -> NoReturn:
    """stdout's reader went away. With SIGPIPE at its default the caller expects us to die of
    it quietly, as gzip does (tar tolerates a SIGPIPE'd filter but fails on one that exits
    non-zero); a caller that ignores SIGPIPE gets what cat and gzip then give: one line and 1."""
    _silence_stdout()
    if _caller_ignores_sigpipe() or not hasattr(signal, "SIGPIPE"):
        say("stdout: Broken pipe")
        sys.exit(ERROR)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    sys.exit(ERROR)


def output_failed(exc: OSError) -> NoReturn:
    """Writing stdout failed outside a file's run (--help, --version, -l to /dev/full)."""
    _silence_stdout()
    say(f"stdout: {exc.strerror or exc}")
    sys.exit(ERROR)
