"""What a worker process coding natural-image blocks would load for itself, loaded once in
the process workers are then forked from (bbzip.parallel_processes): the model, and for
blocks on the compiled path numba with its kernels (about 1 s of CPU a process: numba's
import, LLVM's start, the kernels from numba's cache). The workers inherit it all, and the
pages they only read stay shared.

Importing this module imports neither numpy nor the natural coder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from bbzip.coders import registry


def for_encoding(block) -> Callable[[], None] | None:
    """The preparation for an api block of images, when the natural coder may code it."""
    segment, model_path = block.image, block.model
    if not hasattr(segment, "runs") or segment.digits or block.coder not in ("auto", "natural"):
        return None
    return partial(_prepare, max(run.size for run in segment.runs), "encode", None, (), model_path)


def for_decoding(header, models: tuple) -> Callable[[], None] | None:
    if header.coder_id != registry.NATURAL_CODER_ID:
        return None
    return partial(_prepare, header.raw_size, "decode", header.model_id, models)


def _prepare(subpixels: int, way: str, model_id: bytes | None, models: tuple, model_path=None) -> None:
    from bbzip.errors import BBZError
    from bbzip.images import coder as natural_block

    natural = natural_block.backend()
    if natural is None:
        return
    try:  # a missing or damaged model is the block's own error, reported in its turn
        if model_id:
            model = natural.find_model(model_id, models)
        elif model_path is None:
            model = natural.default_model()
        else:
            return  # --model's file: api's chooser reads it
    except BBZError:
        return
    from bbzip.natural import compiled

    if model is None or not isinstance(model, natural.model_class) or not compiled.enabled(subpixels):
        return
    _warm_kernels(compiled, model, way)


def _warm_kernels(compiled, model, way: str) -> None:
    """Load the kernels of that way (encode, or decode) from numba's cache: they load on
    their first call. Encode: an 8x8 image coded compiled; decode: one row decoded as a
    decode calls the row kernels (bbzip.natural.stepper.warm), which needs no payload."""
    if way == "decode":
        from bbzip.natural import stepper

        stepper.warm(model)
        return
    import numpy as np

    from bbzip.natural import coder

    with _compiled(compiled, True):
        coder.encode(model, np.zeros((1, 8, 8, 3), np.uint8))


@contextmanager
def _compiled(compiled, on: bool) -> Iterator[None]:
    """compiled.enabled true (or false) for any block. Safe: preparation runs only in a process
    with one thread, before its workers are forked."""
    saved = compiled.MIN_SUBPIXELS, compiled.LOADED_MIN_SUBPIXELS
    # Both thresholds: once numba is imported, enabled() reads the second one.
    compiled.MIN_SUBPIXELS = compiled.LOADED_MIN_SUBPIXELS = 0 if on else 1 << 62
    try:
        yield
    finally:
        compiled.MIN_SUBPIXELS, compiled.LOADED_MIN_SUBPIXELS = saved
