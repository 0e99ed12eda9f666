"""Running cases: one decode per mutant under a timer, in worker subprocesses."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import pickle
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.common import BINARY_MODEL, ERROR_NAMES, FAILURES, MODEL_IDS, ROOT
from tests.fuzz.planner import Case, make_plan, materialise
from tests.fuzz.report import Report
from tests.fuzz.seeds import (
    Seed,
    adopt_seeds,
    build_seeds,
    natural_coder,
    natural_stand_in,
    shipped_models,
)


class _CaseTimeout(BaseException):
    """Raised by the worker's timer: not an Exception, so decoder code cannot swallow it."""


class Trickle(io.RawIOBase):
    """A pipe that delivers 1 to 7 bytes per read."""

    def __init__(self, data: bytes):
        self._data, self._pos, self._n = data, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._n += 1
        n = min(len(buffer), 1 + self._n % 7, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def _decode(data: bytes, trickle: bool, sabotage: str | None) -> bytes:
    from bbzip import api

    if sabotage == "wrong-data":  # a decoder that returns bytes where it should have failed
        return b"!"
    if sabotage:
        _sabotage(sabotage)
    if not trickle:
        return api.decompress(data)
    sink = io.BytesIO()
    api.decompress_stream(Trickle(data), sink)
    return sink.getvalue()


def _sabotage(kind: str) -> None:
    """Deliberate faults, for the tests that check this harness catches each kind."""
    if kind == "exception":
        raise ValueError("sabotaged")
    if kind == "hang":
        time.sleep(3600)
    if kind == "hang-c":  # the worker's timer cannot interrupt it: the parent must
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "memory":
        bytearray(4 << 30)


def _attempt(data: bytes, trickle: bool, sabotage: str | None) -> tuple[str, bytes | None, str]:
    """('data', output, '') or ('error:Name', None, message) or (failure, None, detail)."""
    from bbzip.errors import BBZError

    try:
        out = _decode(data, trickle, sabotage)
    except BBZError as e:
        if not str(e):
            return "no-message", None, type(e).__name__
        # a subclass (MissingModelError) counts as the listed class it derives from
        name = next(c.__name__ for c in type(e).__mro__ if c.__name__ in (*ERROR_NAMES, "BBZError"))
        return f"error:{name}", None, str(e)
    except MemoryError:
        return "memory", None, _where()
    except _CaseTimeout:
        return "hang", None, _where()
    except Exception as e:  # noqa: BLE001 - exactly what this harness looks for
        return "exception", None, f"{type(e).__name__}: {e} @ {_where()}"
    return "data", out, ""


def _where() -> str:
    frames = traceback.extract_tb(sys.exc_info()[2])
    return " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-3:]))


def run_case(
    case: Case, index: int, seeds: list[Seed], timeout: float, sabotage: str | None = None
) -> tuple[str, str]:
    """Decode one mutant; return (outcome, detail). Outcome is 'original', 'decoded' (other
    acceptable data, e.g. a prefix), 'error:Name', or one of FAILURES."""
    from bbzip import api
    from bbzip.errors import BBZError

    m = materialise(case, seeds)
    # Deliberate faults (harness tests): the i-th listed kind breaks case 7 + i.
    kinds = sabotage.split(",") if sabotage else []
    wreck = kinds[index - 7] if 0 <= index - 7 < len(kinds) else None
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        outcome, out, detail = _attempt(m.data, False, wreck)
        if outcome in FAILURES:
            return outcome, detail
        if outcome == "data" and out not in m.acceptable:
            return (
                "wrong-data",
                f"{len(out)} bytes decoded, expected one of {[len(a) for a in m.acceptable]}",
            )
        if m.valid and outcome != "data":
            return "rejected-valid", detail
        try:
            info = api.stream_info(io.BytesIO(m.data))
        except BBZError:
            info = None
        except (Exception, MemoryError) as e:  # noqa: BLE001
            return "info", f"{type(e).__name__}: {e} @ {_where()}"
        if outcome == "data" and (
            info is None or info.raw_size != len(out) or info.compressed_size != len(m.data)
        ):
            return "info", "stream_info disagrees with the decoded data"
        if index % 4 == 0:
            other, out2, detail2 = _attempt(m.data, True, wreck)
            if other in FAILURES:
                return other, "trickle: " + detail2
            if (other == "data") != (outcome == "data") or out2 != out:
                return "paths", f"buffer: {outcome} {detail!r}; trickle: {other} {detail2!r}"
    except _CaseTimeout:
        return "hang", _where()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome == "data":
        return ("original" if out == seeds[case.seed].raw else "decoded"), ""
    return outcome, detail


def _on_alarm(signum, frame):
    raise _CaseTimeout


def worker(args) -> None:
    """Run plan[start:stop]; one JSON line per case on stdout: [index, outcome, detail, seconds]."""
    import resource

    limit = args.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    # The parent's seeds, not made again in every worker (seconds each, and a worker is
    # started afresh after every crash or hang).
    seeds = adopt_seeds(pickle.loads(Path(args.seeds).read_bytes())) if args.seeds else build_seeds()
    plan = make_plan(args.cases, args.seed, seeds)
    sabotage = os.environ.get("BBZIP_FUZZ_SABOTAGE") or None
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for index in range(args.start, args.stop):
        t = time.perf_counter()
        with natural_coder():
            outcome, detail = run_case(plan[index], index, seeds, args.timeout, sabotage)
        out.write(
            json.dumps([index, outcome, detail[:300], round(time.perf_counter() - t, 4)]) + "\n"
        )
        out.flush()


@dataclass
class _Worker:
    proc: subprocess.Popen
    next: int  # the case it is on (or will start next)
    stop: int
    ready: bool = False
    since: float = 0.0
    buffer: bytes = b""


def _spawn(args, start: int, stop: int) -> _Worker:
    env = {
        **os.environ,
        "BBZIP_FUZZ_BINARY": "1" if args.binary else "0",  # the parent's seeds, whatever lands
        "BBZIP_FUZZ_NATURAL_FAKE": "1" if args.natural_fake else "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "tests.fuzz.mutate",
        "--worker",
        "--cases",
        str(args.cases),
        "--seed",
        str(args.seed),
        "--timeout",
        str(args.timeout),
        "--memory-mb",
        str(args.memory_mb),
        "--start",
        str(start),
        "--stop",
        str(stop),
        "--seeds",
        args.seeds,
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    return _Worker(proc, start, stop, since=time.monotonic())




def run_campaign(
    cases: int = 10000,
    seed: int = 1,
    jobs: int = 1,
    timeout: float = 5.0,
    memory_mb: int = 1024,
    grace: float = 5.0,
    sabotage: str | None = None,
    quiet: bool = False,
) -> Report:
    """Run `cases` cases in `jobs` worker processes; every case gets a result."""
    report = Report(seeds=build_seeds())
    binary = shipped_models().get(BINARY_MODEL) in set(MODEL_IDS)
    with tempfile.NamedTemporaryFile(prefix="bbzip-fuzz-seeds-", suffix=".pickle") as seeds_file:
        seeds_file.write(pickle.dumps(report.seeds))
        seeds_file.flush()
        args = argparse.Namespace(
            cases=cases, seed=seed, timeout=timeout, memory_mb=memory_mb, binary=binary,
            natural_fake=natural_stand_in(), seeds=seeds_file.name,
        )
        return _run_workers(report, args, jobs, timeout, grace, sabotage, quiet)


def _run_workers(report: Report, args, jobs: int, timeout: float, grace: float, sabotage: str | None,
                 quiet: bool) -> Report:
    cases = args.cases
    report.plan = make_plan(cases, args.seed, report.seeds)
    if sabotage:
        os.environ["BBZIP_FUZZ_SABOTAGE"] = sabotage
    started = time.monotonic()
    bounds = [cases * k // jobs for k in range(jobs + 1)]
    sel = selectors.DefaultSelector()
    try:
        for a, b in itertools.pairwise(bounds):
            if a < b:
                w = _spawn(args, a, b)
                sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        while sel.get_map():
            for key, _ in sel.select(timeout=0.5):
                w = key.data
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    w.buffer += chunk
                    *lines, w.buffer = w.buffer.split(b"\n")
                    for line in lines:
                        if line == b"ready":
                            w.ready = True
                        else:
                            index, outcome, detail, secs = json.loads(line)
                            report.results[index] = (outcome, detail, secs)
                            w.next = index + 1
                        w.since = time.monotonic()
                    continue
                # The worker is gone: finished, or died on case w.next.
                sel.unregister(key.fileobj)
                rc = w.proc.wait()
                if w.next < w.stop:
                    what = (
                        f"worker exited with status {rc}"
                        if rc >= 0
                        else f"worker killed by signal {-rc}"
                    )
                    report.results[w.next] = ("crash", what, 0.0)
                    _restart(sel, args, w.next + 1, w.stop)
            now = time.monotonic()
            for key in list(sel.get_map().values()):
                w = key.data
                budget = timeout + grace + (60 if not w.ready else 0)
                if now - w.since > budget:
                    sel.unregister(key.fileobj)
                    w.proc.kill()
                    w.proc.wait()
                    report.results[w.next] = (
                        "hang",
                        f"killed after {now - w.since:.0f} s",
                        now - w.since,
                    )
                    _restart(sel, args, w.next + 1, w.stop)
            if not quiet:
                _progress(len(report.results), cases, started)
    finally:
        for key in list(sel.get_map().values()):
            key.data.proc.kill()
            key.data.proc.wait()
        if sabotage:
            os.environ.pop("BBZIP_FUZZ_SABOTAGE", None)
    if not quiet and sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 60 + "\r")
    report.seconds = time.monotonic() - started
    return report


def _restart(sel, args, start: int, stop: int) -> None:
    if start < stop:
        w = _spawn(args, start, stop)
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)


def _progress(done: int, total: int, started: float) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{done}/{total} cases, {time.monotonic() - started:.0f} s")
        sys.stderr.flush()
