"""The ``prover`` CLI, run as real subprocesses: exit codes and one-line errors.

(Named ``test_prover_cli`` because ``tests/gates/test_cli.py`` already owns the basename.)
"""

from __future__ import annotations

import argparse
import json
import os
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


def _run_with_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is already gone: every write gets EPIPE, as under
    `| head -1` once head has exited (deterministic, unlike a race with a real head)."""
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    try:
        return subprocess.run(
            [sys.executable, "-m", "prover.cli", *args], stdout=w_fd, stderr=subprocess.PIPE,
            text=True, timeout=600,
        )
    finally:
        os.close(w_fd)


@pytest.mark.parametrize(
    "args, code",
    [
        pytest.param(["inspect"], 0, id="inspect"),
        pytest.param(["verify"], 0, id="verify"),
        pytest.param(["trace", "--workload", "fib", "--log-t", "8"], 0, id="trace"),
    ],
)
def test_closed_stdout_ends_quietly(args: list[str], code: int, proof_file: Path) -> None:
    full = [*args, str(proof_file)] if args[0] in ("inspect", "verify") else args
    r = _run_with_closed_stdout(*full)
    assert r.returncode == code, r.stderr
    assert r.stderr == "", r.stderr          # no "internal error", no traceback


def test_closed_stdout_keeps_a_rejects_exit_status(proof_file: Path, tmp_path: Path) -> None:
    data = bytearray(proof_file.read_bytes())
    data[decode_proof(bytes(data)).offsets[1]] ^= 1
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    r = _run_with_closed_stdout("verify", str(bad))
    assert r.returncode == 1 and r.stderr == "", r.stderr


def test_closed_stderr_still_writes_the_proof(tmp_path: Path) -> None:
    r_fd, w_fd = os.pipe()
    os.close(r_fd)
    out = tmp_path / "p.bin"
    try:
        r = subprocess.run(
            [sys.executable, "-m", "prover.cli", "prove", "--workload", "fib", "--log-t", "8", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=w_fd, timeout=600,
        )
    finally:
        os.close(w_fd)
    assert r.returncode == 0
    assert decode_proof(out.read_bytes()).statement


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from prover.cli import _parser

    parser = _parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_option_of_every_subcommand_has_help() -> None:
    subs = _subcommands()
    assert set(subs) == {"prove", "verify", "inspect", "trace"}
    for name, sub in subs.items():
        for action in sub._actions:
            assert action.help, f"prover {name}: {action.option_strings or action.dest} has no help text"


def test_prove_help_documents_both_workloads_and_every_option() -> None:
    r = run("prove", "--help")
    assert r.returncode == 0, r.stderr
    for word in ("--workload", "--log-t", "--out", "--quiet", "sha2-chain", "fib", "12..21", "8..21"):
        assert word in r.stdout, (word, r.stdout)


@pytest.mark.parametrize(
    "make_out",
    [
        pytest.param(lambda d: d, id="a-directory"),
        pytest.param(lambda d: d / "missing" / "p.bin", id="missing-folder"),
        pytest.param(lambda d: d / "afile" / "p.bin", id="under-a-file"),
    ],
)
def test_unwritable_out_is_refused_before_any_work(make_out, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "afile").write_text("not a folder")
    out = make_out(tmp_path)
    # log T 21 proves for minutes; the refusal comes before any progress line (no work started).
    r = subprocess.run(
        [sys.executable, "-m", "prover.cli", "prove", "--workload", "sha2-chain", "--log-t", "21", "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 2, r.stderr
    one_line_error(r)
    assert "--out" in r.stderr and "[prover]" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def _run_bytes(args: list[bytes], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable.encode(), b"-m", b"prover.cli", *args], capture_output=True,
                          timeout=600, env={**os.environ, **env}, check=False)


@pytest.mark.parametrize("cmd", ["verify", "inspect"])
@pytest.mark.parametrize(
    "name",
    [pytest.param("pr\u00fcf.bin".encode(), id="non-ascii"), pytest.param(b"p\xff.bin", id="undecodable-byte")],
)
def test_a_path_the_output_cannot_encode_is_printed_escaped(
        cmd: str, name: bytes, proof_file: Path, tmp_path: Path) -> None:
    # A strict ASCII stdout and a file name it cannot encode: printed escaped, the real exit status.
    path = os.fsencode(tmp_path) + b"/" + name
    with open(path, "wb") as f:
        f.write(proof_file.read_bytes())
    r = _run_bytes([cmd.encode(), path], {"PYTHONIOENCODING": "ascii:strict", "LC_ALL": "C"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    first = r.stdout.decode("ascii").splitlines()[0]      # ascii alone, or decode raises
    assert ("\\xfc" in first or "\\udcff" in first) and first.startswith(("ACCEPT", "proof")), first
    # An unusable file with such a name: the one-line error names it escaped, exit 2.
    with open(path, "wb") as f:
        f.write(b"garbage")
    r = _run_bytes([cmd.encode(), path], {"PYTHONIOENCODING": "ascii:strict", "LC_ALL": "C"})
    assert r.returncode == 2, r.stderr
    line = r.stderr.decode("ascii").strip()
    assert line.count("\n") == 0 and line.startswith("prover: error:") and "\\" in line, line


def test_a_device_is_refused_without_reading_it() -> None:
    for cmd in ("verify", "inspect"):
        r = subprocess.run([sys.executable, "-m", "prover.cli", cmd, "/dev/zero"], capture_output=True,
                           text=True, timeout=60, check=False)
        assert r.returncode == 2, r.stderr
        one_line_error(r)
        assert "/dev/zero is not a regular file" in r.stderr


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "proof.fifo"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "prover.cli", "verify", str(fifo)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    one_line_error(r)
    assert "is not a regular file" in r.stderr


def test_a_file_larger_than_any_proof_is_refused(tmp_path: Path) -> None:
    from prover.cli import MAX_PROOF_BYTES

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(MAX_PROOF_BYTES + 1)          # sparse: no disk used
    r = subprocess.run([sys.executable, "-m", "prover.cli", "inspect", str(big)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    one_line_error(r)
    assert f"more than any proof ({MAX_PROOF_BYTES} at most)" in r.stderr
