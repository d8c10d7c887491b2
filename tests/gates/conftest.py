"""Shared fixtures for the gates/ tests: real throw-away git repositories, never a mock of git.

Stable API (G1 owns it; G2/G3 build on it):

- ``git(repo, *args, check=True) -> str``: run git in ``repo`` with a clean environment (no
  GIT_DIR/GIT_INDEX_FILE/... leaking in, no user/system config), return stripped stdout.
- ``make_repo(tmp_path, files, *, name='repo') -> Path``: ``git init`` a repo at
  ``tmp_path / name`` (branch ``main``, identity set locally), write ``files`` (repo-relative
  posix path -> text) and commit them if any. Returns the repo path.
- ``write_files(repo, files) -> None``: write (creating folders) without committing.
- ``commit_all(repo, msg) -> str``: ``git add -A`` + commit (allows empty), returns the sha.
- ``TOY_FILES: dict[str, str]``: the toy subject's source (package ``toyprover/``), see below.
- ``toy_spec_yaml(**overrides) -> str``: the toy spec text (``specs/streaming-prover.yaml``);
  keyword overrides replace top-level blocks verbatim, e.g. ``toy_spec_yaml(tiers='tiers: ...')``.
- ``run_toy_prove(repo, params, variant) -> bytes``: prove in a subprocess from ``repo``'s tree
  (tests never import the subject into the test process).
- ``build_tiny_subject(tmp_path, *, name='repo') -> TinyRepo`` and the fixture ``tiny_subject``
  (same thing on ``tmp_path``). ``TinyRepo`` fields: ``path``, ``spec_path``, ``baseline``
  (sha the tag points at), ``workloads`` (ids), ``golden`` (the parsed golden.json).
- ``convert_stage(repo, stage, *, streaming=True, extra_bytes=0, slowdown_ms=0.0,
  tamper=False) -> Path``: edit ``toyprover/stages/stage{stage}.py`` (inside the stage's paths)
  so it supports the streaming backend. ``extra_bytes`` makes the streaming run allocate more,
  ``slowdown_ms`` sleeps that long more per streaming call, ``tamper`` changes the stage's proof
  section. Does not commit. Returns the edited file.

The toy subject. ``toyprover.probe`` exposes ``prove(params, variant, observer) -> bytes``,
``verify(params, proof) -> (bool, str)``, ``sections(proof) -> [(stage, offset, length)]`` and
``capabilities() -> {"0": [...], ...}``. It has 3 stages (0 commit, 1 constraints, 2 openings);
``prove`` calls ``observer.enter(k)`` / ``observer.exit(k)`` around stage k. Params: ``log_t``
(T = 2^log_t rows), ``row_bytes`` (default 1024), ``alloc`` (``mmap``: a fresh anonymous
mapping per stage, the default, so stage times do not depend on malloc reusing an earlier stage's
pages; ``bytes``: a bytearray; ``numpy``: numpy.ones),
``sleep_ms`` (per stage, both backends), ``spin`` (loop iterations per stage per row),
``workload`` (free text, changes the proof). A materialized stage holds T * row_bytes bytes, a
streaming stage isqrt(T) * row_bytes. The proof is ``b'TOY1' + u8 count`` then per section
``u8 stage, u32 LE length, body`` (64-byte body per stage), identical for both backends.
In the baseline no stage supports ``streaming`` (asking for it raises NotImplementedError).

The tiny repo: commit 1 holds the subject, the spec, an empty ledger, ``rules/`` copied from
this checkout (when present), README.md, ``tests/test_toy.py`` and a ``.gitignore``
(``.stagegate/``, ``__pycache__/``); commit 2 adds
``specs/golden.json`` (``{"schema": 1, "baseline_commit": <commit 1>, "workloads": {id:
{"sha256", "size"}}}``, computed by running the baseline). Tag ``stagegate-baseline`` = commit 2,
branch ``main`` = commit 2; HEAD is branch ``conversion`` (from main), so what tests commit is
the change the engine judges by default (merge-base with main). Workloads ``toy-12`` (log_t 12) and ``toy-13`` (log_t 13); tiers: pre-commit
and ci = [toy-12], full = [toy-12, toy-13].
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import pytest

ENGINE_ROOT = Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
    env.update({
        'GIT_CONFIG_NOSYSTEM': '1',
        'GIT_CONFIG_GLOBAL': os.devnull,
        'GIT_AUTHOR_NAME': 'Test', 'GIT_AUTHOR_EMAIL': 'test@example.com',
        'GIT_COMMITTER_NAME': 'Test', 'GIT_COMMITTER_EMAIL': 'test@example.com',
    })
    return env


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ('git', *args), cwd=repo, env=_clean_env(), capture_output=True, text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f'git {" ".join(args)} failed in {repo}:\n{proc.stderr}')
    return proc.stdout.strip()


def commit_all(repo: Path, msg: str) -> str:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--allow-empty', '--no-verify', '-m', msg)
    return git(repo, 'rev-parse', 'HEAD')


def make_repo(tmp_path: Path, files: dict[str, str], *, name: str = 'repo') -> Path:
    repo = tmp_path / name
    repo.mkdir(parents=True)
    git(repo, 'init', '-q', '-b', 'main')
    # Local identity so gitpython commits (which read config, not env) work too.
    git(repo, 'config', 'user.name', 'Test')
    git(repo, 'config', 'user.email', 'test@example.com')
    git(repo, 'config', 'commit.gpgsign', 'false')
    if files:
        write_files(repo, files)
        commit_all(repo, 'initial')
    return repo


# The toy subject's files: one home, in the engine package, which ships it for its self-test
# corpus (an installed engine has no tests/ folder).
from gates.selftest.toy import TOY_FILES  # noqa: E402
from gates.selftest.toy import write as write_files  # noqa: E402,F401 (tests import it from here)
from gates.selftest.toy import _SPEC_BLOCKS as _TOY_SPEC_BLOCKS  # noqa: E402


# The toy spec's blocks are the self-test corpus's (gates.selftest.toy); the tests' workloads take
# the toy's default stage time instead of the corpus's 30 ms sleeps.
_SPEC_BLOCKS: dict[str, str] = {
    **_TOY_SPEC_BLOCKS,
    'workloads': textwrap.dedent('''\
        workloads:
          - id: toy-12
            params: {workload: toy, log_t: 12}
          - id: toy-13
            params: {workload: toy, log_t: 13}
    '''),
}


def toy_spec_yaml(**overrides: str) -> str:
    unknown = set(overrides) - set(_SPEC_BLOCKS)
    if unknown:
        raise KeyError(f'unknown spec blocks {sorted(unknown)}; known: {sorted(_SPEC_BLOCKS)}')
    return ''.join(overrides.get(k, v) for k, v in _SPEC_BLOCKS.items())


def _toy_workloads(sleep_ms: float = 0.0) -> dict[str, dict[str, Any]]:
    extra: dict[str, Any] = {'sleep_ms': sleep_ms} if sleep_ms else {}
    return {'toy-12': {'workload': 'toy', 'log_t': 12, **extra},
            'toy-13': {'workload': 'toy', 'log_t': 13, **extra}}


def _workloads_block(sleep_ms: float) -> str:
    lines = ['workloads:\n']
    for wid, params in _toy_workloads(sleep_ms).items():
        shown = ', '.join(f'{k}: {v}' for k, v in params.items())
        lines.append(f'  - id: {wid}\n    params: {{{shown}}}\n')
    return ''.join(lines)


_PROVE_SCRIPT = '''\
import json, sys
sys.path.insert(0, '.')
from toyprover.probe import prove

class Observer:
    def enter(self, k): pass
    def exit(self, k): pass

params, variant = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.stdout.buffer.write(prove(params, variant, Observer()))
'''


def run_toy_prove(repo: Path, params: dict[str, Any], variant: dict[str, str]) -> bytes:
    proc = subprocess.run(
        (sys.executable, '-c', _PROVE_SCRIPT, json.dumps(params), json.dumps(variant)),
        cwd=repo, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f'toy prove failed:\n{proc.stderr.decode()}')
    return proc.stdout


@dataclasses.dataclass(frozen=True)
class TinyRepo:
    path: Path
    spec_path: Path
    baseline: str
    workloads: tuple[str, ...]
    golden: dict[str, Any]


def build_tiny_subject(
        tmp_path: Path, *, name: str = 'repo', sleep_ms: float = 0.0, **spec_blocks: str,
) -> TinyRepo:
    """``sleep_ms`` makes every toy stage sleep that long (for end-to-end runs of the time gate,
    whose 5 ms noise floor few-ms toy stages sit right at); ``spec_blocks`` override spec blocks."""
    import hashlib
    files = dict(TOY_FILES)
    if sleep_ms:
        spec_blocks.setdefault('workloads', _workloads_block(sleep_ms))
    files['specs/streaming-prover.yaml'] = toy_spec_yaml(**spec_blocks)
    repo = make_repo(tmp_path, {}, name=name)
    write_files(repo, files)
    rules = ENGINE_ROOT / 'rules'
    if rules.is_dir():
        shutil.copytree(rules, repo / 'rules', dirs_exist_ok=True)
    first = commit_all(repo, 'toy prover: materialized baseline')
    materialized = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}
    golden: dict[str, Any] = {'schema': 1, 'baseline_commit': first, 'workloads': {}}
    for wid, params in _toy_workloads(sleep_ms).items():
        proof = run_toy_prove(repo, params, materialized)
        golden['workloads'][wid] = {'sha256': hashlib.sha256(proof).hexdigest(), 'size': len(proof)}
    write_files(repo, {'specs/golden.json': json.dumps(golden, indent=2, sort_keys=True) + '\n'})
    baseline = commit_all(repo, 'specs: golden digests of the baseline')
    git(repo, 'tag', 'stagegate-baseline')
    # Work happens on a branch, as a conversion does: `main` holds what is already judged, so the
    # change under judgement is everything since main (the engine's default base).
    git(repo, 'checkout', '-q', '-b', 'conversion')
    return TinyRepo(
        repo, repo / 'specs/streaming-prover.yaml', baseline, tuple(_toy_workloads(sleep_ms)), golden,
    )


def convert_stage(
        repo: Path,
        stage: int,
        *,
        streaming: bool = True,
        extra_bytes: int = 0,
        slowdown_ms: float = 0.0,
        tamper: bool = False,
) -> Path:
    path = repo / f'toyprover/stages/stage{stage}.py'
    text = path.read_text(encoding='utf-8')
    supported = "('materialized', 'streaming')" if streaming else "('materialized',)"
    for name, value in (
            ('SUPPORTED', supported),
            ('STREAMING_EXTRA_BYTES', str(int(extra_bytes))),
            ('STREAMING_SLOWDOWN_MS', repr(float(slowdown_ms))),
            ('STREAMING_TAMPER', repr(bool(tamper))),
    ):
        text = re.sub(rf'^{name} = .*$', f'{name} = {value}', text, count=1, flags=re.M)
    path.write_text(text, encoding='utf-8')
    return path


@pytest.fixture
def tiny_subject(tmp_path: Path) -> TinyRepo:
    return build_tiny_subject(tmp_path)


# --- heavy results several tests read: produced once per session, not once per xdist worker ------

T = TypeVar('T')


def once_per_session(tmp_path_factory: pytest.TempPathFactory, name: str, produce: Callable[[], T]) -> T:
    """``produce()``, run once per test session even under xdist: the first worker to need it runs
    it under an exclusive lock in the folder every worker's basetemp lives in, and leaves the
    pickled result there; a worker that needs it meanwhile waits for that result and reads it.
    (xdist's ``--dist loadgroup`` cannot keep such tests on one worker instead: with pytest 9.2 it
    no longer groups at all, pytest-dev/pytest-xdist#1386.) Without xdist: just ``produce()``."""
    if not os.environ.get('PYTEST_XDIST_WORKER'):
        return produce()
    import fcntl
    import pickle
    shared = tmp_path_factory.getbasetemp().parent
    result = shared / f'{name}.pickle'
    with open(shared / f'{name}.lock', 'w', encoding='utf-8') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.is_file():
            produced: T = pickle.loads(result.read_bytes())
            return produced
        value = produce()
        result.write_bytes(pickle.dumps(value))
        return value


# --- the self-test corpus of this checkout's engine ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SelftestRun:
    """``python -m gates selftest --json``: the process and, when it printed one, its document."""
    returncode: int
    stdout: str
    stderr: str

    def doc(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed

    def case(self, name: str) -> dict[str, Any]:
        (found,) = [c for c in self.doc()['cases'] if c['case'] == name]
        return found


def _run_checkout_corpus() -> SelftestRun:
    proc = subprocess.run((sys.executable, '-m', 'gates', 'selftest', '--json'), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, check=False)
    return SelftestRun(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope='session')
def checkout_corpus(tmp_path_factory: pytest.TempPathFactory) -> SelftestRun:
    """This checkout's engine over the whole self-test corpus, as CI runs it: ``python -m gates
    selftest --json`` from the pytest process's folder, with its environment (3-6 min on the
    project's 2-core machine), once per session. Every test that needs this same engine's
    verdicts on corpus cases reads them here instead of running the corpus again; a test that
    needs another engine (a copy with an edit, the head tree of a change judged by the integrity
    gate) runs its own."""
    return once_per_session(tmp_path_factory, 'checkout-corpus', _run_checkout_corpus)


# --- a row of the engine's own measurements, re-judged by the integrity gate ----------------------


def _measured_row_verdict(tmp: Path) -> Any:
    from _change_helpers import engine_figures
    from gates.selftest.toy import SLEEP_MS
    from structural_helpers import accept_like_gates
    from structural_helpers import run_gate
    # The row is re-judged by the accept rule, time included, as the time gate times: the toy's
    # stages sleep well above the 5 ms noise floor (a few-ms stage could measure 2x by a preemption).
    repo = build_tiny_subject(tmp, sleep_ms=SLEEP_MS).path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    # The row's figures are the engine's own measurements: the ci-tier re-measure agrees.
    accept_like_gates(repo, 0, engine_figures(repo, 0))
    return run_gate(repo, 'integrity')


@pytest.fixture(scope='session')
def measured_row_verdict(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The integrity verdict on a change that converts stage 0 and adds its ledger row the way
    ``gates accept`` does, with figures measured by the engine's own probe (about 15-25 s: real
    memray, real time pairs). test_integrity's accept commit and test_trust's measured row built
    exactly this and asked exactly this; they read it here, once per session."""
    return once_per_session(tmp_path_factory, 'measured-row-verdict',
                            lambda: _measured_row_verdict(tmp_path_factory.mktemp('measured-row')))
