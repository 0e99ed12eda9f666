"""bbzip's benchmark (``make bench``, or ``python -m bench [--quick] [--only TABLES]``).

``--only levels,natural`` runs some tables (levels, coders, mnist, natural, startup, pipe, zarr);
``--quick`` shrinks the inputs. Results go to ``bench-results/``: bench.md (everything),
readme.md (the README's Results section), bench.json and the charts.

One run measures bbzip and the usual compressors on the same inputs and checks bbzip's bars
against the rows it publishes. The package, one job per module:

  inputs.py    the deterministic inputs (source tar, skewed, random, MNIST, photos, crops)
  measure.py   codecs (the CLI, the library, external tools) and one Row per (input, tool)
  rss.py       peak memory of a command's whole process tree
  suites.py    which codecs on which inputs: levels, coders, mnist, startup, pipe
  natural.py   the natural-image table through imagecodecs, the crops, the tar folder
  photos.py    photos at full size (8 to 25 MP) as whole processes, peak PSS of the tree:
               ``python -m bench.photos --photos DIR`` (Debian's wallpapers; not in --only)
  pipeline.py  huge streams through pipes (shared with the slow test)
  zarr_bench.py  photo tiles in Zarr: bbzip's codec against Zstd, Blosc, JPEG XL; 1 and 2 Dask workers
  floors.py    the bars, one table of (input, tool, metric, op, limit) rows
  report.py    markdown tables: bench.md and the README's Results section
  chart.py     the charts
  env.py       what ran: the bbzip library measured, tool versions, the machine
  main.py      arguments, the run, the files written
  publish.py   runs' results into the README's Results section and docs/
"""
