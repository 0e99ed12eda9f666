"""Threads (-T): identical output for every worker count, order, progress, clean failures."""

import gc
import io
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

from bbzip import api, container, parallel
from tests import parallel_helpers

ROOT = Path(__file__).resolve().parents[1]


def mixed(n_blocks, block):
    """Text, skewed and random stretches: every general coder gets blocks."""
    rng = np.random.default_rng(5)
    parts = []
    for i in range(n_blocks):
        kind = i % 3
        if kind == 0:
            parts.append(b"".join(b"row %d, value %d\n" % (j, j * i % 1000) for j in range(block // 16))[:block])
        elif kind == 1:
            parts.append(np.minimum(rng.geometric(0.3, block), 255).astype(np.uint8).tobytes())
        else:
            parts.append(rng.bytes(block))
    return b"".join(parts)


@pytest.mark.parametrize("level", [1, 6, 9])
def test_output_is_identical_for_1_2_and_3_threads(monkeypatch, level):
    monkeypatch.setattr(api, "BLOCK_SIZE", 40_000)
    data = mixed(7, 30_000)
    outputs = {api.compress(data, level=level, threads=threads) for threads in (1, 2, 3)}
    assert len(outputs) == 1
    packed = outputs.pop()
    assert len(api.stream_info(io.BytesIO(packed)).blocks) == 6
    for threads in (1, 2, 3):
        out = io.BytesIO()
        api.decompress_stream(io.BytesIO(packed), out, threads=threads)
        assert out.getvalue() == data


def test_progress_adds_up_and_advances_within_a_block(monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 300_000)
    data = mixed(3, 250_000)
    for threads in (1, 2):
        calls = []
        api.compress_stream(io.BytesIO(data), io.BytesIO(), progress=calls.append, threads=threads)
        assert sum(calls) == len(data) and min(calls) > 0
    # One block fed to zstd in slices: progress moves before the block is done.
    monkeypatch.setattr(api, "BLOCK_SIZE", 32 << 20)
    from bbzip.coders import zstd_coder

    monkeypatch.setattr(zstd_coder, "_FEED", 100_000)
    calls = []
    api.compress_stream(io.BytesIO(data), io.BytesIO(), coder="zstd", progress=calls.append)
    assert sum(calls) == len(data) and len(calls) >= len(data) // 100_000


def test_small_inputs_never_start_a_pool(monkeypatch):
    def refuse(*args):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(parallel._Pools, "__init__", refuse)
    packed = api.compress(b"x" * 1000, threads=4)
    out = io.BytesIO()
    api.decompress_stream(io.BytesIO(packed + packed), out, threads=4)  # two streams, two tiny blocks
    assert out.getvalue() == b"x" * 2000
    assert _pool_threads() == 0


@pytest.mark.parametrize("blocks", [1, 4])
def test_what_precedes_data_that_is_not_a_stream_is_written_first(monkeypatch, blocks):
    # bbzip -dcf copies such data through after the streams before it: reading ahead for
    # the workers (one block: the look-ahead; four: the pool) must not drop those streams.
    monkeypatch.setattr(api, "BLOCK_SIZE", 40_000)
    data = mixed(blocks, 30_000)[: blocks * 30_000 - 1]
    packed = api.compress(data, threads=2)
    out = io.BytesIO()
    with pytest.raises(container.OtherData):
        api.decompress_stream(io.BytesIO(packed + b"plain text after it\n"), out, threads=2)
    assert out.getvalue() == data


def test_results_come_back_in_order_with_progress(monkeypatch):
    monkeypatch.setattr(parallel, "_run_inline", None)  # a pool must run these
    # raw: what the work counts as; enough that a pool is worth starting
    tasks = [parallel.Task(parallel_helpers.square, (i,), i, raw=1 << 20) for i in range(20)]
    calls = []
    assert list(parallel.run_ordered(tasks, 3, calls.append)) == [i * i for i in range(20)]
    assert sum(calls) == sum(range(20))


class _Block(bytearray):
    """A block whose lifetime a test can watch (bytes cannot be weakly referenced)."""


class _Watch:
    def __init__(self):
        self.refs, self.seen = [], []

    def note(self) -> None:
        """How many of the blocks made so far are alive now."""
        gc.collect()
        self.seen.append(sum(ref() is not None for ref in self.refs))

    def add(self, block: _Block) -> _Block:
        self.refs.append(weakref.ref(block))
        return block


def _watched_tasks(watch: _Watch, count: int, size: int = 1 << 20):
    """Tasks over fresh blocks; before making each, note how many earlier blocks live."""
    for _ in range(count):
        watch.note()
        block = watch.add(_Block(16))
        task = parallel.Task(_touch, (block,), 1, raw=size)
        del block
        yield task
        del task


def _touch(block, workers: int, report) -> int:
    time.sleep(0.002)  # long enough for blocks to overlap
    return len(block)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_at_most_workers_blocks_are_held_while_the_next_is_made(workers):
    # The bound on memory, as a count: blocks whose results were handed on are let go
    # (a looked-ahead block, or a done task, once stayed alive to the end of the input).
    watch = _Watch()
    assert list(parallel.run_ordered(_watched_tasks(watch, 12), workers)) == [16] * 12
    assert len(watch.seen) == 12 and max(watch.seen) <= (0 if workers == 1 else workers)


@pytest.mark.parametrize("threads", [1, 2])
def test_compress_stream_lets_each_block_go_before_reading_the_next(monkeypatch, threads):
    watch = _Watch()
    data = mixed(6, 50_000)

    def read(src, size):
        watch.note()
        start = 40_000 * (len(watch.seen) - 1)
        return watch.add(_Block(data[start : start + size]))

    monkeypatch.setattr(api, "BLOCK_SIZE", 40_000)
    monkeypatch.setattr(api, "_read_full", read)
    out = io.BytesIO()
    api.compress_stream(io.BytesIO(), out, level=1, threads=threads)
    assert api.decompress(out.getvalue()) == data
    assert len(watch.seen) == 9 and max(watch.seen) <= (0 if threads == 1 else threads)


def _turn(state: dict, index: int, workers: int, report) -> int:
    with parallel.exclusive(workers) as threads:
        with state["lock"]:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        time.sleep(0.005)
        with state["lock"]:
            state["inside"] -= 1
    return threads


def test_exclusive_work_takes_turns_with_every_thread_of_the_pool():
    state = {"lock": threading.Lock(), "inside": 0, "most": 0}
    tasks = [parallel.Task(_turn, (state, i), 1, raw=1 << 20) for i in range(8)]
    assert list(parallel.run_ordered(tasks, 3)) == [3] * 8
    assert state["most"] == 1
    with parallel.exclusive(2) as threads:  # outside a pool: what the caller allows
        assert threads == 2


def test_zstd_blocks_of_several_jobs_take_turns_with_the_same_output(monkeypatch):
    from bbzip.coders import zstd_coder

    monkeypatch.setattr(zstd_coder, "JOB_BYTES", 1 << 20)  # several jobs per 3 MiB block
    monkeypatch.setattr(api, "BLOCK_SIZE", 3 << 20)
    data = mixed(10, 1 << 20)
    outputs = {api.compress(data, level=level, threads=threads) for level in (1, 6) for threads in (1, 2)}
    assert len(outputs) == 2
    assert {api.decompress(packed) for packed in outputs} == {data}


def _pool_threads() -> int:
    return sum(t.name.startswith("bbzip-") for t in threading.enumerate())


def test_a_failing_worker_is_one_error_and_no_thread_is_left():
    tasks = [parallel.Task(parallel_helpers.fail_on, (i, 5), 1, raw=1 << 20) for i in range(20)]
    results = parallel.run_ordered(tasks, 3)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="block 5 failed"):
        next(results)
    deadline = time.monotonic() + 5
    while _pool_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pool_threads() == 0


def test_a_failing_worker_process_is_one_error():
    tasks = [parallel.Task(parallel_helpers.fail_on, (i, 2), 1, process=True, raw=1 << 20) for i in range(4)]
    with pytest.raises(ValueError, match="block 2 failed"):
        list(parallel.run_ordered(tasks, 2))


def test_worker_count():
    assert parallel.worker_count(3) == 3
    assert parallel.worker_count(0) == parallel.usable_cores() >= 1
    with pytest.raises(ValueError):
        parallel.worker_count(-1)


INTERRUPTED = """
import sys
from bbzip import parallel
from tests import parallel_helpers
process = sys.argv[2] == "process"
tasks = [parallel.Task(parallel_helpers.sleepy, (sys.argv[1], i), 1, process=process, raw=1 << 20)
         for i in range(6)]
try:
    list(parallel.run_ordered(tasks, 2))
except KeyboardInterrupt:
    sys.stderr.write("interrupted\\n")
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_ctrl_c_leaves_no_worker_behind(tmp_path, kind):
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(tmp_path), kind], cwd=ROOT,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.iterdir())) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.1)
    pids = {int(p.name.split("-")[1]) for p in tmp_path.iterdir()}
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = proc.stderr.read().decode()
    assert proc.returncode == 130, stderr
    assert stderr == "interrupted\n"  # no traceback from any worker
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids - {proc.pid}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids - {proc.pid})



def _idx(images: np.ndarray) -> bytes:
    import struct

    return struct.pack(">HBBIII", 0, 8, 3, len(images), 28, 28) + images.tobytes()


def test_digit_files_are_cut_into_fixed_blocks_whatever_the_threads(monkeypatch, tmp_path):
    from bbzip.vae import coder
    from tests.vae_helpers import digits, tiny_model_bytes

    monkeypatch.setattr(coder, "PARALLEL_BLOCK_IMAGES", {False: 5, True: None})
    monkeypatch.setattr(parallel, "POOL_MIN_BYTES", 0)  # a pool for this little work too
    model = tmp_path / "tiny.npz"
    model.write_bytes(tiny_model_bytes())
    data = _idx(digits(12, seed=3))
    # The VAE forced, and a tiny model: the point is the blocking, and that the VAE's
    # blocks go to worker processes.
    outputs = {api.compress(data, coder="vae", model=model, threads=threads) for threads in (1, 2, 3)}
    assert len(outputs) == 1
    packed = outputs.pop()
    blocks = api.stream_info(io.BytesIO(packed)).blocks
    sizes = [16 + 5 * 784, 5 * 784, 2 * 784]
    assert [(b.coder, b.raw_size) for b in blocks] == [("vae", size) for size in sizes]
    out = io.BytesIO()
    api.decompress_stream(io.BytesIO(packed), out, models=(model,), threads=3)
    assert out.getvalue() == data


def test_binary_digit_files_stay_in_one_block(monkeypatch):
    from bbzip.vae import coder
    from tests.vae_helpers import digits

    monkeypatch.setattr(coder, "PARALLEL_BLOCK_IMAGES", {False: 5, True: None})
    data = _idx(np.where(digits(12, seed=3) > 127, 255, 0).astype(np.uint8))
    packed = api.compress(data, level=1)  # the blocking does not depend on the level
    assert [b.raw_size for b in api.stream_info(io.BytesIO(packed)).blocks] == [len(data)]
    assert api.decompress(packed) == data


# -- worker processes: forked once prepared, one BLAS thread each ------------------------------
def _process_tasks(fn, count: int, prepare=None):
    return [parallel.Task(fn, (i,), 1 << 20, process=True, prepare=prepare) for i in range(count)]


def test_worker_processes_keep_to_one_blas_thread():
    """-T N means N busy cores: a worker's BLAS must not start threads of its own."""
    from bbzip.parallel_processes import blas_threads

    results = list(parallel.run_ordered(_process_tasks(parallel_helpers.blas_threads, 4), 2))
    assert {pid for pid, _, _ in results} & {os.getpid()} == set()
    assert all(counts and set(counts) == {1} and omp == "1" for _, counts, omp in results), results
    assert blas_threads(), "no OpenBLAS found in this process: the check above proves nothing"


def test_forked_workers_inherit_what_the_first_task_prepared(monkeypatch):
    """The natural coder's model and compiled kernels load once, in the parent, not once a worker."""
    monkeypatch.setattr(parallel_helpers, "PREPARED", [])
    assert threading.active_count() == 1, "another test left threads running: the pool may not fork"
    results = list(parallel.run_ordered(_process_tasks(parallel_helpers.prepared, 4, parallel_helpers.prepare), 2))
    assert parallel_helpers.PREPARED == [os.getpid()]
    assert all(seen == [os.getpid()] and pid != os.getpid() for pid, seen in results), results


def test_a_process_with_threads_spawns_its_workers_unprepared(monkeypatch):
    monkeypatch.setattr(parallel_helpers, "PREPARED", [])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        results = list(parallel.run_ordered(_process_tasks(parallel_helpers.prepared, 3, parallel_helpers.prepare), 2))
    finally:
        stop.set()
        other.join()
    assert parallel_helpers.PREPARED == [] and all(seen == [] for _, seen in results)
