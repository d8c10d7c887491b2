"""pytest-benchmark (pedantic mode) figures for the Ligero PCS: commit, open, verify, proof size.

Run explicitly (benchmarks are not in the default test paths), e.g.

    .venv/bin/python -m pytest benchmarks/bench_pcs.py --benchmark-only            # k=16, m=64 etc.
    STAGEGATE_BENCH_FULL=1 .venv/bin/python -m pytest benchmarks/bench_pcs.py ...  # adds k=20, m=64

Each shape commits once per round in a fresh builder (``rounds`` rounds, one iteration each);
open and verify reuse one commitment and get a fresh transcript per round. Proof sizes, the
chosen parameters and the soundness bound go into ``extra_info``. The k=20, m=64 shape needs
~2 GiB of RAM and tens of seconds per commit on the shared machine, so it is opt-in.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from prover import field
from prover.pcs import Commitment, OpeningProof, absorb_commitment, commit, evaluate, open, verify
from prover.pcs.ligero import ProverData
from prover.transcript import Transcript

SHAPES = [(16, 64), (19, 1), (11, 1)]
if os.environ.get("STAGEGATE_BENCH_FULL"):
    SHAPES.insert(0, (20, 64))
ROUNDS = int(os.environ.get("STAGEGATE_BENCH_ROUNDS", "3"))
DOMAIN = b"bench-pcs"


def _ids(shape: tuple[int, int]) -> str:
    return f"k{shape[0]}-m{shape[1]}"


@pytest.fixture(scope="module", params=SHAPES, ids=_ids)
def committed(request: pytest.FixtureRequest) -> dict[str, Any]:
    k, m = request.param
    rng = np.random.default_rng(k * 100 + m)
    polys = rng.integers(0, field.P, (m, 1 << k), dtype=np.uint64)
    com, data = commit(polys)
    z = [rng.integers(0, field.P, 4, dtype=np.uint64) for _ in range(k)]
    values = evaluate(data, z)
    return {"k": k, "m": m, "polys": polys, "com": com, "data": data, "z": z, "values": values}


def _open(com: Commitment, data: ProverData, z: list[np.ndarray], values: np.ndarray) -> OpeningProof:
    tr = Transcript(DOMAIN)
    absorb_commitment(tr, com)
    return open(data, z, tr, values)


def _info(benchmark: Any, c: dict[str, Any]) -> None:
    p = c["data"].params
    benchmark.extra_info.update(
        {
            "k": c["k"],
            "m": c["m"],
            "log_cols": p.log_cols,
            "log_rows": p.log_rows,
            "num_queries": p.num_queries,
            "soundness_log2": round(p.soundness_error_log2(), 2),
            "expected_proof_bytes": p.expected_proof_bytes(),
        }
    )


def test_commit(benchmark: Any, committed: dict[str, Any]) -> None:
    result = benchmark.pedantic(commit, args=(committed["polys"],), rounds=ROUNDS, iterations=1)
    assert result[0] == committed["com"]
    _info(benchmark, committed)


def test_open(benchmark: Any, committed: dict[str, Any]) -> None:
    c = committed
    proof = benchmark.pedantic(
        _open, args=(c["com"], c["data"], c["z"], c["values"]), rounds=ROUNDS, iterations=1
    )
    _info(benchmark, c)
    benchmark.extra_info["proof_bytes"] = len(proof.encode())


def test_verify(benchmark: Any, committed: dict[str, Any]) -> None:
    c = committed
    buf = _open(c["com"], c["data"], c["z"], c["values"]).encode()

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        tr = Transcript(DOMAIN)
        absorb_commitment(tr, c["com"])
        return (c["com"], c["z"], c["values"], OpeningProof.decode(buf), tr), {}

    benchmark.pedantic(verify, setup=setup, rounds=ROUNDS, iterations=1)
    _info(benchmark, c)
    benchmark.extra_info["proof_bytes"] = len(buf)
