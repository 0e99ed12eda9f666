"""Natural images (issue 9): the six validation photos against the image codecs users have.

Every codec runs in this process in the same run: bbzip through ``bbzip.api`` (level 6, one
thread per core, as the CLI's default), the others through the ``imagecodecs`` package
(bench extra): PNG (zlib level 9), WebP lossless at its best setting (level 100, method 6),
JPEG-LS (CharLS, lossless),
JPEG XL lossless at effort 7 and 9 (libjxl's own thread pool). xz -9e reads the file, as
bbzip does today without an image model. bbzip codes the PGM/PPM file, header included;
the others code the pixels. WebP has no gray mode: gray photos go in as three equal
channels (lossless, and its subtract-green transform makes the copies nearly free) and are
counted as one. Sizes are bits per subpixel (pixels x channels); times are seconds per
million subpixels, wall clock.

Also here: 300 32x32 RGB crops as one NPY file (bbzip against xz -9e), and the six photos
as a folder through ``tar -I bbzip`` against the photos coded one by one.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import cores, log, one_line
from bench.inputs import Input, crops_input, photo_inputs
from bench.measure import ApiCodec, Codec, CommandCodec, Results, combine_rows
from bench.suites import cli_has_levels

TOTAL_INPUT = "photos (total)"
TAR_INPUT = "photos folder (tar)"
TAR_TOOL = "tar -I bbzip"
HINT = "pip install -e .[bench]"


def bbzip_label() -> str:
    return f"bbzip -6 -T{cores()}"


class ImageCodec(Codec):
    """An imagecodecs encoder and decoder on the input's (H, W, C) pixels."""

    def __init__(
        self,
        label: str,
        encode: Callable[[np.ndarray], bytes],
        decode: Callable[[bytes], np.ndarray],
        gray_as_rgb: bool = False,
    ) -> None:
        self.label, self.encode, self.decode, self.gray_as_rgb = label, encode, decode, gray_as_rgb
        self.header, self.shape = b"", (0, 0, 0)

    def compress(self, inp: Input) -> bytes:
        image = inp.image
        self.header, self.shape = inp.data[: len(inp.data) - image.size], image.shape
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2) if self.gray_as_rgb else image[:, :, 0]
        return bytes(self.encode(np.ascontiguousarray(image)))

    def decompress(self, packed: bytes) -> np.ndarray:
        return self.decode(packed)

    def output(self, pixels: np.ndarray) -> bytes:
        """The file the pixels came from, if they are the same pixels (header as it was)."""
        pixels = np.asarray(pixels)
        if self.shape[2] == 1 and pixels.ndim == 3 and pixels.shape[2] == 3:
            if not (pixels == pixels[:, :, :1]).all():
                return b""  # a gray image must come back gray
            pixels = pixels[:, :, 0]
        if pixels.size != int(np.prod(self.shape)):
            return b""
        return self.header + pixels.astype(np.uint8).tobytes()


def image_codecs() -> tuple[list[Codec], str]:
    """The imagecodecs rows, or [] and why not."""
    try:
        import imagecodecs as ic
    except ImportError as exc:
        return [], f"imagecodecs not installed ({HINT}): {one_line(exc)}"
    threads = cores()
    table = [
        ("PNG (zlib 9)", "PNG", lambda a: ic.png_encode(a, level=9), ic.png_decode, False),
        (  # its best setting (issue 19): the slowest, smallest, as people pick it for archives
            "WebP lossless m6",
            "WEBP",
            lambda a: ic.webp_encode(a, level=100, lossless=True, method=6),
            ic.webp_decode,
            True,
        ),
        ("JPEG-LS", "JPEGLS", lambda a: ic.jpegls_encode(a, level=0), ic.jpegls_decode, False),
        (
            "JPEG XL e7",
            "JPEGXL",
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=7, numthreads=threads),
            lambda b: ic.jpegxl_decode(b, numthreads=threads),
            False,
        ),
        (
            "JPEG XL e9",
            "JPEGXL",
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=9, numthreads=threads),
            lambda b: ic.jpegxl_decode(b, numthreads=threads),
            False,
        ),
    ]
    codecs: list[Codec] = []
    missing = []
    for label, name, encode, decode, gray_as_rgb in table:
        if getattr(getattr(ic, name, None), "available", False):
            codecs.append(ImageCodec(label, encode, decode, gray_as_rgb))
        else:
            missing.append(label)
    return codecs, f"not in this imagecodecs build: {', '.join(missing)}" if missing else ""


def xz_codec(workdir: Path) -> list[Codec]:
    if not shutil.which("xz"):
        return []
    return [CommandCodec("xz -9e", ("xz", "-9e", "-T1"), ("xz", "-d"), workdir)]


def run_natural(results: Results, api: Any, workdir: Path, exe: str | None) -> dict:
    """Measure the photo table, the crops and the tar folder; returns what the report needs."""
    photos = [p.write(workdir) for p in photo_inputs()]
    if not photos:
        return {"photos": [], "why": "the validation photos are not in ../shared/data/natural"}
    codecs, why = image_codecs()
    bbzip = [ApiCodec(api, bbzip_label(), once=True, level=6, threads=cores())] if api else []
    all_codecs = bbzip + codecs + xz_codec(workdir)
    total = Input(
        TOTAL_INPUT,
        b"".join(p.data for p in photos),
        f"the {len(photos)} photos, each coded on its own (totals)",
        pixels=sum(p.pixels for p in photos),
    )
    for codec in all_codecs:
        rows = [results.measure(codec, p) for p in photos]
        results.add(combine_rows(total, rows))
    crops = crops_input(photos)
    if crops is not None:
        crops.write(workdir)
        crop_codecs = bbzip + xz_codec(workdir)
        if shutil.which("zstd"):
            crop_codecs.append(
                CommandCodec(
                    "zstd -19", ("zstd", "-19", "-T1", "-q"), ("zstd", "-d", "-q"), workdir
                )
            )
        for codec in crop_codecs:
            results.measure(codec, crops)
    tar = tar_folder(results, photos, workdir, exe, api)
    return {
        "photos": photos,
        "total": total,
        "crops": crops,
        "tar": tar,
        "why": why,
        "tools": [c.label for c in all_codecs],
    }


class TarCodec(CommandCodec):
    """``tar -I bbzip -cf - photos > OUT`` (the folder, not the input file), then ``bbzip -d``."""

    def __init__(
        self, create: tuple[str, ...], dargv: tuple[str, ...], workdir: Path, api: Any
    ) -> None:
        super().__init__(TAR_TOOL, create, dargv, workdir, api=api, once=True)

    def compress(self, inp: Input) -> Path:
        return self._run(list(self.argv), self.packed_path)


def tar_folder(
    results: Results, photos: list[Input], workdir: Path, exe: str | None, api: Any
) -> Input | None:
    """The photos as a folder through ``tar -I bbzip``; the input is the same tar uncompressed."""
    if exe is None or not shutil.which("tar"):
        log("no bbzip console script or no tar: skipping the tar folder")
        return None
    folder = workdir / "photos"
    folder.mkdir(exist_ok=True)
    for p in photos:
        (folder / f"{p.name}.{'pgm' if p.image.shape[2] == 1 else 'ppm'}").write_bytes(p.data)
    same = [
        "--sort=name",
        "--mtime=@1700000000",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--format=gnu",
        "-C",
        str(workdir),
    ]
    try:
        plain = subprocess.run(
            ["tar", *same, "-cf", "-", "photos"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"tar failed ({one_line(exc)}): skipping the tar folder")
        return None
    inp = Input(
        TAR_INPUT,
        plain,
        f"the {len(photos)} photos as one folder, GNU tar",
        pixels=sum(p.pixels for p in photos),
    ).write(workdir)
    threads = f" -T{cores()}" if cli_has_levels(exe) else ""  # an older CLI has no -T
    create = ("tar", *same, "-I", exe + threads, "-cf", "-", "photos")
    results.measure(TarCodec(create, (exe, "-d"), workdir, api), inp)
    return inp
