"""Which image coder gets a block of images: 28x28 gray digits go to the digit VAE, every
other gray or RGB image (and a tar block's mix of members) to the natural-image coder, an
image file with a block of its own (files.py: JPEG, TIFF, BMP, 16-bit, alpha) to its coder.

Returns a candidate only; api's chooser weighs it against the model-free coders.
"""

from __future__ import annotations

from bbzip.errors import MissingModelError, UnsupportedError
from bbzip.images import coder as natural_block
from bbzip.images import files
from bbzip.images.blocks import ImageSegment


def image_candidate(block: bytes, segment: ImageSegment | None, coder: str = "auto",
                    model_path=None) -> tuple[int, bytes, bytes] | None:
    """(coder_id, model_id, payload), or None when no image model is installed. ``coder``:
    "auto", or a forced "vae" / "natural", which raise rather than step aside."""
    if getattr(segment, "png", False):
        from bbzip.images.png_coder import png_candidate

        return png_candidate(block, coder, model_path)
    if coder == "png":
        raise UnsupportedError("input is not a PNG file the png coder can regenerate")
    if segment is None:
        if coder != "auto":
            raise UnsupportedError(f"input is not an image format the {coder} coder knows")
        return None
    natural = natural_block.backend()
    chosen = _natural_model_file(model_path, natural)
    if chosen is not None:
        model_path = None  # a natural model named with --model: it codes every image
    if isinstance(segment, files.WholeFile):  # an image file with a block of its own
        return files.candidate(block, segment, coder,
                               lambda: chosen or (natural.default_model() if natural is not None else None))
    if coder == "imagefile":
        raise UnsupportedError("the imagefile coder takes TIFF, BMP, 16-bit and alpha images (try --coder natural)")
    if coder == "vae" or (coder == "auto" and segment.digits and chosen is None):
        if not segment.digits:
            raise UnsupportedError("the vae coder takes 28x28 gray images only (try --coder natural)")
        from bbzip.vae.coder import encode_image_block

        found = encode_image_block(block, segment.header_bytes, coder == "vae", model_path)
        if found is not None or coder == "vae":
            return found
    model = chosen or (natural.default_model() if natural is not None else None)
    if model is None:
        if coder == "natural":
            raise MissingModelError("no natural-image model is installed")
        return None
    try:
        payload = natural_block.NaturalBlockCoder(model, natural).encode_runs(block, segment.runs)
    except UnsupportedError:
        if coder == "natural":
            raise
        return None
    return natural_block.NATURAL_CODER_ID, model.model_id, payload


def _natural_model_file(model_path, natural):
    """The model file named with --model when it is a natural-image model, else None."""
    if model_path is None or natural is None:
        return None
    from bbzip.vae.model import load_model_file

    model = load_model_file(model_path)
    return model if isinstance(model, natural.model_class) else None
