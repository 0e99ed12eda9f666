"""The bench's inputs, all deterministic.

  pystdlib.tar       tar (GNU format, sorted, mtime/uid/gid/uname fixed) of the ``*.py`` files
                     under ``sysconfig.get_paths()["stdlib"]``, site-packages excluded.
  skewed-8MB         8 MiB of i.i.d. bytes, P(k) proportional to 0.85**k for k = 0..255
                     (numpy ``default_rng(12345).choice``); order-0 entropy about 4.07 bits/byte.
  random-8MB         8 MiB of uniform bytes, numpy ``default_rng(54321)``.
  mnist-t10k-images  ``t10k-images-idx3-ubyte.gz`` decompressed, from ``$BBZIP_MNIST_DIR`` or
                     ``../shared/data/mnist``; skipped when absent.
  mnist-t10k-binarized  the same images binarized as bbzip's training defines it
                     (``bbzip.training.mnist.binarize``, fixed-seed stochastic), one idx3 file.
  mnist-digit-pgm    the first 100 test digits, each its own binary PGM.
  photos             the six validation photos of ``../shared/data/natural`` (camera, coins,
                     brick: PGM; coffee, china, astronaut: PPM), each file as it is, gunzipped.
  crops-300.npy      300 32x32 RGB crops of the three RGB photos (100 each, distinct cells of
                     the 32-pixel grid chosen by ``default_rng(2026)``: no pixel repeats),
                     one (300, 32, 32, 3) uint8 NPY file.

``--quick`` cuts the general inputs to 1 MiB and MNIST to its first 1337 images.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import sysconfig
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import MIB, REPO_ROOT, log, one_line

FULL_SIZE = 8 * MIB
QUICK_SIZE = 1 * MIB
MNIST_FILE = "t10k-images-idx3-ubyte.gz"
MNIST_INPUT = "mnist-t10k-images"
BINARY_INPUT = "mnist-t10k-binarized"
PGM_INPUT = "mnist-digit-pgm"
PGM_HEADER = b"P5\n28 28\n255\n"
IDX3_MAGIC = b"\x00\x00\x08\x03"  # idx: unsigned bytes, 3 dimensions
MNIST_FULL_PIXELS = 10_000 * 784
# The held-out validation photos (issue 9): never trained on, the public benchmark.
PHOTOS = (
    "skimage-camera.pgm.gz",
    "skimage-coins.pgm.gz",
    "skimage-brick.pgm.gz",
    "skimage-coffee.ppm.gz",
    "sklearn-china.ppm.gz",
    "skimage-astronaut.ppm.gz",
)
PHOTO_NAMES = tuple(name.split("-", 1)[1].split(".")[0] for name in PHOTOS)  # the inputs' names
CROPS_INPUT = "crops-300.npy"
CROPS, CROP_SIZE = 300, 32


@dataclass
class Input:
    name: str
    data: bytes
    description: str
    pixels: int | None = None  # pixels, or subpixels for RGB: set for images (bits/pixel reported)
    path: Path | None = None  # the data written to a file, for external tools
    image: np.ndarray | None = None  # (H, W, C) uint8, for the image codecs
    entropy: float = field(init=False)  # order-0, bits/byte

    def __post_init__(self) -> None:
        self.entropy = order0_entropy(self.data)

    @property
    def entropy_bound(self) -> float:
        """Order-0 entropy bound of the whole input, in bytes."""
        return self.entropy * len(self.data) / 8

    def write(self, directory: Path) -> Input:
        self.path = directory / self.name
        self.path.write_bytes(self.data)
        return self


def order0_entropy(data: bytes) -> float:
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def stdlib_tar(limit: int | None) -> bytes:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if p.is_file() and "site-packages" not in p.relative_to(root).parts
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
            if limit is not None and buf.tell() >= limit:
                break
    data = buf.getvalue()
    return data[:limit] if limit is not None else data


def skewed_bytes(n: int) -> bytes:
    p = 0.85 ** np.arange(256)
    rng = np.random.default_rng(12345)
    return rng.choice(256, size=n, p=p / p.sum()).astype(np.uint8).tobytes()


def random_bytes(n: int) -> bytes:
    return np.random.default_rng(54321).bytes(n)


def general_inputs(quick: bool) -> list[Input]:
    size = QUICK_SIZE if quick else FULL_SIZE
    mb = size // MIB
    tar = stdlib_tar(QUICK_SIZE if quick else None)
    return [
        Input(
            "pystdlib.tar",
            tar,
            "tar of the Python stdlib *.py sources" + (" (first 1 MiB)" if quick else ""),
        ),
        Input(
            f"skewed-{mb}MB", skewed_bytes(size), "i.i.d. bytes, P(k) ~ 0.85**k, k<256, seed 12345"
        ),
        Input(f"random-{mb}MB", random_bytes(size), "uniform random bytes, seed 54321"),
    ]


def shared_data() -> Path:
    """``$BBZIP_DATA_DIR``, else ../shared/data of the checkout (or of its worktree folder)."""
    if os.environ.get("BBZIP_DATA_DIR"):
        return Path(os.environ["BBZIP_DATA_DIR"])
    candidates = [up / "shared" / "data" for up in (REPO_ROOT.parent, REPO_ROOT.parent.parent)]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def mnist_path() -> Path:
    base = os.environ.get("BBZIP_MNIST_DIR") or shared_data() / "mnist"
    return Path(base) / MNIST_FILE


def mnist_input(quick: bool) -> Input | None:
    """The idx3 test file (with --quick its first 1337 images, header fixed); None when absent."""
    path = mnist_path()
    if not path.is_file():
        log(f"MNIST not found at {path}: skipping the MNIST inputs")
        return None
    try:
        raw = gzip.decompress(path.read_bytes())
        magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    except (OSError, EOFError, struct.error) as exc:
        log(f"unreadable {path} ({one_line(exc)})")
        return None
    if quick:
        count = min(count, (QUICK_SIZE - 16) // (rows * cols))
    data = struct.pack(">IIII", magic, count, rows, cols) + raw[16 : 16 + count * rows * cols]
    return Input(
        MNIST_INPUT, data, f"MNIST test images, {count} x 28x28 (idx3)", pixels=count * rows * cols
    )


def binarized_input(mnist: Input) -> Input | None:
    """The same images binarized as bbzip's training does it, as one idx3 file."""
    try:
        # bbzip's own definition (fixed seed): the set its binary model is trained and tested on
        from bbzip.training.mnist import binarize, read_idx_images
    except ImportError as exc:
        log(f"cannot import bbzip.training.mnist ({one_line(exc)}): no binarized MNIST")
        return None
    count = mnist.pixels // 784
    # binarize draws its noise in pixel order, so a prefix binarizes as it does in the full set
    pixels = binarize(read_idx_images(mnist_path())[:count])
    _, rows, cols = pixels.shape
    data = IDX3_MAGIC + struct.pack(">III", count, rows, cols) + pixels.tobytes()
    return Input(
        BINARY_INPUT,
        data,
        f"the same {count} images binarized (bbzip.training.mnist.binarize), 0/1 pixel bytes (idx3)",
        pixels=mnist.pixels,
    )


def digit_pgms(mnist: Input, count: int, directory: Path) -> list[Input]:
    """The first `count` images of the MNIST input, each as its own binary PGM file."""
    directory.mkdir(exist_ok=True)
    return [
        Input(
            f"digit-{i:03d}.pgm",
            PGM_HEADER + mnist.data[16 + i * 784 : 16 + (i + 1) * 784],
            "",
            pixels=784,
        ).write(directory)
        for i in range(min(count, mnist.pixels // 784))
    ]


def parse_pnm(data: bytes) -> np.ndarray:
    """A P5/P6 file with maxval 255 as an (H, W, C) array; comments allowed (bbzip's parser)."""
    from bbzip.images.detect import pnm_layout
    from bbzip.natural.images import parse_pnm as read

    image = read(data)
    if image is None or int(pnm_layout(data).header.split()[-1]) != 255:
        raise ValueError("not an 8-bit P5/P6 file with maxval 255")
    return image


def photo_inputs() -> list[Input]:
    """The validation photos, each its PGM/PPM file; [] when the data is absent."""
    inputs = []
    for name in PHOTOS:
        path = shared_data() / "natural" / name
        if not path.is_file():
            log(f"photo not found: {path}")
            continue
        data = gzip.decompress(path.read_bytes())
        image = parse_pnm(data)
        h, w, c = image.shape
        short = PHOTO_NAMES[PHOTOS.index(name)]
        inputs.append(
            Input(
                short,
                data,
                f"{w}x{h} {'gray' if c == 1 else 'RGB'}, {name}",
                pixels=image.size,
                image=image,
            )
        )
    return inputs


def crops_input(photos: list[Input]) -> Input | None:
    """300 32x32 RGB crops of the RGB photos, as one NPY file."""
    rgb = [p.image for p in photos if p.image.shape[2] == 3]
    if not rgb:
        return None
    # Distinct cells of the 32-pixel grid: crops that overlapped would repeat pixels, which
    # measures LZ matching, not 300 small images (a CIFAR-like set has no repeats).
    rng = np.random.default_rng(2026)
    cells = []
    for image in rgb:
        grid = [(y, x) for y in range(0, image.shape[0] - CROP_SIZE + 1, CROP_SIZE)
                for x in range(0, image.shape[1] - CROP_SIZE + 1, CROP_SIZE)]
        cells.append([grid[j] for j in rng.permutation(len(grid))])
    crops = []
    for i in range(CROPS):
        image = rgb[i % len(rgb)]
        y, x = cells[i % len(rgb)][i // len(rgb)]
        crops.append(image[y : y + CROP_SIZE, x : x + CROP_SIZE])
    array = np.ascontiguousarray(np.stack(crops))
    buf = io.BytesIO()
    np.save(buf, array)
    return Input(
        CROPS_INPUT,
        buf.getvalue(),
        f"{CROPS} {CROP_SIZE}x{CROP_SIZE} RGB crops of the RGB validation photos, distinct grid cells "
        "(seed 2026), NPY",
        pixels=array.size,
    )
