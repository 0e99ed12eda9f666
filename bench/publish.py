"""Put the results of one or more bench runs into the README and docs/.

    python -m bench.publish bench-results [more-results ...]

Each argument is a run's --out directory. The README's "## Results" section becomes an
introduction, then each run's readme.md (its tables, its command and machine line, and its
own floors table); docs/bench.md becomes every run's full bench.md;
the charts are copied into docs/. Several runs are for a machine on which one run of every
table does not fit: each table still says which command produced it, and no section may come
from two runs (a table is never stitched from runs, nor shown twice with different numbers).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.common import REPO_ROOT

INTRO = """\
`make bench` (`python -m bench`; `python -m bench SECTION ...` for some of them) on the development machine:
a 2-core VM shared with the other developers' work, which also ran while these numbers were
taken, so times are noisy and compare only between rows of one run; sizes are exact. Every
table of these runs, with each bbzip coder on each input and the start-up times:
[docs/bench.md](docs/bench.md)."""
DOCS_INTRO = """\
Every table of the runs that README's Results section shows, one part per run, each with the
command that produced it, its date and its machine. No table comes from two runs. To redo them:
`make bench` (every section in one run), or one run per section, `make bench-SECTION` (sections:
levels, coders, mnist, natural, startup, pipe, zarr, photos, formats), then `make bench-publish`.

"""
FLOORS = "### Floors"


def split_floors(text: str) -> tuple[str, list[str], list[str]]:
    """A readme.md as (the text before its floors section, the table's header, its rows)."""
    before, _, floors = text.partition(FLOORS)
    table = [line for line in floors.splitlines() if line.startswith("|")]
    return before.rstrip(), table[:2], table[2:]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _key(row: str) -> tuple[str, ...]:
    """A floor's identity: issue, kind, input, row, metric and bar (not its values)."""
    cells = _cells(row)
    return tuple(cells[:5]) + (cells[6],)


def _unmeasured(row: str) -> bool:
    cells = _cells(row)
    return cells[8] == "n/a" and "not measured" in cells[9]


def results_section(runs: list[Path]) -> str:
    """One part per run, each with its own floors table (each number with the command that
    produced it). A floor a run could not measure is left out of that run's table when
    another run measured it, so no floor reads both "not measured" and PASS."""
    tables = [split_floors((run / "readme.md").read_text()) for run in runs]
    measured = {_key(row) for _, _, rows in tables for row in rows if not _unmeasured(row)}
    legend = "Each bar names the published row it is checked on (floor: PASS/FAIL; goal, moonshot: met/missed; n/a: not measured, the detail says why)."
    parts = [INTRO]
    for before, head, rows in tables:
        parts.append(before)
        kept = [row for row in rows if not (_unmeasured(row) and _key(row) in measured)]
        if kept:
            parts.append(f"{FLOORS} of this run\n\n{legend}\n\n" + "\n".join(head + kept))
    return "## Results\n\n" + "\n\n".join(parts) + "\n\n"


def sections_of(run: Path) -> list[str]:
    """The sections a run measured, from its bench.json (older runs: from its mode line)."""
    import json

    from bench.main import SECTIONS

    meta = json.loads((run / "bench.json").read_text())["meta"]
    if "sections" in meta:
        return list(meta["sections"])
    _, _, only = meta.get("mode", "").partition(", only ")
    return only.split(",") if only else list(SECTIONS)


def first_section(run: Path) -> int:
    from bench.main import SECTIONS

    return min((SECTIONS.index(s) for s in sections_of(run) if s in SECTIONS), default=len(SECTIONS))


def overlaps(runs: list[Path]) -> list[str]:
    """"SECTION: RUN, RUN" for each section that more than one run measured."""
    seen: dict[str, list[str]] = {}
    for run in runs:
        for section in sections_of(run):
            seen.setdefault(section, []).append(str(run))
    return [f"{s}: {', '.join(where)}" for s, where in seen.items() if len(where) > 1]


def main(argv: list[str]) -> int:
    runs = [Path(a) for a in argv]
    if not runs:
        raise SystemExit("usage: python -m bench.publish RESULTS_DIR [RESULTS_DIR ...]")
    runs.sort(key=first_section)  # the README's order of sections, whatever order they ran in
    twice = overlaps(runs)
    if twice:
        raise SystemExit("bench.publish: a section may come from one run only, so that no table is stitched "
                         "or shown twice; measured twice: " + "; ".join(twice))
    readme = REPO_ROOT / "README.md"
    text = readme.read_text()
    start = text.index("## Results\n")
    end = text.index("\n## ", start + 1) + 1
    readme.write_text(text[:start] + results_section(runs) + text[end:])
    docs = REPO_ROOT / "docs"
    full = []
    for run in runs:
        full.append(
            (run / "bench.md")
            .read_text()
            .replace("# bbzip benchmark", f"# bbzip benchmark: {run.name}", 1)
        )
        for chart in run.glob("*.png"):
            shutil.copy(chart, docs / chart.name)
    (docs / "bench.md").write_text(DOCS_INTRO + "\n".join(full))
    print(
        f"wrote {readme}, {docs / 'bench.md'} and {len(list(docs.glob('*.png')))} charts in docs/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
