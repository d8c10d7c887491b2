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
from typing import Any

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


def write_files(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding='utf-8')


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


_STAGE_TEMPLATE = '''\
"""Toy stage {k} ({name}): one entry point, picks its backend from the run's variant."""
from toyprover.backends import materialized
from toyprover.backends import streaming

SUPPORTED = ('materialized',)
STREAMING_EXTRA_BYTES = 0
STREAMING_SLOWDOWN_MS = 0.0
STREAMING_TAMPER = False


def run(params, backend):
    if backend not in SUPPORTED:
        raise NotImplementedError(f'stage {k} has no {{backend}} backend')
    if backend == 'materialized':
        return materialized.compute({k}, params)
    return streaming.compute(
        {k}, params, extra_bytes=STREAMING_EXTRA_BYTES, slowdown_ms=STREAMING_SLOWDOWN_MS,
        tamper=STREAMING_TAMPER,
    )
'''

_COMMON = '''\
"""What every backend shares: the per-stage section body and the simulated work."""
import hashlib
import mmap
import time


def rows(params):
    return 1 << int(params.get('log_t', 10))


def row_bytes(params):
    return int(params.get('row_bytes', 1024))


def hold(nbytes, params):
    """Allocate and touch nbytes, as a stage's working set."""
    alloc = params.get('alloc', 'mmap')
    if alloc == 'numpy':
        import numpy
        buf = numpy.ones(nbytes, dtype=numpy.uint8)
        return int(buf[::4096].sum())
    if alloc == 'bytes':
        buf = bytearray(nbytes)
        for i in range(0, nbytes, 4096):
            buf[i] = 1
        return sum(buf[::4096])
    # Default: a fresh anonymous mapping per stage, so a stage's time does not depend on
    # whether malloc kept an earlier stage's freed pages (glibc's dynamic mmap threshold).
    pages = len(range(0, nbytes, 4096))
    with mmap.mmap(-1, max(nbytes, 1)) as buf:
        buf[0:nbytes:4096] = b'\x01' * pages
        return buf[0:nbytes:4096].count(1)


def work(params):
    spin = int(params.get('spin', 0)) * rows(params)
    acc = 0
    for i in range(spin):
        acc ^= i
    sleep_ms = float(params.get('sleep_ms', 0))
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    return acc


def body(stage, params):
    text = repr((stage, sorted((str(k), str(v)) for k, v in params.items())))
    digest = hashlib.sha256(text.encode()).digest()
    return digest + hashlib.sha256(digest).digest()
'''

TOY_FILES: dict[str, str] = {
    'toyprover/__init__.py': '"""A toy 3-stage prover: the subject of the gates tests."""\n',
    'toyprover/backends/__init__.py': '',
    'toyprover/backends/common.py': _COMMON,
    'toyprover/backends/materialized.py': textwrap.dedent('''\
        """Materialized: holds all T rows at once."""
        from toyprover.backends import common


        def compute(stage, params):
            common.hold(common.rows(params) * common.row_bytes(params), params)
            common.work(params)
            return common.body(stage, params)
    '''),
    'toyprover/backends/streaming/__init__.py': textwrap.dedent('''\
        """Streaming: holds sqrt(T) rows at a time."""
        import math
        import time

        from toyprover.backends import common


        def compute(stage, params, extra_bytes=0, slowdown_ms=0.0, tamper=False):
            chunk = math.isqrt(common.rows(params)) * common.row_bytes(params)
            common.hold(chunk + int(extra_bytes), params)
            common.work(params)
            if slowdown_ms:
                time.sleep(slowdown_ms / 1000)
            out = common.body(stage, params)
            return bytes([out[0] ^ 1]) + out[1:] if tamper else out
    '''),
    'toyprover/proof.py': textwrap.dedent('''\
        """Proof bytes: b"TOY1", u8 count, then per section u8 stage, u32 LE length, body."""
        import struct

        MAGIC = b'TOY1'


        def encode(bodies):
            out = bytearray(MAGIC + bytes([len(bodies)]))
            for stage, body in enumerate(bodies):
                out += bytes([stage]) + struct.pack('<I', len(body)) + body
            return bytes(out)


        def decode(proof):
            if proof[:4] != MAGIC:
                raise ValueError('bad magic')
            count, pos, out = proof[4], 5, []
            for _ in range(count):
                stage = proof[pos]
                (length,) = struct.unpack_from('<I', proof, pos + 1)
                out.append((stage, pos + 5, length))
                pos += 5 + length
            if pos != len(proof):
                raise ValueError('trailing bytes')
            return out
    '''),
    'toyprover/verifier.py': textwrap.dedent('''\
        """Checks proof bytes against the statement (the params)."""
        from toyprover import proof as proof_format
        from toyprover.backends import common


        def verify(params, proof):
            try:
                layout = proof_format.decode(proof)
            except (ValueError, IndexError, Exception) as e:
                return False, f'malformed proof: {e}'
            if len(layout) != 3:
                return False, f'expected 3 sections, got {len(layout)}'
            for stage, offset, length in layout:
                if proof[offset:offset + length] != common.body(stage, params):
                    return False, f'stage {stage} section does not verify'
            return True, 'ok'
    '''),
    'toyprover/probe.py': textwrap.dedent('''\
        """The gates' entry points into the toy prover."""
        from toyprover import proof as proof_format
        from toyprover import verifier
        from toyprover.stages import stage0
        from toyprover.stages import stage1
        from toyprover.stages import stage2

        STAGES = (stage0, stage1, stage2)


        def prove(params, variant, observer):
            bodies = []
            for k, stage in enumerate(STAGES):
                backend = variant.get(str(k), 'materialized')
                observer.enter(k)
                bodies.append(stage.run(params, backend))
                observer.exit(k)
            return proof_format.encode(bodies)


        def verify(params, proof):
            return verifier.verify(params, proof)


        def sections(proof):
            return proof_format.decode(proof)


        def capabilities():
            return {str(k): list(stage.SUPPORTED) for k, stage in enumerate(STAGES)}
    '''),
    'toyprover/stages/__init__.py': '',
    'toyprover/stages/stage0.py': _STAGE_TEMPLATE.format(k=0, name='commit'),
    'toyprover/stages/stage1.py': _STAGE_TEMPLATE.format(k=1, name='constraints'),
    'toyprover/stages/stage2.py': _STAGE_TEMPLATE.format(k=2, name='openings'),
    'README.md': '# toy\n',
    # As in the real repo: the gates' own outputs (flamegraphs, benchmark JSON) are not changes.
    '.gitignore': '.stagegate/\n__pycache__/\n',
    'tests/test_toy.py': 'def test_nothing():\n    pass\n',
    'specs/ledger.json': '{\n  "rows": [],\n  "schema": 1\n}\n',
}

_SPEC_BLOCKS: dict[str, str] = {
    'head': 'schema: 1\nname: toy-streaming\n',
    'subject': textwrap.dedent('''\
        subject:
          kind: python
          root: .
          prove: toyprover.probe:prove
          verify: toyprover.probe:verify
          sections: toyprover.probe:sections
          capabilities: toyprover.probe:capabilities
    '''),
    'baseline': 'baseline:\n  ref: stagegate-baseline\n',
    'variants': 'variants:\n  baseline: materialized\n  candidate: streaming\n',
    'stages': textwrap.dedent('''\
        stages:
          - id: 0
            name: commit
            brief: "Stream the commitment: hold sqrt(T) rows."
            paths: [toyprover/stages/stage0.py, toyprover/backends/streaming/**]
          - id: 1
            name: constraints
            brief: "Stream the constraint check."
            paths: [toyprover/stages/stage1.py, toyprover/backends/streaming/**]
          - id: 2
            name: openings
            brief: "Stream the openings."
            paths: [toyprover/stages/stage2.py, toyprover/backends/streaming/**]
    '''),
    'protected': textwrap.dedent('''\
        protected:
          paths: [toyprover/verifier.py, toyprover/proof.py]
          forbid_in_converted: [materialized]
    '''),
    'shared_paths': 'shared_paths: [tests/**, README.md, docs/**]\n',
    'workloads': textwrap.dedent('''\
        workloads:
          - id: toy-12
            params: {workload: toy, log_t: 12}
          - id: toy-13
            params: {workload: toy, log_t: 13}
    '''),
    'tiers': textwrap.dedent('''\
        tiers:
          pre-commit: [toy-12]
          ci: [toy-12]
          full: [toy-12, toy-13]
    '''),
    'budgets': textwrap.dedent('''\
        budgets:
          time:
            ratio_lt: 2.0
            min_pairs: 3
            max_pairs: 5
          memory:
            margin: 0.02
            tolerance: 0.01
    '''),
    'assets': textwrap.dedent('''\
        assets:
          - gates/**
          - rules/**
          - specs/streaming-prover.yaml
          - specs/golden.json
          - specs/ledger.json
    '''),
    'tail': 'golden: specs/golden.json\nledger: specs/ledger.json\n',
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
