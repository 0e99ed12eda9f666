"""Put the results of one or more bench runs into the README and docs/.

    python -m bench.publish bench-results [more-results ...]

Each argument is a run's --out directory. The README's "## Results" section becomes an
introduction, then each run's readme.md (its tables, its command and machine line), with the
floors of all runs in one table at the end; docs/bench.md becomes every run's full bench.md;
the charts are copied into docs/. Several runs are for a machine on which one run of every
table does not fit: each table still says which command produced it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.common import REPO_ROOT

INTRO = """\
`make bench` (`python -m bench`; `--only TABLES` for some of them) on the development machine:
a 2-core VM shared with the other developers' work, which also ran while these numbers were
taken, so times are noisy and compare only between rows of one run; sizes are exact. Every
table of these runs, with each bbzip coder on each input and the start-up times:
[docs/bench.md](docs/bench.md)."""
FLOORS = "### Floors"


def split_floors(text: str) -> tuple[str, list[str], list[str]]:
    """A readme.md as (the text before its floors section, the table's header, its rows)."""
    before, _, floors = text.partition(FLOORS)
    table = [line for line in floors.splitlines() if line.startswith("|")]
    return before.rstrip(), table[:2], table[2:]


def results_section(runs: list[Path]) -> str:
    parts, header, rows = [INTRO], [], []
    for run in runs:
        before, head, body = split_floors((run / "readme.md").read_text())
        parts.append(before)
        header, rows = header or head, rows + body
    legend = "Each bar names the published row it is checked on (floor: PASS/FAIL; goal, moonshot: met/missed; n/a: not measured, the detail says why)."
    parts += [f"{FLOORS}\n\n{legend}\n\n" + "\n".join(header + rows)] if rows else []
    return "## Results\n\n" + "\n\n".join(parts) + "\n\n"


def main(argv: list[str]) -> int:
    runs = [Path(a) for a in argv]
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
    (docs / "bench.md").write_text("\n".join(full))
    print(
        f"wrote {readme}, {docs / 'bench.md'} and {len(list(docs.glob('*.png')))} charts in docs/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
