"""pytest-benchmark figures for the whole prover at sha2-chain sizes given by ``--log-t``.

- ``test_prove``: ``prover.pipeline.prove`` end to end (the workload is built beforehand), in
  pedantic mode, one iteration per round, few rounds at big sizes. Per-stage seconds come from
  this file's observer (``StageClock``, ``perf_counter`` at ``enter(k)`` / ``exit(k)``): the
  prover never reports its own figures. They go into ``extra_info`` with the proof's size, its
  per-section bytes and digest.
- ``test_verify``: ``prover.verifier.verify(proof, expected statement)`` on the proof of
  ``test_prove`` (or one proved untimed when ``test_prove`` was deselected).
- ``test_memory``: memray heap peaks through the gates' probe memory mode, in fresh processes
  (in-stage peak of each stage 0..8, one process each, plus one process for the whole run).
  memray must not run under a timer, so the figures are the ``extra_info`` of a pedantic
  benchmark of a no-op (its time means nothing); they land in the same pytest-benchmark JSON.

Run it explicitly (``benchmarks/`` is not in the default test paths), never under xdist:

    .venv/bin/python -m pytest benchmarks/bench_prover.py --log-t 16,18,20 --benchmark-json out/prover.json

These timings are in one long-lived process (imports done, caches warm after the first round):
good for comparing sizes and rounds of one run. The figures to compare with the gates' come from
``benchmarks/collect.py`` (every run a fresh process, as the time gate runs them).
"""

from __future__ import annotations

import hashlib
import importlib
import statistics
import time
from typing import Any, Callable, Mapping

import pytest

import collect
from gates.contract.spec import Spec
from prover import pipeline
from prover.proof import NUM_SECTIONS, decode_proof
from prover.verifier import verify
from prover.workloads import Workload, build


class StageClock:
    """The benchmark's observer: ``perf_counter`` at each stage boundary; every stage once, in order."""

    def __init__(self, stages: int = NUM_SECTIONS) -> None:
        self.stages = stages
        self.seconds: dict[int, float] = {}
        self.total: float | None = None
        self._open: tuple[int, float] | None = None

    def enter(self, stage: int) -> None:
        now = time.perf_counter()  # first, so the checks below are not counted in the stage
        if self._open is not None or stage != len(self.seconds):
            raise AssertionError(f"enter({stage}) out of order (open: {self._open}, done: {sorted(self.seconds)})")
        self._open = (stage, now)

    def exit(self, stage: int) -> None:
        now = time.perf_counter()
        if self._open is None or self._open[0] != stage:
            raise AssertionError(f"exit({stage}) without enter({stage})")
        self.seconds[stage] = now - self._open[1]
        self._open = None

    def complete(self) -> bool:
        return self._open is None and sorted(self.seconds) == list(range(self.stages))


def _rounds(config: pytest.Config, log_t: int, at_least: int = 1) -> int:
    """Few rounds at big sizes: one prove at 2^20 takes tens of seconds on the 2-core machine."""
    chosen = config.getoption("--prover-rounds")
    if chosen is not None:
        return int(chosen)
    by_size = 5 if log_t <= 14 else 3 if log_t <= 17 else 1
    return max(by_size, at_least)


@pytest.fixture(scope="session")
def spec() -> Spec:
    return collect.load_spec()


@pytest.fixture(scope="session")
def variant(spec: Spec, pytestconfig: pytest.Config) -> dict[str, str]:
    """The stage -> backend mapping that really runs (as the gates resolve it): ``--prover-variant``
    (already validated by conftest.py) where the prover offers the backend, else the baseline's."""
    wanted = collect.parse_variant(
        str(pytestconfig.getoption("--prover-variant")), collect.stage_ids(spec), spec.baseline_variant,
    )
    return collect.effective_variant(spec, wanted)


@pytest.fixture(scope="session")
def workload(log_t: int) -> Workload:
    # Import every stage module now: the pipeline and the verifier import them lazily, and the
    # first round must not pay for it (a fresh-process figure, with imports, is collect.py's job).
    for k in range(NUM_SECTIONS):
        importlib.import_module(f"prover.stages.stage{k}")
        importlib.import_module(f"prover.verifier.stage{k}")
    return build(collect.WORKLOAD, log_t)


@pytest.fixture(scope="session")
def proofs() -> dict[int, bytes]:
    """Proofs made by test_prove, by log T: test_verify reuses them (a 2^20 prove is expensive)."""
    return {}


def _sizes(proof: bytes) -> dict[str, Any]:
    pf = decode_proof(proof)
    return {
        "proof_bytes": len(proof),
        "section_bytes": {str(k): len(pf.sections[k]) for k in range(NUM_SECTIONS)},
        "proof_sha256": hashlib.sha256(proof).hexdigest(),
    }


def _describe(log_t: int, wl: Workload, variant: Mapping[str, str], rounds: int) -> dict[str, Any]:
    return {"workload": wl.name, "log_t": log_t, "T": wl.T, "n": wl.n, "variant": dict(variant), "rounds": rounds}


@pytest.mark.benchmark(group="prove")
def test_prove(
        benchmark: Any, pytestconfig: pytest.Config, log_t: int, workload: Workload,
        variant: dict[str, str], proofs: dict[int, bytes],
) -> None:
    rounds = _rounds(pytestconfig, log_t)
    clocks: list[StageClock] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        clock = StageClock()  # a fresh observer per round
        clocks.append(clock)
        return (clock,), {}

    def run(clock: StageClock) -> bytes:
        # The benchmark's own total next to pytest-benchmark's, so that "outside the stages"
        # (trace rows, statement, proof encoding) comes from the same clock as the stages.
        start = time.perf_counter()
        proof = pipeline.prove(workload, variant, clock)
        clock.total = time.perf_counter() - start
        return proof

    proof = benchmark.pedantic(run, setup=setup, rounds=rounds, iterations=1)
    assert clocks and all(c.complete() and c.total is not None for c in clocks)
    proofs[log_t] = proof
    per_stage = {str(k): [c.seconds[k] for c in clocks] for k in range(NUM_SECTIONS)}
    outside = [float(c.total or 0.0) - sum(c.seconds.values()) for c in clocks]
    benchmark.extra_info.update(_describe(log_t, workload, variant, rounds))
    benchmark.extra_info.update({
        "stage_seconds": {k: statistics.median(v) for k, v in per_stage.items()},
        "stage_seconds_rounds": per_stage,
        "outside_stages_seconds": statistics.median(outside),
        "timer": "perf_counter",
        **_sizes(proof),
    })


@pytest.mark.benchmark(group="verify")
def test_verify(
        benchmark: Any, pytestconfig: pytest.Config, log_t: int, workload: Workload,
        variant: dict[str, str], proofs: dict[int, bytes],
) -> None:
    proof = proofs.get(log_t)
    if proof is None:  # test_prove deselected: prove once, untimed
        proof = proofs[log_t] = pipeline.prove(workload, variant)
    expected = pipeline.statement_of(workload).encode()
    rounds = _rounds(pytestconfig, log_t, at_least=3)
    result = benchmark.pedantic(verify, args=(proof, expected), rounds=rounds, iterations=1)
    assert result.statement.encode() == expected
    benchmark.extra_info.update(_describe(log_t, workload, variant, rounds))
    benchmark.extra_info.update(_sizes(proof))


def _noop() -> None:
    pass


@pytest.mark.benchmark(group="memory (peaks in extra_info; the time is a no-op)")
def test_memory(benchmark: Any, spec: Spec, log_t: int, workload: Workload, variant: dict[str, str]) -> None:
    say: Callable[[str], None] = lambda _msg: None  # noqa: E731  (the probe's progress sink)
    figures = collect.memory_figures(spec, log_t, variant, say)
    assert sorted(figures["stage_peaks"]) == [str(k) for k in collect.stage_ids(spec)]
    assert figures["whole_run_peak"] >= max(figures["stage_peaks"].values())
    benchmark.extra_info.update(_describe(log_t, workload, variant, 1))
    benchmark.extra_info.update({
        "unit": "bytes",
        "measured_by": "memray heap high-water mark, gates.measuring.probe.memory_run (fresh processes)",
        "whole_run_peak": figures["whole_run_peak"],
        "stage_peaks": figures["stage_peaks"],
    })
    # Timing memray would be meaningless: the benchmarked call is a no-op that carries the figures.
    benchmark.pedantic(_noop, rounds=1, iterations=1)
