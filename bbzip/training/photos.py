"""Which photos of the natural-image set train and which validate (no torch here: freezing
and measuring a model need the split too)."""

from __future__ import annotations

from pathlib import Path

# The held-out photos of ../shared/data/natural (its README): never trained on.
VALIDATION = ("camera", "coins", "brick", "coffee", "china", "astronaut")


def split_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(training files, validation files) of a photo folder, each sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("README"))
    is_validation = lambda p: any(name == p.name.split(".")[0].split("-", 1)[-1] for name in VALIDATION)
    return [p for p in files if not is_validation(p)], [p for p in files if is_validation(p)]
