"""Options and hooks for the prover benchmarks (``benchmarks/bench_prover.py``).

Options:
- ``--log-t 16,18,20``: the sha2-chain sizes (log T) to run; default ``16`` so a plain run is short.
- ``--prover-rounds N``: pedantic rounds per size (default: 5 up to log T 14, 3 up to 17, 1 above
  for ``test_prove``; verification is cheap, so ``test_verify`` runs at least 3).
- ``--prover-variant 0-3=streaming``: the stage -> backend mapping (default: every stage on the
  baseline backend); backends the prover does not offer fall back, as in the gates.

Hooks: the machine info pytest-benchmark writes gets a ``stagegate`` block (cpu model, cores,
memory, numpy/memray versions), and the JSON a ``stagegate`` block with the load average at the
start and at the end of the session (the machine is shared; read the timings with it).

This folder is not in ``testpaths``: ``pytest`` alone never collects it; name a file to run it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The tree holding these benchmarks is the one measured (not wherever the editable install
# points), and bench_prover.py imports its helpers from collect.py next to it.
for _path in (str(HERE), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import collect  # noqa: E402  (needs the path set up above)

DEFAULT_LOG_T = "16"
LOG_TS = pytest.StashKey[list[int]]()
LOAD_START = pytest.StashKey["list[float] | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stagegate prover benchmarks")
    group.addoption("--log-t", default=DEFAULT_LOG_T, metavar="K[,K...]",
                    help="sha2-chain sizes as log T, comma-separated (default %(default)s)")
    group.addoption("--prover-rounds", type=int, default=None, metavar="N",
                    help="pedantic rounds per size (default: by size, 1 at log T >= 18)")
    group.addoption("--prover-variant", default="", metavar="STAGES=BACKEND[,...]",
                    help="stage backends, e.g. 0-3=streaming (default: baseline backend everywhere)")


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[LOG_TS] = collect.parse_log_ts(str(config.getoption("--log-t")))
        spec = collect.load_spec()
        collect.parse_variant(  # checked here, so a typo stops the session before any prove
            str(config.getoption("--prover-variant")), collect.stage_ids(spec), spec.baseline_variant,
            option="--prover-variant",
        )
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[LOAD_START] = collect.load_average()  # this machine is shared: record how busy
    rounds = config.getoption("--prover-rounds")
    if rounds is not None and rounds < 1:
        raise pytest.UsageError("--prover-rounds must be >= 1")
    # pytest-benchmark disables itself under xdist (the extra_info would be lost), and two
    # workers proving at once on a 2-core machine would time each other anyway.
    workers = config.getoption("numprocesses", default=None)
    if workers and not config.getoption("benchmark_disable", default=False):
        raise pytest.UsageError("run the benchmarks without -n (pytest-xdist), or add --benchmark-disable")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "log_t" in metafunc.fixturenames:
        # Session scope: the workload and the proof cache are per size and shared by the tests
        # of that size, which pytest then runs together (prove, verify, memory, next size).
        sizes: list[int] = metafunc.config.stash[LOG_TS]
        metafunc.parametrize("log_t", sizes, ids=lambda k: f"logT{k}", scope="session")


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    # Only what stays put: ``pytest-benchmark compare`` warns when machine infos differ.
    machine_info["stagegate"] = collect.machine(volatile=False)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    output_json["stagegate"] = {
        "load_average_start": config.stash.get(LOAD_START, None),
        "load_average_end": collect.load_average(),
    }
