"""Coverage-guided fuzzing of every parser and coder (`make fuzz-cov`), beside the mutation
fuzzer of tests/fuzz/mutate.py.

    python -m tests.fuzz.coverage --list
    python -m tests.fuzz.coverage TARGET [-- LIBFUZZER_ARGS...]    (atheris: pip install 'bbzip[fuzz]')
    python -m tests.fuzz.coverage TARGET --plain [--runs N]          (no atheris: mutated seeds)

With atheris the target runs under libFuzzer with bbzip's bytecode instrumented, starting
from the target's seeds (tests/fuzz/targets.py); a finding is any exception that is not a
bbzip error, and libFuzzer writes the input that caused it. --plain needs nothing but
bbzip: each seed, then N mutants of them (bit flips, cuts, inserted and repeated bytes,
deterministic), so the tests prove every target runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from tests.fuzz.targets import TARGETS, seeds


def guarded(target):
    """The target with bbzip's own errors counted as correct answers."""
    from bbzip.errors import BBZError

    def run(data: bytes) -> None:
        try:
            target(data)
        except BBZError:
            pass
    return run


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(4)
        pos = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del out[pos : pos + rng.randint(1, 32)]
        elif kind == 2:
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
        else:
            out[pos:pos] = out[pos : pos + rng.randint(1, 16)]
    return bytes(out)


def run_plain(name: str, runs: int, seed: int = 0, smallest: int | None = None) -> int:
    """The target on its seeds (only the ``smallest`` few, if given) and ``runs`` mutants;
    returns the inputs run."""
    target, start = guarded(TARGETS[name]), seeds(name)
    if smallest is not None:
        start = sorted(start, key=len)[:smallest]
    for data in start:
        target(data)
    rng = random.Random(seed)
    for _ in range(runs):
        target(mutate(rng.choice(start) if start else b"", rng))
    return len(start) + runs


def run_atheris(name: str, libfuzzer_args: list[str]) -> None:
    try:
        import atheris
    except ImportError:
        sys.exit("coverage-guided fuzzing needs atheris: pip install 'bbzip[fuzz]' (or use --plain)")
    _import_everything()
    atheris.instrument_all()
    corpus = Path(tempfile.mkdtemp(prefix=f"bbzip-fuzz-{name}-"))
    for i, data in enumerate(seeds(name)):
        (corpus / f"seed-{i}").write_bytes(data)
    atheris.Setup([sys.argv[0], *libfuzzer_args, str(corpus)], guarded(TARGETS[name]))
    atheris.Fuzz()


def _import_everything() -> None:
    """Load the modules the targets reach, so that instrument_all covers them."""
    import importlib

    for module in ("bbzip.api", "bbzip.container", "bbzip.coders.order0", "bbzip.coders.lzma_coder",
                   "bbzip.coders.zstd_coder", "bbzip.coders.stored", "bbzip.coders.varint", "bbzip.ans.rans",
                   "bbzip.images.blocks", "bbzip.images.coder", "bbzip.images.detect", "bbzip.images.tar",
                   "bbzip.natural.coder", "bbzip.natural.header", "bbzip.natural.images", "bbzip.vae.coder",
                   "bbzip.vae.model"):
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--list", action="store_true", help="name every target")
    parser.add_argument("--plain", action="store_true", help="without atheris: seeds and random mutants")
    parser.add_argument("--runs", type=int, default=1000, help="mutants in --plain mode (default 1000)")
    args = parser.parse_args(argv)
    if args.list or args.target is None:
        print("\n".join(sorted(TARGETS)))
        return 0
    if args.plain:
        print(f"{args.target}: {run_plain(args.target, args.runs)} inputs, no finding")
        return 0
    run_atheris(args.target, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
