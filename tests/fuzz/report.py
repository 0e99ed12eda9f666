"""The campaign's results and the tables it prints."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tests.fuzz.common import CLASSES, ERROR_NAMES, FAILURES, VAE_CODER_IDS
from tests.fuzz.planner import Case
from tests.fuzz.seeds import Seed


@dataclass
class Report:
    results: dict[int, tuple[str, str, float]] = field(default_factory=dict)
    plan: list[Case] = field(default_factory=list)
    seeds: list[Seed] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[tuple[int, str, str]]:
        return [(i, o, d) for i, (o, d, _) in sorted(self.results.items()) if o in FAILURES]




def summary(report: Report) -> str:
    """Cases per mutation class ("vae": how many of them mutate a seed with a VAE block;
    magic-random uses no seed) and their outcomes."""
    columns = ["original", "decoded", *ERROR_NAMES, "failures", "max s"]
    rows: dict[str, Counter] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    for index, (outcome, _, secs) in report.results.items():
        case = report.plan[index]
        rows[case.cls]["cases"] += 1
        rows[case.cls]["vae"] += report.seeds[case.seed].vae and case.cls != "magic-random"
        key = outcome.removeprefix("error:") if outcome.startswith("error:") else outcome
        if key not in columns and key not in FAILURES:
            columns.insert(-2, key)  # a BBZError of no listed class: shown, not lost
        rows[case.cls]["failures" if outcome in FAILURES else key] += 1
        slowest[case.cls] = max(slowest[case.cls], secs)
    order = [c for c in CLASSES if c in rows]
    total = sum(rows.values(), Counter())
    head = f"{'class':<14}{'cases':>7}{'vae':>6}" + "".join(
        f"{c.removesuffix('Error'):>12}" for c in columns
    )
    lines = [head, "-" * len(head)]
    for name, counts, secs in [
        *((c, rows[c], slowest[c]) for c in order),
        ("total", total, max(slowest.values(), default=0.0)),
    ]:
        if name == "total":
            lines.append("-" * len(head))
        cells = [f"{counts[c]:>12}" for c in columns[:-1]] + [f"{secs:>12.2f}"]
        lines.append(f"{name:<14}{counts['cases']:>7}{counts['vae']:>6}" + "".join(cells))
    kinds = Counter(o for _, o, _ in report.failures)
    seeds = report.seeds
    coders = sorted({n.split("/")[-1] for n in (s.name for s in seeds) if "/" in n})
    lines.append("")
    lines.append(
        f"{len(report.results)} cases in {report.seconds:.1f} s from {len(seeds)} seed files "
        f"({', '.join(coders)}; {sum(len(s.blocks) for s in seeds)} blocks, "
        f"{sum(len(s.stream_ends) for s in seeds)} streams; "
        f"{sum(s.vae for s in seeds)} seeds with {_vae_blocks(seeds)} VAE blocks); "
        f"failures: {sum(kinds.values())}" + (f" ({dict(kinds)})" if kinds else "")
    )
    return "\n".join(lines)


def _vae_blocks(seeds: list[Seed]) -> int:
    return sum(s.packed[u.start] in VAE_CODER_IDS for s in seeds for u in s.blocks)


def _generic(message: str) -> str:
    """A message with its numbers and IDs as #, so that like errors count together."""
    import re

    return re.sub(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{16}\b|\d+", "#", message)


def seed_summary(report: Report, vae_only: bool = True) -> str:
    """Per seed (the VAE ones by default): size, cases that mutate it (magic-random uses no
    seed), outcomes, the slowest case; then the VAE seeds' errors by message."""
    rows: dict[int, Counter] = defaultdict(Counter)
    classes: dict[int, set] = defaultdict(set)
    slowest: dict[int, float] = defaultdict(float)
    messages: Counter = Counter()
    for index, (outcome, detail, secs) in report.results.items():
        case = report.plan[index]
        if case.cls == "magic-random":
            continue
        i = case.seed
        rows[i]["cases"] += 1
        classes[i].add(case.cls)
        if outcome in ("original", "decoded"):
            rows[i]["decoded"] += 1
        elif outcome in FAILURES:
            rows[i]["failures"] += 1
        else:
            rows[i]["errors"] += 1
            if report.seeds[i].vae:
                messages[f"{outcome.removeprefix('error:')}: {_generic(detail)}"] += 1
        slowest[i] = max(slowest[i], secs)
    head = (
        f"{'seed':<22}{'bytes':>7}{'blocks':>7}{'cases':>7}{'classes':>8}{'decoded':>9}"
        f"{'errors':>8}{'failures':>9}{'max s':>7}"
    )
    lines = [head, "-" * len(head)]
    for i, s in enumerate(report.seeds):
        if vae_only and not s.vae:
            continue
        c = rows[i]
        lines.append(
            f"{s.name:<22}{len(s.packed):>7}{len(s.blocks):>7}{c['cases']:>7}"
            f"{len(classes[i]):>8}{c['decoded']:>9}{c['errors']:>8}{c['failures']:>9}"
            f"{slowest[i]:>7.2f}"
        )
    lines += ["", "errors on the VAE seeds, by message:"]
    lines += [f"{n:>7}  {m[:90]}" for m, n in messages.most_common()]
    return "\n".join(lines)
