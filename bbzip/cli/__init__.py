"""The bbzip command line (click; rich and tqdm on stderr only, imported lazily).

    commands.py  options and commands, parse, main        files.py    gzip's file rules
    output.py    messages, progress, consoles              listing.py  -l, info, info --json
    signals.py   signals and closed pipes

Start-up time matters (batch jobs run bbzip per file): nothing here imports torch, rich or
tqdm until a table or a bar is really shown.
"""

import os

# OpenBLAS's threads cost far more than they give on the VAE's many small products (the
# decoder is measured twice as fast on one thread); respect an explicit user setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bbzip.cli.commands import (
    COMMANDS,
    compress_command,
    decompress_command,
    gzip_command,
    info_command,
    main,
    parse,
    test_command,
)
from bbzip.cli.files import Job, run

__all__ = ["COMMANDS", "Job", "compress_command", "decompress_command", "gzip_command",
           "info_command", "main", "parse", "run", "test_command"]
