"""The command line: gzip's options at the top level, plus subcommands.

    bbzip [-d|-t|-l] [-ckfqvrnN] [-1..-9] [-T N] [--coder NAME] [-S SUF] [FILE]...   like gzip
    bbzip compress|decompress|test|info [OPTIONS] [FILE]...
    bbzip train DATA... -o NAME.npz;  bbzip models        (model_commands.py)

Every file command takes its options from one table, so an option means the same wherever
it appears. Set BBZIP_TRACEBACK=1 to get a traceback for an internal error instead of its
one-line summary.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from bbzip import __version__, api
from bbzip.cli import signals
from bbzip.cli.files import ERROR, Job, run
from bbzip.cli.output import CONTEXT_SETTINGS, PROG


def _check_suffix(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise click.BadParameter(f"invalid suffix {value!r}")
    return value


def _levels(f):
    """-1 .. -9, --fast, --best: one `level` value, as gzip's (the last one given wins)."""
    for n in range(9, 0, -1):
        help_text = ("-1 (fastest) .. -9 (smallest): the compression level; default -6. "
                     "Decompression ignores it.") if n == 1 else None
        f = click.option(f"-{n}", "level", flag_value=n, help=help_text, hidden=n != 1)(f)
    f = click.option("--best", "level", flag_value=9, help="Same as -9.")(f)
    return click.option("--fast", "level", flag_value=1, help="Same as -1.")(f)


def _names(f):
    f = click.option("-N", "--name", "gzip_name", flag_value=True, expose_value=False,
                     help="Accepted for gzip; bbzip always keeps mode and mtime in the file system.")(f)
    return click.option("-n", "--no-name", "gzip_name", flag_value=False, expose_value=False,
                        help="Accepted for gzip; bbzip stores no name or time in the file.")(f)


_OPTIONS = {
    "stdout": click.option("-c", "--stdout", "--to-stdout", "to_stdout", is_flag=True,
                           help="Write to standard output; keep the input files."),
    "keep": click.option("-k", "--keep", is_flag=True, help="Keep (don't delete) input files."),
    "force": click.option("-f", "--force", is_flag=True,
                          help="Overwrite outputs; read symlinks and special files; allow terminal "
                               "I/O; with -dc, copy data that is not .bbz through unchanged."),
    "quiet": click.option("-q", "--quiet", is_flag=True, help="Suppress warnings."),
    "verbose": click.option("-v", "--verbose", is_flag=True, help="Report each file on stderr."),
    "recursive": click.option("-r", "--recursive", is_flag=True,
                              help="Go through directories, coding the files in them."),
    "names": _names,
    "levels": _levels,
    "threads": click.option("-T", "--threads", type=click.IntRange(min=0), default=0, metavar="N",
                            help="Worker threads; 0 (the default) = every usable core."),
    "coder": click.option("--coder", type=click.Choice(api.CODER_NAMES), default="auto",
                          show_default=True, help="Coder for every block ('auto' picks per block)."),
    "model": click.option("--model", "models", multiple=True, metavar="FILE",
                          type=click.Path(exists=True, dir_okay=False),
                          help="Model file: compress images with it; when decompressing, also search it."),
    "suffix": click.option("-S", "--suffix", default=".bbz", show_default=True, metavar="SUF",
                           callback=_check_suffix, help="Suffix of compressed files."),
    "json": click.option("--json", is_flag=True, help="Print the full detail as JSON."),
    "version": click.version_option(__version__, "-V", "--version", prog_name=PROG,
                                    message="%(prog)s %(version)s"),
    "files": click.argument("files", nargs=-1, metavar="[FILE]..."),
}


def options(*names: str):
    """Apply the shared options `names`, listed in --help in that order."""

    def apply(f):
        for name in reversed(names):
            f = _OPTIONS[name](f)
        return f

    return apply


def _job(mode: str, files: tuple[str, ...], level: int | None = None, **opts) -> Job:
    return Job(mode=mode, files=files, level=api.DEFAULT_LEVEL if level is None else level, **opts)


_CODING = ("stdout", "keep", "force", "quiet", "verbose", "recursive", "names")
_COMPRESSING = ("levels", "threads", "coder", "model", "suffix")


@click.command(
    "bbzip",
    context_settings=CONTEXT_SETTINGS,
    epilog="""\b
Commands (a command name must be the first argument):
  bbzip compress [OPTIONS] [FILE]...    compress FILEs (the default)
  bbzip decompress [OPTIONS] [FILE]...  decompress FILEs
  bbzip test [OPTIONS] [FILE]...        check FILEs completely, write nothing
  bbzip info [--json] [FILE]...         list streams, blocks, coders, sizes, ratios
  bbzip train DATA... -o NAME.npz       train a model on your own images
  bbzip models                          list the models bbzip can find
Run 'bbzip COMMAND --help' for its options. To compress a file named
like a command, write ./NAME or put -- before it.

\b
Exit status: 0 ok, 1 error, 2 warning (a file was skipped).""",
)
@click.option("-d", "--decompress", "--uncompress", "decompress", is_flag=True, help="Decompress.")
@click.option("-t", "--test", is_flag=True, help="Test compressed files' integrity.")
@click.option("-l", "--list", "list_", is_flag=True,
              help="List compressed and uncompressed sizes, as gzip -l.")
@options(*_CODING, *_COMPRESSING, "version", "files")
def gzip_command(decompress: bool, test: bool, list_: bool, files: tuple[str, ...], **opts) -> Job:
    """Compress or decompress FILEs in place, like gzip: FILE becomes FILE.bbz.

    With no FILE, or when FILE is -, read standard input and write standard output.
    """
    mode = "list" if list_ else "test" if test else "decompress" if decompress else "compress"
    return _job(mode, files, **opts)


@click.command("compress", context_settings=CONTEXT_SETTINGS)
@options(*_CODING, *_COMPRESSING, "files")
def compress_command(files: tuple[str, ...], **opts) -> Job:
    """Compress FILEs: FILE becomes FILE.bbz (no FILE or -: stdin to stdout)."""
    return _job("compress", files, **opts)


@click.command("decompress", context_settings=CONTEXT_SETTINGS)
@options(*_CODING, "threads", "model", "suffix", "files")
def decompress_command(files: tuple[str, ...], **opts) -> Job:
    """Decompress FILEs: FILE.bbz becomes FILE (no FILE or -: stdin to stdout)."""
    return _job("decompress", files, **opts)


@click.command("test", context_settings=CONTEXT_SETTINGS)
@options("force", "quiet", "verbose", "recursive", "threads", "model", "suffix", "files")
def test_command(files: tuple[str, ...], **opts) -> Job:
    """Decode FILEs completely and verify every checksum; write nothing."""
    return _job("test", files, **opts)


@click.command("info", context_settings=CONTEXT_SETTINGS)
@options("force", "quiet", "recursive", "json", "suffix", "files")
def info_command(files: tuple[str, ...], **opts) -> Job:
    """Show what FILEs hold: streams, blocks, coders, models, sizes, ratio, bits per byte."""
    return _job("info", files, **opts)


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
    except click.exceptions.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):  # click's wrapping of our signal: main ends the run
            raise e.__context__ from None
        return 128 + signal.SIGINT
    except click.ClickException as e:
        e.show()
        return ERROR  # as gzip: 2 would read as "warning"
    return result if isinstance(result, Job) else int(result or 0)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: parse, run, and exit with gzip's status codes."""
    signals.install_handlers()
    try:
        job = parse(sys.argv[1:] if argv is None else argv)
        status = run(job) if isinstance(job, Job) else job
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        signals.broken_pipe()
    except OSError as e:  # stdout failed outside any file's run: --help, --version, -l
        signals.output_failed(e)
    except KeyboardInterrupt as e:
        # Temp files are already gone (atomic_output unwinds); exit quietly as 128+signal.
        signals.leave(signals.exit_status(e))
    sys.exit(status)
