"""One semgrep run: rule files + target files in, matches and per-file problems out.

Flags that matter here (measured on semgrep 1.182):
- ``--metrics=off --disable-version-check`` (and the env twins): without them a run waits on the
  network for ~90 s instead of ~2 s;
- ``--disable-nosem``: the tree under judgement must not silence the rules with ``# nosemgrep``;
- ``--max-target-bytes=0``: semgrep otherwise skips files over 1 MB without a finding;
- stdin is /dev/null: semgrep blocks on an open stdin in some runs (seen under a pipe).
Semgrep's free edition prints "requires login" in ``extra.lines``, so the caller reads source
lines from the file itself.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tempfile
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.model import GateError
from gates.vcs.repo import no_git_env

TIMEOUT_S = 600.0


@dataclasses.dataclass(frozen=True)
class Match:
    rule_id: str
    path: str          # as passed (relative to the scan's cwd)
    line: int
    end_line: int
    message: str
    start_offset: int = -1   # byte offsets of the matched code in the file (-1: not given)
    end_offset: int = -1


@dataclasses.dataclass(frozen=True)
class Problem:
    """A target semgrep could not check (parse error, timeout): the gate cannot vouch for it."""

    path: str
    line: int | None
    message: str


@dataclasses.dataclass(frozen=True)
class ScanResult:
    matches: tuple[Match, ...]
    problems: tuple[Problem, ...]
    scanned: tuple[str, ...]
    seconds: float
    argv: tuple[str, ...]


def executable() -> str:
    """The semgrep next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).parent / 'semgrep'
    if local.is_file():
        return str(local)
    found = shutil.which('semgrep')
    if found is None:
        raise GateError(
            'semgrep is not installed; install stagegate with its dependencies '
            '(pip install -e .) so the api gate can run its rules.',
        )
    return found


def _env() -> dict[str, str]:
    # The scan runs in another tree; git variables from a hook would point it at the user's index.
    env = no_git_env()
    env['SEMGREP_ENABLE_VERSION_CHECK'] = '0'
    env['SEMGREP_SEND_METRICS'] = 'off'
    return env


def argv(configs: Sequence[Path], targets: Sequence[str]) -> list[str]:
    cmd = [
        executable(), 'scan', '--json', '--metrics=off', '--disable-version-check',
        '--disable-nosem', '--max-target-bytes=0', '--no-git-ignore', '--oss-only',
        '--timeout=30', '--quiet',
    ]
    for config in configs:
        cmd += ['--config', str(config)]
    return cmd + ['--', *targets]


def _problem(err: dict[str, Any]) -> Problem | None:
    path = err.get('path')
    if not isinstance(path, str):
        return None
    spans = err.get('spans') or []
    line = None
    if spans and isinstance(spans[0], dict):
        line = spans[0].get('start', {}).get('line')
    kind = err.get('type')
    kind_text = kind[0] if isinstance(kind, list) and kind else str(kind)
    message = str(err.get('message') or kind_text).strip().splitlines()[0]
    return Problem(path, line if isinstance(line, int) else None, f'{kind_text}: {message}')


def _parse(out: str, cmd: Sequence[str], stderr: str) -> dict[str, Any]:
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        tail = stderr.strip().splitlines()[-3:]
        raise GateError(
            f'semgrep did not produce JSON ({" / ".join(tail) or "no output"}); '
            f'run it by hand to see why: {" ".join(cmd)}',
        ) from None
    if not isinstance(doc, dict):
        raise GateError('semgrep produced JSON that is not an object; check the semgrep version.')
    return doc


def scan(cwd: Path, configs: Sequence[Path], targets: Sequence[str]) -> ScanResult:
    """Run semgrep once in ``cwd`` over ``targets`` (paths relative to ``cwd``)."""
    cmd = argv(configs, targets)
    start = time.perf_counter()
    # semgrep writes a ``semgrep-*.rules`` copy of the config into the temp folder and never
    # removes it: give it a private one and remove that, so a check leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix='stagegate-semgrep-') as tmp:
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env={**_env(), 'TMPDIR': tmp}, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
            )
        except subprocess.TimeoutExpired:
            raise GateError(
                f'semgrep took longer than {TIMEOUT_S:.0f} s on {len(targets)} file(s).',
            ) from None
    seconds = time.perf_counter() - start
    doc = _parse(proc.stdout, cmd, proc.stderr)
    problems = []
    for err in doc.get('errors') or []:
        problem = _problem(err) if isinstance(err, dict) else None
        if problem is None:
            # An error without a target is about the rules or semgrep itself: unusable config.
            text = err.get('message', err) if isinstance(err, dict) else err
            raise GateError(f'semgrep failed on the rules: {str(text).strip().splitlines()[0]}')
        problems.append(problem)
    if proc.returncode not in (0, 1) and not problems:
        tail = proc.stderr.strip().splitlines()[-1:] or [f'exit code {proc.returncode}']
        raise GateError(f'semgrep failed (exit {proc.returncode}): {tail[0]}')
    matches = []
    for result in doc.get('results') or []:
        extra = result.get('extra') or {}
        matches.append(Match(
            rule_id=str(result.get('check_id', '')).rsplit('.', 1)[-1],
            path=str(result.get('path', '')),
            line=int(result.get('start', {}).get('line', 1)),
            end_line=int(result.get('end', {}).get('line', 1)),
            message=' '.join(str(extra.get('message', '')).split()),
            start_offset=int(result.get('start', {}).get('offset', -1)),
            end_offset=int(result.get('end', {}).get('offset', -1)),
        ))
    scanned = tuple(str(p) for p in (doc.get('paths') or {}).get('scanned') or [])
    return ScanResult(tuple(matches), tuple(problems), scanned, seconds, tuple(cmd))

