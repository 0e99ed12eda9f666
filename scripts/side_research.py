"""Research (issue 17): what each tile side codes a photo in (the encoder takes the smallest
side within 2,048 tiles: 32 for any photo below 2 MP).

    python scripts/side_research.py [--set dev|train|validation] [sides...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bbzip.natural import coder
from bbzip.natural.images import load_image_file
from bbzip.natural.model import default_natural_model
from bbzip.training.photos import dev_files, split_files

DATA = Path("/work/shared/data")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="dev")
    parser.add_argument("sides", nargs="*", type=int, default=[32, 64, 128])
    args = parser.parse_args()
    files = {"dev": lambda: dev_files(DATA / "photos-train"), "train": lambda: split_files(DATA / "photos-train")[0][::8],
             "validation": lambda: split_files(DATA / "natural")[1]}[args.set]()
    model = default_natural_model()
    totals = {side: 0 for side in args.sides}
    subpixels = 0
    for path in files:
        image = load_image_file(path)
        image = image if image.ndim == 3 else image[..., None]
        subpixels += image.size
        row = []
        for side in args.sides:
            coder.choose_side = lambda n, h, w, side=side: side
            start = time.process_time()
            size = len(coder.encode(model, image[None]))
            totals[side] += 8 * size
            row.append(f"{side}: {8 * size / image.size:.4f} ({time.process_time() - start:.0f}s)")
        print(f"{path.name.split('.')[0][4:24]:20}", *row, flush=True)
    print("total               ", *(f"{side}: {totals[side] / subpixels:.4f}" for side in args.sides))


if __name__ == "__main__":
    main()
