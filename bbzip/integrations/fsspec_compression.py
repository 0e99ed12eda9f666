"""``.bbz`` as an fsspec compression (extra ``bbzip[zarr]``): after ``register()`` (which
importing this module does),

    fsspec.open("s3://bucket/x.ppm.bbz", "rb", compression="infer")

reads and writes .bbz over any filesystem fsspec knows, as do Dask's readers of compressed
text. fsspec has no entry point for compressions (only for filesystems), so the registration
happens in each process that imports this module; the Dask worker plugin (dask_recipe.py)
does it on every worker.

The file objects stream: a thread runs bbzip's own stream coder (api.compress_stream or
api.decompress_stream) against the underlying file and hands blocks over a queue at most
QUEUE_DEPTH deep, so memory follows a block (32 MiB), not the file, and the bytes written
are exactly those of ``bbzip FILE``.
"""

from __future__ import annotations

import io
import queue
import threading

from bbzip import api
from bbzip.errors import UnsupportedError

NAME = "bbzip"
EXTENSION = "bbz"
QUEUE_DEPTH = 2
BUFFER_SIZE = 1 << 20
_POLL = 0.1
_END = object()


class _Stopped(Exception):
    """The other side of the queue has gone: the coder thread winds down."""


class _Channel:
    """Chunks of bytes from one thread to another, ending in _END or an exception."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(QUEUE_DEPTH)
        self.stopped = threading.Event()

    def put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise _Stopped

    def get(self):
        while True:
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self.stopped.is_set():
                    raise _Stopped from None

    def drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


class _ChannelWriter:
    """What decompress_stream writes its blocks to."""

    def __init__(self, channel: _Channel) -> None:
        self.channel = channel

    def write(self, data) -> int:
        self.channel.put(bytes(data))
        return len(data)


class _ChannelReader:
    """What compress_stream reads the user's writes from."""

    def __init__(self, channel: _Channel) -> None:
        self.channel, self.pending = channel, memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            item = self.channel.get()
            if item is _END:
                self.channel.put(_END)  # every later read sees the end too
                return b""
            self.pending = memoryview(item)
        size = len(self.pending) if size is None or size < 0 else size
        out, self.pending = self.pending[:size], self.pending[size:]
        return bytes(out)


class _Coder:
    """The thread that runs one of bbzip's stream coders; its error is the caller's."""

    def __init__(self, target, *args, **kwargs) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target, args, kwargs), daemon=True,
                                       name="bbzip-fsspec")
        self.thread.start()

    def _run(self, target, args, kwargs) -> None:
        try:
            target(*args, **kwargs)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
            self.error = exc


class _RawReader(io.RawIOBase):
    """Decompressed bytes of a .bbz file object, block by block."""

    def __init__(self, fileobj, models=()) -> None:
        self.channel = _Channel()
        self.pending = memoryview(b"")
        self.finished = False
        self.coder = _Coder(self._decode, fileobj, models)

    def _decode(self, fileobj, models) -> None:
        try:
            api.decompress_stream(fileobj, _ChannelWriter(self.channel), models=tuple(models))
        finally:
            # After an error too: readinto then finds the end and raises the coder's error.
            self.channel.put(_END)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and not self.finished:
            item = self.channel.get()
            if item is _END:
                self.finished = True
                self.coder.thread.join()
                if self.coder.error is not None:
                    raise self.coder.error
            else:
                self.pending = memoryview(item)
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self.channel.stopped.set()
            self.channel.drain()
            self.coder.thread.join()
        super().close()


class _RawWriter(io.RawIOBase):
    """Compresses what is written into the file object; close() ends the stream (the file
    object itself stays open: its owner closes it, as with gzip.GzipFile(fileobj=...))."""

    def __init__(self, fileobj, level: int = api.DEFAULT_LEVEL, coder: str = "auto", model=None) -> None:
        self.channel = _Channel()
        self.coder = _Coder(self._encode, fileobj, coder=coder, model=model, level=level)

    def _encode(self, fileobj, **options) -> None:
        try:
            api.compress_stream(_ChannelReader(self.channel), fileobj, **options)
        except BaseException:
            self.channel.stopped.set()  # the writer's next put must not wait for a reader
            raise

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        # At most BUFFER_SIZE per call (BufferedWriter comes back for the rest): a huge write
        # is never copied whole into the queue.
        piece = bytes(memoryview(data).cast("B")[:BUFFER_SIZE])
        self._put(piece)
        return len(piece)

    def _put(self, item) -> None:
        try:
            self.channel.put(item)
        except _Stopped:
            self.coder.thread.join()
            raise self.coder.error or OSError("the .bbz stream was closed") from None

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._put(_END)
            self.coder.thread.join()
            if self.coder.error is not None:
                raise self.coder.error
        finally:
            self.channel.stopped.set()
            super().close()


def bbz_file(infile, mode: str = "rb", level: int = api.DEFAULT_LEVEL, models=(), **kwargs):
    """fsspec's compression callback: a buffered file object over ``infile``.

    ``mode`` "r"/"rb" decompresses (``models``: extra model files), "w"/"wb" compresses at
    ``level`` (``coder``, ``model`` as for bbzip.compress_stream)."""
    if "r" in mode:
        return io.BufferedReader(_RawReader(infile, models), BUFFER_SIZE)
    if "w" in mode or "a" in mode:
        return io.BufferedWriter(_RawWriter(infile, level, **kwargs), BUFFER_SIZE)
    raise UnsupportedError(f"unknown mode {mode!r} for a .bbz file")


def register() -> None:
    """Make ``compression="bbzip"`` and ``compression="infer"`` on ``*.bbz`` work in this process."""
    from bbzip.integrations import require

    compression = require("fsspec.compression", "zarr")
    if compression.compr.get(NAME) is not bbz_file:
        compression.register_compression(NAME, bbz_file, EXTENSION, force=True)


register()
