"""Mutation fuzzing of the .bbz decoder (`make fuzz`).

    python -m tests.fuzz.mutate [--cases 10000] [--seed 1] [--jobs 1] [--timeout 5]
                                [--memory-mb 1024] [--only ID ...] [--save DIR]

Seed files: valid .bbz files of every coder. The model-free ones (stored, order0, lzma, and
auto's mixes) are made from small inputs of several kinds: empty, one byte, text, random,
skewed, constant, an extremely skewed run, multi-block (api.BLOCK_SIZE patched small) and
concatenated streams. The VAE ones (coder 3) are made with the shipped models from the
digit fixtures in tests/data: one PGM digit, two IDX digits in one block, three in three
blocks, a digit followed by text (a VAE block and a model-free one), two VAE streams; and,
once models/manifest.json lists mnist-binary-vae, binary digits with that model (ink 1 and
ink 255). VAE seeds get VAE_SHARE of the randomly drawn cases, whatever their number.
The natural-image ones (coder 6) are made from small synthetic PGM, PPM, NPY and tar
inputs, with the shipped natural model when there is one and otherwise with the lossless
stand-in of tests/natural_fake.py (the block framing, docs/FORMAT.md, is the same).
Each case mutates one seed (see CLASSES) and decodes the result.

The oracle: a case must end with exactly the bytes the mutant legitimately holds (the
original data for almost every class; a prefix for a cut at a stream boundary; the
concatenation for concatenated valid streams) or with a typed bbzip error (a subclass of
bbzip.errors.BBZError, with a message). A mutant that is still valid must decode; one that
cannot be valid (a truncation inside a stream, random bytes after the magic) must fail.
Every case is decoded from an in-memory buffer and walked by api.stream_info; one in four
is also decoded through a reader that returns 1 to 7 bytes at a time (a slow pipe). Failures:

  wrong-data      decoded, without an error, to bytes that are not acceptable
  rejected-valid  a valid mutant was refused
  exception       any exception that is not a BBZError (a user would see a traceback)
  no-message      a BBZError with an empty message
  hang            the case ran past --timeout seconds
  crash           the worker process died (a signal, a hard exit)
  memory          MemoryError under the worker's address-space limit (--memory-mb)
  info            stream_info raised a non-BBZError, or disagreed with a successful decode
  paths           the trickling reader and the in-memory buffer disagreed

Cases run in worker subprocesses under RLIMIT_AS. A timer in the worker reports hangs in
Python code; the parent kills a worker whose case runs past --timeout plus a grace period
(a hang inside C code), records that case, and starts a fresh worker after it. The run
prints a table (cases per mutation class and their outcomes) and exits 1 on any failure.
Cases are numbered and fully determined by (--seed, --cases, ID): `--only ID` re-runs one
in this process with its traceback, and `--save DIR` writes every failing mutant to DIR.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from pathlib import Path

from tests.fuzz.common import BINARY_IDS, BINARY_MODEL, CLASSES, FAILURES, MODEL_IDS, VAE_CODER_IDS
from tests.fuzz.fields import natural_fields
from tests.fuzz.planner import Case, make_plan, materialise
from tests.fuzz.report import seed_summary, summary
from tests.fuzz.seeds import build_seeds, natural_coder, shipped_models
from tests.fuzz.workers import _on_alarm, run_campaign, run_case, worker

# The campaign's parts, as `python -m tests.fuzz.mutate` and tests use them: seeds
# (tests/fuzz/seeds.py), the public field parsers (fields.py), hostile values (values.py),
# the plan of cases (planner.py), the workers (workers.py) and the tables (report.py).
__all__ = ["BINARY_IDS", "BINARY_MODEL", "CLASSES", "FAILURES", "MODEL_IDS", "VAE_CODER_IDS", "build_seeds",
           "main", "make_plan", "materialise", "natural_coder", "natural_fields", "run_campaign", "run_case",
           "seed_summary", "shipped_models", "summary"]


def _replay(args, seeds, plan) -> int:
    """Run chosen cases in this process, with full tracebacks."""
    status = 0
    signal.signal(signal.SIGALRM, _on_alarm)
    for index in args.only:
        case = plan[index]
        m = materialise(case, seeds)
        print(
            f"case {index}: {case.cls} of {seeds[case.seed].name} {case.arg}: {len(m.data)} bytes"
        )
        with natural_coder():
            outcome, detail = run_case(case, index, seeds, args.timeout)
        print(f"  -> {outcome} {detail}")
        if outcome in FAILURES:
            status = 1
            try:
                from bbzip import api

                api.decompress(m.data)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        if args.save:
            _save(args.save, index, case, m.data)
    return status


def _save(directory: str, index: int, case: Case, data: bytes) -> None:
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / f"case-{index}-{case.cls}.bbz").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.fuzz.mutate", description=__doc__.split("\n")[0]
    )
    p.add_argument("--cases", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per case (default 5)")
    p.add_argument(
        "--memory-mb", type=int, default=1024, help="worker address space (default 1024)"
    )
    p.add_argument(
        "--only", type=int, nargs="+", help="re-run these case IDs here, with tracebacks"
    )
    p.add_argument("--save", metavar="DIR", help="write failing (or --only) mutants to DIR")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--seeds", default="", help=argparse.SUPPRESS)  # a worker's seeds, pickled by the parent
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.only:
        seeds = build_seeds()
        return _replay(args, seeds, make_plan(args.cases, args.seed, seeds))
    report = run_campaign(args.cases, args.seed, args.jobs, args.timeout, args.memory_mb)
    print(summary(report))
    print()
    print(seed_summary(report))
    for index, outcome, detail in report.failures[:50]:
        case = report.plan[index]
        print(
            f"FAIL case {index} [{case.cls} of {report.seeds[case.seed].name}]: {outcome}: {detail}"
        )
    if report.failures:
        print(
            f"re-run one: python -m tests.fuzz.mutate --cases {args.cases} --seed {args.seed} --only ID"
        )
        if args.save:
            for index, _, _ in report.failures:
                case = report.plan[index]
                _save(args.save, index, case, materialise(case, report.seeds).data)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
