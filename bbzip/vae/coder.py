"""The VAE coders (IDs 0x03 and 0x05): image blocks coded by bits-back over the frozen model.

0x05 differs from 0x03 only in its initial bits: seeded heads and seeded borrowed words
(bitsback.SEED) instead of heads at 2**32 and zero words. Compression writes whichever
codes the model's images smaller (``seeded_by_default``); both always decode.

Payload: a varint v, then the header: for even v the next v/2 bytes verbatim, for odd v
the common header CANONICAL_HEADERS[v >> 1] (a lone digit's PGM header costs 1 byte, not
14); for a binary (Bernoulli) model one byte, the ink value (1 or 255) that symbol 1
stands for; then the rANS message of bits-back coding all the block's images (heads
first). The image count follows from the block's raw size and the header length, and the
lane count from the image count, so neither is stored.
"""

from __future__ import annotations

import numpy as np

from bbzip.coders.registry import SEEDED_VAE_CODER_ID, VAE_CODER_ID
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, MissingModelError, ModelError, UnsupportedError
from bbzip.vae import bitsback
from bbzip.vae.formats import IMAGE_BYTES
from bbzip.vae.model import FrozenModel, default_model, find_model, load_model_file

MAX_HEADER = 65536 + 16
# Append only: an index, once written to a file, must keep meaning the same bytes.
CANONICAL_HEADERS = (b"P5\n28 28\n255\n", b"P5 28 28 255\n", b"P5\n28 28\n1\n")
INKS = (1, 255)  # what a binary image's foreground pixels may hold


def binary_ink(images: np.ndarray) -> int | None:
    """1 or 255 when every pixel is 0 or that value (255 for all-black images), else None."""
    counts = np.bincount(images.reshape(-1), minlength=256)
    used = np.flatnonzero(counts[1:]) + 1
    if len(used) == 0:
        return INKS[-1]
    return int(used[0]) if len(used) == 1 and used[0] in INKS else None


class VaeCoder:
    name = "vae"

    def __init__(self, model: FrozenModel, seeded: bool = False):
        self.model = model
        self.model_id = model.model_id
        self.coder_id = SEEDED_VAE_CODER_ID if seeded else VAE_CODER_ID
        self.seed = bitsback.SEED if seeded else None

    def encode_segment(self, block: bytes, header_bytes: int) -> bytes:
        images = np.frombuffer(block, dtype=np.uint8, offset=header_bytes).reshape(-1, 28, 28)
        header = bytes(block[:header_bytes])
        if header in CANONICAL_HEADERS:
            prefix = encode_varint(2 * CANONICAL_HEADERS.index(header) + 1)
        else:
            prefix = encode_varint(2 * header_bytes) + header
        if self.model.binary:
            ink = binary_ink(images)
            if ink is None:
                raise UnsupportedError(f"model {self.model.name} codes binary images only "
                                       "(pixels 0 and 1, or 0 and 255)")
            prefix += bytes([ink])
            images = (images != 0).astype(np.uint8)
        return prefix + bitsback.encode(self.model, images, self.seed)

    def decode(self, payload: bytes, raw_size: int) -> bytes:
        view = memoryview(payload)
        code, pos = decode_varint(view, 0, 2 * MAX_HEADER)
        if code & 1:
            if code >> 1 >= len(CANONICAL_HEADERS):
                raise CorruptError("VAE block names an unknown header")
            header = CANONICAL_HEADERS[code >> 1]
        else:
            header = bytes(view[pos : pos + (code >> 1)])
            if len(header) != code >> 1:
                raise CorruptError("VAE block header is truncated")
            pos += len(header)
        ink = 1
        if self.model.binary:
            if pos >= len(view) or view[pos] not in INKS:
                raise CorruptError("VAE block has no valid ink value for its binary images")
            ink = view[pos]
            pos += 1
        images, rest = divmod(raw_size - len(header), IMAGE_BYTES)
        if rest or images < 0:
            raise CorruptError("VAE block sizes are inconsistent")
        pixels = bitsback.decode(self.model, view[pos:], images, self.seed)
        if ink != 1:
            pixels *= np.uint8(ink)
        return header + pixels.tobytes()


# Whole images per block when api cuts a big image file into blocks to code them in
# parallel. Each block is its own bits-back chain and pays its own start: the first image
# without bits-back and a ramp of batches 1, 4, 16, ... whose pops find little in the
# message. Measured (10,000 test digits, 2 blocks of 5,000 against 1 block): binarized
# MNIST +2,416 B (+1.43 %: its images leave few bits for the ramp's pops), so binary images
# are not split below the container's block size; 8-bit digits leave about five times the
# bits their latents take back, and 5,000 gives MNIST two equal blocks of 256 lanes.
PARALLEL_BLOCK_IMAGES = {False: 5000, True: None}


def parallel_block_images(binary: bool) -> int | None:
    """Images per block for parallel coding of an image file (None: do not split). A fixed
    number, never one that depends on the thread count, so the output is the same for any
    -T; ``binary``: the file's pixels are all 0 and one ink value (``binary_ink``)."""
    return PARALLEL_BLOCK_IMAGES[binary]


def seeded_by_default(model: FrozenModel) -> bool:
    """Whether compression writes 0x05 (seeded initial bits) for this model's blocks.

    Measured on the 10,000 MNIST test images in one block: seeded initial bits save 1.41 %
    on binarized MNIST, but cost 0.04 % (480 B) on 8-bit MNIST, where the extra bits that
    0x03's bucket-0 pops take back outweigh the worse latents of lane-opening images.
    """
    return model.binary


def seeded_vae_coder_for_model_id(model_id: bytes, extra_models=()) -> VaeCoder:
    return vae_coder_for_model_id(model_id, extra_models, SEEDED_VAE_CODER_ID)


def vae_coder_for_model_id(model_id: bytes, extra_models=(), coder_id: int = VAE_CODER_ID) -> VaeCoder:
    if not model_id:
        raise CorruptError("VAE block without a model ID")
    model = find_model(model_id, tuple(extra_models))
    if not isinstance(model, FrozenModel):  # model IDs name natural-image models too
        raise ModelError(f"model {model_id.hex()} is not a digit model")
    return VaeCoder(model, seeded=coder_id == SEEDED_VAE_CODER_ID)


def choose_model(block: bytes, header_bytes: int, model_path=None) -> FrozenModel:
    """The named model, else the shipped one for the images' kind: binary or 8-bit.

    Without a binary model installed, binary images go to the 8-bit model, which codes
    any pixels (less well)."""
    if model_path is not None:
        model = load_model_file(model_path)
        if not isinstance(model, FrozenModel):
            raise UnsupportedError(f"{model_path}: not a model for 28x28 digits")
        return model
    images = np.frombuffer(block, dtype=np.uint8, offset=header_bytes)
    if binary_ink(images) is not None:
        try:
            return default_model(binary=True)
        except MissingModelError:
            pass
    return default_model()


def encode_image_block(block: bytes, header_bytes: int, forced: bool, model_path=None):
    """(coder_id, model_id, payload) for a block of ``header_bytes`` of file header and whole
    digits, or None when no model is installed (api's chooser weighs it against the rest)."""
    try:
        model = choose_model(block, header_bytes, model_path)
        coder = VaeCoder(model, seeded=seeded_by_default(model))
    except MissingModelError:
        if forced or model_path is not None:
            raise
        return None  # no model installed: the model-free coders still work; a damaged one is an error
    return coder.coder_id, coder.model_id, coder.encode_segment(block, header_bytes)
