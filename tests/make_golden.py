"""Regenerate tests/golden/: fixed inputs and their .bbz files, one per coder.

Run only when the format changes on purpose (`make golden`); the test suite checks that
every committed .bbz still decodes to its original, byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bbzip import api

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent / "data"


def _pair_npy() -> bytes:
    """Two 48x64 gray images unlike each other: the camera crop, and it upside down with noise."""
    import io

    from bbzip.natural.images import load_image_file

    crop = load_image_file(FIXTURES / "camera-crop.pgm")[..., 0]
    noise = np.random.default_rng(5).integers(-12, 13, size=crop.shape)
    pair = np.stack([crop, np.clip(crop[::-1].astype(int) + noise, 0, 255).astype(np.uint8)])
    out = io.BytesIO()
    np.save(out, pair)
    return out.getvalue()


def inputs() -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(20261123)
    p = 0.7 ** np.arange(256)
    skewed = rng.choice(256, size=6000, p=p / p.sum()).astype(np.uint8).tobytes()
    text = b"".join(b"%d bottles of beer on the wall\n" % i for i in range(200, 0, -1))
    return {
        "empty": (b"", "auto"),
        "skewed-order0": (skewed, "order0"),
        # order-0 with one lane per 800 output bytes (was 1600): same format, other bytes
        "skewed-order0-lanes800": (skewed, "order0"),
        "text-lzma": (text, "lzma"),
        "text-zstd": (text, "zstd"),
        # More than one zstd job (16 MiB) would make a big file; a level-6 frame of a few
        # hundred KiB still freezes that level's window and overlap settings.
        "source-zstd-level6": (_source_text(), "auto"),
        "random-stored": (rng.integers(0, 256, 700, dtype=np.uint8).tobytes(), "stored"),
        "one-byte-auto": (b"x", "auto"),
        # The VAE files need the shipped model whose ID they record: a new model must keep
        # the old one installed, or these files stop decoding (which is the point).
        # The natural-image coder (0x06): a PPM, a PGM, an NPY stack (frozen, written with the first
        # natural model, now shipped as natural-vae-1), then the same with today's natural-vae.
        "photo-ppm-natural": ((FIXTURES / "natural-rgb-31x24.ppm").read_bytes(), "natural"),
        "scan-pgm-natural": ((FIXTURES / "camera-crop.pgm").read_bytes(), "natural"),
        "crops-npy-natural": ((FIXTURES / "camera-crops.npy").read_bytes(), "natural"),
        # 0x06 with the calibration fields (docs/IMAGES.md): corrections (a PPM), tile deltas and
        # corrections (a PGM and an NPY stack); the three above are frozen without them.
        "photo-ppm-natural-calibrated": ((FIXTURES / "astronaut-crop.ppm").read_bytes(), "natural"),
        "scan-pgm-natural-calibrated": ((FIXTURES / "camera-crop.pgm").read_bytes(), "natural"),
        "crops-npy-natural-calibrated": ((FIXTURES / "camera-crops.npy").read_bytes(), "natural"),
        # Settings per image (written with the size threshold lifted: see _compress).
        "pair-npy-natural-per-image": (_pair_npy(), "natural"),
        # One image in bands of rows, a block each (written with bands of 32 rows: see _compress).
        "photo-ppm-natural-bands": ((FIXTURES / "astronaut-crop.ppm").read_bytes(), "natural"),
        # "-vae": coder 0x03 (FROZEN below); "-vae05": coder 0x05 (seeded initial bits) for both models.
        **{f"{name}{suffix}": (data, "vae") for suffix in ("-vae", "-vae05") for name, data in (
            ("digits-idx", (FIXTURES / "t10k-first8-idx3-ubyte").read_bytes()),
            ("digit-pgm", (FIXTURES / "digit0.pgm").read_bytes()),
            ("binarized-idx", (FIXTURES / "binarized-first8-idx3-ubyte").read_bytes()),
            ("binary-pgm", (FIXTURES / "binary255-digit1.pgm").read_bytes()),
        )},
    }


# The first golden VAE files (coder 0x03) stay as committed, forever: they prove old files decode.
FROZEN = ("digits-idx-vae", "digit-pgm-vae", "binarized-idx-vae", "binary-pgm-vae")
# So do the first natural-image files, written before the calibration fields existed.
FROZEN += ("photo-ppm-natural", "scan-pgm-natural", "crops-npy-natural")


def _compress(name: str, data: bytes, coder: str) -> bytes:
    """Compress as bbzip does, except that "-vae05" files use coder 0x05 for every model,
    "-per-image" files may get natural-image settings per image however small, and "-bands"
    files are cut in bands as images over BAND_BYTES are (the format is the same for any band
    height; the real one would make a golden file of 512 KiB and more)."""
    from bbzip.images import blocks
    from bbzip.vae import coder as vae_coder

    from bbzip.natural import coder as natural_coder

    chooser, threshold, band = vae_coder.seeded_by_default, natural_coder.PER_IMAGE_PIXELS, blocks.BAND_BYTES
    if name.endswith("-vae05"):
        vae_coder.seeded_by_default = lambda model: True
    if name.endswith("-per-image"):  # small images, so that the golden file stays small
        natural_coder.PER_IMAGE_PIXELS = 0
    if name.endswith("-bands"):
        blocks.BAND_BYTES = GOLDEN_BAND_BYTES
    try:
        return api.compress(data, coder)
    finally:
        vae_coder.seeded_by_default, natural_coder.PER_IMAGE_PIXELS = chooser, threshold
        blocks.BAND_BYTES = band


GOLDEN_BAND_BYTES = 32 * 32 * 3  # the 32x40 RGB photo in bands of 32 and 8 rows


def _source_text() -> bytes:
    """Deterministic source-like text (the stdlib varies between Pythons)."""
    lines = [b"def f%d(x, y=%d):\n    return [x * i + y for i in range(%d)]  # item %d\n" % (i, i % 7, i % 13, i)
             for i in range(2000)]
    return b"".join(lines)


def main() -> None:
    """Write the golden files that are missing; with --all, rewrite every one."""
    rewrite = "--all" in sys.argv[1:]
    GOLDEN.mkdir(exist_ok=True)
    for name, (data, coder) in inputs().items():
        if (GOLDEN / f"{name}.bbz").exists() and (not rewrite or name in FROZEN):
            continue
        if name in FROZEN:
            sys.exit(f"{name}.bbz (frozen) is missing: restore it from git, it cannot be rewritten")
        (GOLDEN / f"{name}.raw").write_bytes(data)
        (GOLDEN / f"{name}.bbz").write_bytes(_compress(name, data, coder))
    # Concatenated streams must keep decoding to the concatenation.
    if rewrite or not (GOLDEN / "concatenated.bbz").exists():
        a, b = inputs()["text-lzma"][0], inputs()["skewed-order0"][0]
        (GOLDEN / "concatenated.raw").write_bytes(a + b)
        (GOLDEN / "concatenated.bbz").write_bytes(api.compress(a, "lzma") + api.compress(b, "order0"))
    print(f"wrote {len(list(GOLDEN.glob('*.bbz')))} golden files to {GOLDEN}")


if __name__ == "__main__":
    main()
