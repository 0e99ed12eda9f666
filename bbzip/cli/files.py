"""gzip's file rules: which files to code, where outputs go, when inputs go, what a failure
costs. One Job per invocation; each named file runs in isolation (a failure is reported and
the next file still runs). File safety lives in fileio.py and coding in api.py.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from bbzip import api, container, fileio
from bbzip.cli import listing
from bbzip.cli.output import Progress, display_name, isatty, line, saving, say
from bbzip.errors import BBZError
from bbzip.parallel import usable_cores

OK, ERROR, WARNING = 0, 1, 2


class Job(NamedTuple):
    """What one invocation asks for, as parsed from the command line."""

    mode: str  # "compress" | "decompress" | "test" | "list" | "info"
    files: tuple[str, ...] = ()
    to_stdout: bool = False
    keep: bool = False
    force: bool = False
    quiet: bool = False
    verbose: bool = False
    coder: str = "auto"
    suffix: str = ".bbz"
    models: tuple[str, ...] = ()  # --model files: the one to compress with, or extra to search
    level: int = api.DEFAULT_LEVEL
    threads: int = 0  # 0: every core this process may use
    recursive: bool = False
    json: bool = False


class _Refused(Exception):
    """An existing output that is not overwritten: a warning about that file (as gzip)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


class _Unchanged(Exception):
    """A file left alone on purpose (gzip: "already has .gz suffix -- unchanged"): a notice
    that changes no exit status."""


class _UnknownSuffix(fileio.Skipped):
    """Not named like a compressed file: skipped (with -r only with -v, as gzip)."""

    def __init__(self) -> None:
        super().__init__("unknown suffix")


class _Run:
    """Exit status bookkeeping: any error gives 1; otherwise any warning gives 2."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.status = OK

    def error(self, name: str, reason: str) -> None:
        say(f"{name}: {reason}")
        self.status = ERROR

    def warn(self, name: str, reason: str, *, always: bool = False) -> None:
        if always or not self.job.quiet:
            say(f"{name}: {reason}")
        if self.status == OK:
            self.status = WARNING

    def note(self, text: str) -> None:
        if self.job.verbose and not self.job.quiet:
            line(text)

    def guard(self, name: str, action: Callable[[_Run, str], None]) -> None:
        """Run `action` on one file; a failure is reported and the next file still runs."""
        shown = display_name(name)
        try:
            action(self, name)
        except _UnknownSuffix as e:
            if self.job.verbose or not self.job.recursive:
                self.warn(shown, f"{e} -- ignored")
        except fileio.Skipped as e:
            self.warn(shown, f"{e} -- ignored")
        except _Unchanged as e:
            if self.job.verbose or not (self.job.quiet or self.job.recursive):
                say(f"{shown}: {e} -- unchanged")
        except _Refused as e:
            self.warn(e.name, str(e), always=True)
        except BrokenPipeError:
            raise  # stdout is gone: no later file can be written either
        except BBZError as e:
            self.error(shown, str(e) or type(e).__name__)
        except OSError as e:
            name = e.filename if isinstance(e.filename, str) else shown
            self.error(name, e.strerror or str(e))
        except Exception as e:  # noqa: BLE001 - a user sees one line, never a traceback
            if os.environ.get("BBZIP_TRACEBACK"):
                import traceback

                traceback.print_exc()
            self.error(shown, f"internal error: {type(e).__name__}: {e}")


# --------------------------------------------------------------------------- byte plumbing


class _Counter:
    """Counts the bytes written through it to `dst` (None: a sink that discards them)."""

    def __init__(self, dst: BinaryIO | None) -> None:
        self._dst = dst
        self.count = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        if self._dst is not None:
            # A buffered write can come back short without raising (CPython does so when a
            # pipe's reader leaves mid-write); writing the rest surfaces the real error.
            view = memoryview(data)
            while view:
                written = self._dst.write(view)
                if written is None or written >= len(view):
                    break
                if written <= 0:
                    raise OSError(errno.EIO, "short write")
                view = view[written:]
        self.count += n
        return n

    def flush(self) -> None:
        if self._dst is not None:
            self._dst.flush()

    def writable(self) -> bool:
        return True


def _stdin() -> BinaryIO:
    if sys.stdin is None:
        raise OSError(errno.EBADF, "standard input is closed")
    return sys.stdin.buffer


def _stdout() -> BinaryIO:
    if sys.stdout is None:
        raise OSError(errno.EBADF, "standard output is closed")
    return sys.stdout.buffer


def _code(run: _Run, name: str, src: BinaryIO, st: os.stat_result | None, dst,
          to_stdout: bool = False) -> tuple[int, int]:
    """Code `src` into `dst` (None: discard) as the job says; return (raw bytes, packed bytes)."""
    job = run.job
    size = st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None
    progress = Progress(display_name(name), size, not job.quiet and isatty(sys.stderr))
    out = _Counter(dst)
    try:
        if job.mode == "compress":
            model = job.models[-1] if job.models else None
            if model is not None and job.verbose:
                _say_if_model_unused(run, name, src)
            api.compress_stream(src, out, coder=job.coder, progress=progress, model=model,
                                level=job.level, threads=job.threads or usable_cores())
        else:
            try:
                api.decompress_stream(src, out, progress=progress, models=job.models,
                                      threads=job.threads or usable_cores())
            except container.OtherData as e:
                # As gzip -dcf (zcat -f): data that is not .bbz goes to stdout as it is.
                if not (to_stdout and job.force and job.mode == "decompress"):
                    raise
                _copy_through(e, src, out, progress)
        if size is not None:
            _check_unchanged(src, size)
        out.flush()
    finally:
        progress.close()
    read = size if size is not None else progress.done
    return (read, out.count) if job.mode == "compress" else (out.count, read)


def _copy_through(e: container.OtherData, src: BinaryIO, out: _Counter, progress: Progress) -> None:
    zeros = bytes(min(e.zeros, 1 << 20))
    left = e.zeros
    while left:
        out.write(zeros[: min(left, len(zeros))])
        left -= min(left, len(zeros))
    out.write(e.head)
    progress(e.zeros + len(e.head))
    while chunk := src.read(1 << 20):
        out.write(chunk)
        progress(len(chunk))


def _say_if_model_unused(run: _Run, name: str, src: BinaryIO) -> None:
    """-v: --model only serves image inputs; say so when this one is not an image."""
    if run.job.coder not in ("auto", "vae", "natural", "imagefile"):
        run.note(f"{display_name(name)}: --model ignored with --coder {run.job.coder}")
        return
    peek = getattr(src, "peek", None)
    if peek is None:
        return
    from bbzip.images.detect import sniff

    head = peek(4096)
    if sniff(head) is None and head[257:262] != b"ustar":  # tar members are looked into too
        run.note(f"{display_name(name)}: not an image format bbzip knows; --model ignored")


def _check_unchanged(src: BinaryIO, size: int) -> None:
    """Refuse the result when a regular input changed size while it was read (truncated or
    appended to by another process): the output would match no version of the file, and
    removing the input could lose what was written to it meanwhile. (The size is compared,
    not the bytes read: /proc and /sys files read fine with -c although their size is 0.)"""
    if os.fstat(src.fileno()).st_size != size:
        raise BBZError("file size changed while it was being read")


def _report(run: _Run, name: str, raw: int, packed: int, target: str | None) -> None:
    text = f"{display_name(name)}:\t{saving(raw, packed):5.1f}%"
    if target is not None:
        text += f" -- {'created' if run.job.keep else 'replaced with'} {target}"
    run.note(text)


# --------------------------------------------------------------------------- per-file actions


def _target(job: Job, name: str) -> str:
    """The output name gzip would give `name` in this mode."""
    if job.mode == "compress":
        if not job.force and name.endswith(job.suffix):
            raise _Unchanged(f"already has {job.suffix} suffix")
        return name + job.suffix
    base = os.path.basename(name)
    if not base.endswith(job.suffix) or len(base) == len(job.suffix):
        raise _UnknownSuffix()
    return name[: -len(job.suffix)]


def _transform(run: _Run, name: str) -> None:
    """Compress or decompress one file: to stdout, or to its target, then drop the input."""
    job = run.job
    if name == "-":
        raw, packed = _code(run, name, _stdin(), None, _stdout(), to_stdout=True)
        _report(run, name, raw, packed, None)
        return
    target = None if job.to_stdout else _target(job, name)
    src, st = fileio.open_input(name, allow_special=job.force or job.to_stdout)
    with src:
        if target is None:
            raw, packed = _code(run, name, src, st, _stdout(), to_stdout=True)
            _report(run, name, raw, packed, None)
            return
        if not job.force and os.path.lexists(target):
            raise _Refused(target, "already exists; not overwritten")
        with fileio.atomic_output(target, overwrite=job.force, like=st, durable=not job.keep) as f:
            raw, packed = _code(run, name, src, st, f)
    if not job.keep:
        fileio.remove_input(name)
    _report(run, name, raw, packed, target)


def _test(run: _Run, name: str) -> None:
    if name == "-":
        _code(run, name, _stdin(), None, None)
    else:
        src, st = fileio.open_input(name, allow_special=True)
        with src:
            _code(run, name, src, st, None)
    run.note(f"{display_name(name)}:\t OK")


def _list_all(run: _Run, files: tuple[str, ...]) -> None:
    rows = []

    def one(run: _Run, name: str) -> None:
        if name == "-":
            rows.append(("stdout" if run.job.mode == "list" else "stdin", api.stream_info(_stdin())))
            return
        src, _ = fileio.open_input(name, allow_special=True)
        with src:
            info = api.stream_info(src)
        if run.job.mode == "list":  # gzip lists the name the file decompresses to
            base = os.path.basename(name)
            if base.endswith(run.job.suffix) and len(base) > len(run.job.suffix):
                name = name[: -len(run.job.suffix)]
        rows.append((name, info))

    for name in files:
        run.guard(name, one)
    if run.job.mode == "list":
        listing.gzip_list(rows, totals=len(files) > 1, header=not run.job.quiet)
    elif run.job.json:
        listing.info_json(rows)
    elif rows:
        listing.info_table(rows)


_ACTIONS = {"compress": _transform, "decompress": _transform, "test": _test}


def _names(run: _Run, files: tuple[str, ...]) -> Iterator[str]:
    """The files to visit: with -r, each directory named is replaced by the files under it
    (depth first, in name order); without, a directory is skipped with a warning. As gzip,
    `-d F` (or -t, -l) takes F.bbz when there is no F."""
    for name in files:
        compressed = name + run.job.suffix
        if run.job.mode != "compress" and name != "-" and not os.path.lexists(name) \
                and os.path.lexists(compressed):
            name = compressed
        if run.job.recursive and name != "-" and os.path.isdir(name) and not os.path.islink(name):
            yield from _walk(run, name)
        else:
            yield name


def _walk(run: _Run, directory: str) -> Iterator[str]:
    try:
        entries = sorted(os.listdir(directory))
    except OSError as e:
        run.error(directory, e.strerror or str(e))
        return
    for entry in entries:
        path = os.path.join(directory, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            yield from _walk(run, path)
        else:
            yield path


def run(job: Job) -> int:
    """Carry out a parsed job; return the exit status (0 ok, 1 error, 2 warning)."""
    r = _Run(job)
    files = job.files or ("-",)
    reads_stdin = "-" in files
    if job.mode == "compress":
        if (job.to_stdout or reads_stdin) and not job.force and isatty(sys.stdout):
            say("compressed data not written to a terminal. Use -f to force compression.")
            return ERROR
    elif reads_stdin and not job.force and isatty(sys.stdin):
        say("compressed data not read from a terminal. Use -f to force decompression.")
        return ERROR
    if job.mode == "compress" and len(job.models) > 1:
        say("give at most one --model to compress with")
        return ERROR
    if job.mode in ("list", "info"):
        _list_all(r, tuple(_names(r, files)))
        return r.status
    action = _ACTIONS[job.mode]
    for name in _names(r, files):
        r.guard(name, action)
    return r.status
