"""``prover prove --backend/--variant/--report`` (issue 16.4), run as real subprocesses at small T.

The backend is an implementation choice, never a protocol one: the materialized baseline and the
streaming variant must write the same bytes, and that proof must verify. ``--report`` prints one
row per stage 0..8 with its numbers; a bad ``--variant`` is one line and exit status 2.
(Next to ``test_prover_cli.py``: ``tests/gates/test_cli.py`` owns the ``test_cli`` basename.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from prover.cli import BACKEND_CHOICES, main
from prover.probe import capabilities
from prover.proof import decode_proof
from prover.stages.common import BACKENDS

ROW = re.compile(
    r"^(?P<k>\d) (?P<name>\S+(?: \S+)?)\s+(?P<backend>materialized|streaming)\s+(?P<time>\d+\.\d+)\s+"
    r"(?P<peak>\d+\.\d)\s+(?P<entry>\d+\.\d)\s+\+(?P<growth>\d+\.\d)\s+(?P<size>\d+)$"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prover.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300)


def streaming_stages() -> list[str]:
    return [k for k, offered in capabilities().items() if "streaming" in offered]


@pytest.mark.parametrize(("workload", "log_t"), [("fib", "8"), ("sha2-chain", "12")])
def test_streaming_and_materialized_write_the_same_verified_proof(workload: str, log_t: str, tmp_path: Path) -> None:
    base, stream = tmp_path / "materialized.bin", tmp_path / "streaming.bin"
    r = run("prove", "--workload", workload, "--log-t", log_t, "--out", str(base), "--backend", "materialized")
    assert r.returncode == 0, r.stderr
    assert "every stage materialized" in r.stderr
    r = run("prove", "--workload", workload, "--log-t", log_t, "--out", str(stream), "--backend", "streaming",
            "--report")
    assert r.returncode == 0, r.stderr
    assert stream.read_bytes() == base.read_bytes()

    # one stderr line names the streaming stages; the others stay materialized
    offered = streaming_stages()
    assert offered, "no stage offers streaming"
    (line,) = [x for x in r.stderr.splitlines() if "backends:" in x]
    assert f"stages {', '.join(offered)} streaming" in line, line
    # a progress line per stage, with seconds since the start
    for k in range(9):
        assert re.search(rf"^\[prover\]\s+\d+\.\d\ds stage {k}: \d+\.\d\ds, \d+ bytes$", r.stderr, re.MULTILINE), r.stderr

    # --report: one row per stage 0..8 in order, with its backend, time, peak RSS and section size
    rows = [m for m in map(ROW.match, r.stdout.splitlines()) if m]
    assert [int(m["k"]) for m in rows] == list(range(9)), r.stdout
    sections = decode_proof(stream.read_bytes()).sections
    for m in rows:
        k = int(m["k"])
        assert m["backend"] == ("streaming" if str(k) in offered else "materialized")
        assert float(m["peak"]) > 10 and float(m["peak"]) >= float(m["entry"]) - 0.1  # MiB, the interpreter's
        assert int(m["size"]) == len(sections[k])
    assert "peak RSS during the stage" in r.stdout
    whole = re.search(r"^whole run\s+(\d+\.\d+)\s+(\d+\.\d)\s+(\d+)$", r.stdout, re.MULTILINE)
    assert whole and int(whole[3]) == stream.stat().st_size, r.stdout
    assert float(whole[2]) >= max(float(m["peak"]) for m in rows)
    assert f"proof: {stream.stat().st_size} bytes" in r.stdout

    if workload == "sha2-chain":  # fib's proofs are verified in test_prover_cli.py
        v = run("verify", str(stream))
        assert v.returncode == 0 and v.stdout.startswith("ACCEPT"), v.stdout + v.stderr


def test_bad_variant_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # One subprocess (each costs ~2 s of imports); every other message is checked in-process below.
    out = tmp_path / "p.bin"
    r = run("prove", "--workload", "fib", "--log-t", "8", "--out", str(out), "--variant", "0=streaming,2=streaming")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prover: error: "), r.stderr
    for word in ("2=streaming", "does not offer streaming", "offers materialized"):
        assert word in lines[0], (word, lines[0])
    assert not out.exists() and r.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--variant", "0=fast"], ["0=fast", "'fast' is not a backend", "materialized, streaming"],
                     id="unknown-backend"),
        pytest.param(["--variant", "0"], ["'0' is not STAGE=BACKEND", "0=streaming,3=materialized"], id="no-equals"),
        pytest.param(["--variant", "0=streaming,,3=streaming"], ["'' is not STAGE=BACKEND"], id="empty-entry"),
        pytest.param(["--variant", "0=streaming,0=materialized"], ["0=materialized", "named twice"], id="twice"),
        pytest.param(["--variant", "9=streaming"], ["9=streaming", "'9' is not a stage", "0..8"], id="not-a-stage"),
        pytest.param(["--variant", "x=streaming"], ["x=streaming", "'x' is not a stage"], id="key-not-a-number"),
        pytest.param(["--backend", "fast"], ["--backend", "'fast'", "materialized", "streaming"], id="backend"),
    ],
)
def test_bad_variant_messages(args: list[str], words: list[str], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    # The same code path as the subprocesses above, in-process: every message, none of the start-up.
    out = tmp_path / "p.bin"
    assert main(["prove", "--workload", "fib", "--log-t", "8", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prover: error: "), err
    for word in words:
        assert word in err[0], (word, err[0])
    assert not out.exists()


def test_report_without_a_resettable_high_water_mark_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where /proc/self/clear_refs cannot be written the figures are the peak so far, and the
    # table's header must say so instead of passing them off as per-stage peaks.
    from prover import cli

    monkeypatch.setattr(cli, "_CLEAR_REFS", str(tmp_path / "no-such-dir" / "clear_refs"))
    out = tmp_path / "p.bin"
    assert main(["prove", "--workload", "fib", "--log-t", "8", "--out", str(out), "--quiet", "--report",
                 "--variant", "0=streaming"]) == 0
    text = capsys.readouterr().out
    assert "peak RSS SO FAR, not per stage" in text and "peak RSS during the stage" not in text
    rows = [line for line in text.splitlines() if re.match(r"^\d ", line)]
    assert len(rows) == 9 and " streaming " in rows[0] and " materialized " in rows[1]
    peaks = [float(line.split()[-3]) for line in rows]  # no growth column: peak, entry, size
    assert peaks == sorted(peaks)  # the process's peak so far never falls


def test_the_cli_offers_exactly_the_pipelines_backends() -> None:
    """``--backend`` spells the backends itself (a light start-up); they must be the pipeline's."""
    assert BACKEND_CHOICES == BACKENDS
