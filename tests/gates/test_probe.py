"""The probe: real subprocesses, real memray, real git worktrees."""
from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import TinyRepo
from conftest import write_files
from gate_helpers import python_subject
from gate_helpers import write_subject

from gates.measuring import probe
from gates.measuring.request import RunRequest
from gates.vcs import repo as gitrepo
from gates.model import GateError
from gates.contract.spec import Subject
from gates.contract.spec import load_spec

STAGES = [0, 1, 2]
MAT = {'0': 'materialized', '1': 'materialized', '2': 'materialized'}
GOOD = '''\
for k in range(3):
    observer.enter(k)
    observer.exit(k)
return b'PROOF'
'''


def _time(tree: Path, subject: Subject | None = None) -> probe.TimeRun:
    return probe.time(RunRequest(subject or python_subject(), tree, 'w', {}, MAT, STAGES, timeout=60))


def test_a_well_behaved_subject_gets_per_stage_times(tmp_path: Path) -> None:
    write_subject(tmp_path, '''\
        for k in range(3):
            observer.enter(k)
            time.sleep(0.01 * (k + 1))
            observer.exit(k)
        return b'PROOF'
    ''')
    run = _time(tmp_path)
    assert sorted(run.stage_seconds) == STAGES
    for k in STAGES:
        assert 0.01 * (k + 1) <= run.stage_seconds[k] < 0.01 * (k + 1) + 0.5
    assert run.total_seconds >= sum(run.stage_seconds.values())
    assert run.proof_sha256 == hashlib.sha256(b'PROOF').hexdigest()
    assert run.proof_size == 5


@pytest.mark.parametrize(('body', 'expected'), [
    ('observer.enter(0)\nobserver.exit(0)\nobserver.enter(1)\nobserver.exit(1)\nreturn b"P"',
     'enter(2) missing'),
    ('observer.enter(0)\nobserver.enter(1)\nreturn b"P"', 'exit(0) missing'),
    ('for k in (0, 2, 1):\n    observer.enter(k)\n    observer.exit(k)\nreturn b"P"',
     'out of order: expected enter(1)'),
    ('for k in (0, 0, 1, 2):\n    observer.enter(k)\n    observer.exit(k)\nreturn b"P"',
     'enter(0) repeated'),
    ('observer.enter(0)\nobserver.exit(1)\nreturn b"P"', 'exit(1) while stage 0 is open'),
    ('for k in range(3):\n    observer.enter(k)\nreturn b"P"', 'exit(0) missing'),
    ('observer.enter(0)\nreturn b"P"', 'exit(0) missing: the run ended inside stage 0'),
    ('observer.enter("0")\nreturn b"P"', 'a stage id must be an int'),
])
def test_bad_boundaries_fail_the_run(tmp_path: Path, body: str, expected: str) -> None:
    write_subject(tmp_path, body)
    with pytest.raises(probe.ProbeFailed, match='stage boundary failure') as info:
        _time(tmp_path)
    assert expected in info.value.message


def test_a_swallowed_violation_still_fails(tmp_path: Path) -> None:
    # A subject that catches everything cannot hide a wrong boundary: the observer remembers it.
    write_subject(tmp_path, '''\
        for k in (0, 2, 1):
            try:
                observer.enter(k)
                observer.exit(k)
            except BaseException:
                pass
        return b'PROOF'
    ''')
    with pytest.raises(probe.ProbeFailed, match='out of order'):
        _time(tmp_path)


def test_a_crashing_subject_is_reported_with_its_error(tmp_path: Path) -> None:
    write_subject(tmp_path, 'observer.enter(0)\nraise RuntimeError("boom in stage 0")')
    with pytest.raises(probe.ProbeFailed, match='subject failure.*boom in stage 0') as info:
        _time(tmp_path)
    assert 'RuntimeError' in info.value.log


def test_the_base_tree_code_runs_for_the_baseline(tiny_subject: TinyRepo) -> None:
    repo = tiny_subject.path
    spec = load_spec(tiny_subject.spec_path)
    # The head's common.body changes every section; the baseline tag does not have that edit.
    common = repo / 'toyprover/backends/common.py'
    common.write_text(
        common.read_text().replace("return digest + hashlib", "return digest[::-1] + hashlib"),
    )
    params = {'workload': 'toy', 'log_t': 12}
    with gitrepo.worktree(gitrepo.open_repo(repo), 'stagegate-baseline') as base:
        old = probe.proof(RunRequest(spec.subject, base, 'toy-12', params, MAT, STAGES))
        new = probe.proof(RunRequest(spec.subject, repo, 'toy-12', params, MAT, STAGES))
    assert old.subject_file is not None and old.subject_file.startswith(str(base))
    assert new.subject_file is not None and new.subject_file.startswith(str(repo))
    assert old.sha256 == tiny_subject.golden['workloads']['toy-12']['sha256']
    assert new.sha256 != old.sha256
    assert old.verify_ok is True and new.verify_ok is True
    assert old.sections == ((0, 10, 64), (1, 79, 64), (2, 148, 64))


def test_the_engine_checkout_never_supplies_subject_code(tmp_path: Path) -> None:
    # This checkout has a `prover` package (editable install); a tree without one must not
    # silently import it.
    tmp_path.mkdir(exist_ok=True)
    subject = Subject('python', '.', 'prover.probe:prove', 'prover.probe:verify',
                      'prover.probe:sections', 'prover.probe:capabilities', ())
    with pytest.raises(probe.ProbeFailed, match="No module named 'prover'"):
        probe.time(RunRequest(subject, tmp_path, 'w', {}, MAT, STAGES, timeout=60))


def test_git_variables_do_not_reach_the_subject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('GIT_INDEX_FILE', '/nonexistent/index')
    monkeypatch.setenv('PYTHONMALLOC', 'malloc')
    write_subject(tmp_path, '''\
        leaked = sorted(k for k in os.environ if k.startswith('GIT_') or k == 'PYTHONMALLOC')
        if leaked:
            raise RuntimeError(f'leaked {leaked}')
        for k in range(3):
            observer.enter(k)
            observer.exit(k)
        return b'PROOF'
    ''')
    assert _time(tmp_path).proof_size == 5


MEMORY_SUBJECT = '''\
keep = []
for k in range(3):
    observer.enter(k)
    with open('reached.log', 'a') as fh:
        fh.write(f'{k}\\n')
    if k == 0:
        keep.append(bytearray(8_000_000))      # held through the end of the run
    if k == 1:
        tmp = bytearray(3_000_000)             # freed inside the stage
        del tmp
        keep.append(bytearray(1_000_000))
    if k == 2:
        keep.pop(0)                            # frees stage 0's buffer: no negative peak
        tmp = bytearray(2_000_000)
        del tmp
    observer.exit(k)
return b'PROOF'
'''


def test_memory_measures_in_stage_peaks_and_stops_after_the_stage(tmp_path: Path) -> None:
    write_subject(tmp_path, MEMORY_SUBJECT)
    run = probe.memory(
        RunRequest(python_subject(), tmp_path, 'w', {}, MAT, STAGES, timeout=120), tmp_path / 'captures',
    )
    mb = 1_000_000
    assert 8 * mb <= run.stage_peaks[0] < 8 * mb + 300_000
    # Stage 1: the 3 MB temporary dominates; stage 0's 8 MB live buffer is not counted.
    assert 3 * mb <= run.stage_peaks[1] < 3 * mb + 300_000
    assert 2 * mb <= run.stage_peaks[2] < 2 * mb + 300_000
    assert 11 * mb <= run.whole_run_peak < 11 * mb + 400_000
    assert sorted(run.captures) == ['0', '1', '2', 'whole']
    assert all(p.is_file() for p in run.captures.values())
    # Runs tracking stage 0, 1, 2 stop right after their stage; the whole run goes through.
    reached = (tmp_path / 'reached.log').read_text().split()
    assert sorted(reached) == sorted(['0'] + ['0', '1'] + ['0', '1', '2'] + ['0', '1', '2'])


def test_memory_run_fails_if_the_subject_swallows_the_stop(tmp_path: Path) -> None:
    write_subject(tmp_path, '''\
        for k in range(3):
            try:
                observer.enter(k)
                observer.exit(k)
            except BaseException:
                pass
        return b'PROOF'
    ''')
    with pytest.raises(probe.ProbeFailed, match='did not stop after exit'):
        probe.memory(RunRequest(python_subject(), tmp_path, 'w', {}, MAT, STAGES, timeout=60), tmp_path / 'c')


def test_flamegraph_is_written_from_a_capture(tmp_path: Path) -> None:
    write_subject(tmp_path, MEMORY_SUBJECT)
    run = probe.memory(RunRequest(python_subject(), tmp_path, 'w', {}, MAT, [0, 1, 2], timeout=120),
                       tmp_path / 'c')
    html = probe.flamegraph(run.captures['1'], tmp_path / 'out' / 'stage1.html')
    assert html.is_file() and html.stat().st_size > 10_000
    assert 'memray' in html.read_text(encoding='utf-8', errors='replace').lower()


def _command_subject(tree: Path, script: str) -> Subject:
    path = tree / 'subject.sh'
    path.write_text('#!/bin/sh\n' + script, encoding='utf-8')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return Subject('command', '.', None, None, None, None, ('./subject.sh', '{workload}', '{log_t}'))


def test_command_subject_boundaries_from_stderr(tmp_path: Path) -> None:
    subject = _command_subject(tmp_path, '''\
for k in 0 1 2; do
  echo "STAGEGATE enter $k" >&2
  sleep 0.02
  echo "STAGEGATE exit $k" >&2
done
printf '%s-%s' "$1" "$2" > "$STAGEGATE_PROOF"
''')
    run = probe.time(RunRequest(subject, tmp_path, 'w1', {'log_t': 7}, MAT, STAGES, timeout=60))
    assert sorted(run.stage_seconds) == STAGES
    assert all(0.015 < s < 1.0 for s in run.stage_seconds.values())
    assert run.proof_sha256 == hashlib.sha256(b'w1-7').hexdigest()
    proof = probe.proof(RunRequest(subject, tmp_path, 'w1', {'log_t': 7}, MAT, STAGES, timeout=60))
    assert proof.proof == b'w1-7' and proof.verify_ok is None and proof.sections is None


def test_command_subject_missing_boundary_fails(tmp_path: Path) -> None:
    subject = _command_subject(tmp_path, '''\
echo "STAGEGATE enter 0" >&2; echo "STAGEGATE exit 0" >&2
echo "STAGEGATE enter 2" >&2; echo "STAGEGATE exit 2" >&2
printf x > "$STAGEGATE_PROOF"
''')
    with pytest.raises(probe.ProbeFailed, match='out of order: expected enter.1.'):
        probe.time(RunRequest(subject, tmp_path, 'w', {'log_t': 1}, MAT, STAGES, timeout=60))


def test_command_subject_heap_is_unsupported(tmp_path: Path) -> None:
    subject = _command_subject(tmp_path, 'exit 0\n')
    with pytest.raises(GateError, match="heap peaks are not measured for subject kind 'command'"):
        probe.memory(RunRequest(subject, tmp_path, 'w', {'log_t': 1}, MAT, STAGES), tmp_path / 'c')


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as fh:
            return fh.read().split(') ')[1][0] not in 'ZX'
    except (FileNotFoundError, IndexError):
        return False


def _host_pids(token: str) -> list[int]:
    """Host pids of the live processes whose command line holds ``token``: a contained run's
    processes see their own PID namespace's numbers, so they cannot tell us theirs."""
    out = []
    for name in os.listdir('/proc'):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f'/proc/{name}/cmdline', 'rb') as fh:
                    line = fh.read().replace(b'\0', b' ').decode('utf-8', 'replace')
            except OSError:
                continue
            if token in line and _alive(int(name)):
                out.append(int(name))
    return out


def test_ctrl_c_kills_the_child_group_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(scratch))
    pids = tmp_path / 'pids'
    write_subject(tmp_path / 'tree', f'''\
        import subprocess
        helper = subprocess.Popen(['sleep', '60.0271'])
        with open({str(pids)!r}, 'w') as fh:
            fh.write(f'{{os.getpid()}} {{helper.pid}}')
        observer.enter(0)
        time.sleep(60)
    ''')
    seen: list[int] = []

    def interrupt() -> None:
        deadline = time.monotonic() + 30
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        seen.extend(_host_pids('sleep 60.0271') + _host_pids(str(scratch)))
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _time(tmp_path / 'tree')
    assert time.monotonic() - started < 20
    assert len(seen) >= 2, seen          # the helper and the probe child (and its container)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in seen)
    assert list(scratch.iterdir()) == []


def test_a_hanging_subject_times_out(tmp_path: Path) -> None:
    write_subject(tmp_path, 'observer.enter(0)\ntime.sleep(60)')
    started = time.monotonic()
    with pytest.raises(probe.ProbeFailed, match='did not finish within 1 s'):
        probe.time(RunRequest(python_subject(), tmp_path, 'w', {}, MAT, STAGES, timeout=1))
    assert time.monotonic() - started < 10


def test_effective_variant_falls_back_where_the_subject_offers_nothing() -> None:
    caps = {'0': ['materialized', 'streaming'], '1': ['materialized']}
    wanted = {'0': 'streaming', '1': 'streaming', '2': 'materialized'}
    assert probe.effective_variant(wanted, caps, 'materialized') == {
        '0': 'streaming', '1': 'materialized', '2': 'materialized',
    }
    assert probe.effective_variant(wanted, None, 'materialized') == wanted


def test_capabilities_come_from_the_given_tree(tiny_subject: TinyRepo) -> None:
    spec = load_spec(tiny_subject.spec_path)
    write_files(tiny_subject.path, {
        'toyprover/stages/stage0.py': (tiny_subject.path / 'toyprover/stages/stage0.py').read_text()
        .replace("SUPPORTED = ('materialized',)", "SUPPORTED = ('materialized', 'streaming')"),
    })
    with gitrepo.worktree(gitrepo.open_repo(tiny_subject.path), 'stagegate-baseline') as base:
        assert probe.capabilities(spec.subject, base) == {
            '0': ['materialized'], '1': ['materialized'], '2': ['materialized'],
        }
    assert probe.capabilities(spec.subject, tiny_subject.path) == {
        '0': ['materialized', 'streaming'], '1': ['materialized'], '2': ['materialized'],
    }


def test_a_killed_engine_takes_its_child_along(tmp_path: Path) -> None:
    # SIGKILL cannot be caught, so no cleanup code runs in the engine: the kernel must do it.
    pids = tmp_path / 'pids'
    engine_tmp = tmp_path / 'engine-tmp'
    engine_tmp.mkdir()
    write_subject(tmp_path / 'tree', f'''\
        with open({str(pids)!r}, 'w') as fh:
            fh.write(str(os.getpid()))
        observer.enter(0)
        time.sleep(60)
    ''')
    engine = subprocess.Popen((sys.executable, '-c', textwrap.dedent(f'''\
        from pathlib import Path
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from gate_helpers import python_subject
        from gates.measuring import probe
        probe.time_run(python_subject(), Path({str(tmp_path / 'tree')!r}), 'w', {{}},
                       {MAT!r}, [0, 1, 2], timeout=120)
    ''')), env={**os.environ, 'TMPDIR': str(engine_tmp)})
    # SIGKILL leaves the engine's own temp folder behind by nature: keep it inside this test's.
    try:
        deadline = time.monotonic() + 30
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        children = _host_pids(str(engine_tmp))   # the probe child and its container
        assert children
        engine.kill()
        engine.wait()
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(c) for c in children)
    finally:
        if engine.poll() is None:
            engine.kill()


def test_command_subject_gets_peak_rss_of_its_process_tree(tmp_path: Path) -> None:
    # Stage 1 starts a worker that holds 64 MiB for a moment; the shell itself stays small.
    subject = _command_subject(tmp_path, f'''\
echo "STAGEGATE enter 0" >&2; sleep 0.1; echo "STAGEGATE exit 0" >&2
echo "STAGEGATE enter 1" >&2
{sys.executable} -c "import time; x = bytearray(64 << 20); x[::4096] = b'1' * len(x[::4096]); time.sleep(0.3)"
echo "STAGEGATE exit 1" >&2
echo "STAGEGATE enter 2" >&2; sleep 0.1; echo "STAGEGATE exit 2" >&2
printf x > "$STAGEGATE_PROOF"
''')
    run = probe.memory(RunRequest(subject, tmp_path, 'w', {'log_t': 1}, MAT, STAGES, timeout=60), tmp_path / 'c',
                       measure='rss')
    assert run.measure == 'rss' and run.captures == {}
    assert run.stage_peaks[1] >= 64 << 20
    assert run.stage_peaks[0] < 32 << 20 and run.stage_peaks[2] < 32 << 20
    assert run.whole_run_peak >= 64 << 20


def test_stage_rss_takes_the_samples_inside_each_stage() -> None:
    from gates.measuring import probe_command
    events = [('enter', 0, 1.0), ('exit', 0, 2.0), ('enter', 1, 2.0), ('exit', 1, 2.001)]
    samples = [(0.5, 10), (1.5, 30), (1.9, 20), (2.5, 40)]
    # Stage 1 is shorter than the sampling interval: the samples around it count.
    assert probe_command.stage_rss(events, samples) == {0: 30, 1: 40}
