"""Which photos of the natural-image set train and which validate (no torch here: freezing
and measuring a model need the split too)."""

from __future__ import annotations

from pathlib import Path

# The held-out photos of ../shared/data/natural (its README): never trained on.
VALIDATION = ("camera", "coins", "brick", "coffee", "china", "astronaut")
# Photos of ../shared/data/photos-train held out as a development set (every ninth by name
# from the fifth): training runs are compared on these, so the validation six stay unseen.
DEV = ("Bridge_by_Sander_Klootwijk", "Fossa_by_Jasper_Roks", "PastelHills", "firstgeneration", "summer_1am")


def _stem(path: Path) -> str:
    return path.name.split(".")[0].split("-", 1)[-1]


def split_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(training files, validation files) of a photo folder, each sorted by name; files of
    the development set are in neither."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("README"))
    train = [p for p in files if _stem(p) not in VALIDATION + DEV]
    return train, [p for p in files if _stem(p) in VALIDATION]


def dev_files(folder: Path) -> list[Path]:
    """The development photos of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and _stem(p) in DEV)
