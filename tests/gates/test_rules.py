"""rules/: one semgrep rule per file, named by its id, each with a test file run by `semgrep --test`.

The rule files name no subject: their ``{{...}}`` placeholders are filled from a spec by
``gates.analysis.ruleset.render_rule``. The tests render them for this repository's spec (the test files
are written against it) and run ``semgrep --test`` on the rendered copy.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gates.analysis import semgrep_scan
from gates.analysis.protected import protection
from gates.analysis.reach import module_name
from gates.vcs.repo import no_git_env
from gates.analysis.ruleset import RuleParams
from gates.analysis.ruleset import render_rule
from gates.analysis.ruleset import rule_params
from gates.contract.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / 'rules'


def this_repos_params() -> RuleParams:
    spec = load_spec(ROOT / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    verifier = spec.verifier_paths or ('prover/verifier/**',)
    reached = {m for e in protection(ROOT, (), verifier, spec.protected_paths)
               if (m := module_name(e.symbol.path, '.')) is not None}
    return rule_params([g for st in spec.stages for g in st.paths], spec.shared_paths,
                       spec.protected_paths, verifier, reached)


def rendered_rules(folder: Path, names: list[str] | None = None) -> Path:
    """The rules (and their test files) with this repository's values, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    params = this_repos_params()
    for path in rule_files():
        if names is not None and path.stem not in names:
            continue
        rules = [render_rule(r, params) for r in yaml.safe_load(path.read_text())['rules']]
        assert all(r is not None for r in rules), path.name
        (folder / path.name).write_text(yaml.safe_dump({'rules': rules}))
        shutil.copy(path.with_suffix('.py'), folder)
    return folder


def semgrep_test(folder: Path) -> subprocess.CompletedProcess[str]:
    # semgrep leaves a ``semgrep-*.rules`` file in its temp folder: give it one of the test's own.
    tmp = folder.parent / 'semgrep-tmp'
    tmp.mkdir(exist_ok=True)
    env = {**no_git_env(), 'SEMGREP_ENABLE_VERSION_CHECK': '0', 'SEMGREP_SEND_METRICS': 'off',
           'TMPDIR': str(tmp)}
    return subprocess.run(
        (semgrep_scan.executable(), '--test', '--metrics=off', '--disable-version-check', str(folder)),
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False,
    )


def rule_files() -> list[Path]:
    return sorted(RULES.glob('*.yaml'))


def test_each_rule_file_holds_one_rule_named_by_its_id_with_a_test_file() -> None:
    files = rule_files()
    assert len(files) >= 5
    for path in files:
        rules = yaml.safe_load(path.read_text())['rules']
        assert [r['id'] for r in rules] == [path.stem]
        message = ' '.join(rules[0]['message'].split())
        assert len(message.split('. ')) >= 3, f'{path.name}: say what is wrong, why, and how to fix it'
        test = path.with_suffix('.py')
        text = test.read_text()
        assert f'# ruleid: {path.stem}' in text and f'# ok: {path.stem}' in text, test.name


def test_no_rule_names_the_subject() -> None:
    # The rules judge any subject: paths and module names come from the spec.
    for path in rule_files():
        rule = yaml.safe_load(path.read_text())['rules'][0]
        for key in ('include', 'exclude'):
            for glob in rule.get('paths', {}).get(key, []):
                assert glob.startswith('{{'), (path.name, glob)
        patterns = yaml.safe_dump({k: v for k, v in rule.items() if k not in ('id', 'message', 'metadata')})
        assert 'prover' not in re.sub(r'\{\{\w+\}\}', '', patterns), path.name


def test_the_rendered_rules_name_this_repos_modules() -> None:
    params = this_repos_params()
    assert params.subject_packages == ('prover',)
    assert set(params.prover_side_modules) == {
        'prover.stages', 'prover.backends', 'prover.pipeline', 'prover.witness', 'prover.tracer',
    }
    assert 'prover.pcs' not in params.prover_side_modules      # the verifier uses pcs to check
    assert params.protected_modules == (
        'prover.verifier', 'prover.sumcheck', 'prover.relations', 'prover.proof', 'prover.transcript',
        'prover.verify_entry',
    )


def test_semgrep_test_passes_on_the_rules(tmp_path: Path) -> None:
    proc = semgrep_test(rendered_rules(tmp_path / 'rules'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'{len(rule_files())}/{len(rule_files())}: ✓ All tests passed' in proc.stdout


@pytest.mark.parametrize('rule', ['no-gates-import', 'no-materialized-in-converted-stage'])
def test_semgrep_test_fails_on_a_wrong_expectation(tmp_path: Path, rule: str) -> None:
    # The harness must be able to fail: an `# ok:` line that the rule does match is a failure.
    folder = rendered_rules(tmp_path / 'rules', [rule])
    text = (RULES / f'{rule}.py').read_text()
    (folder / f'{rule}.py').write_text(text.replace(f'# ruleid: {rule}', f'# ok: {rule}', 1))
    proc = semgrep_test(folder)
    assert proc.returncode != 0
    assert 'did not pass' in proc.stdout + proc.stderr


def test_rules_parse_without_errors(tmp_path: Path) -> None:
    # A scan with every rule over an empty file: any rule error would be a GateError here.
    (tmp_path / 'prover').mkdir()
    (tmp_path / 'prover/empty.py').write_text('')
    rendered = rendered_rules(tmp_path / 'rendered')
    result = semgrep_scan.scan(tmp_path, sorted(rendered.glob('*.yaml')), ['prover/empty.py'])
    assert result.matches == () and result.problems == () and result.scanned == ('prover/empty.py',)
    assert os.path.basename(result.argv[0]).startswith('semgrep')
