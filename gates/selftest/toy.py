"""The self-test corpus's subject: a toy 3-stage prover, its spec, and a fresh git repository of it.

The same toy the engine's own tests use (tests/gates/conftest.py), carried here because the corpus
ships inside the engine package (an installed engine has no tests/ folder). Stage k's backend is
picked by the run's variant; a materialized stage holds T * row_bytes bytes, a streaming stage
isqrt(T) * row_bytes, and every stage sleeps ``SLEEP_MS`` so the time gate judges figures well
above its noise floor. The proof is ``b'TOY1' + u8 count`` then per stage ``u8 stage, u32 LE
length, 64-byte body``, identical for both backends.

``build(path, rules)`` makes the repository a corpus case starts from: commit 1 the materialized
baseline (tag ``stagegate-baseline``), commit 2 the golden digests made by proving it, both on
``main``; HEAD is branch ``conversion``. A nonce in commit 1 makes every repository's commits its
own, so an attack in one case can never find another case's trees by their baseline commit.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

# Per stage, both backends: large against the time gate's 5 ms noise floor, small for the corpus.
SLEEP_MS = 60
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
    # How CI runs the gates (a gate asset and the spec's CI entry point, as in the real repo).
    '.ci/run': textwrap.dedent('''\
        #!/usr/bin/env bash
        # CI entry point of the toy: judge the change with the gates, ci tier.
        set -euo pipefail
        cd "$(dirname "$0")/.."
        echo "== gates check --tier ci"
        gates check --tier ci
    '''),
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
            params: {workload: toy, log_t: 12, sleep_ms: 60}
          - id: toy-13
            params: {workload: toy, log_t: 13, sleep_ms: 60}
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
            max_pairs: 11
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
          - .ci/**
    '''),
    'ci_entry_points': 'ci_entry_points: [.ci/run]\n',
    'tail': 'golden: specs/golden.json\nledger: specs/ledger.json\n',
}


def spec_yaml(**overrides: str) -> str:
    unknown = set(overrides) - set(_SPEC_BLOCKS)
    if unknown:
        raise KeyError(f'unknown spec blocks {sorted(unknown)}; known: {sorted(_SPEC_BLOCKS)}')
    return ''.join(overrides.get(k, v) for k, v in _SPEC_BLOCKS.items())


def git_env() -> dict[str, str]:
    """git with no configuration of the machine's and no GIT_* variable of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    env.update({
        'GIT_CONFIG_NOSYSTEM': '1', 'GIT_CONFIG_GLOBAL': os.devnull,
        'GIT_AUTHOR_NAME': 'Selftest', 'GIT_AUTHOR_EMAIL': 'selftest@stagegate.invalid',
        'GIT_COMMITTER_NAME': 'Selftest', 'GIT_COMMITTER_EMAIL': 'selftest@stagegate.invalid',
    })
    return env


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(('git', *args), cwd=repo, env=git_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'git {" ".join(args)} failed in {repo}: {proc.stderr.strip()}')
    return proc.stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding='utf-8')


def commit_all(repo: Path, message: str) -> str:
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '--allow-empty', '--no-verify', '-m', message)
    return git(repo, 'rev-parse', 'HEAD')


_PROVE = '''\
import json, sys
sys.path.insert(0, '.')
from toyprover.probe import prove

class Observer:
    def enter(self, k): pass
    def exit(self, k): pass

params, variant = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.stdout.buffer.write(prove(params, variant, Observer()))
'''

WORKLOADS: dict[str, dict[str, Any]] = {
    'toy-12': {'workload': 'toy', 'log_t': 12, 'sleep_ms': SLEEP_MS},
    'toy-13': {'workload': 'toy', 'log_t': 13, 'sleep_ms': SLEEP_MS},
}


def _prove(repo: Path, params: dict[str, Any]) -> bytes:
    variant = json.dumps({'0': 'materialized', '1': 'materialized', '2': 'materialized'})
    proc = subprocess.run(
        (sys.executable, '-I', '-c', _PROVE, json.dumps(params), variant),
        cwd=repo, capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f'the toy baseline does not prove: {proc.stderr.decode(errors="replace")}')
    return proc.stdout


def build(path: Path, rules: Path | None) -> Path:
    """A fresh toy repository at ``path`` (see the module doc); ``rules`` is copied to ``rules/``."""
    path.mkdir(parents=True)
    git(path, 'init', '-q', '-b', 'main')
    files = dict(TOY_FILES)
    files['README.md'] = f'# toy\n\nself-test repository {secrets.token_hex(8)}\n'
    files['specs/streaming-prover.yaml'] = spec_yaml()
    write(path, files)
    if rules is not None:
        shutil.copytree(rules, path / 'rules', dirs_exist_ok=True)
    first = commit_all(path, 'toy prover: materialized baseline')
    golden: dict[str, Any] = {'schema': 1, 'baseline_commit': first, 'workloads': {}}
    for wid, params in WORKLOADS.items():
        proof = _prove(path, params)
        golden['workloads'][wid] = {'sha256': hashlib.sha256(proof).hexdigest(), 'size': len(proof)}
    write(path, {'specs/golden.json': json.dumps(golden, indent=2, sort_keys=True) + '\n'})
    commit_all(path, 'specs: golden digests of the baseline')
    git(path, 'tag', 'stagegate-baseline')
    git(path, 'checkout', '-q', '-b', 'conversion')
    return path
