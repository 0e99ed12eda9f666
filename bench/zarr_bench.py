"""Zarr (issue 20): photos' 256x256 RGB tiles as a Zarr array, one tile per chunk, stored with
the numcodecs codec ``bbzip`` against numcodecs' Zstd(level=9) and Blosc and imagecodecs'
JPEG XL codec (lossless), written and read by a dask.distributed LocalCluster of 1 and then 2
worker processes (one thread each; every codec on one thread per chunk, so that the workers
are the parallelism).

Tiles: TILES_PER_PHOTO distinct cells of the 256-pixel grid of each of three photographs of
shared/data/photos-train (training photos, none of them a benchmark photo elsewhere).
Bytes are the chunk files' sizes; write and read are wall seconds of the cluster's work (its
start-up not counted). The floor: on every photo, bbzip's chunks are exact and at most 0.8 x
Zstd(level=9)'s bytes.

    python -m bench.zarr_bench [--quick] [--out DIR]      (or python -m bench --only zarr)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from bench.common import log, md_table, one_line
from bench.inputs import parse_pnm, shared_data

TILE = 256
TILES_PER_PHOTO = 2
# Photographs (the set's first files by name are rendered wallpapers, flat enough for any LZ
# coder); --quick takes the first.
PHOTOS = ("deb-Autumn", "deb-ColorfulCups", "deb-Dragonfly_by_Bolly")
WORKERS = (1, 2)
FLOOR = 0.8
HINT = "pip install -e '.[zarr,bench]'"


def photo_tiles(photos: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """(N, 256, 256, 3) tiles, TILES_PER_PHOTO from the middle of each photo's 256-pixel
    grid (read in rows), and the photo each came from."""
    folder = shared_data() / "photos-train"
    tiles, names = [], []
    for name in photos:
        path = folder / f"{name}.ppm.gz"
        if not path.is_file():
            log(f"zarr: photo not found: {path}")
            continue
        image = parse_pnm(gzip.decompress(path.read_bytes()))
        rows, cols = image.shape[0] // TILE, image.shape[1] // TILE
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        middle = max(0, (len(cells) - TILES_PER_PHOTO) // 2)
        for r, c in cells[middle : middle + TILES_PER_PHOTO]:
            tiles.append(image[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE])
            names.append(name)
    if not tiles:
        raise FileNotFoundError(f"no photos in {folder}")
    return np.ascontiguousarray(np.stack(tiles)), names


def codecs() -> dict[str, object]:
    from numcodecs import Blosc, Zstd

    from bbzip.integrations.numcodecs_codec import Bbzip

    found: dict[str, object] = {
        "Zstd(level=9)": Zstd(level=9),
        "Blosc(zstd, 9, bitshuffle)": Blosc(cname="zstd", clevel=9, shuffle=Blosc.BITSHUFFLE),
        "Blosc() default (lz4)": Blosc(),
    }
    try:
        from imagecodecs.numcodecs import Jpegxl

        found["JPEG XL lossless e7"] = Jpegxl(lossless=True, effort=7, numthreads=1)
    except Exception as exc:  # noqa: BLE001 -- a missing bench extra skips the row
        log(f"zarr: no JPEG XL row ({one_line(exc)}; {HINT})")
    found["bbzip (level 6)"] = Bbzip(level=6)  # last: the slow one, after the others showed the set-up works
    return found


def _register_imagecodecs() -> None:
    try:
        from imagecodecs.numcodecs import register_codecs

        register_codecs(verbose=False)
    except ImportError:
        pass


def _chunk_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".z") and p.name != "zarr.json"}


def run_codec(client, tiles: np.ndarray, codec, folder: Path) -> dict:
    """Write the tiles as a Zarr array with ``codec`` on the cluster, read them back."""
    import dask.array as da
    import zarr
    from dask.distributed import wait

    array = zarr.create_array(str(folder), shape=tiles.shape, chunks=(1, TILE, TILE, 3), dtype="uint8",
                              zarr_format=2, compressors=codec, filters=None, overwrite=True)
    source = da.from_array(tiles, chunks=(1, TILE, TILE, 3))
    source = client.persist(source)  # the tiles on the workers before the clock starts
    wait(source)
    start = time.perf_counter()
    client.compute(da.store(source, array, lock=False, compute=False)).result()
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    back = client.compute(da.from_zarr(array)).result()
    read_s = time.perf_counter() - start
    chunks = _chunk_bytes(folder)
    digest = hashlib.sha256(b"".join(chunks[k] for k in sorted(chunks))).hexdigest()[:12]
    sizes = [len(chunks[k]) for k in sorted(chunks, key=lambda k: int(k.split(".")[0]))]
    return {"bytes": sum(sizes), "sizes": sizes, "write_s": write_s, "read_s": read_s,
            "exact": bool(np.array_equal(back, tiles)), "digest": digest}


def run_zarr(quick: bool = False, workers: tuple[int, ...] = WORKERS) -> dict:
    """{"rows": [...], "floor": {...}} or {"why": reason} when it cannot run."""
    try:
        from dask.distributed import Client, LocalCluster

        tiles, names = photo_tiles(PHOTOS[:1] if quick else PHOTOS)
        chosen = codecs()
    except (ImportError, FileNotFoundError) as exc:
        return {"why": f"{one_line(exc)} ({HINT})"}
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bbzip-zarr-bench-") as tmp:
        for n in workers:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, worker_dashboard_address=None)
            with cluster, Client(cluster) as client:
                client.run(_register_imagecodecs)
                from bbzip.integrations.dask_recipe import setup_workers

                setup_workers(client)
                for label, codec in chosen.items():
                    log(f"zarr: {label}, {n} worker(s), {len(tiles)} tiles")
                    folder = Path(tmp) / f"{len(results)}.zarr"
                    try:
                        results[label, n] = row = run_codec(client, tiles, codec, folder)
                    except Exception as exc:  # noqa: BLE001 -- the bench reports; other rows go on
                        log(f"zarr: {label} failed: {one_line(exc)}")
                        continue
                    log(f"zarr: {row['bytes']:,} bytes, write {row['write_s']:.2f} s, "
                        f"read {row['read_s']:.2f} s, exact {row['exact']}")
    return {"rows": results, "tiles": len(tiles), "photos": sorted(set(names)), "names": names,
            "workers": workers, "floor": floor_check(results, names, workers[0])}


def floor_check(results: dict, names: list[str], n: int) -> dict:
    ours, zstd = results.get(("bbzip (level 6)", n)), results.get(("Zstd(level=9)", n))
    if ours is None or zstd is None:
        return {"status": "n/a", "detail": "bbzip or Zstd row missing"}
    worst = 0.0
    for photo in sorted(set(names)):
        pick = [i for i, name in enumerate(names) if name == photo]
        ratio = sum(ours["sizes"][i] for i in pick) / sum(zstd["sizes"][i] for i in pick)
        worst = max(worst, ratio)
    passed = ours["exact"] and worst <= FLOOR
    return {"status": "PASS" if passed else "FAIL", "worst": worst,
            "detail": f"worst photo {worst:.3f} x Zstd(level=9) (bar {FLOOR}), exact: {ours['exact']}"}


def markdown(run: dict | None) -> str:
    """The report's Zarr section ("" when the part did not run)."""
    if not run:
        return ""
    if "why" in run:
        return f"### Zarr\n\nNot run: {run['why']}.\n"
    rows = []
    workers = run["workers"]
    labels = list(dict.fromkeys(label for label, _ in run["rows"]))
    zstd = run["rows"].get(("Zstd(level=9)", workers[0]))
    pixels = run["tiles"] * TILE * TILE * 3
    for label in labels:
        runs = [run["rows"].get((label, n)) for n in workers]
        first = next(r for r in runs if r is not None)
        cells = [label, f"{first['bytes']:,}", f"{first['bytes'] * 8 / pixels:.3f}",
                 f"{first['bytes'] / zstd['bytes']:.3f}" if zstd else "-"]
        for row in runs:
            cells += [f"{row['write_s']:.2f}", f"{row['read_s']:.2f}"] if row else ["error", "error"]
        done = [r for r in runs if r is not None]
        same = len(done) == len(runs) and len({r["digest"] for r in done}) == 1
        exact = len(done) == len(runs) and all(r["exact"] for r in done)
        cells += ["yes" if same else "NO", "ok" if exact else "FAIL"]
        rows.append(cells)
    headers = ["codec", "bytes", "bits/subpx", "x Zstd-9"]
    for n in workers:
        headers += [f"write s ({n}w)", f"read s ({n}w)"]
    headers += [f"same bytes {'/'.join(map(str, workers))}w", "round trip"]
    floor = run["floor"]
    legend = (f"{run['tiles']} tiles of 256x256 RGB (one chunk each, Zarr format 2) from "
              f"{len(run['photos'])} photos of photos-train ({', '.join(run['photos'])}); "
              f"dask.distributed LocalCluster of {' and '.join(map(str, workers))} worker process(es), "
              "one thread each; write and read are wall seconds (cluster start-up not counted).")
    verdict = (f"Floor (bbzip exact and at most {FLOOR} x Zstd(level=9) on every photo): "
               f"**{floor['status']}**, {floor['detail']}.")
    return "\n".join(["### Zarr", "", legend, "", md_table(headers, rows), "", verdict, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zarr_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"one photo instead of {len(PHOTOS)}")
    parser.add_argument("--out", help="also write the section to DIR/zarr.md")
    args = parser.parse_args(argv)
    text = markdown(run_zarr(args.quick))
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "zarr.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
