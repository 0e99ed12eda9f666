"""Put the results of one or more bench runs into the README and docs/.

    python -m bench.publish bench-results [more-results ...]

Each argument is a run's --out directory. The README's "## Results" section becomes an
introduction, then each run's readme.md (its tables, its command and machine line, and its
own floors table); docs/bench.md becomes every run's full bench.md;
the charts are copied into docs/. Several runs are for a machine on which one run of every
table does not fit: each table still says which command produced it, and no section may come
from two runs (a table is never stitched from runs, nor shown twice with different numbers).

What is published already stays, run by run, for the sections that the runs given do not
measure: `make bench-photos` then `make bench-publish` replaces the photos part and keeps the
others. A published run that measured some of the sections given and others as well is not
cut in two: publish refuses, unless --fresh (then the README and docs/bench.md hold only the
runs given).
"""

from __future__ import annotations

import re
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
levels, coders, mnist, natural, startup, pipe, zarr, photos, formats), then `make bench-publish`,
which replaces the parts of the sections it is given and keeps the others.

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


def results_section(runs: list[Path], kept: list[tuple[set[str], str]] = ()) -> str:
    """One part per run, each with its own floors table (each number with the command that
    produced it), and the published parts ``kept``, in the order of their sections. A floor a
    run could not measure is left out of that run's table when another run measured it, so no
    floor reads both "not measured" and PASS."""
    tables = [split_floors((run / "readme.md").read_text()) for run in runs]
    measured = {_key(row) for _, _, rows in tables for row in rows if not _unmeasured(row)}
    legend = "Each bar names the published row it is checked on (floor: PASS/FAIL; goal, moonshot: met/missed; n/a: not measured, the detail says why)."
    parts = [(order(sections), text) for sections, text in kept]
    for run, (before, head, rows) in zip(runs, tables):
        rows = [row for row in rows if not (_unmeasured(row) and _key(row) in measured)]
        floors = f"\n\n{FLOORS} of this run\n\n{legend}\n\n" + "\n".join(head + rows) if rows else ""
        parts.append((first_section(run), before + floors))
    parts.sort(key=lambda part: part[0])
    return "## Results\n\n" + "\n\n".join([INTRO, *(text for _, text in parts)]) + "\n\n"


# Where a published run's part starts, and the sections it measured (its mode line).
README_PART = re.compile(r"^`python -m bench[^\n]*?, sections ([a-z,]+)\.", re.MULTILINE)
DOCS_PART = re.compile(r"^# bbzip benchmark", re.MULTILINE)
DOCS_SECTIONS = re.compile(r"^- mode: [^\n]*?sections ([a-z,]+)$", re.MULTILINE)


def published_parts(text: str, start: re.Pattern, sections: re.Pattern) -> list[tuple[set[str], str]]:
    """The runs' parts of a published text (README's Results, docs/bench.md), each with its
    sections; a part whose sections cannot be read has none (it is kept by no merge)."""
    starts = [m.start() for m in start.finditer(text)]
    parts = []
    for begin, end in zip(starts, [*starts[1:], len(text)]):
        part = text[begin:end].strip()
        found = sections.search(part)
        parts.append((set(found.group(1).split(",")) if found else set(), part))
    return parts


def merge(parts: list[tuple[set[str], str]], new: set[str]) -> list[tuple[set[str], str]]:
    """The published parts that the new runs leave standing: those of other sections. Refuses
    to drop a part that measured other sections besides the new ones."""
    split = [text.splitlines()[0] for sections, text in parts if sections & new and sections - new]
    if split:
        raise SystemExit("bench.publish: a published run measured these sections and others too, so "
                         "replacing it would drop tables: " + "; ".join(split) + ". Publish a new run "
                         "of all its sections, or pass --fresh to publish only the runs given.")
    return [(sections, text) for sections, text in parts if sections and not sections & new]


def order(sections: set[str]) -> int:
    from bench.main import SECTIONS

    return min((SECTIONS.index(s) for s in sections if s in SECTIONS), default=len(SECTIONS))


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
    return order(set(sections_of(run)))


def overlaps(runs: list[Path]) -> list[str]:
    """"SECTION: RUN, RUN" for each section that more than one run measured."""
    seen: dict[str, list[str]] = {}
    for run in runs:
        for section in sections_of(run):
            seen.setdefault(section, []).append(str(run))
    return [f"{s}: {', '.join(where)}" for s, where in seen.items() if len(where) > 1]


def main(argv: list[str]) -> int:
    fresh = "--fresh" in argv
    runs = [Path(a) for a in argv if a != "--fresh"]
    if not runs:
        raise SystemExit("usage: python -m bench.publish [--fresh] RESULTS_DIR [RESULTS_DIR ...]")
    runs.sort(key=first_section)  # the README's order of sections, whatever order they ran in
    twice = overlaps(runs)
    if twice:
        raise SystemExit("bench.publish: a section may come from one run only, so that no table is stitched "
                         "or shown twice; measured twice: " + "; ".join(twice))
    new = {s for run in runs for s in sections_of(run)}
    readme, docs = REPO_ROOT / "README.md", REPO_ROOT / "docs"
    text = readme.read_text()
    start = text.index("## Results\n")
    end = text.index("\n## ", start + 1) + 1
    old_docs = (docs / "bench.md").read_text() if (docs / "bench.md").exists() else ""
    kept_readme = [] if fresh else merge(published_parts(text[start:end], README_PART, README_PART), new)
    kept_docs = [] if fresh else merge(published_parts(old_docs, DOCS_PART, DOCS_SECTIONS), new)
    full = [(order(sections), part + "\n") for sections, part in kept_docs]
    for run in runs:
        body = (run / "bench.md").read_text().replace("# bbzip benchmark", f"# bbzip benchmark: {run.name}", 1)
        full.append((first_section(run), body))
        for chart in run.glob("*.png"):
            shutil.copy(chart, docs / chart.name)
    full.sort(key=lambda part: part[0])
    readme.write_text(text[:start] + results_section(runs, kept_readme) + text[end:])
    (docs / "bench.md").write_text(DOCS_INTRO + "\n".join(part for _, part in full))
    print(f"wrote {readme}, {docs / 'bench.md'} and {len(list(docs.glob('*.png')))} charts in docs/; "
          f"kept {len(kept_readme)} published run(s) of other sections")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
