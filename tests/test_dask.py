"""The Dask recipe on a LocalCluster of two worker processes: the same bytes as one process
(bbzip/integrations/dask_recipe.py, docs/ZARR.md)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from bbzip import api

distributed = pytest.importorskip("distributed", reason="needs the zarr extra: pip install -e '.[zarr]'")
zarr = pytest.importorskip("zarr")

from bbzip.integrations import dask_recipe

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's start-up chatter
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, worker_dashboard_address=None)
    with cluster, distributed.Client(cluster) as connected:
        dask_recipe.setup_workers(connected)
        yield connected


def test_two_worker_processes_find_the_shipped_models(client):
    pids = client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    found = dask_recipe.setup_workers(client)
    assert sorted(found) == sorted(pids)
    assert all(ids == dask_recipe.model_ids() for ids in found.values())
    assert len(dask_recipe.model_ids()) >= 4  # natural, its predecessor, the two digit models


def test_a_folder_on_the_cluster_gives_the_bytes_of_one_process(client, tmp_path):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    files = {"photo.ppm": (DATA / "natural-rgb-31x24.ppm").read_bytes(),
             "sub/notes.txt": b"a few words, " * 500, "sub/empty": b""}
    for name, data in files.items():
        (source / name).write_bytes(data)
    sizes = dask_recipe.compress_folder(client, str(source), str(tmp_path / "cluster"))
    assert sorted(sizes) == sorted(files)
    for name, data in files.items():
        packed = (tmp_path / "cluster" / (name + ".bbz")).read_bytes()
        assert packed == api.compress(data)  # what one process writes (bbzip FILE too)
        assert sizes[name] == (len(data), len(packed))
    assert not list((tmp_path / "cluster").rglob("*.part"))


def _chunk_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt, dtype", [(3, "uint8"), (2, "uint16")])
def test_a_zarr_array_on_the_cluster_gives_the_bytes_of_one_process(client, tmp_path, fmt, dtype):
    from tests.test_zarr import pnm_pixels

    if dtype == "uint8":  # two image chunks for the learned coder
        data = pnm_pixels("natural-rgb-31x24.ppm")[:24, :16]
    else:  # generic chunks, partial at the edges
        data = (np.arange(30 * 20, dtype=np.uint16) * 7).reshape(30, 20)
    source = zarr.create_array(str(tmp_path / "src.zarr"), shape=data.shape, chunks=(12, *data.shape[1:]),
                               dtype=data.dtype)
    source[:] = data
    out = dask_recipe.compress_zarr(client, str(tmp_path / "src.zarr"), str(tmp_path / "cluster.zarr"),
                                    zarr_format=fmt)
    dask_recipe.compress_zarr(None, source, str(tmp_path / "alone.zarr"), zarr_format=fmt)
    assert np.array_equal(out[:], data)
    cluster, alone = _chunk_files(tmp_path / "cluster.zarr"), _chunk_files(tmp_path / "alone.zarr")
    assert cluster == alone and len(cluster) >= 3  # metadata and at least two chunks


def test_workers_read_bbz_text_through_fsspec(client, tmp_path):
    """setup_workers registered .bbz with fsspec in every worker: Dask's text reader infers it."""
    import dask.bag

    lines = [f"record {i}\n" for i in range(400)]
    for part in (0, 1):
        (tmp_path / f"part{part}.txt.bbz").write_bytes(api.compress("".join(lines[part::2]).encode()))
    bag = dask.bag.read_text(str(tmp_path / "part*.txt.bbz"))
    assert sorted(client.compute(bag).result()) == sorted(lines)


def test_the_plugin_puts_a_model_directory_on_the_search_path(monkeypatch, tmp_path):
    from bbzip.modelfile import PATH_ENV, search_path

    monkeypatch.setenv(PATH_ENV, "/elsewhere")
    dask_recipe.BbzipWorkerPlugin(str(tmp_path)).setup()
    dask_recipe.BbzipWorkerPlugin(str(tmp_path)).setup()  # once only
    assert os.environ[PATH_ENV] == os.pathsep.join(["/elsewhere", str(tmp_path)])
    assert tmp_path in search_path()


def test_the_command_line_runs_on_a_given_scheduler(client, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_bytes(b"some text " * 300)
    address = client.scheduler.address
    assert dask_recipe.main([str(tmp_path / "in"), str(tmp_path / "out"), "--scheduler", address]) == 0
    assert (tmp_path / "out" / "a.txt.bbz").read_bytes() == api.compress(b"some text " * 300)
    assert "1 files, 3,000 ->" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert dask_recipe.main([str(tmp_path / "empty"), str(tmp_path / "out2"), "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bbzip: no files under") and err.count("\n") == 1


def test_a_failing_file_leaves_no_partial_output(tmp_path):
    from bbzip.errors import UnsupportedError

    (tmp_path / "a.txt").write_bytes(b"text")
    with pytest.raises(UnsupportedError, match="level"):  # fails after the output was opened
        dask_recipe.compress_file(str(tmp_path / "a.txt"), str(tmp_path / "out" / "a.txt.bbz"), level=0)
    assert list((tmp_path / "out").iterdir()) == []
