"""numba's njit when the ``fast`` extra is installed, else the plain function: both give the
same bytes, the plain one about a hundred times slower."""

from __future__ import annotations

try:
    import numba
except ImportError:
    numba = None
else:
    import warnings

    from numba.core.errors import NumbaWarning

    # A cache numba cannot write costs a recompile, not an error: nothing for stderr.
    warnings.simplefilter("ignore", NumbaWarning)


def compiled() -> bool:
    return numba is not None


def jit(fn):
    if numba is None:
        return fn
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no writable cache directory: compile in each process
        return numba.njit(nogil=True)(fn)
