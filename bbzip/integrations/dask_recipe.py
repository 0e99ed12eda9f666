"""Compress a folder, or a Zarr array, of images on a dask.distributed cluster (extra
``bbzip[zarr]``; docs/ZARR.md).

    from dask.distributed import Client
    from bbzip.integrations import dask_recipe
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=2))
    dask_recipe.setup_workers(client)                # fsspec's .bbz, models on every worker
    dask_recipe.compress_folder(client, "s3://bucket/photos", "s3://bucket/photos-bbz")
    dask_recipe.compress_zarr(client, "in.zarr", "out.zarr")

Every task codes with one thread (the cluster gives the parallelism) and bbzip's output never
depends on the machine, so a cluster writes the same bytes as one process (``client=None``).
Models: the shipped ones are package data, found wherever bbzip is installed; your own must be
on storage every worker can read, named with ``model=`` (a file) or ``model_path=`` (a
directory that setup_workers puts on each worker's BBZIP_MODEL_PATH).
The command line does the same: ``python -m bbzip.integrations.dask_recipe --help``.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import sys

from bbzip import api
from bbzip.errors import BBZError, ModelError
from bbzip.integrations import require
from bbzip.modelfile import PATH_ENV

_plugin = require("distributed.diagnostics.plugin", "zarr")
SUFFIX = ".bbz"


class BbzipWorkerPlugin(_plugin.WorkerPlugin):
    """On every worker, now and as workers join: ``.bbz`` registered with fsspec, and
    ``model_path`` (a directory of model files on shared storage) on BBZIP_MODEL_PATH."""

    name = "bbzip"

    def __init__(self, model_path: str | None = None) -> None:
        self.model_path = model_path

    def setup(self, worker=None) -> None:
        if self.model_path:
            paths = [p for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p]
            if self.model_path not in paths:
                os.environ[PATH_ENV] = os.pathsep.join([*paths, self.model_path])
        from bbzip.integrations import fsspec_compression

        fsspec_compression.register()


def model_ids(model: str | None = None) -> list[str]:
    """The IDs of the models this process finds (shipped, BBZIP_MODEL_PATH, user directory,
    and ``model``); damaged files are left out."""
    from bbzip.vae.model import installed_models

    return [row.model_id for row in installed_models(() if model is None else (model,)) if not row.problem]


def setup_workers(client, model_path: str | None = None, model: str | None = None) -> dict[str, list[str]]:
    """Install the plugin on every worker and check that each finds the same models as this
    process (and ``model``); {worker: model IDs}. ModelError names a worker that does not."""
    plugin = BbzipWorkerPlugin(model_path)
    plugin.setup()
    client.register_plugin(plugin)
    wanted = set(model_ids(model))
    found = client.run(model_ids, model)
    for worker, ids in sorted(found.items()):
        missing = wanted - set(ids)
        if missing:
            raise ModelError(f"worker {worker} does not find model(s) {', '.join(sorted(missing))}: "
                             f"put them on storage it can read (model_path= or {PATH_ENV})")
    return found


# -- a folder -----------------------------------------------------------------------------
def compress_file(source: str, target: str, level: int = api.DEFAULT_LEVEL, model: str | None = None,
                  storage_options: dict | None = None) -> tuple[int, int]:
    """One file to its .bbz through fsspec, streamed; (raw size, compressed size). The output
    appears under its name only once complete."""
    fsspec = require("fsspec", "zarr")
    fs, path = fsspec.core.url_to_fs(target, **(storage_options or {}))
    partial = posixpath.join(posixpath.dirname(path), "." + posixpath.basename(path) + ".part")
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    try:
        with fsspec.open(source, "rb", **(storage_options or {})) as src, fs.open(partial, "wb") as dst:
            counter = _Counter(src)
            api.compress_stream(counter, dst, level=level, model=model, threads=1)
    except BaseException:
        if fs.exists(partial):
            fs.rm(partial)
        raise
    fs.mv(partial, path)
    return counter.count, fs.size(path)


class _Counter:
    def __init__(self, src) -> None:
        self.src, self.count = src, 0

    def read(self, size: int = -1) -> bytes:
        data = self.src.read(size)
        self.count += len(data)
        return data


def compress_folder(client, source: str, target: str, level: int = api.DEFAULT_LEVEL,
                    model: str | None = None, storage_options: dict | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``source`` (any fsspec URL) to ``target``/RELATIVE.bbz, one task per
    file; {relative path: (raw, compressed)}. ``client=None`` runs in this process."""
    fsspec = require("fsspec", "zarr")
    fs, root = fsspec.core.url_to_fs(source, **(storage_options or {}))
    root = root.rstrip("/")
    names = sorted(posixpath.relpath(p, root) for p in fs.find(root) if not p.endswith(SUFFIX))
    if not names:
        raise BBZError(f"no files under {source}")
    jobs = [(fs.unstrip_protocol(posixpath.join(root, n)), target.rstrip("/") + "/" + n + SUFFIX, level, model,
             storage_options) for n in names]
    if client is None:
        sizes = [compress_file(*job) for job in jobs]
    else:
        futures = [client.submit(compress_file, *job, pure=False) for job in jobs]
        sizes = client.gather(futures)
    return dict(zip(names, sizes, strict=True))


# -- a Zarr array -------------------------------------------------------------------------
def bbzip_codec_kwargs(zarr_format: int, level: int = api.DEFAULT_LEVEL, model: str | None = None) -> dict:
    """zarr.create_array's arguments that store chunks with bbzip, for format 2 or 3."""
    options = {"level": level} if model is None else {"level": level, "model": model}
    if zarr_format == 2:
        from bbzip.integrations.numcodecs_codec import Bbzip

        return {"zarr_format": 2, "compressors": Bbzip(**options), "filters": None}
    from bbzip.integrations.zarr3 import Bbzip as Bbzip3

    return {"zarr_format": 3, "serializer": Bbzip3(**options), "compressors": None, "filters": None}


def compress_zarr(client, source, target, level: int = api.DEFAULT_LEVEL, model: str | None = None,
                  zarr_format: int = 3, chunks: tuple[int, ...] | None = None):
    """A copy of the Zarr array ``source`` (a path, URL or zarr.Array) at ``target`` (a path or
    URL every worker can write) with chunks stored by bbzip; the new zarr.Array. Each worker
    codes whole chunks of the target (``chunks``, default the source's), so no two write one."""
    zarr = require("zarr", "zarr")
    da = require("dask.array", "zarr")
    array = source if isinstance(source, zarr.Array) else zarr.open_array(source, mode="r")
    chunks = tuple(chunks or array.chunks)
    out = zarr.create_array(target, shape=array.shape, chunks=chunks, dtype=array.dtype,
                            fill_value=array.fill_value, overwrite=True,
                            **bbzip_codec_kwargs(zarr_format, level, model))
    stored = da.store(da.from_zarr(array, chunks=chunks), out, lock=False, compute=False)
    if client is None:
        stored.compute(scheduler="sync")
    else:
        client.compute(stored).result()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bbzip.integrations.dask_recipe",
                                     description="Compress a folder or a Zarr array on a Dask cluster.")
    parser.add_argument("source", help="a folder or a Zarr array (any fsspec URL)")
    parser.add_argument("target", help="the output folder or Zarr array")
    parser.add_argument("--zarr", type=int, choices=(2, 3), help="source is a Zarr array: write this format")
    parser.add_argument("--scheduler", help="scheduler address; default: a local cluster")
    parser.add_argument("--workers", type=int, default=2, help="local cluster's worker processes")
    parser.add_argument("-l", "--level", type=int, default=api.DEFAULT_LEVEL)
    parser.add_argument("--model", help="a model file every worker can read")
    parser.add_argument("--model-path", help="a directory of models every worker can read")
    args = parser.parse_args(argv)
    distributed = require("distributed", "zarr")
    if args.scheduler:
        client = distributed.Client(args.scheduler)
    else:
        client = distributed.Client(distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1))
    try:
        with client:
            setup_workers(client, args.model_path, args.model)
            if args.zarr:
                compress_zarr(client, args.source, args.target, args.level, args.model, args.zarr)
            else:
                sizes = compress_folder(client, args.source, args.target, args.level, args.model)
                raw, packed = (sum(s[i] for s in sizes.values()) for i in (0, 1))
                print(f"{len(sizes)} files, {raw:,} -> {packed:,} bytes")
    except BBZError as exc:
        print(f"bbzip: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
