"""numba's njit when the ``fast`` extra is installed, else the plain function: both give the
same bytes, the plain one about a hundred times slower."""

from __future__ import annotations

try:
    import numba
except ImportError:
    numba = None


def compiled() -> bool:
    return numba is not None


def jit(fn):
    """No kernel here reads a large global array or lifts loops, so numba caches every one of
    them without a warning (tests/test_deflate.py checks that on a cold cache); where no cache
    directory is writable, each process compiles afresh."""
    if numba is None:
        return fn
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)
