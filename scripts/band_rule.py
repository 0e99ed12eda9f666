"""Research (issue 17): the band size (bbzip.images.blocks.BAND_BYTES, band_rows) through the
whole compressor, per band budget in KiB; ``--unit``: bands whole multiples of that many rows
(the largest tile side) instead of 32.

    python scripts/band_rule.py [--set dev|validation] [--unit 32] [kib ...]
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

from bbzip import api
from bbzip.images import blocks
from bbzip.training.photos import dev_files, split_files

DATA = Path("/work/shared/data")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="dev")
    parser.add_argument("--unit", type=int, default=blocks.BAND_UNIT)
    parser.add_argument("budgets", nargs="*", type=int, default=[512, 1024, 2048])
    args = parser.parse_args()
    files = dev_files(DATA / "photos-train") if args.set == "dev" else split_files(DATA / "natural")[1]
    raws = [gzip.decompress(p.read_bytes()) for p in files]
    blocks.BAND_UNIT = args.unit
    for kib in args.budgets:
        blocks.BAND_BYTES = kib << 10
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
        print(f"band {kib} KiB unit {args.unit}: {bits / subpixels:.4f} bits/byte, encode {encode:.0f}s decode {decode:.0f}s cpu |",
              ", ".join(row), flush=True)


if __name__ == "__main__":
    main()
