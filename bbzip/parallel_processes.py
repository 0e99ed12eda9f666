"""Worker processes for bbzip.parallel: work that holds the GIL (the image coders' many
small numpy steps) runs in them.

They are forked from this process when it has a single thread, else spawned: a fork copies
every lock as it stands, and one held by another thread (ours, a progress bar's) would stay
held in the child for ever. Forked workers start at once and inherit what this process
loaded: the first task's ``prepare`` (the natural coder's model, numba and its compiled
kernels, about 1 s of CPU in every spawned worker) runs here once, before the fork, and
pages the workers only read stay shared.

Each worker keeps to one BLAS thread: the work is split between processes, and -T N means
N busy cores, not N times BLAS's own threads.
"""

from __future__ import annotations

import os
import sys
import threading

_shared_tally = None


def may_fork() -> bool:
    """Forking is safe from a process with one thread, and only Linux makes it the norm
    (macOS's system libraries do not survive it)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def start(count: int, tally, prepare=None):
    import multiprocessing
    from concurrent.futures import BrokenExecutor, ProcessPoolExecutor

    from bbzip.errors import BBZError

    fork = may_fork()
    if fork and prepare is not None:
        prepare()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    tally.shared = context.Value("q", 0)
    executor = ProcessPoolExecutor(count, mp_context=context, initializer=_process_init,
                                   initargs=(tally.shared, os.getpid()))
    if fork:
        import gc

        # Out of the collector's sight in the workers: its first full pass there would touch
        # (and so copy) every page of the objects they share with this process. A forking
        # executor starts every worker at its first submit; here they are let go again.
        gc.freeze()
        try:
            executor.submit(int).result()
        except BrokenExecutor as exc:
            raise BBZError(f"a worker process died ({exc})") from None
        finally:
            gc.unfreeze()
    return executor


def _process_init(shared, parent: int) -> None:
    import signal

    global _shared_tally
    _shared_tally = shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker has the command line's handlers, which unwind the parent's run.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    one_blas_thread()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def one_blas_thread() -> None:
    """BLAS and OpenMP on one thread in this process: through the environment for libraries
    not loaded yet (a spawned worker), through OpenBLAS itself for one already loaded (a
    forked one), and torch's own setting if it is loaded."""
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    for set_threads in _openblas_functions("set_num_threads"):
        set_threads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def blas_threads() -> list[int]:
    """The thread count of every OpenBLAS loaded in this process (for tests)."""
    return [get() for get in _openblas_functions("get_num_threads")]


def _openblas_functions(name: str) -> list:
    """``openblas_<name>`` of every OpenBLAS this process has loaded, under any of the
    names its builds export (numpy's wheels: scipy_openblas_<name>64_)."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return []
    found = []
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in (f"{prefix}openblas_{name}{suffix}" for prefix in ("", "scipy_") for suffix in ("", "64_")):
            function = getattr(library, symbol, None)
            if function is not None:
                found.append(function)
                break
    return found


def _exit_with_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _shared_add(n: int) -> None:
    with _shared_tally.get_lock():
        _shared_tally.value += n


def run_task(fn, args: tuple, size: int, raw: int):
    from bbzip.parallel import _call, _Reporter

    reporter = _Reporter(size, raw, _shared_add)
    result = _call(fn, args, 1, reporter)
    reporter.finish()
    return result


def stop(executor) -> None:
    processes = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)  # shutdown forgets it
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(5)
    # Its thread (and its queue's) gone too, so that the next file's pool may fork.
    if manager is not None:
        manager.join(5)
