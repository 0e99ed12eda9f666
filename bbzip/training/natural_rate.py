"""Coded rate of natural-image model files, side by side, on a photo set (each round trip checked).

    python -m bbzip.training.natural_rate models/natural-vae.npz models/natural-vae-2.npz --set dev
    python -m bbzip.training.natural_rate models/natural-vae.npz models/natural-vae-2.npz --set validation

``dev``: the development photos of ../shared/data/photos-train (bbzip.training.photos.DEV),
for comparing candidates; ``validation``: the six validation photos, for reporting only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bbzip.natural.freeze import coded_report
from bbzip.natural.images import load_image_file
from bbzip.training.photos import dev_files, split_files

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def photo_set(name: str, data: Path) -> list[Path]:
    if name == "dev":
        return dev_files(data / "photos-train")
    return split_files(data / "natural")[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--set", choices=("dev", "validation"), default="dev")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding natural/ and photos-train/")
    args = parser.parse_args(argv)
    files = photo_set(args.set, args.data)
    images = [load_image_file(p) for p in files]
    reports = [coded_report(path.read_bytes(), images) for path in args.models]
    print("photo".ljust(32) + "".join(path.stem.rjust(16) for path in args.models))
    for i, path in enumerate(files):
        shape = "x".join(map(str, images[i].shape))
        rates = "".join(f"{r['images'][i]['bits'] / r['images'][i]['subpixels']:16.4f}" for r in reports)
        print(f"{path.name.split('.')[0][:20]:20} {shape:>11}{rates}")
    print("total".ljust(32) + "".join(f"{r['bits'] / r['subpixels']:16.4f}" for r in reports)
          + f"   ({reports[0]['subpixels']} subpixels, bits/subpixel)")


if __name__ == "__main__":
    main()
