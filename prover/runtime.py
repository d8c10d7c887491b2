"""Process tuning for one proof (or verification) run: speed only, never bytes.

- OpenBLAS pinned to one thread: the float64 BLAS passes (``field.lincomb_base``,
  ``edot_base_many``) have small inner shapes, and on a small shared machine OpenBLAS's pool
  spends more time waking and spinning than computing (measured 5-40x slower per call at 2
  threads under load). Set through OpenBLAS's own entry point next to numpy (a no-op if numpy
  is linked against another BLAS) and restored on exit.
- glibc malloc keeps freed large blocks: provers allocate and drop many same-sized tables
  (8-32 MiB at T = 2^20); with glibc's defaults each one is a fresh mmap whose pages fault in
  zeroed, which showed up as a third of the run's CPU time in the kernel. Serving every block
  from the heap (no mmap) and not trimming it keeps them for reuse. Restored to glibc's
  defaults on exit. A no-op where libc has no ``mallopt``.
- OpenBLAS's work buffer made before the first stage: OpenBLAS allocates it (32 MiB here) at
  the first GEMM past its small-matrix path and keeps it for the process. Without a warm-up it
  was charged to whichever stage multiplied first (the materialized stage 1), and a conversion
  of that stage moved the same 32 MiB, kept alive, into the next dense stage (stage 7), where
  the memory gate rightly saw it. One GEMM here, after the thread count is set, makes the
  buffer part of the run's setup for every variant alike (memray, sha2-16: stage 7's in-stage
  peak equal to the byte with stage 1 materialized or streaming).

Public names: ``tuned`` (context manager).
"""

from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -2, -3, -4
_MMAP_MAX_THRESHOLD = 32 << 20  # glibc's ceiling on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
_GLIBC_DEFAULTS = {
    _M_TRIM_THRESHOLD: 128 << 10, _M_TOP_PAD: 128 << 10, _M_MMAP_THRESHOLD: 128 << 10, _M_MMAP_MAX: 65536,
}


@lru_cache(maxsize=1)  # resolved once per process: the library and its symbols do not change
def _openblas() -> tuple[Any, Any] | None:
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", "_64_", ""):
            get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype = ctypes.c_int
                put.argtypes = [ctypes.c_int]
                return get, put
    return None


@lru_cache(maxsize=1)
def _mallopt() -> Any | None:
    # The C library this process already runs on: ctypes.CDLL(None) is the process's own symbol
    # table. (ctypes.util.find_library("c") spawned `ldconfig -p`, a ~46 MB child process, on
    # every prove: counted, rightly, in the memory gate's whole-run figure.)
    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_WARM_SHAPE = 512  # (8, 512) @ (512, 512) takes OpenBLAS's buffered path; 256 does not


def _warm_blas() -> None:
    """One float64 GEMM large enough to make OpenBLAS allocate its work buffer (about 2 MiB of
    operands, well under a millisecond)."""
    np.ones((8, _WARM_SHAPE)) @ np.ones((_WARM_SHAPE, _WARM_SHAPE))


@contextmanager
def tuned() -> Iterator[None]:
    blas = _openblas()
    mallopt = _mallopt()
    before = int(blas[0]()) if blas is not None else None
    if blas is not None:
        blas[1](1)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX_THRESHOLD)
        mallopt(_M_MMAP_MAX, 0)  # even blocks above the threshold come from the (kept) heap
        mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        mallopt(_M_TOP_PAD, 64 << 20)
    _warm_blas()
    try:
        yield
    finally:
        if blas is not None and before is not None:
            blas[1](before)
        if mallopt is not None:
            for param, value in _GLIBC_DEFAULTS.items():
                mallopt(param, value)
