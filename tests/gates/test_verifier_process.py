"""The verifier runs where the prover cannot reach it (issue 13, item 5).

A foreign STARK's prover rebound the verifier's low-degree check to ``lambda *a, **k: True`` at
run time; verify ran in the prove process, so a flipped byte "verified", and with
``subject.root`` set to the prover's folder no semgrep rule matched a file. Real subprocesses,
real semgrep, throw-away git repositories whose subject lives in a sub-folder (``sub/``).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import commit_all
from conftest import git
from conftest import make_repo
from conftest import write_files
from structural_helpers import gates_cli
from structural_helpers import run_gate

from gates.analysis.protected import protection
from gates.contract.spec import Subject
from gates.contract.spec import parse_spec
from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.model import GateError

ENGINE = Path(__file__).resolve().parents[2]
STAGES = [0, 1, 2]
MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}

# The verifier's check lives in its own module; the prover imports it (a shared layout).
VERIFIER = '''\
"""Checks a proof: three 4-byte sections, each the stage id repeated, and a zero last byte."""


def low_degree_ok(proof):
    return len(proof) == 13 and proof[-1] == 0


def verify(params, proof):
    if not low_degree_ok(proof):
        return False, 'low-degree check fails'
    for k in range(3):
        if proof[4 * k:4 * k + 4] != bytes([k]) * 4:
            return False, f'section {k} does not verify'
    return True, 'ok'


def sections(proof):
    return [(k, 4 * k, 4) for k in range(3)]
'''

PROVER = '''\
"""The sub-folder subject's prover."""
import verifier


def prove(params, variant, observer):
    out = b''
    for k in range(3):
        observer.enter(k)
        out += bytes([k]) * 4
        observer.exit(k)
    return out + bytes([0])


def capabilities():
    return {'0': ['materialized'], '1': ['materialized'], '2': ['materialized']}
'''

# The attack: rebind the verifier's check at run time, then ship a proof with a flipped byte.
REBOUND = PROVER.replace("    return out + bytes([0])\n", (
    "    verifier.low_degree_ok = lambda *a, **k: True\n"
    "    return out + bytes([1])\n"
))

SPEC = '''\
schema: 1
name: sub-folder-subject
subject:
  kind: python
  root: sub
  prove: prover:prove
  verify: verifier:verify
  sections: verifier:sections
  capabilities: prover:capabilities
baseline:
  ref: stagegate-baseline
variants:
  baseline: materialized
  candidate: streaming
stages:
  - {id: 0, name: commit, paths: [sub/prover.py]}
  - {id: 1, name: constraints, paths: [sub/prover.py]}
  - {id: 2, name: openings, paths: [sub/prover.py]}
protected:
  paths: [sub/verifier.py]
  forbid_in_converted: [materialized]
  verifier: [VERIFIER_GLOBS]
shared_paths: [tests/**, README.md]
workloads:
  - {id: w, params: {n: 1}}
tiers:
  pre-commit: [w]
  ci: [w]
  full: [w]
tier_gates:
  pre-commit: [api, scope, integrity, proof]
budgets:
  time: {ratio_lt: 2.0, min_pairs: 3, max_pairs: 5}
  memory: {margin: 0.02, tolerance: 0.01}
assets: [gates/**, rules/**, specs/streaming-prover.yaml, specs/golden.json, specs/ledger.json]
golden: specs/golden.json
ledger: specs/ledger.json
'''


def _subject(root: str = 'sub') -> Subject:
    return Subject('python', root, 'prover:prove', 'verifier:verify', 'verifier:sections',
                   'prover:capabilities', ())


def _sub_repo(tmp_path: Path, verifier_globs: str = 'sub/verifier.py') -> Path:
    """A repository whose subject lives in ``sub/`` (subject.root: sub), baseline tagged and
    golden digests committed on main; HEAD is branch ``conversion``."""
    repo = make_repo(tmp_path, {}, name='repo')
    write_files(repo, {
        'sub/verifier.py': VERIFIER, 'sub/prover.py': PROVER, 'README.md': '# sub\n',
        'specs/streaming-prover.yaml': SPEC.replace('VERIFIER_GLOBS', verifier_globs),
        'specs/ledger.json': '{\n  "rows": [],\n  "schema": 1\n}\n',
        '.gitignore': '.stagegate/\n__pycache__/\n',
    })
    shutil.copytree(ENGINE / 'rules', repo / 'rules')
    first = commit_all(repo, 'sub-folder subject: baseline')
    run = probe.proof(RunRequest(_subject(), repo, 'w', {'n': 1}, MAT, STAGES, timeout=60))
    golden = {'schema': 1, 'baseline_commit': first,
              'workloads': {'w': {'sha256': run.sha256, 'size': run.size}}}
    write_files(repo, {'specs/golden.json': json.dumps(golden, indent=2, sort_keys=True) + '\n'})
    commit_all(repo, 'specs: golden digests')
    git(repo, 'tag', 'stagegate-baseline')
    git(repo, 'checkout', '-q', '-b', 'conversion')
    return repo


def test_a_verifier_rebound_in_the_prove_process_still_rejects(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    write_files(tree, {'sub/verifier.py': VERIFIER, 'sub/prover.py': PROVER})
    good = probe.proof(RunRequest(_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))
    assert good.verify_ok is True and good.sections == ((0, 0, 4), (1, 4, 4), (2, 8, 4))
    assert good.sha256 == hashlib.sha256(good.proof).hexdigest()
    write_files(tree, {'sub/prover.py': REBOUND})
    bad = probe.proof(RunRequest(_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))
    assert bad.proof[-1] == 1
    # In the prove process the check is `lambda: True`; the separate verifier never saw that.
    assert bad.verify_ok is False and bad.verify_message == 'low-degree check fails'
    assert bad.subject_file == str((tree / 'sub/prover.py').resolve())


def test_the_verify_process_never_imports_the_prove_entry(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    spy = VERIFIER.replace(
        "    return True, 'ok'\n",
        "    import sys\n    return True, 'prover imported' if 'prover' in sys.modules else 'clean'\n",
    )
    write_files(tree, {'sub/verifier.py': spy, 'sub/prover.py': PROVER})
    run = probe.proof(RunRequest(_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))
    assert (run.verify_ok, run.verify_message) == (True, 'clean')


def test_the_verifier_refuses_bytes_that_are_not_what_the_engine_read(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    write_files(tree, {'sub/verifier.py': VERIFIER, 'sub/prover.py': PROVER})
    proof = bytes([0] * 4 + [1] * 4 + [2] * 4 + [0])
    assert probe.verify_run(_subject(), tree, {}, proof, timeout=60).verify_ok is True
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(probe.ProbeFailed, match='hashes to'):
        handed = Path(tmp) / 'proof.bin'
        handed.write_bytes(proof[:-1] + b'\x01')
        probe._python_child(_subject(), tree, {
            'mode': 'verify', 'params': {}, 'proof': str(handed),
            'proof_sha256': hashlib.sha256(proof).hexdigest(),
        }, Path(tmp), 60)


def test_a_command_subject_with_a_verify_entry_is_verified_in_its_own_process(tmp_path: Path) -> None:
    script = tmp_path / 'subject.sh'
    script.write_text(textwrap.dedent('''\
        #!/bin/sh
        for k in 0 1 2; do echo "STAGEGATE enter $k" >&2; echo "STAGEGATE exit $k" >&2; done
        printf '\\000\\000\\000\\000\\001\\001\\001\\001\\002\\002\\002\\002\\00'"$1" > "$STAGEGATE_PROOF"
    '''), encoding='utf-8')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    write_files(tmp_path, {'verifier.py': VERIFIER})
    subject = Subject('command', '.', None, 'verifier:verify', 'verifier:sections', None, ('./subject.sh', '{z}'))
    good = probe.proof(RunRequest(subject, tmp_path, 'w', {'z': '0'}, MAT, STAGES, timeout=60))
    assert good.proof[-1] == 0 and (good.verify_ok, good.sections) == (True, ((0, 0, 4), (1, 4, 4), (2, 8, 4)))
    bad = probe.proof(RunRequest(subject, tmp_path, 'w', {'z': '1'}, MAT, STAGES, timeout=60))
    assert bad.proof[-1] == 1 and bad.verify_ok is False
    # Without a verify entry nothing changes: no verdict.
    plain = Subject('command', '.', None, None, None, None, ('./subject.sh', '{z}'))
    assert probe.proof(RunRequest(plain, tmp_path, 'w', {'z': '1'}, MAT, STAGES, timeout=60)).verify_ok is None


def test_a_sub_folder_subject_rebinding_its_verifier_fails_api_and_proof(tmp_path: Path) -> None:
    repo = _sub_repo(tmp_path)
    write_files(repo, {'sub/prover.py': REBOUND})
    commit_all(repo, 'stage 0: stream')
    api = run_gate(repo, 'api')
    got = {(f.file, f.message.split(']')[0] + ']') for f in api.findings}
    assert ('sub/prover.py', '[no-protected-monkeypatch]') in got, api.findings
    assert api.details['rule_params']['subject_globs'] == ['sub/prover.py', 'sub/verifier.py']
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'proof', '--json')
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    proof = next(g for g in doc['verdicts'] if g['gate'] == 'proof')
    assert any('the verifier rejects the candidate proof: low-degree check fails' in f['message']
               for f in proof['findings']), proof


def test_a_rule_that_can_match_no_file_of_the_subject_is_unusable_config(tmp_path: Path) -> None:
    repo = _sub_repo(tmp_path, verifier_globs='sub/verify_parts/**')
    write_files(repo, {'sub/prover.py': PROVER.replace('"""The sub', '"""A comment: the sub')})
    commit_all(repo, 'stage 0: a comment')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'api')
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if 'rule ' in ln]
    assert len(lines) == 1 and 'no-prover-side-import-in-verifier' in lines[0]
    assert 'protected.verifier' in lines[0] and 'sub/verify_parts/**' in lines[0]


def test_a_verifier_function_entry_protects_it_and_what_it_reaches(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    write_files(tree, {
        'sub/shared.py': textwrap.dedent('''\
            import helper


            def verify(params, proof):
                return helper.check(proof), 'ok'


            def prove_part():
                return 1
        '''),
        'sub/helper.py': 'def check(proof):\n    return bool(proof)\n\n\ndef unused():\n    return 0\n',
    })
    got = {str(e.symbol) for e in protection(tree, (), ('sub/shared.py::verify',), (), 'sub')}
    # The function, what it calls (and the helper module's top-level code it goes through);
    # not the prover's part of the shared file, nor what the function never reaches.
    assert got == {'sub/shared.py::verify', 'sub/helper.py::check', 'sub/helper.py::<module>'}
    with pytest.raises(GateError, match=r'sub/shared.py::nothing names no function'):
        protection(tree, (), ('sub/shared.py::nothing',), (), 'sub')


def test_the_verifier_reaching_a_module_above_the_root_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / 'tree'
    write_files(tree, {
        'sub/verifier.py': 'from common import fri\n\n\ndef verify(params, proof):\n    return fri.ok(proof), "ok"\n',
        'common/__init__.py': '', 'common/fri.py': 'def ok(proof):\n    return True\n',
    })
    with pytest.raises(GateError, match=r"sub/verifier.py \(reached from protected.verifier\) imports common"):
        protection(tree, (), ('sub/verifier.py',), (), 'sub')
    # An import the subject's root does hold is followed as before.
    write_files(tree, {'sub/common/__init__.py': '', 'sub/common/fri.py': 'def ok(proof):\n    return True\n'})
    got = {str(e.symbol) for e in protection(tree, (), ('sub/verifier.py',), (), 'sub')}
    assert 'sub/common/fri.py::ok' in got


@pytest.mark.parametrize(('entry', 'expected'), [
    ('common/verifier.py', 'is outside subject.root "sub"'),
    ('sub/*.py::verify', 'no wildcard in the path'),
])
def test_protected_verifier_entries_are_checked_at_spec_load(entry: str, expected: str) -> None:
    with pytest.raises(GateError, match=expected) as info:
        parse_spec(SPEC.replace('VERIFIER_GLOBS', entry), 'specs/streaming-prover.yaml')
    assert str(info.value).startswith('specs/streaming-prover.yaml:') and '\n' not in str(info.value)
    spec = parse_spec(SPEC.replace('VERIFIER_GLOBS', 'sub/verifier.py::verify'), 'x.yaml')
    assert spec.verifier_paths == ('sub/verifier.py::verify',)
