"""The ``prover`` CLI, run as real subprocesses: exit codes and one-line errors.

(Named ``test_prover_cli`` because ``tests/gates/test_cli.py`` already owns the basename.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prover.proof import decode_proof


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prover.cli", *args], capture_output=True, text=True, timeout=600
    )


def one_line_error(r: subprocess.CompletedProcess[str]) -> None:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("prover: error:"), lines


@pytest.fixture(scope="module")
def proof_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "fib8.bin"
    r = run("prove", "--workload", "fib", "--log-t", "8", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "stage 8" in r.stderr  # progress lines on stderr
    return out


def test_prove_then_verify_accepts(proof_file: Path) -> None:
    r = run("verify", str(proof_file))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ACCEPT")


def test_prove_quiet_prints_nothing(tmp_path: Path) -> None:
    r = run("prove", "--workload", "fib", "--log-t", "8", "--out", str(tmp_path / "p.bin"), "--quiet")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""


def test_inspect_lists_nine_sections(proof_file: Path) -> None:
    r = run("inspect", str(proof_file))
    assert r.returncode == 0, r.stderr
    assert sum(1 for line in r.stdout.splitlines() if line.strip().startswith("section")) == 9
    assert '"workload":"fib"' in r.stdout


def test_trace_describes_the_run() -> None:
    r = run("trace", "--workload", "fib", "--log-t", "8")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["T"] == 256 and info["real_cycles"] <= 256 and len(info["trace_sha256"]) == 64


def test_tampered_proof_rejected_naming_stage_and_check(proof_file: Path, tmp_path: Path) -> None:
    data = bytearray(proof_file.read_bytes())
    data[decode_proof(bytes(data)).offsets[1]] ^= 1  # low byte of the first round message
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    r = run("verify", str(bad))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("REJECT") and "stage 1" in r.stdout and "check" in r.stdout


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda good: None, id="missing-file"),
        pytest.param(lambda good: good[: len(good) // 2], id="truncated"),
        pytest.param(lambda good: b"not a proof at all", id="garbled"),
        pytest.param(lambda good: b"", id="empty"),
        pytest.param(lambda good: good + b"\x00", id="trailing-byte"),
    ],
)
def test_unusable_proof_file_exit_2(make, proof_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    content = make(proof_file.read_bytes())
    path = tmp_path / "input.bin"
    if content is not None:
        path.write_bytes(content)
    for cmd in ("verify", "inspect"):
        r = run(cmd, str(path))
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        one_line_error(r)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["prove", "--workload", "nope", "--log-t", "8", "--out", "x.bin"], id="unknown-workload"),
        pytest.param(["prove", "--workload", "sha2-chain", "--log-t", "3", "--out", "x.bin"], id="log-t-too-small"),
        pytest.param(["prove", "--workload", "fib", "--log-t", "40", "--out", "x.bin"], id="log-t-too-big"),
        pytest.param(["prove", "--workload", "fib", "--log-t", "ten", "--out", "x.bin"], id="log-t-not-int"),
        pytest.param(["trace", "--workload", "nope", "--log-t", "8"], id="trace-unknown-workload"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param([], id="no-command"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "prover.cli", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert r.returncode == 2, r.stderr
    one_line_error(r)
    assert not (tmp_path / "x.bin").exists()
