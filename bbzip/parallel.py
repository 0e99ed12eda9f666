"""Blocks coded in parallel and handed back in order, in bounded memory.

Work that releases the GIL (zstd, LZMA, zlib, most of order-0's numpy) runs on daemon
threads; work that holds it (the VAE's many small numpy steps) runs in worker processes.
Neither kind of pool exists until a second block does, so a small input never pays for one.

At most `workers` tasks are held while the input makes the next one (`workers - 1` with
``spare=0``), and each is let go as soon as its worker is done: that, not the input size,
bounds memory. Work whose memory
grows with the blocks it codes at once (zstd) can take turns with every thread instead
(`exclusive`).
A failure in any worker is re-raised once, in the caller, after every worker has been
stopped; worker processes ignore SIGINT (the parent handles Ctrl-C and stops them) and
exit by themselves if the parent dies.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from bbzip.errors import BBZError

POLL_SECONDS = 0.2
POOL_MIN_BYTES = 64 << 10  # less work than this is done faster than a pool starts


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(threads: int) -> int:
    if threads < 0:
        raise ValueError("threads must be 0 (every usable core) or more")
    return usable_cores() if threads == 0 else threads


class Task:
    """One block's work: ``fn(*args, workers, report)`` on a thread, or in a process if
    ``process``. ``workers`` is how many threads the work itself may use (all of them when
    it runs alone); ``report(n)`` tells that n more of its ``raw`` bytes are done.

    ``size`` is what progress counts for the task once it is done; ``raw`` (default: size)
    is the unit ``report`` counts in, scaled to ``size``."""

    __slots__ = ("args", "fn", "light", "prepare", "process", "raw", "size")

    def __init__(self, fn: Callable, args: tuple, size: int, process: bool = False, raw: int | None = None,
                 light: bool = False, prepare: Callable[[], None] | None = None):
        self.fn, self.args, self.size, self.process = fn, args, size, process
        self.raw = size if raw is None else raw
        self.light = light  # bookkeeping (an end marker): runs in the caller, never asks for a pool
        # What a worker process would otherwise load for itself (a model, compiled kernels):
        # loaded once in this process before workers are forked from it.
        self.prepare = prepare

    def reporter(self, sink: Callable[[int], None]) -> _Reporter:
        return _Reporter(self.size, self.raw, sink)


class _Tally:
    """Bytes of work reported so far, from any thread (or, through a shared value, process)."""

    def __init__(self, shared=None):
        self._lock = threading.Lock()
        self._value = 0
        self.shared = shared

    def add(self, n: int) -> None:
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        return self._value + (self.shared.value if self.shared is not None else 0)


class _Reporter:
    """Per-task progress: never more than the task's size, and exactly its size at the end."""

    def __init__(self, size: int, raw: int, sink: Callable[[int], None]):
        self.size, self.raw, self.sink = size, max(1, raw), sink
        self.done_raw = self.shown = 0

    def __call__(self, n: int) -> None:
        self.done_raw += n
        self._show(min(self.size, self.done_raw * self.size // self.raw))

    def _show(self, target: int) -> None:
        if target > self.shown:
            self.sink(target - self.shown)
            self.shown = target

    def finish(self) -> None:
        self._show(self.size)


def run_ordered(tasks: Iterable[Task], workers: int, progress: Callable[[int], None] | None = None,
                spare: int = 1) -> Iterator[Any]:
    """Yield each task's result in order, running up to ``workers`` at once.

    ``spare``: tasks queued beyond the workers' own, so that a worker that finishes finds
    its next one ready (0 or 1). Each costs a block of memory; compression, whose blocks
    are read in milliseconds and coded in seconds, needs none.

    An error in producing the tasks (a corrupt block header, data after a stream that is
    not a stream) comes after the results of every task produced before it, as it would
    one block at a time: reading ahead for the workers must not lose what came first."""
    failure: list[Exception] = []
    yield from _run_ordered(_until_error(tasks, failure), workers, progress, spare)
    if failure:
        raise failure[0]


def _until_error(tasks: Iterable[Task], failure: list[Exception]) -> Iterator[Task]:
    try:
        yield from tasks
    except Exception as exc:  # noqa: BLE001 (re-raised by run_ordered once the tasks before it are done)
        failure.append(exc)


def _run_ordered(tasks: Iterator[Task], workers: int, progress, spare: int) -> Iterator[Any]:
    ahead: deque[Task] = deque()
    heavy = work = 0
    # Look ahead for a second real block and enough work: only then is a pool worth starting.
    while workers > 1 and (heavy < 2 or work < POOL_MIN_BYTES) and (task := next(tasks, None)) is not None:
        ahead.append(task)
        heavy += not task.light
        work += 0 if task.light else task.raw
    task = None
    if heavy < 2 or work < POOL_MIN_BYTES:
        # One block, or one worker: everything inline, in this thread, and a lone block
        # may use every worker itself.
        for task in _handed_on(ahead, tasks):
            result = _run_inline(task, workers, progress)
            task = None  # or its block stays alive through the next block's read
            yield result
            del result
        return
    pools = _Pools(workers, spare)
    try:
        yield from pools.run(_handed_on(ahead, tasks), progress)
    finally:
        pools.close()


def _handed_on(ahead: deque, rest: Iterator[Task]) -> Iterator[Task]:
    """``ahead``, then ``rest``; each task of ``ahead`` is let go as it is handed on (a
    chain would keep the looked-ahead blocks alive to the end of the input)."""
    while ahead:
        yield ahead.popleft()
    yield from rest


def _run_inline(task: Task, workers: int, progress) -> Any:
    reporter = task.reporter(progress or _ignore)
    inline = task.process or task.raw < AWAY_MIN_BYTES or threading.current_thread() is not threading.main_thread()
    result = _call(task.fn, task.args, workers, reporter) if inline else _away(task, workers, reporter)
    reporter.finish()
    return result


# Lone GIL-releasing work this large runs on a helper thread: signal handlers run only in the main thread.
AWAY_MIN_BYTES = 1 << 20


def _away(task: Task, workers: int, reporter: _Reporter) -> Any:
    tally, helper = _Tally(), _DaemonThreads(1)
    future = helper.submit(_call, task.fn, task.args, workers, tally.add)
    try:
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:  # the end's progress: reporter.finish()
                reporter(tally.value - reporter.done_raw)
    finally:
        helper.shutdown()
        if future.done():  # gone before the next block (forking decoders count threads)
            helper._threads[0].join()


def _ignore(n: int) -> None:
    pass


def _call(fn, args, workers: int, report):
    from bbzip.progress import reporting

    with reporting(report):
        return fn(*args, workers, report)


class _Pools:
    def __init__(self, workers: int, spare: int = 1):
        _hand_back_large_frees()
        self.workers = workers
        self.held = workers - 1 + spare  # tasks held while the next one is made
        self.threads: _DaemonThreads | None = None
        self.processes = None
        self.tally = _Tally()

    def run(self, tasks: Iterator[Task], progress) -> Iterator[Any]:
        # Futures only: a task (and its block) is let go as soon as its worker is done.
        pending: deque = deque()
        shown = 0
        for task in tasks:
            pending.append(self._submit(task))
            task = None  # or its block stays alive through the next block's read
            while len(pending) > self.held or (pending and pending[0].done()):
                shown = yield from self._drain_one(pending, progress, shown)
        while pending:
            shown = yield from self._drain_one(pending, progress, shown)

    def _drain_one(self, pending, progress, shown: int):
        future = pending[0]
        from concurrent.futures import BrokenExecutor

        while True:
            try:
                result = future.result(timeout=POLL_SECONDS)
                break
            except TimeoutError:
                shown = self._show(progress, shown)
            except BrokenExecutor as exc:  # a worker process died (killed, out of memory)
                raise BBZError(f"a worker process died ({exc})") from None
        pending.popleft()
        del future
        shown = self._show(progress, shown)
        yield result
        return shown

    def _show(self, progress, shown: int) -> int:
        value = self.tally.value
        if progress and value > shown:
            progress(value - shown)
        return max(value, shown)

    def _submit(self, task: Task):
        if task.light:
            from concurrent.futures import Future

            done = Future()
            done.set_result(_run_inline(task, 1, self.tally.add))
            return done
        if task.process:
            from bbzip import parallel_processes as processes

            if self.processes is None:
                self.processes = processes.start(self.workers, self.tally, task.prepare)
            # Not the task itself: its ``prepare`` is for this process only.
            return self.processes.submit(processes.run_task, task.fn, task.args, task.size, task.raw)
        if self.threads is None:
            self.threads = _DaemonThreads(self.workers)
        return self.threads.submit(_in_thread, task, task.reporter(self.tally.add))

    def close(self) -> None:
        if self.threads is not None:
            self.threads.shutdown()
        if self.processes is not None:
            from bbzip.parallel_processes import stop

            stop(self.processes)


def _hand_back_large_frees() -> None:
    """Have glibc return every freed buffer of 1 MiB or more to the system at once.

    By default it serves allocations below its mmap threshold from heaps, which keep what
    is freed, and raises that threshold (up to 32 MiB) whenever a large buffer is freed; so
    the blocks, outputs and zstd buffers of a long stream pile up in the pool threads'
    heaps (a 400 MB pipe at -6 -T2: about 340 MB peak against 285 with a fixed threshold). Fixing
    the threshold turns that off; smaller allocations still come from the heaps. Elsewhere
    than glibc, nothing happens."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def _in_thread(task: Task, reporter: _Reporter):
    result = _call(task.fn, task.args, 1, reporter)
    reporter.finish()
    return result


_on_pool = threading.local()  # .threads: the _DaemonThreads this thread works for


@contextmanager
def exclusive(workers: int) -> Iterator[int]:
    """Run the body with every thread of the pool, one such body at a time; outside a
    pool, with ``workers`` threads. For work whose memory grows with the blocks it codes at
    once far more than with its threads: zstd's context costs a block's size again
    (input copy, job outputs, tables) per block, where a second thread costs a job's."""
    pool = getattr(_on_pool, "threads", None)
    if pool is None:
        yield workers
        return
    with pool.exclusive:
        yield pool.count


class _DaemonThreads:
    """A minimal executor on daemon threads: unlike ThreadPoolExecutor's, they never hold
    up interpreter exit, so Ctrl-C is not kept waiting for a block to finish."""

    def __init__(self, count: int):
        self.count = count
        self.exclusive = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"bbzip-{i}")
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        self._queue.put((future, fn, args))
        return future

    def _work(self) -> None:
        _on_pool.threads = self
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 (handed to the caller, who re-raises it)
                future.set_exception(exc)
            # Let go of the task (its block) and the result before waiting for the next.
            del item, future, fn, args

    def shutdown(self) -> None:
        # Queued work still in the queue is dropped: its futures are cancelled.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
