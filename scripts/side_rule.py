"""Research (issue 17): the tile-side rule (bbzip.natural.tiles.choose_side) through the whole
compressor (bands included), per MIN_TILES; and the old rule (every side 32 below 2,048 tiles).

    python scripts/side_rule.py [--set dev|validation] [min_tiles ...]   (0: the old rule)
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

from bbzip import api
from bbzip.natural import tiles
from bbzip.training.photos import dev_files, split_files

DATA = Path("/work/shared/data")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="validation")
    parser.add_argument("rules", nargs="*", type=int, default=[0, 64, 32, 16])
    parser.add_argument("--no-context", action="store_true", help="without the context classes")
    args = parser.parse_args()
    if args.no_context:
        from bbzip.natural import context_classes

        context_classes.refine = lambda model, canvas, values, sample, choice, settings: settings
    files = dev_files(DATA / "photos-train") if args.set == "dev" else split_files(DATA / "natural")[1]
    raws = [gzip.decompress(p.read_bytes()) for p in files]
    for rule in args.rules:
        tiles.LARGE_BLOCK, tiles.MIN_TILES = (1 << 62, 0) if rule == 0 else (1 << 18, rule)
        bits = subpixels = 0
        encode = decode = 0.0
        row = []
        for path, raw in zip(files, raws):
            start = time.process_time()
            packed = api.compress(raw, "natural")
            middle = time.process_time()
            assert api.decompress(packed) == raw
            encode, decode = encode + middle - start, decode + time.process_time() - middle
            bits += 8 * len(packed)
            row.append(f"{path.name.split('.')[0][-10:]} {len(packed)}")
            subpixels += len(raw)
        print(f"rule {rule}: {bits / subpixels:.4f} bits/byte of the PPM/PGM files (about bits/subpixel), encode {encode:.0f}s decode {decode:.0f}s cpu |",
              ", ".join(row), flush=True)


if __name__ == "__main__":
    main()
