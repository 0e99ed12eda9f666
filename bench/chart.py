"""Charts of one run (matplotlib, the bench extra; without it the tables still come out).

  levels-ratio-vs-speed.png  compression ratio against compress MB/s, a panel per input.
  mnist-bpp-vs-time.png      bits/pixel against compress seconds, MNIST and binarized MNIST.
  natural-bpsp-vs-decode.png bits/subpixel of the six photos against decode s per M subpixels.

Labels sit beside the points, not in a legend: the eye goes straight to the codec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import Results

HINT = "pip install -e .[bench]"
Point = tuple[str, float, float]  # label, x, y


def _pyplot() -> Any:
    import matplotlib  # only here: the rest of the bench runs without it

    matplotlib.use("Agg")  # files only; bench machines have no display
    import matplotlib.pyplot as plt

    return plt


COLOURS = {
    "bbzip": "C3",
    "gzip": "C0",
    "zstd": "C1",
    "xz": "C2",
    "bzip2": "C4",
    "PNG": "C5",
    "WebP": "C6",
    "JPEG-LS": "C8",
    "JPEG": "C9",
}


def _colour(label: str) -> str:
    return COLOURS.get(label.split()[0], "C7")


def _panel(
    ax: Any, title: str, points: list[Point], xlabel: str, ylabel: str, from_zero: bool
) -> None:
    # neighbours in speed often sit at one height: alternate their labels above and below
    for i, (label, x, y) in enumerate(sorted(points, key=lambda p: p[1])):
        ax.scatter(x, y, s=48, color=_colour(label), zorder=3)
        ax.annotate(
            label, (x, y), xytext=(5, 4 if i % 2 else -11), textcoords="offset points", fontsize=7
        )
    ax.set_xscale("log")
    if from_zero:  # heights compare as sizes do; headroom for the top label
        ax.set_ylim(0, max(y for _, _, y in points) * 1.12)
    ax.margins(x=0.3)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def _figure(
    path: Path,
    panels: dict[str, list[Point]],
    xlabel: str,
    ylabel: str,
    title: str,
    from_zero: bool = True,
    vlines: tuple[tuple[float, str], ...] = (),
) -> str:
    """One figure, a panel per entry; returns "" or why no chart was drawn."""
    path.unlink(missing_ok=True)  # a chart from an earlier run must not pass for this one's
    panels = {k: v for k, v in panels.items() if v}
    if not panels:
        return "nothing measured to draw"
    try:
        plt = _pyplot()
    except ImportError:
        return f"matplotlib is not installed ({HINT})"
    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.6 * rows), squeeze=False)
    for ax, (name, points) in zip(axes.flat, panels.items(), strict=False):
        _panel(ax, name, points, xlabel, ylabel, from_zero)
        for x, text in vlines:
            ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(
                text,
                (x, 0.02),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                rotation=90,
                color="grey",
                xytext=(-9, 0),
                textcoords="offset points",
            )
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""


def _points(results: Results, name: str, tools: list[str], x: str, y: str) -> list[tuple]:
    """(tool, x, y) of every tool measured on ``name`` with a usable x."""
    return [(t, getattr(r, x), getattr(r, y)) for t in tools
            if (r := results.get(name, t)) is not None and r.ok and getattr(r, x)]


def levels_chart(
    path: Path, results: Results, inputs: list[str], tools: list[str], title: str
) -> str:
    panels = {name: _points(results, name, tools, "compress_mbps", "ratio") for name in inputs}
    return _figure(
        path,
        panels,
        "compress MB/s (wall clock, start-up included; log scale)",
        "ratio (original / compressed)",
        title,
        from_zero=False,
    )


def mnist_chart(
    path: Path, results: Results, names: dict[str, str], tools: list[str], title: str
) -> str:
    panels = {label: _points(results, name, tools, "compress_s", "bits_per_pixel") for name, label in names.items()}
    return _figure(path, panels, "compress time (s, wall clock, log scale)", "bits/pixel", title)


def natural_chart(path: Path, results: Results, total: str, tools: list[str], title: str) -> str:
    points = _points(results, total, tools, "decompress_s_per_mp", "bits_per_pixel")
    return _figure(
        path,
        {"six validation photos, total": points},
        "decompress s per million subpixels (log scale)",
        "bits/subpixel",
        title,
        vlines=((5.0, "bbzip floor 5 s"), (1.0, "goal 1 s")),
    )
