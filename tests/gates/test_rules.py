"""rules/: one semgrep rule per file, named by its id, each with a test file run by `semgrep --test`."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gates import semgrep_scan
from gates.repo import no_git_env

RULES = Path(__file__).resolve().parents[2] / 'rules'


def semgrep_test(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**no_git_env(), 'SEMGREP_ENABLE_VERSION_CHECK': '0', 'SEMGREP_SEND_METRICS': 'off'}
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


def test_semgrep_test_passes_on_the_rules() -> None:
    proc = semgrep_test(RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'{len(rule_files())}/{len(rule_files())}: ✓ All tests passed' in proc.stdout


@pytest.mark.parametrize('rule', ['no-gates-import', 'no-materialized-in-converted-stage'])
def test_semgrep_test_fails_on_a_wrong_expectation(tmp_path: Path, rule: str) -> None:
    # The harness must be able to fail: an `# ok:` line that the rule does match is a failure.
    folder = tmp_path / 'rules'
    folder.mkdir()
    shutil.copy(RULES / f'{rule}.yaml', folder)
    text = (RULES / f'{rule}.py').read_text()
    (folder / f'{rule}.py').write_text(text.replace(f'# ruleid: {rule}', f'# ok: {rule}', 1))
    proc = semgrep_test(folder)
    assert proc.returncode != 0
    assert 'did not pass' in proc.stdout + proc.stderr


def test_rules_parse_without_errors(tmp_path: Path) -> None:
    # A scan with every rule over an empty file: any rule error would be a GateError here.
    (tmp_path / 'prover').mkdir()
    (tmp_path / 'prover/empty.py').write_text('')
    result = semgrep_scan.scan(tmp_path, rule_files(), ['prover/empty.py'])
    assert result.matches == () and result.problems == () and result.scanned == ('prover/empty.py',)
    assert os.path.basename(result.argv[0]).startswith('semgrep')
