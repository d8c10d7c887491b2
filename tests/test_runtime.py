"""prover.runtime.tuned: speed settings for one run, restored afterwards, and no child processes.

The memory gate counts the peak RSS of a prove's child processes in its whole-run figure, so a
tuning step that shells out (``ctypes.util.find_library`` runs ``ldconfig -p``) shows up as tens
of MB; the check runs in a fresh interpreter so nothing earlier in the test session has spawned.
"""

from __future__ import annotations

import json
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
