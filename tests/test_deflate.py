"""bbzip.deflate writes zlib's streams bit for bit: checked against this Python's zlib
(1.2.12+ rules) on random and image-like inputs, every level, the strategies libpng and
others use, memLevel 8/9 and small windows (which slide)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bbzip import deflate
from bbzip.deflate import _jit, emit, lz77, peek, trees

pytestmark = pytest.mark.skipif(tuple(map(int, zlib.ZLIB_RUNTIME_VERSION.split(".")[:3])) < (1, 2, 12)
                                or "ng" in zlib.ZLIB_RUNTIME_VERSION, reason="needs stock zlib 1.2.12+")


def reference(data: bytes, params: deflate.Params) -> bytes:
    z = zlib.compressobj(params.level, zlib.DEFLATED, -params.window_bits, params.mem_level, params.strategy)
    return z.compress(data) + z.flush()


def image_like(rng, size: int) -> bytes:
    """Rows of a smooth random walk with noise and a filter byte each, like PNG IDAT data."""
    width = int(rng.integers(16, 300))
    rows = -(-size // (width + 1))
    walk = np.cumsum(rng.integers(-3, 4, (rows, width)), axis=1) + rng.integers(0, 3, (rows, width))
    walk = np.diff(walk, axis=0, prepend=0) if rng.integers(2) else walk
    out = np.concatenate([rng.integers(0, 5, (rows, 1)), walk], axis=1).astype(np.uint8)
    return out.tobytes()[:size]


params_strategy = st.builds(deflate.Params, st.integers(1, 9), st.sampled_from([0, 1, 0, 1, 2, 3, 4]),
                            st.sampled_from([8, 9, 8, 1, 5]), st.sampled_from([15, 15, 9, 10]))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(0, 40000), params=params_strategy,
       kind=st.sampled_from(["image", "random", "text", "runs"]))
def test_same_stream_as_zlib(seed, size, params, kind):
    rng = np.random.default_rng(seed)
    if kind == "image":
        data = image_like(rng, size)
    elif kind == "random":
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    elif kind == "text":
        words = [bytes(rng.integers(97, 123, int(rng.integers(1, 8)), dtype=np.uint8)) for _ in range(50)]
        data = b" ".join(words[i] for i in rng.integers(0, 50, size // 4 + 1))[:size]
    else:
        data = np.repeat(rng.integers(0, 4, size // 20 + 1), rng.integers(1, 40, size // 20 + 1)).astype(
            np.uint8).tobytes()[:size]
    assert deflate.deflate(data, params) == reference(data, params)


@pytest.mark.parametrize("level", range(1, 10))
@pytest.mark.parametrize("strategy", [0, 1])
def test_every_level_on_a_sliding_window(level, strategy):
    # 70 KB through a 512-byte window: many slides, chains cut at MAX_DIST, full symbol buffers.
    data = image_like(np.random.default_rng(level), 70000)
    for mem_level, window_bits in ((8, 9), (9, 15), (1, 15)):
        params = deflate.Params(level, strategy, mem_level, window_bits)
        assert deflate.deflate(data, params) == reference(data, params)


def test_zlib_stream_header_and_adler():
    data = image_like(np.random.default_rng(5), 5000)
    for level, strategy in ((1, 0), (6, 1), (9, 0), (3, 2)):
        params = deflate.Params(level, strategy, 8, 15)
        assert deflate.zlib_stream(data, params) == zlib.compress(data, level) or strategy != 0 or level == 3
        z = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
        assert deflate.zlib_stream(data, params) == z.compress(data) + z.flush()
    assert deflate.adler32(data) == zlib.adler32(data)
    assert deflate.adler32(b"") == 1


def test_find_params_and_prefix_rejection():
    data = image_like(np.random.default_rng(9), 60000)
    target = reference(data, deflate.Params(7, 1, 9, 15))
    assert not deflate.matches_prefix(data, deflate.Params(6, 1, 8, 15), target)
    assert deflate.matches_prefix(data, deflate.Params(7, 1, 9, 15), target)
    candidates = [deflate.Params(lv, s, m, 15) for m in (8, 9) for lv in (6, 7) for s in (0, 1)]
    found = deflate.find_params(data, target, candidates)
    assert found is not None and deflate.deflate(data, found) == target  # others may write the same stream
    assert deflate.find_params(data, target[:-1] + b"\x00", candidates) is None


def test_plain_python_gives_the_same_bytes():
    if not _jit.compiled():
        pytest.skip("numba is not installed: everything already runs as plain Python")
    data = image_like(np.random.default_rng(3), 1500)
    for params in (deflate.Params(2, 0, 8, 9), deflate.Params(6, 1, 1, 9)):
        n = len(data)
        arr = np.frombuffer(data, np.uint8)
        dists, lcs = np.zeros(n + 1, np.uint16), np.zeros(n + 1, np.uint8)
        blocks = np.zeros((n + 2, 5), np.int64)
        python_parse = lz77.parse.py_func
        _, nblocks, final = python_parse(arr, params.level, params.strategy, params.mem_level, params.window_bits, 0,
                                         dists, lcs, blocks)
        out = np.zeros(2 * n + 1000, np.uint8)
        size = emit.write_blocks.py_func(arr, dists, lcs, blocks, nblocks, False, final, out,
                                         np.zeros(nblocks, np.int64))
        assert out[:size].tobytes() == reference(data, params)


def test_bad_parameters_are_refused():
    with pytest.raises(Exception, match="out of range"):
        deflate.deflate(b"abc", deflate.Params(0, 0, 8, 15))


def test_first_block_is_read_as_zlib_wrote_it():
    data = image_like(np.random.default_rng(11), 90000)
    for mem_level, strategy, level in ((8, 1, 6), (7, 0, 2), (5, 0, 9)):
        params = deflate.Params(level, strategy, mem_level, 15)
        first = peek.first_block(reference(data, params))
        assert first is not None and not first.final and first.symbols == (1 << (mem_level + 6)) - 1
        assert deflate.possible(params, first)
        assert not deflate.possible(params._replace(mem_level=mem_level % 9 + 1), first)
        if strategy == 1:
            assert first.shortest > 5
    small = peek.first_block(reference(b"abcabcabcabc", deflate.Params(6, 0, 8, 15)))
    assert small == peek.FirstBlock(True, 1, 5, 8, 3)  # a b c a, then 8 from 3 back (offset 0 is never matched)
    assert peek.first_block(b"") is None and peek.first_block(b"\x07") is None


def test_importing_the_kernels_leaves_the_process_warnings_filter_alone():
    """A library may not silence a category of warnings for its host process (it did: every
    NumbaWarning, for a cache that numba could not write)."""
    import importlib
    import warnings

    before = list(warnings.filters)
    importlib.reload(_jit)  # runs the module's top level again, as its first import did
    assert warnings.filters == before


def test_the_kernels_name_the_tables_they_read():
    """numba keys a kernel's cache on its own file: emit.py and peek.py read trees.py's
    tables, so they carry its digest, and an edit of trees.py alone (which a warm cache
    would not see) fails here until the digests are updated."""
    import hashlib

    digest = hashlib.sha256(Path(trees.__file__).read_bytes()).hexdigest()[:16]
    assert emit.TREES_DIGEST == peek.TREES_DIGEST == digest
