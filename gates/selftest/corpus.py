"""The self-test corpus: known-bad and known-good changes to the toy subject, with the verdict the
engine must give each (every gate's pass or fail on the ci tier).

A case is a function that edits a fresh toy repository (``gates.selftest.toy.build``, on branch
``conversion``) and commits what it changed; the engine under test then runs
``gates check --tier ci --json`` there, and its per-gate verdicts must equal ``expect``. The whole
map is compared, not only the gate the case is about: an engine that starts failing a benign
change, or stops failing the scope breach a protected edit also is, has changed a verdict too.

Most cases build on a genuine conversion of stage 0 (the stage under conversion), so that the
measuring gates have something that passes and each case differs from ``benign-comment`` by the
one thing it is about. The corpus lives in the engine package so that the BASE engine's copy
judges a head engine: a change cannot weaken the cases it is judged by.
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gates.selftest import toy

GATES = ('api', 'scope', 'integrity', 'proof', 'memory', 'time')
ALL_PASS: dict[str, bool] = {g: True for g in GATES}


def _failing(*gates: str) -> dict[str, bool]:
    return {g: g not in gates for g in GATES}


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    what: str
    apply: Callable[[Path], None]
    expect: dict[str, bool]

    @property
    def exit_code(self) -> int:
        return 0 if all(self.expect.values()) else 1


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding='utf-8')
    if old not in text:
        # The corpus and its toy are one module pair: a miss is a bug in the corpus, not a verdict.
        raise RuntimeError(f'corpus edit of {rel}: {old!r} not found')
    path.write_text(text.replace(old, new, 1), encoding='utf-8')


def _set(repo: Path, stage: int, name: str, value: str) -> None:
    path = repo / f'toyprover/stages/stage{stage}.py'
    text, n = re.subn(rf'^{name} = .*$', f'{name} = {value}', path.read_text(encoding='utf-8'), count=1, flags=re.M)
    if n != 1:
        raise RuntimeError(f'corpus edit of stage {stage}: no {name} line')
    path.write_text(text, encoding='utf-8')


def _convert0(repo: Path) -> None:
    """The honest conversion of stage 0: it now offers the streaming backend."""
    _set(repo, 0, 'SUPPORTED', "('materialized', 'streaming')")


def _converted(extra: Callable[[Path], None] | None = None, message: str = 'stage 0: stream') -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        _convert0(repo)
        if extra is not None:
            extra(repo)
        toy.commit_all(repo, message)
    return apply


STAGE0 = 'toyprover/stages/stage0.py'
STREAMING = 'toyprover/backends/streaming/__init__.py'
VERIFIER = 'toyprover/verifier.py'
PROBE = 'toyprover/probe.py'


def _comment(repo: Path) -> None:
    _edit(repo, STAGE0, 'def run(params, backend):', '# Streaming holds sqrt(T) rows; see the brief.\ndef run(params, backend):')


def _local_rename(repo: Path) -> None:
    path = repo / STREAMING
    path.write_text(path.read_text(encoding='utf-8').replace('chunk', 'window'), encoding='utf-8')


def _rigged_baseline_branch(repo: Path) -> None:
    """The streaming path reaches the materialized view inside a branch the stage rigs itself
    (``view = 'materialized'``): it runs for the candidate, so it must not count as the
    baseline's branch. ``getattr(params, 'materialized', None)`` is harmless at run time, so only
    the api gate can see it."""
    _edit(repo, STAGE0, "    return streaming.compute(",
          "    view = 'materialized'\n    if view == 'materialized':\n"
          "        getattr(params, 'materialized', None)\n    return streaming.compute(")


def _protected_body(repo: Path) -> None:
    _edit(repo, VERIFIER, 'if len(layout) != 3:', 'if len(layout) < 3:')


def _protected_signature(repo: Path) -> None:
    _edit(repo, VERIFIER, 'def verify(params, proof):', 'def verify(params, proof, strict=True):')


def _protected_deletion(repo: Path) -> None:
    (repo / VERIFIER).unlink()
    _edit(repo, PROBE, 'from toyprover import verifier\n', '')
    _edit(repo, PROBE, 'return verifier.verify(params, proof)', "return True, 'ok'")


def _protected_rename(repo: Path) -> None:
    toy.git(repo, 'mv', VERIFIER, 'toyprover/checker.py')
    _edit(repo, PROBE, 'from toyprover import verifier\n', 'from toyprover import checker as verifier\n')


def _scope_breach(repo: Path) -> None:
    _edit(repo, 'toyprover/stages/stage1.py', 'def run(params, backend):', '# tidied while converting stage 0\ndef run(params, backend):')


def _proof_byte(repo: Path) -> None:
    _set(repo, 0, 'STREAMING_TAMPER', 'True')


def _verifier_rebound(repo: Path) -> None:
    """Stage 0 flips a byte of its section and, at run time, rebinds the verifier's check so
    the prove process would accept it: the separate verify process rejects the proof (proof)
    and no-protected-monkeypatch sees the assignment (api)."""
    _proof_byte(repo)
    _edit(repo, STAGE0, 'def run(params, backend):\n', (
        'def run(params, backend):\n'
        '    from toyprover import verifier\n'
        "    verifier.verify = lambda *a, **k: (True, 'ok')\n"
    ))


# Half the materialized working set, allocated in the streaming stage and kept alive after it:
# under the stage's reference peak, so only what the stage keeps at its exit catches it.
_LEAK = '''
_KEPT = []


def _leaky_run(params, backend):
    out = _honest_run(params, backend)
    if backend == 'streaming':
        _KEPT.append(bytearray((1 << int(params.get('log_t', 10))) * 512))
    return out


_honest_run, run = run, _leaky_run
'''


def _kept_leak(repo: Path) -> None:
    path = repo / STAGE0
    path.write_text(path.read_text(encoding='utf-8') + _LEAK, encoding='utf-8')


# A forked child touches 16 MiB: nothing memray sees in the stage's own process. Fork, not a new
# interpreter, so the stage's time barely moves and only the memory gate is concerned.
_CHILD = '''

def _forking_run(params, backend):
    import os
    out = _plain_run(params, backend)
    if backend == 'streaming':
        pid = os.fork()
        if pid == 0:
            held = b'\\x01' * (16 << 20)
            os._exit(0 if held else 1)
        os.waitpid(pid, 0)
    return out


_plain_run, run = run, _forking_run
'''


def _child_leak(repo: Path) -> None:
    path = repo / STAGE0
    path.write_text(path.read_text(encoding='utf-8') + _CHILD, encoding='utf-8')


def _slowdown(repo: Path) -> None:
    # Two more stage times: stage 0 runs 3x the baseline's (end to end stays under 2x).
    _set(repo, 0, 'STREAMING_SLOWDOWN_MS', repr(float(2 * toy.SLEEP_MS)))


# From inside its own stage, the candidate finds the baseline's tree where the engine makes its
# trees (the temp folder) and slows the baseline's stage 0 down. Only trees of its own repository
# (the golden digests name its baseline commit) are touched.
_TAMPER_TEMPLATE = '''

def _slow_the_baseline_down():
    import json, os, tempfile
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(here, 'specs', 'golden.json')) as fh:
        mine = json.load(fh)['baseline_commit']
    top = tempfile.gettempdir()
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath[len(top):].count(os.sep) >= 3:
            dirnames[:] = []
        stage0 = os.path.join(dirpath, 'toyprover', 'stages', 'stage0.py')
        golden = os.path.join(dirpath, 'specs', 'golden.json')
        if os.path.realpath(dirpath) == os.path.realpath(here) or not os.path.isfile(stage0):
            continue
        try:
            with open(golden) as fh:
                if json.load(fh).get('baseline_commit') != mine:
                    continue
        except (OSError, ValueError):
            continue
        with open(stage0) as fh:
            if PAYLOAD in fh.read():
                continue
        with open(stage0, 'a') as fh:
            fh.write(PAYLOAD)


_slow_the_baseline_down()
'''


def baseline_tamper(payload: str) -> str:
    """Source to append to a candidate's stage 0: at import it appends ``payload`` (once) to the
    stage 0 of every baseline tree of its own repository it finds in the temp folder."""
    return _TAMPER_TEMPLATE.replace('PAYLOAD', repr(payload))


# The baseline's stage 0 sleeps as long as the candidate's slowdown: a 3x stage then measures 1x.
_TAMPER = baseline_tamper(
    f'\n_SLOW_RUN = run\n\n\ndef run(params, backend):\n    import time\n'
    f'    time.sleep({2 * toy.SLEEP_MS / 1000})\n    return _SLOW_RUN(params, backend)\n')
# The same attack aimed at the memory reference: the baseline's stage 0 is made to hold 16 MiB
# more, so a candidate stage 0 that holds more than the baseline does (T * 1536 bytes here) would
# look lower. Only a check of the baseline tree from before the candidate's first run catches it.
_INFLATE = baseline_tamper(
    '\n_RUN = run\n\n\ndef run(params, backend):\n    held = bytearray(16 << 20)\n'
    '    return _RUN(params, backend) if held else b""\n')


def _tamper(repo: Path) -> None:
    path = repo / STAGE0
    path.write_text(path.read_text(encoding='utf-8') + _TAMPER, encoding='utf-8')


def _inflate(repo: Path) -> None:
    _set(repo, 0, 'STREAMING_EXTRA_BYTES', str(6 << 20))
    path = repo / STAGE0
    path.write_text(path.read_text(encoding='utf-8') + _INFLATE, encoding='utf-8')


# From inside its streaming stage 0, the candidate leaves a daemon behind (double fork, a new
# session: outside the process group the engine kills) that pauses every other probe child it
# can see, over and over, for a minute: the baseline's runs that follow take longer, so a 3x
# stage would measure under 2x. Contained runs (gates/measuring/proc.py REAPER) see no other
# run's processes, and the daemon is found and killed when its own run ends.
_DAEMON = '''

def _pausing_run(params, backend):
    import os
    if backend == 'streaming' and os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import signal, time
            me, mine, end = os.getpid(), os.getcwd(), time.monotonic() + 60
            while time.monotonic() < end:
                for name in os.listdir('/proc'):
                    if not name.isdigit() or int(name) == me:
                        continue
                    try:
                        with open('/proc/%s/cmdline' % name, 'rb') as fh:
                            line = fh.read()
                        where = os.readlink('/proc/%s/cwd' % name)
                    except OSError:
                        continue
                    if b'stagegate_probe_child' in line and where != mine:
                        try:
                            os.kill(int(name), signal.SIGSTOP)
                            time.sleep(0.02)
                            os.kill(int(name), signal.SIGCONT)
                        except OSError:
                            pass
                time.sleep(0.005)
        os._exit(0)
    return _unpaused_run(params, backend)


_unpaused_run, run = run, _pausing_run
'''


def _survivor(repo: Path) -> None:
    path = repo / STAGE0
    path.write_text(path.read_text(encoding='utf-8') + _DAEMON, encoding='utf-8')


def _slowdown_and(attack: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        _slowdown(repo)
        attack(repo)
    return apply


def _loosened_budget(repo: Path) -> None:
    _edit(repo, 'specs/streaming-prover.yaml', 'ratio_lt: 2.0', 'ratio_lt: 3.0')
    toy.commit_all(repo, 'specs: a roomier time budget')


def _loosened_protection(repo: Path) -> None:
    """The base (main) protects the verifier's helper by symbol; the change drops it, alone."""
    spec = 'specs/streaming-prover.yaml'
    symbol = '  symbols: ["toyprover/backends/common.py::body"]\n'
    toy.git(repo, 'checkout', '-q', 'main')
    _edit(repo, spec, '  forbid_in_converted: [materialized]\n', '  forbid_in_converted: [materialized]\n' + symbol)
    toy.commit_all(repo, 'specs: protect the body the verifier compares against')
    toy.git(repo, 'checkout', '-q', 'conversion')
    toy.git(repo, 'merge', '-q', '--ff-only', 'main')
    _edit(repo, spec, symbol, '')
    toy.commit_all(repo, 'specs: body is not the verifier\'s')


def _ci_script_narrowed(repo: Path) -> None:
    """The toy's CI script, edited alone, runs only the static gates and the proof gate."""
    _edit(repo, '.ci/run', 'gates check --tier ci\n', 'gates check --tier ci --gate api --gate scope --gate proof\n')
    toy.commit_all(repo, 'ci: a quicker check')


def _forged_row(repo: Path) -> None:
    """Stage 0 converted, then a row written the way `gates accept` commits one (right subject,
    one parent, only the ledger, digest recomputed) with figures nobody measured."""
    from gates.contract.ledger import WorkloadFigures
    from gates.contract.ledger import append_row
    from gates.contract.ledger import make_row
    from gates.contract.ledger import read_ledger
    from gates.contract.spec import load_spec
    _converted()(repo)
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    figures = {
        wid: WorkloadFigures({'0': 70000, '1': 4300000, '2': 4300000}, 4400000, 1.05,
                             {'0': 1.1, '1': 1.0, '2': 1.0}, 'ab' * 32)
        for wid in toy.WORKLOADS
    }
    path = repo / spec.ledger
    stage = spec.stage(0)
    append_row(path, read_ledger(path, spec.ledger), make_row(stage, toy.git(repo, 'rev-parse', 'HEAD'), False, figures),
               spec)
    toy.git(repo, 'add', spec.ledger)
    toy.git(repo, 'commit', '-q', '--no-verify', '-m', f'gates: accept stage 0 ({stage.name})\n\nmeasured')


def _accept_for_real(repo: Path) -> None:
    """``gates accept`` by the engine running the corpus (a separate process, as the corpus runs
    every engine): the stage under conversion measured on the full tier and its row committed."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in toy.git_env().items() if not k.startswith('PYTHON')}
    env['PYTHONPATH'] = str(root)
    proc = subprocess.run((sys.executable, '-B', '-P', '-m', 'gates', 'accept'), cwd=repo, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        # A corpus set-up that cannot accept a genuine conversion is a bug, not a verdict.
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise RuntimeError(f'corpus set-up: `gates accept` exited {proc.returncode}: {" | ".join(tail)}')


def _forged_row_real_figures(repo: Path) -> None:
    """Stage 0 converted and accepted for real, on main (so the base holds its row). Then a row
    for stage 1, copied from row 0, committed alone as an accept commit: stage 1 was never
    converted, so row 0's figures are exactly those of stage 1's unconverted run, and every one
    of them reproduces. Only re-judging the accept rule catches it (issue 13.3)."""
    from gates.contract.ledger import append_row
    from gates.contract.ledger import make_row
    from gates.contract.ledger import read_ledger
    from gates.contract.spec import load_spec
    _converted()(repo)
    _accept_for_real(repo)
    toy.git(repo, 'branch', '-f', 'main', 'HEAD')
    spec = load_spec(repo / 'specs/streaming-prover.yaml', 'specs/streaming-prover.yaml')
    path = repo / spec.ledger
    ledger = read_ledger(path, spec.ledger)
    stage = spec.stage(1)
    row = make_row(stage, toy.git(repo, 'rev-parse', 'HEAD'), False, ledger.rows[0].workloads)
    append_row(path, ledger, row, spec)
    toy.git(repo, 'add', spec.ledger)
    toy.git(repo, 'commit', '-q', '--no-verify', '-m', f'gates: accept stage 1 ({stage.name})\n\nmeasured')


def _closed_room_rewrite(repo: Path) -> None:
    """The base (main) closes the rooms (issue 14.5) and holds stage 0 converted and accepted for
    real. The stage-1 change then edits the streaming backend, which the toy's stage 1 globs cover
    too (every stage shares it): only the closed room of stage 0 keeps it out."""
    toy.git(repo, 'checkout', '-q', 'main')
    _edit(repo, 'specs/streaming-prover.yaml', 'ledger: specs/ledger.json\n',
          'ledger: specs/ledger.json\nrooms: closed\n')
    toy.commit_all(repo, 'specs: an accepted stage\'s paths close to later stages')
    toy.git(repo, 'checkout', '-q', 'conversion')
    toy.git(repo, 'merge', '-q', '--ff-only', 'main')
    _converted()(repo)
    _accept_for_real(repo)
    toy.git(repo, 'branch', '-f', 'main', 'HEAD')
    _local_rename(repo)
    toy.commit_all(repo, 'stage 1: tidy the streaming backend')


CASES: tuple[Case, ...] = (
    Case('benign-comment', 'stage 0 converted, plus a comment in it', _converted(_comment), ALL_PASS),
    Case('benign-local-rename', 'stage 0 converted, a local variable of the streaming backend renamed',
         _converted(_local_rename), ALL_PASS),
    Case('rigged-baseline-branch', "stage 0's streaming path reaches the materialized view in a branch "
         "it rigs itself (view = 'materialized')", _converted(_rigged_baseline_branch), _failing('api')),
    Case('protected-body-edit', 'the verifier accepts more sections (body edit of a protected function)',
         _converted(_protected_body), _failing('api', 'scope')),
    Case('protected-signature', 'a protected function gains a parameter',
         _converted(_protected_signature), _failing('api', 'scope')),
    Case('protected-deletion', 'the verifier deleted; the probe accepts every proof',
         _converted(_protected_deletion), _failing('api', 'scope')),
    Case('protected-rename', 'the verifier module renamed', _converted(_protected_rename), _failing('api', 'scope')),
    Case('scope-breach', "stage 0's change also edits stage 1", _converted(_scope_breach), _failing('scope')),
    Case('proof-one-byte', "stage 0's section differs in one byte", _converted(_proof_byte), _failing('proof')),
    Case('verifier-rebound-at-run-time',
         "stage 0 rebinds the toy verifier's verify at run time and flips a byte of its section",
         _converted(_verifier_rebound), _failing('api', 'proof')),
    Case('leak-kept-alive', 'stage 0 keeps T * 512 bytes alive after its exit',
         _converted(_kept_leak), _failing('memory')),
    Case('child-process-leak', "stage 0 forks a child that touches 16 MiB", _converted(_child_leak), _failing('memory')),
    Case('slowdown-3x', 'stage 0 takes three times the baseline', _converted(_slowdown), _failing('time')),
    Case('baseline-tamper', "the candidate slows the baseline tree's stage 0 down, once, from inside its stage",
         _converted(_slowdown_and(_tamper)), _failing('proof', 'memory', 'time')),
    Case('baseline-inflate', "a candidate stage 0 bigger than the baseline's makes the baseline's bigger still",
         _converted(_inflate), _failing('proof', 'memory', 'time')),
    Case('survivor-pauses-baseline', 'stage 0 (3x slower) leaves a daemon that pauses the other '
         'side\'s processes', _converted(_slowdown_and(_survivor)), _failing('proof', 'memory', 'time')),
    Case('loosened-budget', 'budgets.time.ratio_lt raised from 2.0 to 3.0, alone',
         _loosened_budget, _failing('integrity')),
    Case('loosened-protection', 'protected.symbols loses the helper the verifier relies on, alone',
         _loosened_protection, _failing('integrity')),
    Case('ci-script-narrowed', 'the CI script runs only api, scope and proof, alone',
         _ci_script_narrowed, _failing('integrity')),
    Case('forged-ledger-row', 'an accept-like commit adds a row with invented figures',
         _forged_row, _failing('integrity')),
    Case('forged-row-real-figures', 'stage 0 accepted for real; an accept-like commit adds a row for stage 1, '
         'never converted, with the real figures of its unconverted run', _forged_row_real_figures,
         _failing('integrity')),
    Case('closed-room-rewrite', "rooms: closed; stage 0 accepted for real; the stage-1 change rewrites "
         "stage 0's streaming code (in stage 1's globs too)", _closed_room_rewrite, _failing('scope')),
)


def by_name(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)

