"""bbzip's benchmark (``make bench``, or ``python -m bench [SECTION ...] [--quick] [--photos DIR]``).

Sections: levels, coders, mnist, natural, startup, pipe, zarr, photos, formats (all when none is
named; ``--only a,b`` is the same as naming them). ``--quick`` shrinks the inputs. Results go to
``bench-results/`` (``bench-results/<sections>`` when some are named, so parts run one after
another each keep theirs): bench.md (everything), readme.md (the README's Results part of the
run), bench.json, rows.jsonl (each row as it is measured) and the charts.

One run measures bbzip and the usual compressors on the same inputs and checks bbzip's bars
against the rows it publishes. The package, one job per module:

  inputs.py    the deterministic inputs (source tar, skewed, random, MNIST, photos, crops)
  realdata.py  real data for the levels table: this machine's logs, an ext4 image of /usr/bin
  measure.py   codecs (the CLI, the library, external tools) and one Row per (input, tool)
  rss.py       peak memory of a command's whole process tree
  suites.py    which codecs on which inputs: levels, coders, mnist, startup, pipe
  natural.py   the natural-image table through imagecodecs, the crops, the tar folder
  photos.py    photos at full size (0.3 to 20 MP) as whole processes, peak PSS of the tree
               (Debian's wallpapers, fetched into the cache, or --photos DIR), issue 16's floors
  files.py     the formats section: formats.py (JPEG, TIFF, BMP, 16-bit, RGBA, tar) and
               png_regen.py (PNG writers, PNG sizes; png_files.py writes PNGs) as rows and floors
  natural_speed.py  the natural coder's speed, compiled and numpy paths, as whole processes
  pipeline.py  huge streams through pipes (shared with the slow test)
  zarr_bench.py  photo tiles in Zarr: bbzip's codec against Zstd, Blosc, JPEG XL; 1 and 2 Dask workers
  floors.py    the bars, one table of (input, tool, metric, op, limit) rows
  report.py    markdown tables: bench.md and the README's Results section
  chart.py     the charts
  env.py       what ran: the bbzip library measured, tool versions, the machine
  main.py      arguments, the run, the files written
  publish.py   runs' results into the README's Results section and docs/ (one run per section)
"""
