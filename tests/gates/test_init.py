"""``gates init``: a new prover's spec skeleton, empty ledger, rules and hook (real git, real CLI)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ENGINE_ROOT, git, make_repo

from gates.contract.spec import load_spec


def gates(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    return subprocess.run((sys.executable, '-m', 'gates', *args), cwd=repo, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize('kind', ['python', 'command'])
def test_init_writes_a_loadable_skeleton_the_ledger_the_rules_and_the_hook(tmp_path: Path, kind: str) -> None:
    repo = make_repo(tmp_path, {'README.md': '# my prover\n'}, name='myprover')
    proc = gates(repo, 'init', '--kind', kind)
    assert proc.returncode == 0, proc.stderr
    spec = load_spec(repo / 'specs/stagegate.yaml', 'specs/stagegate.yaml')
    assert spec.subject.kind == kind and spec.name == 'myprover'
    assert spec.baseline_ref == 'myprover-baseline' and 'rules/**' in spec.assets
    text = (repo / 'specs/stagegate.yaml').read_text()
    if kind == 'python':
        assert spec.subject.prove == 'stagegate_adapter:prove'
        assert 'capabilities() -> dict[str, list[str]]' in text and 'all four required' in proc.stdout
    else:
        assert spec.subject.argv == ('python3', '-B', 'prove.py', '{log_n}')
        assert 'STAGEGATE enter N' in text and 'subject.argv' in proc.stdout
    assert json.loads((repo / 'specs/ledger.json').read_text()) == {'rows': [], 'schema': 1}
    engine_rules = sorted(p.name for p in (ENGINE_ROOT / 'rules').glob('*.yaml'))
    assert engine_rules and sorted(p.name for p in (repo / 'rules').iterdir()) == engine_rules
    hook = repo / '.git/hooks/pre-commit'
    assert os.access(hook, os.X_OK) and '-m gates check --tier pre-commit --staged' in hook.read_text()
    for step in ('gates freeze', 'gates check --tier ci', 'gates accept', 'git tag myprover-baseline'):
        assert step in proc.stdout, step
    # Nothing is committed; the commands that read the spec work on the skeleton.
    assert git(repo, 'log', '--format=%s') == 'initial'
    assert gates(repo, 'status').returncode == 0


def test_init_overwrites_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {'specs/ledger.json': '{"rows": [], "schema": 1, "mine": true}\n'})
    proc = gates(repo, 'init', '--kind', 'python')
    assert proc.returncode == 2
    assert proc.stderr.count('\n') == 1 and 'specs/ledger.json already exists' in proc.stderr, proc.stderr
    assert '"mine": true' in (repo / 'specs/ledger.json').read_text()
    # Refused before anything was written.
    assert not (repo / 'specs/stagegate.yaml').exists() and not (repo / 'rules').exists()
    assert not (repo / '.git/hooks/pre-commit').exists()
    # A second init after a first one refuses too, naming the spec first.
    other = make_repo(tmp_path, {'README.md': 'x\n'}, name='other')
    assert gates(other, 'init', '--kind', 'command').returncode == 0
    before = (other / 'specs/stagegate.yaml').read_text()
    proc = gates(other, 'init', '--kind', 'python')
    assert proc.returncode == 2 and proc.stderr.startswith('gates: error: specs/stagegate.yaml, ')
    assert (other / 'specs/stagegate.yaml').read_text() == before


def test_init_refuses_a_spec_outside_the_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {'README.md': 'x\n'})
    proc = gates(repo, 'init', '--kind', 'python', '--spec', '../elsewhere.yaml')
    assert proc.returncode == 2 and proc.stderr.count('\n') == 1 and '--spec ../elsewhere.yaml' in proc.stderr
    assert git(repo, 'status', '--porcelain') == ''
