"""Run an engine over the self-test corpus: one fresh toy repository per case, the engine under
test run on it as a separate process, its per-gate verdicts compared with the corpus's.

The engine under test is a folder holding a ``gates`` package (a checkout, or the export of a
pull request's head). It runs as ``python -B -P -m gates`` with that folder alone on
``PYTHONPATH`` (``-P``: not the toy repository it runs in), from this interpreter (its
dependencies), in an environment without the caller's ``PYTHON*``, ``GIT_*`` and ``GITHUB_*``
variables, and with a private temporary folder per case (the engine's trees go there, so a case's
attack cannot reach anything outside its own case). The engine's ``rules/`` folder, when it has
one, is the toy repository's ``rules/``: the rules are part of the engine being judged.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.model import GateError
from gates.selftest import toy
from gates.selftest.corpus import CASES
from gates.selftest.corpus import GATES
from gates.selftest.corpus import Case

CASE_TIMEOUT_S = 300.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    case: Case
    exit_code: int
    verdicts: dict[str, bool]
    seconds: float
    problem: str | None   # why the run has no usable verdicts (crash, bad JSON, timeout)
    findings: dict[str, list[str]]   # gate -> rendered findings, for the mismatch report

    @property
    def mismatches(self) -> list[str]:
        if self.problem is not None:
            return [self.problem]
        out = []
        for gate in GATES:
            want, got = self.case.expect[gate], self.verdicts.get(gate)
            if got is None:
                out.append(f'{gate}: no verdict (expected {_word(want)})')
            elif got != want:
                seen = '; '.join(self.findings.get(gate, [])[:2])
                out.append(f'{gate}: expected {_word(want)}, got {_word(got)}' + (f' ({seen})' if seen else ''))
        if not out and self.exit_code != self.case.exit_code:
            out.append(f'exit code {self.exit_code}, expected {self.case.exit_code}')
        return out

    @property
    def matched(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            'case': self.case.name, 'what': self.case.what, 'matched': self.matched,
            'expected': self.case.expect, 'verdicts': self.verdicts, 'exit_code': self.exit_code,
            'seconds': round(self.seconds, 2), 'mismatches': self.mismatches,
            'findings': {g: f for g, f in self.findings.items() if f},
        }


def _word(passed: bool) -> str:
    return 'pass' if passed else 'fail'


def engine_root(engine: Path | None) -> Path:
    """The folder whose ``gates`` package is judged: ``engine``, or the running engine's."""
    if engine is None:
        return Path(__file__).resolve().parents[2]
    root = engine.resolve()
    if not (root / 'gates' / '__main__.py').is_file():
        raise GateError(f'--engine {engine}: no gates/__main__.py there; give the folder that holds '
                        f'the engine package (a checkout of the repository)')
    return root


def engine_env(root: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in toy.git_env().items() if not k.startswith('PYTHON')}
    env.update({
        'PYTHONPATH': str(root), 'TMPDIR': str(tmp),
        'SEMGREP_ENABLE_VERSION_CHECK': '0', 'SEMGREP_SEND_METRICS': 'off',
    })
    return env


def _argv(*args: str) -> list[str]:
    return [sys.executable, '-B', '-P', '-m', 'gates', *args]


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """A child in its own process group, killed with everything it started on timeout or Ctrl-C."""
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def check_engine_imports(root: Path, tmp: Path) -> None:
    """The engine a case runs is the one named: its ``gates`` is imported from ``root``."""
    proc = _run([sys.executable, '-B', '-P', '-c', 'import gates; print(gates.__file__)'], tmp,
                engine_env(root, tmp), 60)
    got = Path(proc.stdout.strip()).resolve() if proc.returncode == 0 else None
    if got is None or root not in got.parents:
        raise GateError(f'the engine in {root} does not import as `gates` (got '
                        f'{got or proc.stderr.strip()[-200:]}); is it a checkout of stagegate?')


def run_case(case: Case, root: Path, tmp: Path) -> Outcome:
    rules = root / 'rules'
    repo = toy.build(tmp / 'repo', rules if rules.is_dir() else None)
    case.apply(repo)
    work = tmp / 'tmp'
    work.mkdir()
    start = time.perf_counter()
    try:
        proc = _run(_argv('check', '--tier', 'ci', '--json'), repo, engine_env(root, work), CASE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Outcome(case, -1, {}, time.perf_counter() - start, f'no verdict within {CASE_TIMEOUT_S:.0f} s', {})
    seconds = time.perf_counter() - start
    try:
        doc = json.loads(proc.stdout)
        verdicts = {str(v['gate']): bool(v['passed']) for v in doc['verdicts']}
        findings = {str(v['gate']): [str(f.get('message', ''))[:160] for f in v.get('findings', [])]
                    for v in doc['verdicts']}
    except (ValueError, KeyError, TypeError):
        tail = (proc.stderr.strip().splitlines() or ['(no output)'])[-1][:300]
        return Outcome(case, proc.returncode, {}, seconds,
                       f'exit {proc.returncode} without a verdict document: {tail}', {})
    return Outcome(case, proc.returncode, verdicts, seconds, None, findings)


def run_corpus(
        engine: Path | None,
        names: Sequence[str] = (),
        progress: Callable[[str], None] = lambda _m: None,
) -> list[Outcome]:
    """Every case (or the named ones), one after the other: the time gate is measured in each, and
    cases run side by side would measure each other."""
    root = engine_root(engine)
    unknown = [n for n in names if n not in {c.name for c in CASES}]
    if unknown:
        raise GateError(f'selftest: no case named {", ".join(unknown)}; the cases are '
                        f'{", ".join(c.name for c in CASES)}')
    cases = [c for c in CASES if not names or c.name in names]
    out = []
    with tempfile.TemporaryDirectory(prefix='stagegate-selftest-') as top:
        check_engine_imports(root, Path(top))
        for i, case in enumerate(cases):
            progress(f'selftest: {case.name} ({i + 1}/{len(cases)})')
            folder = Path(top) / f'{i:02d}-{case.name}'
            folder.mkdir()
            outcome = run_case(case, root, folder)
            progress(f'selftest: {case.name}: {"as expected" if outcome.matched else "MISMATCH"} '
                     f'({outcome.seconds:.1f}s)')
            out.append(outcome)
    return out
