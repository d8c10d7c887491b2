"""prover.runtime.tuned: speed settings for one run, restored afterwards, and no child processes.

The memory gate counts the peak RSS of a prove's child processes in its whole-run figure, so a
tuning step that shells out (``ctypes.util.find_library`` runs ``ldconfig -p``) shows up as tens
of MB; the check runs in a fresh interpreter so nothing earlier in the test session has spawned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from prover import runtime


def test_tuned_spawns_no_child_process() -> None:
    code = textwrap.dedent(
        """
        import json, resource
        from prover.runtime import tuned
        for _ in range(3):
            with tuned():
                pass
        print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == 0, out.stderr


def test_tuned_pins_blas_to_one_thread_and_restores_it() -> None:
    blas = runtime._openblas()
    if blas is None:  # numpy without the bundled OpenBLAS: nothing to pin
        return
    get, put = blas
    original = get()
    put(2)
    try:
        with runtime.tuned():
            assert get() == 1
        assert get() == 2
    finally:
        put(original)
    assert runtime._openblas() is blas  # resolved once per process


def test_tuned_makes_blas_work_buffer_before_any_stage() -> None:
    """Inside ``tuned()`` the first large lincomb_base (the float64 GEMM path) keeps nothing alive:
    OpenBLAS's work buffer was made by the warm-up. Without the warm-up the same call leaves the
    32 MiB buffer behind (checked too, so the test cannot pass with a no-op warm-up on a BLAS
    that never buffers). memray in a fresh process, heap allocations through malloc."""
    code = textwrap.dedent(
        """
        import json, os, sys, tempfile
        import memray, numpy as np
        from prover import field, runtime
        warm = sys.argv[1] == "warm"
        if not warm:
            runtime._warm_blas = lambda: None
        rng = np.random.default_rng(1)
        cols = rng.integers(0, 2**31, (64, 1 << 16), dtype=np.uint64)
        coeffs = rng.integers(0, field.P, (4, 64), dtype=np.uint64)
        with runtime.tuned(), tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.bin")
            with memray.Tracker(path):
                field.lincomb_base(cols, coeffs)
            reader = memray.FileReader(path)
            kept = sum(a.size for a in reader.get_leaked_allocation_records(merge_threads=True))
        print(json.dumps(kept))
        """
    )
    env = {**os.environ, "PYTHONMALLOC": "malloc"}
    kept = {}
    for mode in ("warm", "cold"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True, env=env)
        kept[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    if runtime._openblas() is None or kept["cold"] < 1 << 20:
        return  # a BLAS without a kept work buffer: nothing to warm (the cold run shows it)
    assert kept["warm"] < 1 << 20, kept
