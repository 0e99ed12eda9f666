"""The bbzip command line: gzip-compatible at the top level, plus subcommands.

    bbzip [-d|-t|-l] [-ckfqv] [--coder NAME] [-S SUF] [FILE]...   like gzip (tar -I bbzip works)
    bbzip compress|decompress|test|info [OPTIONS] [FILE]...
    bbzip train DATA... -o NAME.npz;  bbzip models        (model_commands.py)

This layer parses arguments, walks the file list, applies gzip's rules (suffixes, overwrite,
terminals, keep/remove) and turns every failure into one `bbzip: NAME: reason` line and an
exit status: 0 ok, 1 error, 2 warning (a skipped file). File safety lives in fileio.py and
coding in api.py. Start-up time matters (batch jobs run bbzip per file): rich and tqdm are
imported only where used, and nothing here imports torch. Set BBZIP_TRACEBACK=1 to get a
traceback for an internal error instead of its one-line summary.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import BinaryIO, NamedTuple, NoReturn

# OpenBLAS's threads cost far more than they give on the VAE's many small products (the
# decoder is measured twice as fast on one thread); respect an explicit user setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from bbzip import __version__, api, fileio
from bbzip.errors import BBZError

PROG = "bbzip"
OK, ERROR, WARNING = 0, 1, 2
PROGRESS_MIN_BYTES = 4 << 20  # below this a run is too short for a progress bar to help


class Job(NamedTuple):
    """What one invocation asks for, as parsed from the command line."""

    mode: str  # "compress" | "decompress" | "test" | "info"
    files: tuple[str, ...] = ()
    to_stdout: bool = False
    keep: bool = False
    force: bool = False
    quiet: bool = False
    verbose: bool = False
    coder: str = "auto"
    suffix: str = ".bbz"
    models: tuple[str, ...] = ()  # --model files: the one to compress with, or extra to search


class _Refused(Exception):
    """An error about a file other than the input (e.g. an existing output)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


# --------------------------------------------------------------------------- messages


def _line(text: str) -> None:
    if sys.stderr is not None:  # None when started with fd 2 closed
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _say(message: str) -> None:
    _line(f"{PROG}: {message}")


class _Run:
    """Exit status bookkeeping: any error gives 1; otherwise any warning gives 2."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.status = OK

    def error(self, name: str, reason: str) -> None:
        _say(f"{name}: {reason}")
        self.status = ERROR

    def warn(self, name: str, reason: str) -> None:
        if not self.job.quiet:
            _say(f"{name}: {reason}")
        if self.status == OK:
            self.status = WARNING

    def note(self, line: str) -> None:
        if self.job.verbose and not self.job.quiet:
            _line(line)

    def guard(self, name: str, action: Callable[[_Run, str], None]) -> None:
        """Run `action` on one file; a failure is reported and the next file still runs."""
        shown = _display(name)
        try:
            action(self, name)
        except fileio.Skipped as e:
            self.warn(shown, f"{e} -- ignored")
        except _Refused as e:
            self.error(e.name, str(e))
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


def _display(name: str) -> str:
    return "stdin" if name == "-" else name


def _saving(raw: int, packed: int) -> float:
    """Space saved, as gzip -v prints it (negative when the output grew)."""
    return 0.0 if raw == 0 else 100.0 * (1.0 - packed / raw)


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


class _Progress:
    """The api's progress callback; shows a tqdm bar on a terminal stderr for long inputs only.

    A known total of PROGRESS_MIN_BYTES or more opens the bar at once (the api reports whole
    blocks, so it may not move for a while); an unknown total (a pipe) opens it once that many
    bytes have gone by.
    """

    def __init__(self, desc: str, total: int | None, enabled: bool) -> None:
        self.done = 0
        self._desc = desc
        self._total = total
        self._enabled = enabled and (total is None or total >= PROGRESS_MIN_BYTES)
        self._bar = None
        if self._enabled and total is not None:
            self._open()

    def _open(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=self._total,
            initial=self.done,
            desc=self._desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

    def __call__(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._enabled and self.done >= PROGRESS_MIN_BYTES:
            self._open()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _stdin() -> BinaryIO:
    if sys.stdin is None:
        raise OSError(errno.EBADF, "standard input is closed")
    return sys.stdin.buffer


def _stdout() -> BinaryIO:
    if sys.stdout is None:
        raise OSError(errno.EBADF, "standard output is closed")
    return sys.stdout.buffer


def _isatty(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False


def _code(run: _Run, name: str, src: BinaryIO, st: os.stat_result | None, dst) -> tuple[int, int]:
    """Compress or decompress `src` into `dst` (None: discard); return (bytes in, bytes out)."""
    size = st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None
    enabled = not run.job.quiet and _isatty(sys.stderr)
    progress = _Progress(_display(name), size, enabled)
    out = _Counter(dst)
    try:
        if run.job.mode == "compress":
            model = run.job.models[-1] if run.job.models else None
            api.compress_stream(src, out, coder=run.job.coder, progress=progress, model=model)
        else:
            api.decompress_stream(src, out, progress=progress, models=run.job.models)
        if size is not None:
            _check_unchanged(src, size)
        out.flush()
    finally:
        progress.close()
    return (size if size is not None else progress.done), out.count


def _check_unchanged(src: BinaryIO, size: int) -> None:
    """Refuse the result when a regular input changed size while it was read (truncated or
    appended to by another process): the output would match no version of the file, and
    removing the input could lose what was written to it meanwhile. (The size is compared,
    not the bytes read: /proc and /sys files read fine with -c although their size is 0.)"""
    if os.fstat(src.fileno()).st_size != size:
        raise BBZError("file size changed while it was being read")


def _check_target(job: Job, target: str) -> None:
    if not job.force and os.path.lexists(target):
        raise _Refused(target, "already exists; not overwritten")


def _report(run: _Run, name: str, raw: int, packed: int, target: str | None) -> None:
    line = f"{_display(name)}:\t{_saving(raw, packed):5.1f}%"
    if target is not None:
        line += f" -- {'created' if run.job.keep else 'replaced with'} {target}"
    run.note(line)


# --------------------------------------------------------------------------- per-file actions


def _compress_one(run: _Run, name: str) -> None:
    job = run.job
    if name == "-":
        raw, packed = _code(run, name, _stdin(), None, _stdout())
        _report(run, name, raw, packed, None)
        return
    if not job.force and name.endswith(job.suffix):
        raise fileio.Skipped(f"already has {job.suffix} suffix")
    src, st = fileio.open_input(name, allow_special=job.force or job.to_stdout)
    with src:
        if job.to_stdout:
            raw, packed = _code(run, name, src, st, _stdout())
            _report(run, name, raw, packed, None)
            return
        target = name + job.suffix
        _check_target(job, target)
        with fileio.atomic_output(target, overwrite=job.force, like=st, durable=not job.keep) as f:
            raw, packed = _code(run, name, src, st, f)
    if not job.keep:
        fileio.remove_input(name)
    _report(run, name, raw, packed, target)


def _decompress_one(run: _Run, name: str) -> None:
    job = run.job
    if name == "-":
        packed, raw = _code(run, name, _stdin(), None, _stdout())
        _report(run, name, raw, packed, None)
        return
    target = None
    if not job.to_stdout:
        base = os.path.basename(name)
        if not base.endswith(job.suffix) or len(base) == len(job.suffix):
            raise fileio.Skipped("unknown suffix")
        target = name[: -len(job.suffix)]
    src, st = fileio.open_input(name, allow_special=job.force or job.to_stdout)
    with src:
        if target is None:
            packed, raw = _code(run, name, src, st, _stdout())
            _report(run, name, raw, packed, None)
            return
        _check_target(job, target)
        with fileio.atomic_output(target, overwrite=job.force, like=st, durable=not job.keep) as f:
            packed, raw = _code(run, name, src, st, f)
    if not job.keep:
        fileio.remove_input(name)
    _report(run, name, raw, packed, target)


def _test_one(run: _Run, name: str) -> None:
    if name == "-":
        _code(run, name, _stdin(), None, None)
    else:
        src, st = fileio.open_input(name, allow_special=True)
        with src:
            _code(run, name, src, st, None)
    run.note(f"{_display(name)}:\t OK")


def _info_all(run: _Run, files: Sequence[str]) -> None:
    rows = []

    def one(run: _Run, name: str) -> None:
        if name == "-":
            rows.append((_display(name), api.stream_info(_stdin())))
            return
        src, _ = fileio.open_input(name, allow_special=True)
        with src:
            rows.append((name, api.stream_info(src)))

    for name in files:
        run.guard(name, one)
    if rows:
        _print_info_table(rows)


def _print_info_table(rows) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    with_pixels = any(b.pixels for _, info in rows for b in info.blocks)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("File", overflow="fold")
    for title in ("Streams", "Blocks"):
        table.add_column(title, justify="right")
    table.add_column("Coders", overflow="fold")
    table.add_column("Models", overflow="fold")
    for title in ("Raw", "Compressed", "Ratio", "Bits/byte") + (("Bits/pixel",) * with_pixels):
        table.add_column(title, justify="right")

    def cells(streams, blocks, raw, packed) -> list[str]:
        coders = Counter(b.coder for b in blocks)
        models = sorted({b.model_id[:8] for b in blocks if b.model_id})
        row = [
            str(streams),
            str(len(blocks)),
            ", ".join(f"{c} x{n}" for c, n in coders.most_common()) or "-",
            ", ".join(models) or "-",
            str(raw),
            str(packed),
            f"{raw / packed:.3f}" if packed else "-",
            f"{8 * packed / raw:.3f}" if raw else "-",
        ]
        if with_pixels:
            image = [b for b in blocks if b.pixels]
            pixels = sum(b.pixels for b in image)
            row.append(f"{8 * sum(b.payload_size for b in image) / pixels:.3f}" if pixels else "-")
        return row

    for name, info in rows:
        table.add_row(name, *cells(info.streams, info.blocks, info.raw_size, info.compressed_size))
    if len(rows) > 1:
        table.add_section()
        table.add_row(
            "total",
            *cells(
                sum(i.streams for _, i in rows),
                [b for _, i in rows for b in i.blocks],
                sum(i.raw_size for _, i in rows),
                sum(i.compressed_size for _, i in rows),
            ),
        )
    # Off a terminal rich would squeeze the table into 80 columns; let it be as wide as it is.
    console = Console(file=sys.stdout, highlight=False, width=None if _isatty(sys.stdout) else 250)
    console.print(table)


# --------------------------------------------------------------------------- running a job


def run(job: Job) -> int:
    """Carry out a parsed job; return the exit status (0 ok, 1 error, 2 warning)."""
    r = _Run(job)
    files = job.files or ("-",)
    reads_stdin = "-" in files
    if job.mode == "compress":
        if (job.to_stdout or reads_stdin) and not job.force and _isatty(sys.stdout):
            _say("compressed data not written to a terminal. Use -f to force compression.")
            return ERROR
    elif reads_stdin and not job.force and _isatty(sys.stdin):
        _say("compressed data not read from a terminal. Use -f to force decompression.")
        return ERROR
    if job.mode == "compress" and len(job.models) > 1:
        _say("give at most one --model to compress with")
        return ERROR
    if job.mode == "info":
        _info_all(r, files)
        return r.status
    action = {"compress": _compress_one, "decompress": _decompress_one, "test": _test_one}[job.mode]
    for name in files:
        r.guard(name, action)
    return r.status


# --------------------------------------------------------------------------- command line

_CONTEXT = {"help_option_names": ["-h", "--help"]}


def _check_suffix(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise click.BadParameter(f"invalid suffix {value!r}")
    return value


def _stdout_opt(f):
    return click.option(
        "-c", "--stdout", "--to-stdout", "to_stdout", is_flag=True,
        help="Write to standard output; keep the input files.",
    )(f)


def _keep_opt(f):
    return click.option("-k", "--keep", is_flag=True, help="Keep (don't delete) input files.")(f)


def _force_opt(f):
    return click.option(
        "-f", "--force", is_flag=True,
        help="Overwrite outputs; read symlinks and special files; allow terminal I/O.",
    )(f)


def _quiet_opt(f):
    return click.option("-q", "--quiet", is_flag=True, help="Suppress warnings.")(f)


def _verbose_opt(f):
    return click.option("-v", "--verbose", is_flag=True, help="Report each file on stderr.")(f)


def _coder_opt(f):
    return click.option(
        "--coder", type=click.Choice(api.CODER_NAMES), default="auto", show_default=True,
        help="Coder for every block ('auto' picks per block).",
    )(f)


def _suffix_opt(f):
    return click.option(
        "-S", "--suffix", default=".bbz", show_default=True, metavar="SUF",
        callback=_check_suffix, help="Suffix of compressed files.",
    )(f)


def _model_opt(f):
    return click.option(
        "--model", "models", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
        help="Model file: compress images with it; when decompressing, also search it.",
    )(f)


def _files_arg(f):
    return click.argument("files", nargs=-1, metavar="[FILE]...")(f)


def _version_opt(f):
    return click.version_option(
        __version__, "-V", "--version", prog_name=PROG, message="%(prog)s %(version)s"
    )(f)


@click.command(
    "bbzip",
    context_settings=_CONTEXT,
    epilog="""\b
Commands (a command name must be the first argument):
  bbzip compress [OPTIONS] [FILE]...    compress FILEs (the default)
  bbzip decompress [OPTIONS] [FILE]...  decompress FILEs
  bbzip test [OPTIONS] [FILE]...        check FILEs completely, write nothing
  bbzip info [FILE]...                  list streams, blocks, coders, sizes, ratios
  bbzip train DATA... -o NAME.npz       train a model on your own images
  bbzip models                          list the models bbzip can find
Run 'bbzip COMMAND --help' for its options. To compress a file named
like a command, write ./NAME or put -- before it.

\b
Exit status: 0 ok, 1 error, 2 warning (a file was skipped).""",
)
@click.option("-d", "--decompress", "--uncompress", "decompress", is_flag=True, help="Decompress.")
@click.option("-t", "--test", is_flag=True, help="Test compressed files' integrity.")
@click.option("-l", "--list", "list_", is_flag=True, help="List compressed files (as 'info').")
@_stdout_opt
@_keep_opt
@_force_opt
@_quiet_opt
@_verbose_opt
@_coder_opt
@_model_opt
@_suffix_opt
@_version_opt
@_files_arg
def gzip_command(decompress: bool, test: bool, list_: bool, files: tuple[str, ...], **opts) -> Job:
    """Compress or decompress FILEs in place, like gzip: FILE becomes FILE.bbz.

    With no FILE, or when FILE is -, read standard input and write standard output.
    """
    mode = "info" if list_ else "test" if test else "decompress" if decompress else "compress"
    return Job(mode=mode, files=files, **opts)


@click.command("compress", context_settings=_CONTEXT)
@_stdout_opt
@_keep_opt
@_force_opt
@_quiet_opt
@_verbose_opt
@_coder_opt
@_model_opt
@_suffix_opt
@_files_arg
def compress_command(files: tuple[str, ...], **opts) -> Job:
    """Compress FILEs: FILE becomes FILE.bbz (no FILE or -: stdin to stdout)."""
    return Job(mode="compress", files=files, **opts)


@click.command("decompress", context_settings=_CONTEXT)
@_stdout_opt
@_keep_opt
@_force_opt
@_quiet_opt
@_verbose_opt
@_model_opt
@_suffix_opt
@_files_arg
def decompress_command(files: tuple[str, ...], **opts) -> Job:
    """Decompress FILEs: FILE.bbz becomes FILE (no FILE or -: stdin to stdout)."""
    return Job(mode="decompress", files=files, **opts)


@click.command("test", context_settings=_CONTEXT)
@_force_opt
@_quiet_opt
@_verbose_opt
@_model_opt
@_files_arg
def test_command(files: tuple[str, ...], **opts) -> Job:
    """Decode FILEs completely and verify every checksum; write nothing."""
    return Job(mode="test", files=files, **opts)


@click.command("info", context_settings=_CONTEXT)
@_force_opt
@_quiet_opt
@_files_arg
def info_command(files: tuple[str, ...], **opts) -> Job:
    """Show what FILEs hold: streams, blocks, coders, models, sizes, ratio, bits per byte."""
    return Job(mode="info", files=files, **opts)


COMMANDS: dict[str, click.Command] = {
    "compress": compress_command,
    "decompress": decompress_command,
    "test": test_command,
    "info": info_command,
}
# Built only when asked for: their option tables would add to every file command's start-up.
MODEL_COMMANDS = ("train", "models")


def _command(name: str) -> click.Command:
    if name in MODEL_COMMANDS:
        from bbzip import model_commands

        return getattr(model_commands, f"{name}_command")
    return COMMANDS[name]


def parse(argv: Sequence[str]) -> Job | int:
    """Parse a command line (without the program name): a Job, or an exit status to stop with."""
    args = list(argv)
    if args and (args[0] in COMMANDS or args[0] in MODEL_COMMANDS):
        command, prog, args = _command(args[0]), f"{PROG} {args[0]}", args[1:]
    else:
        command, prog = gzip_command, PROG
    try:
        result = command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Abort:
        return 128 + signal.SIGINT
    except click.ClickException as e:
        e.show()
        return ERROR  # as gzip: 2 would read as "warning"
    return result if isinstance(result, Job) else int(result or 0)


# --------------------------------------------------------------------------- process concerns


class _Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_FATAL_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


def _on_signal(signum: int, frame) -> NoReturn:
    # Unwind like Ctrl-C so `atomic_output` removes its temp file; ignore repeats meanwhile.
    for s in _FATAL_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise _Interrupted(signum)


def _install_signal_handlers() -> None:
    for s in _FATAL_SIGNALS:
        try:
            if signal.getsignal(s) is not signal.SIG_IGN:  # e.g. nohup: stay ignored
                signal.signal(s, _on_signal)
        except ValueError:
            return  # not the main thread: leave signals alone


def _die_of_sigpipe() -> NoReturn:
    """Exit quietly after stdout's reader went away, the way gzip does: killed by SIGPIPE.

    stdout is pointed at /dev/null first so the interpreter's final flush cannot print
    "Exception ignored ... BrokenPipeError". Dying of SIGPIPE (not exit 1) also matters to
    tar, which tolerates a SIGPIPE'd filter but fails on one that exits non-zero.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    sys.exit(ERROR)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: parse, run, and exit with gzip's status codes."""
    _install_signal_handlers()
    try:
        job = parse(sys.argv[1:] if argv is None else argv)
        status = run(job) if isinstance(job, Job) else job
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        _die_of_sigpipe()
    except KeyboardInterrupt as e:
        # Temp files are already gone (atomic_output unwinds); exit quietly as 128+signal.
        status = 128 + getattr(e, "signum", signal.SIGINT)
    sys.exit(status)
