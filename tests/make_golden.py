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


def _fixture(name: str) -> np.ndarray:
    from bbzip.natural.images import load_image_file

    return load_image_file(FIXTURES / name)


def _grown(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A fixture mirrored out to height x width: photo content at any size, deterministic."""
    reps = (-(-height // image.shape[0]) + 1, -(-width // image.shape[1]) + 1)
    rows = [image if i % 2 == 0 else image[::-1] for i in range(reps[0])]
    tall = np.concatenate(rows)
    cols = [tall if j % 2 == 0 else tall[:, ::-1] for j in range(reps[1])]
    return np.ascontiguousarray(np.concatenate(cols, axis=1)[:height, :width])


def _pnm(image: np.ndarray) -> bytes:
    magic = b"P5" if image.shape[-1] == 1 else b"P6"
    return b"%s\n%d %d\n255\n" % (magic, image.shape[1], image.shape[0]) + image.tobytes()


def _npy(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _tar_of_images() -> bytes:
    """A tar whose block holds several runs of three shapes (two PGMs of one size, a PPM,
    another PGM) between text members: the natural coder's tar path, with plain bytes."""
    import io
    import tarfile

    camera, astronaut = _fixture("camera-crop.pgm"), _fixture("astronaut-crop.ppm")
    members = [
        ("README.txt", b"".join(b"frame %d of the survey, exposure %d ms\n" % (i, 10 * i) for i in range(40))),
        ("a.pgm", _pnm(camera[:40, :40])),
        ("b.pgm", _pnm(camera[8:48, 24:64])),
        ("c.ppm", _pnm(astronaut[:24, :32])),
        ("notes.txt", b"same camera, same day\n" * 30),
        ("d.pgm", _pnm(camera[:16, :48])),
    ]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 1_700_000_000, 0o644, "bb", "bb"
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _path_inputs() -> dict[str, tuple[bytes, str]]:
    """0x06 paths beyond 32-pixel tiles and one group (docs/SPEC-natural.md), each frozen by a
    small file; the large tiles and the group counts are forced in _compress."""
    camera = _fixture("camera-crop.pgm")
    return {
        # Decoding takes th x tw x C sequential steps, so these tiles are short: side 128, a 24x128
        # tile and a 24x8 one (blocks past the image: latents outside)
        "tiles128-pgm-natural": (_pnm(_grown(camera, 24, 136)), "natural"),
        # side 256: a 16x256 tile and a 16x8 one
        "tiles256-pgm-natural": (_pnm(_grown(camera, 16, 264)), "natural"),
        # side 64: a 40x64 tile and a 40x6 one (a width not a multiple of 8), bits-back latents
        "tiles64-pgm-natural": (_pnm(_grown(camera, 40, 70)), "natural"),
        # 12 lanes in 5 groups of unequal sizes (forced), edge tiles 8 and 4 pixels wide
        "groups5-pgm-natural": (_pnm(_grown(camera, 72, 100)), "natural"),
        # 64 lanes: today's rule gives two groups without forcing
        "lanes64-npy-natural": (_npy(_grown(camera, 16, 16 * 64).reshape(16, 64, 16).transpose(1, 0, 2).copy()),
                                "natural"),
        "tar-natural": (_tar_of_images(), "auto"),
    }


def _image_files() -> dict[str, tuple[bytes, str]]:
    """Coders 0x07 (jpeg) and 0x09 (imagefile): every layout kind once, from the crops."""
    from bbzip.natural.images import load_image_file
    from bench.png_files import write_png
    from tests import formats_helpers as fh

    photo = load_image_file(FIXTURES / "astronaut-crop.ppm")
    scan = load_image_file(FIXTURES / "camera-crop.pgm")
    rng = np.random.default_rng(18)
    twelve = (scan.astype(np.uint16) << 4) | rng.integers(0, 16, scan.shape, dtype=np.uint16)  # 12-bit samples
    alpha = np.concatenate([photo, (np.arange(32, dtype=np.uint8) * 8)[None, :, None].repeat(40, axis=0)], axis=2)
    opaque = np.concatenate([photo, np.full((40, 32, 1), 255, np.uint8)], axis=2)
    return {
        "photo-jpeg": ((FIXTURES / "astronaut-crop.jpg").read_bytes(), "jpeg"),
        "photo-tiff-tiles-be-imagefile": (fh.tiff(photo, ">", tile=16), "imagefile"),
        "scan-tiff16-strips-imagefile": (fh.tiff(twelve, "<", rows_per_strip=16), "imagefile"),
        "photo-bmp32-alpha-imagefile": (fh.bmp(alpha), "imagefile"),
        "photo-bmp24-top-down-imagefile": (fh.bmp(photo, top_down=True), "imagefile"),
        "scan-pgm16-imagefile": (fh.pnm16(twelve, 4095), "imagefile"),
        "photo-npy-rgba-imagefile": (fh.npy(opaque), "imagefile"),
        # Image files with more pixels than a band (written with bands of 32 rows: see
        # _compress): TIFF strips cut across by bands, its directory after the pixels (a plain
        # block); a bottom-up BMP (last band first in the file); 16-bit TIFF tiles; an RGBA PNG
        # (0x08 version 1: pixels in bands inside its one block).
        "photo-tiff-strips-imagefile-bands": (fh.tiff(photo, "<", rows_per_strip=7), "auto"),
        "photo-bmp24-imagefile-bands": (fh.bmp(photo), "auto"),
        "scan-tiff16-tiles-imagefile-bands": (fh.tiff(np.concatenate([twelve, twelve[::-1]]), ">", tile=16),
                                              "auto"),
        "photo-rgba-png-bands": (write_png(alpha), "png"),
    }


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
        **_path_inputs(),
        # One image in bands of rows, a block each (written with bands of 32 rows: see _compress).
        "photo-ppm-natural-bands": ((FIXTURES / "astronaut-crop.ppm").read_bytes(), "natural"),
        # Every file above that holds natural-image blocks names natural-vae (_compress writes
        # them with it); these two are written with today's default, natural-vae-2.
        "photo-ppm-natural-vae2": ((FIXTURES / "astronaut-crop.ppm").read_bytes(), "natural"),
        "scan-pgm-natural-vae2": ((FIXTURES / "camera-crop.pgm").read_bytes(), "natural"),
        # Corrections per context class (payload flag bit 1), forced on these small images.
        "photo-ppm-natural-context": ((FIXTURES / "astronaut-crop.ppm").read_bytes(), "natural"),
        "scan-pgm-natural-context": ((FIXTURES / "camera-crop.pgm").read_bytes(), "natural"),
        # The 64 crops of lanes64-npy-natural, which today's writer codes with context classes.
        "lanes64-npy-natural-context": (_path_inputs()["lanes64-npy-natural"][0], "natural"),
        # PNG files (0x08): IDAT regenerated by bbzip.deflate; RGB 8-bit with a tEXt chunk (zlib 6
        # filtered), RGBA 16-bit (level 9, default strategy, memLevel 9: rest bytes), gray+alpha (level 1).
        **{f"{name}-png": ((FIXTURES / f"{name}.png").read_bytes(), "png") for name in (
            "natural-rgb-31x24", "gradient-rgba16-20x16", "natural-gray-alpha-31x24")},
        # "-vae": coder 0x03 (FROZEN below); "-vae05": coder 0x05 (seeded initial bits) for both models.
        **{f"{name}{suffix}": (data, "vae") for suffix in ("-vae", "-vae05") for name, data in (
            ("digits-idx", (FIXTURES / "t10k-first8-idx3-ubyte").read_bytes()),
            ("digit-pgm", (FIXTURES / "digit0.pgm").read_bytes()),
            ("binarized-idx", (FIXTURES / "binarized-first8-idx3-ubyte").read_bytes()),
            ("binary-pgm", (FIXTURES / "binary255-digit1.pgm").read_bytes()),
        )},
        **_image_files(),
    }


# The first golden VAE files (coder 0x03) stay as committed, forever: they prove old files decode.
FROZEN = ("digits-idx-vae", "digit-pgm-vae", "binarized-idx-vae", "binary-pgm-vae")
# So do the first natural-image files, written before the calibration fields existed.
FROZEN += ("photo-ppm-natural", "scan-pgm-natural", "crops-npy-natural")
# Files named "<name>-stop21" hold what the writer made for the same inputs before the encoder's
# calibration sampled its block (stop 22): other choices, same format. Nothing writes them
# again; tests/test_golden.py decodes them with every other golden.


def _compress(name: str, data: bytes, coder: str) -> bytes:
    """Compress as bbzip does, except that "-vae05" files use coder 0x05 for every model,
    "-per-image" files may get natural-image settings per image however small, and "-bands"
    files are cut in bands as images over BAND_BYTES are (the format is the same for any band
    height; the real one would make a golden file of 512 KiB and more: see band_rows)."""
    from bbzip.images import blocks
    from bbzip.natural import coder as natural_coder
    from bbzip.natural import context_classes, tiles
    from bbzip.natural import model as natural_model
    from bbzip.vae import coder as vae_coder

    chooser, threshold, band = vae_coder.seeded_by_default, natural_coder.PER_IMAGE_PIXELS, blocks.BAND_BYTES
    target, groups = tiles.TARGET_TILES, natural_coder.choose_groups
    default = natural_model.DEFAULT_NAME
    if not name.endswith("-vae2"):  # written before natural-vae-2 became the default
        natural_model.DEFAULT_NAME = "natural-vae"
    if name.endswith("-vae05"):
        vae_coder.seeded_by_default = lambda model: True
    if name.endswith("-per-image"):  # small images, so that the golden file stays small
        natural_coder.PER_IMAGE_PIXELS = 0
    if name.startswith("tiles"):  # large tiles on small images: a tile budget that picks the side
        tiles.TARGET_TILES = {"tiles64": 4, "tiles128": 2, "tiles256": 1}[name.split("-")[0]]
    if name.startswith("groups5"):
        natural_coder.choose_groups = lambda tiling, per_image=False: 5
    if name.endswith("-bands"):
        blocks.BAND_BYTES = GOLDEN_BAND_BYTES
    context_classes.ALWAYS = name.endswith("-context")
    try:
        return api.compress(data, coder)
    finally:
        vae_coder.seeded_by_default, natural_coder.PER_IMAGE_PIXELS = chooser, threshold
        tiles.TARGET_TILES, natural_coder.choose_groups = target, groups
        blocks.BAND_BYTES = band
        natural_model.DEFAULT_NAME = default
        context_classes.ALWAYS = False


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
