"""Nothing under judgement can fool the judge (issue 8.1): the subject's process is isolated
from the engine and from the other tree, PYTHONOPTIMIZE is refused, and a subject that edits a
tree the engine measures is caught. Real subprocesses, real git worktrees, real gates."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TinyRepo
from conftest import convert_stage
from conftest import git
from gate_helpers import python_subject
from gate_helpers import toy_context
from gate_helpers import write_subject

from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.checks import time as timegate
from gates.measuring import treedigest
from gates.model import GateError
from gates.selftest.corpus import baseline_tamper

STAGES = [0, 1, 2]
MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}
ENGINE_ROOT = Path(__file__).resolve().parents[2]

SITECUSTOMIZE = '''\
import os
with open({marker!r}, 'a') as fh:
    fh.write('ran in ' + os.getcwd() + '\\n')
'''


def test_sitecustomize_tracked_or_reachable_through_a_pth_never_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / 'sitecustomize-ran.log'
    tree = tmp_path / 'tree'
    write_subject(tree, 'for k in range(3):\n    observer.enter(k)\n    observer.exit(k)\nreturn b"PROOF"\n')
    # Tracked (or ignored, the same file on disk) at the tree's root: the subject root.
    (tree / 'sitecustomize.py').write_text(SITECUSTOMIZE.format(marker=str(marker)), encoding='utf-8')
    # And reachable the way an editable install of the engine's checkout makes it reachable:
    # a .pth in a site-packages folder that puts a checkout with sitecustomize.py on the path.
    checkout = tmp_path / 'checkout'
    checkout.mkdir()
    (checkout / 'sitecustomize.py').write_text(SITECUSTOMIZE.format(marker=str(marker)), encoding='utf-8')
    fake_site = tmp_path / 'site-packages'
    fake_site.mkdir()
    (fake_site / 'zz_checkout.pth').write_text(f'{checkout}\nimport os; open({str(marker)!r}, "a").write("pth ran\\n")\n')
    real_sites = probe.site_dirs()
    monkeypatch.setattr(probe, 'site_dirs', lambda: [*real_sites, str(fake_site)])
    # The control: an ordinary interpreter does run both.
    subprocess.run([sys.executable, '-c', f'import site; site.addsitedir({str(fake_site)!r})'],
                   check=True, cwd=tree)
    subprocess.run([sys.executable, '-c', 'pass'], check=True, cwd=tree,
                   env={**os.environ, 'PYTHONPATH': str(checkout)})
    assert marker.read_text().count('ran') >= 2
    marker.unlink()
    run = probe.time(RunRequest(python_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))
    proof = probe.proof(RunRequest(python_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))
    assert run.proof_size == 5 and proof.verify_ok is True
    assert not marker.exists(), marker.read_text()


def test_the_subject_sees_neither_the_engine_nor_the_other_tree(tmp_path: Path) -> None:
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'marker_of_other.py').write_text('X = 1\n')
    tree = tmp_path / 'tree'
    write_subject(tree, f'''\
        import importlib.util, json, sys
        seen = {{
            'gates': importlib.util.find_spec('gates') is not None,
            'other': importlib.util.find_spec('marker_of_other') is not None,
            'path': sys.path, 'flags': [sys.flags.no_site, sys.flags.dont_write_bytecode,
                                        sys.flags.no_user_site, sys.flags.optimize],
            'python_env': sorted(k for k in os.environ if k.startswith('PYTHON')),
            'modules': sorted(m for m in sys.modules if 'probe' in m or m.startswith('gates')),
        }}
        with open({str(tmp_path / 'seen.json')!r}, 'w') as fh:
            json.dump(seen, fh)
        for k in range(3):
            observer.enter(k)
            observer.exit(k)
        return b'PROOF'
    ''')
    guard = treedigest.Guard()
    guard.watch(other, 'baseline')
    guard.watch(tree, 'candidate')
    probe.time(RunRequest(python_subject(), tree, 'w', {}, MAT, STAGES, timeout=60, guard=guard))
    seen = json.loads((tmp_path / 'seen.json').read_text())
    assert seen['gates'] is False and seen['other'] is False
    assert seen['path'][0] == str(tree.resolve())
    assert not any(p == str(ENGINE_ROOT) or p.startswith(str(other)) for p in seen['path'])
    assert seen['flags'] == [1, 1, 1, 0]
    assert seen['python_env'] == ['PYTHONHASHSEED']
    assert not any(m.startswith('gates') or m == '_probe_child' for m in seen['modules']), seen['modules']
    assert not list(tree.rglob('__pycache__')), 'the subject run wrote bytecode into its tree'


@pytest.mark.parametrize('how', ['env', 'flag'])
def test_pythonoptimize_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    write_subject(tmp_path, 'for k in range(3):\n    observer.enter(k)\n    observer.exit(k)\nreturn b"PROOF"\n')
    if how == 'env':
        monkeypatch.setenv('PYTHONOPTIMIZE', '1')
        with pytest.raises(GateError, match=r"PYTHONOPTIMIZE='1' is set: optimized interpreters strip asserts"):
            probe.proof(RunRequest(python_subject(), tmp_path, 'w', {}, MAT, STAGES, timeout=60))
        return
    # -O in the engine itself: the same refusal, from a real engine process.
    code = (
        'import sys; from pathlib import Path; from gates.measuring import probe; from gates.model import GateError\n'
        'from gate_helpers import python_subject\n'
        'try:\n'
        f'    probe.time_run(python_subject(), Path({str(tmp_path)!r}), "w", {{}}, {MAT!r}, [0, 1, 2])\n'
        'except GateError as e:\n'
        '    print(e); sys.exit(2)\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env['PYTHONPATH'] = str(Path(__file__).parent)
    proc = subprocess.run([sys.executable, '-O', '-c', code], capture_output=True, text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    assert 'python runs with -O: optimized interpreters strip asserts' in proc.stdout


def test_the_cli_refuses_pythonoptimize_with_exit_2(tiny_subject: TinyRepo) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTHON', 'GIT_'))}
    env['PYTHONOPTIMIZE'] = '1'
    proc = subprocess.run(
        [sys.executable, '-m', 'gates', 'check', '--tier', 'pre-commit'],
        cwd=tiny_subject.path, capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'PYTHONOPTIMIZE' in proc.stderr and 'unset PYTHONOPTIMIZE' in proc.stderr


# The attack of issue 8: from inside its own stage, the candidate looks for the baseline's tree
# wherever it can find one (here: the temp folder, where the engine makes its trees) and slows
# the baseline's stage 0 down. It only touches trees of its own repository (the golden digests
# name its baseline commit), so that parallel tests are safe.
TAMPER = baseline_tamper('\nimport time\ntime.sleep(0.5)\n')


def test_a_candidate_that_edits_the_baseline_tree_is_caught(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    stage0 = convert_stage(tiny_subject.path, 0)
    stage0.write_text(stage0.read_text() + TAMPER, encoding='utf-8')
    with toy_context(tiny_subject.path) as ctx:
        base = ctx.base_tree
        verdict = timegate.run(ctx, out_dir=tmp_path / 'out')
        tampered = (base / 'toyprover/stages/stage0.py').read_text()
    assert 'time.sleep(0.5)' in tampered, 'the attack did not reach the baseline tree'
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.gate == 'time' and finding.workload == 'toy-12'
    assert 'the baseline tree' in finding.message and 'changed during' in finding.message
    assert 'modified toyprover/stages/stage0.py' in finding.message
    # The candidate's own tree is untouched by its attack, and its repository still is clean.
    assert git(tiny_subject.path, 'status', '--porcelain', '--', 'specs') == ''


def test_tree_digest_sees_edits_additions_deletions_and_skips_git_and_venvs(tmp_path: Path) -> None:
    tree = tmp_path / 't'
    (tree / 'pkg').mkdir(parents=True)
    (tree / 'pkg' / 'a.py').write_text('A = 1\n')
    (tree / '.git').write_text('gitdir: elsewhere\n')
    (tree / '.venv').mkdir()
    (tree / '.venv' / 'pyvenv.cfg').write_text('home = /usr\n')
    before = treedigest.digest(tree)
    assert treedigest.digest(tree).hexdigest == before.hexdigest
    (tree / '.venv' / 'junk').write_text('x')
    (tree / '.git').write_text('gitdir: moved\n')
    assert treedigest.digest(tree).hexdigest == before.hexdigest
    (tree / 'pkg' / 'a.py').write_text('A = 2\n')
    (tree / 'pkg' / '__pycache__').mkdir()
    (tree / 'pkg' / '__pycache__' / 'a.cpython-311.pyc').write_bytes(b'planted')
    after = treedigest.digest(tree)
    assert before.changes(after) == ['added pkg/__pycache__/a.cpython-311.pyc', 'modified pkg/a.py']
    # The head tree (the user's checkout) is watched without bytecode: the engine writes its own.
    assert treedigest.digest(tree, bytecode=False).changes(treedigest.digest(tree, bytecode=False)) == []
    guard = treedigest.Guard()
    guard.watch(tree, 'baseline')
    (tree / 'pkg' / 'a.py').unlink()
    with pytest.raises(treedigest.TreeChanged, match=r'the baseline tree .* changed during x: deleted pkg/a.py'):
        guard.verify('during x')
    with pytest.raises(treedigest.TreeChanged):   # and it stays broken
        guard.verify('later')


def _live_host_pids(token: str) -> list[int]:
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/cmdline', 'rb') as fh:
                line = fh.read().replace(b'\0', b' ').decode('utf-8', 'replace')
            with open(f'/proc/{name}/stat', encoding='utf-8') as fh:
                state = fh.read().rsplit(') ', 1)[1][0]
        except (OSError, IndexError):
            continue
        if token in line and state not in 'ZX':
            out.append(int(name))
    return out


def test_a_process_that_outlives_its_run_is_a_finding_and_is_killed(tmp_path: Path) -> None:
    # Issue 13.2: a daemon in a new session escaped the probe's process-group kill and paused the
    # baseline's processes. Now the run's container finds it when the run ends and kills it.
    write_subject(tmp_path, '''\
        import subprocess
        subprocess.Popen(['sleep', '45.125'], start_new_session=True)
        for k in range(3):
            observer.enter(k)
            observer.exit(k)
        return b"PROOF"
    ''')
    with pytest.raises(probe.ProbeFailed, match=r'left 1 process\(es\) running after it ended \(sleep 45.125\)'):
        probe.time(RunRequest(python_subject(), tmp_path, 'w', {}, MAT, STAGES, timeout=60))
    assert _live_host_pids('sleep 45.125') == []


def test_a_command_subject_that_leaves_a_process_behind_is_a_finding(tmp_path: Path) -> None:
    from gates.contract.spec import Subject
    script = tmp_path / 'prove.sh'
    script.write_text(
        '#!/bin/sh\nsetsid sleep 45.25 &\nfor k in 0 1 2; do echo "STAGEGATE enter $k" >&2; '
        'echo "STAGEGATE exit $k" >&2; done\nprintf PROOF > "$STAGEGATE_PROOF"\n', encoding='utf-8')
    script.chmod(0o755)
    subject = Subject('command', '.', None, None, None, None, (str(script),))
    with pytest.raises(probe.ProbeFailed, match=r'left 1 process\(es\) running'):
        probe.time(RunRequest(subject, tmp_path, 'w', {}, MAT, STAGES, timeout=60))
    assert _live_host_pids('sleep 45.25') == []


def test_a_subject_cannot_see_or_signal_the_engine(tmp_path: Path) -> None:
    from gates.measuring import proc
    if 'unshare' not in proc.containment()[1]:
        pytest.skip(f'no PID namespace on this machine ({proc.containment()[0]}): runs are only reaped')
    seen = tmp_path / 'seen.json'
    write_subject(tmp_path / 'tree', f'''\
        import json, signal
        try:
            os.kill({os.getpid()}, 0)
            signalled = True
        except ProcessLookupError:
            signalled = False
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
        with open({str(seen)!r}, 'w') as fh:
            json.dump({{'signalled': signalled, 'pids': pids, 'me': os.getpid()}}, fh)
        for k in range(3):
            observer.enter(k)
            observer.exit(k)
        return b"PROOF"
    ''')
    probe.time(RunRequest(python_subject(), tmp_path / 'tree', 'w', {}, MAT, STAGES, timeout=60))
    got = json.loads(seen.read_text())
    assert got['signalled'] is False
    assert got['pids'] == [1, got['me']]     # its container's reaper and itself, nothing else
