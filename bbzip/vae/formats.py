"""The digit models' images: 28x28 8-bit grayscale, one byte per pixel, row by row.

Which inputs hold such images (IDX, PGM, NPY, inside tar or not) is decided by the image
detection layer, bbzip/images/; a block reaches the digit VAE as its file header (kept
verbatim) followed by whole 28x28 images.
"""

from __future__ import annotations

from bbzip.constants import IMAGE_BYTES, IMAGE_SHAPE  # noqa: F401 - used through this module


def pixels_in_block(raw_size: int) -> int:
    """Pixels in a VAE block of raw_size bytes (headers are a few bytes, never an image)."""
    return (raw_size // IMAGE_BYTES) * IMAGE_BYTES
