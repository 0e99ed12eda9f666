"""File handling for the CLI: safe inputs, atomic outputs, metadata copy, input removal.

The one invariant: at every instant either the input is intact, or a complete, synced output
exists beside it. Outputs are written to a temp file in the target's directory and renamed into
place only once fully written; the input is removed only after that rename is durable.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


def _mkstemp(*args, **kwargs):
    import tempfile  # only when writing a file: not on the -c path, and it is slow to import

    return tempfile.mkstemp(*args, **kwargs)


class Skipped(Exception):
    """An input bbzip will not touch (a directory, a symlink, a device...): a warning, not an error."""


def open_input(path: str, *, allow_special: bool) -> tuple[BinaryIO, os.stat_result]:
    """Open `path` for reading and return it with its stat (taken from the open descriptor).

    Directories are always refused. Symlinks, FIFOs, devices, sockets and files with other hard
    links are refused unless `allow_special` (the CLI's -f or -c); then symlinks are followed and
    special files are read.
    """
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        raise Skipped("is a directory")
    if not allow_special:
        if stat.S_ISLNK(st.st_mode):
            raise Skipped("is a symbolic link")
        if not stat.S_ISREG(st.st_mode):
            raise Skipped("is not a regular file")
    # O_NOFOLLOW closes the window between lstat and open when links are not allowed.
    flags = os.O_RDONLY | (0 if allow_special else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise Skipped("is a directory")
        if not allow_special and not stat.S_ISREG(st.st_mode):
            raise Skipped("is not a regular file")
        if not allow_special and st.st_nlink > 1:
            # As gzip: removing one name of a hard-linked file would not free its data.
            others = st.st_nlink - 1
            raise Skipped(f"has {others} other link{'s' if others > 1 else ''}")
        return os.fdopen(fd, "rb"), st
    except BaseException:
        os.close(fd)
        raise


def copy_metadata(fd: int, st: os.stat_result) -> None:
    """Give the open file `fd` the owner (when allowed), permission bits and times of `st`.

    Call it after the last write: writing updates the mtime.
    """
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except OSError:
        try:  # not root: keeping the group may still be allowed
            os.fchown(fd, -1, st.st_gid)
        except OSError:
            pass
    # Permission bits only: setuid/setgid/sticky are not carried onto a new file.
    os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def _sync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


# The signals that end a run: held while a temp file is created here, and turned into an
# unwinding exception by the CLI so that temp files are removed.
FATAL_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


@contextmanager
def _signals_held() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, FATAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _naming(e: OSError, target: str) -> OSError:
    """The same error about `target`, so users see their file's name, not our temp name."""
    return type(e)(e.errno, e.strerror, target)


def _publish(tmp: str, target: str, overwrite: bool) -> None:
    """Move the finished temp file to `target`; never clobber unless `overwrite`."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        # link() fails with EEXIST instead of replacing: no race with a file created meanwhile.
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT, some network filesystems): check, then rename.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target) from None
        os.replace(tmp, target)
    else:
        os.unlink(tmp)


@contextmanager
def atomic_output(
    target: str,
    *,
    overwrite: bool = False,
    like: os.stat_result | None = None,
    durable: bool = True,
) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes `target` only if the block completes.

    On success: flush, copy owner/mode/times from `like`, fsync, rename into place (and with
    `durable`, sync the directory so the rename survives a crash before the input is removed).
    On any exception, KeyboardInterrupt included, the temp file is removed and `target` is
    untouched.
    """
    directory = os.path.dirname(target) or "."
    tmp = None
    f = None
    try:
        # A signal arriving while mkstemp runs would leave a temp file nobody knows about:
        # hold signals until `tmp` is recorded; one that came meanwhile is raised right after.
        with _signals_held():
            try:
                fd, tmp = _mkstemp(prefix=".bbzip-", suffix=".tmp", dir=directory)
            except OSError as e:
                raise _naming(e, target) from None
        f = os.fdopen(fd, "wb")
        yield f
        f.flush()
        if like is not None:
            copy_metadata(f.fileno(), like)
        os.fsync(f.fileno())
        f.close()
        try:
            _publish(tmp, target, overwrite)
        except OSError as e:
            raise _naming(e, target) from None
        if durable:
            _sync_dir(directory)
    except BaseException:
        if tmp is not None:
            try:
                if f is not None:
                    f.close()
                else:
                    os.close(fd)
            except OSError:
                pass  # e.g. the buffered tail cannot be flushed to a full disk; it is discarded
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def remove_input(path: str) -> None:
    """Delete the input once its output is complete (the caller guarantees the order)."""
    os.unlink(path)
