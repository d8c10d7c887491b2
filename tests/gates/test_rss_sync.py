"""measure rss-sync (issue 13.6): a command subject's RSS read by the engine while the command waits
at each boundary (gates/measuring/probe_command.py ``SyncRss``). Real subprocesses, the real
/proc, the real clear_refs reset: the figures asserted here are the kernel's."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from gates.contract import noise as noise_mod
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import make_row
from gates.contract.spec import Subject
from gates.contract.spec import load_spec
from gates.measuring import memory_rule
from gates.measuring import probe
from gates.measuring import proc
from gates.measuring.request import RunRequest

STAGES = [0, 1, 2]
MiB = 1 << 20
PAGE = 4096
# What a stage's figure may carry beyond the bytes the test's own mmap touches: the interpreter's
# few pages around the call (the figures repeat to a page or two; see docs/gates.md).
SLACK = 64 << 10
# How far below the true peak the kernel's VmHWM may lie: it is recorded, when memory is unmapped,
# from a count kept in per-CPU batches of 32 pages (per counter); 1-52 pages measured here.
LAG = noise_mod.PEAK_FLOOR['rss-sync']

# A command in the contract's own terms: each boundary line on stderr, then one byte read from
# $STAGEGATE_ACK_FD. Memory is touched with anonymous mmaps, so a stage's bytes are exactly the
# pages it touches (no allocator in between).
PRELUDE = '''\
import mmap, os, sys, time
ACK = os.environ.get('STAGEGATE_ACK_FD')
def boundary(event, k):
    print(f'STAGEGATE {event} {k}', file=sys.stderr, flush=True)
    if ACK:
        os.read(int(ACK), 1)
def touched(n):
    m = mmap.mmap(-1, n)
    for off in range(0, n, 4096):
        m[off] = 1
    return m
'''


def command(tree: Path, body: str) -> Subject:
    (tree / 'cmd.py').write_text(PRELUDE + textwrap.dedent(body) + '''
open(os.environ['STAGEGATE_PROOF'], 'wb').write(b'proof')
''', encoding='utf-8')
    return Subject('command', '.', None, None, None, None, (sys.executable, '-I', 'cmd.py'))


def measure(tree: Path, subject: Subject, how: str = 'rss-sync') -> probe.MemoryRun:
    request = RunRequest(subject, tree, 'w', {}, {}, STAGES, timeout=120)
    return probe.memory(request, tree / 'captures', measure=how)


def test_a_stage_that_allocates_and_frees_shows_its_peak_exactly(tmp_path: Path) -> None:
    run = measure(tmp_path, command(tmp_path, '''
        boundary('enter', 0); boundary('exit', 0)
        boundary('enter', 1)
        m = touched(32 << 20)
        m.close()
        boundary('exit', 1)
        boundary('enter', 2); boundary('exit', 2)
    '''))
    assert run.measure == 'rss-sync'
    assert 32 * MiB - LAG <= run.stage_peaks[1] < 32 * MiB + SLACK
    assert abs(run.retained[1]) < SLACK          # freed before the exit: nothing kept
    assert run.stage_peaks[0] < SLACK and run.stage_peaks[2] < SLACK
    assert run.whole_run_peak >= 32 * MiB - LAG


def test_the_peak_is_the_kernels_in_every_run(tmp_path: Path) -> None:
    # Three mmaps one after another inside the stage: the stage's peak is the largest of them,
    # in every run, below it by the kernel's lag at most (which moves with the page counts
    # before it, so two runs may differ by that much; the noise floor of a peak covers it).
    subject = command(tmp_path, '''
        boundary('enter', 0); boundary('exit', 0)
        boundary('enter', 1)
        for n in (3, 9, 5):
            m = touched((n << 20) + 5 * 4096)
            m.close()
        boundary('exit', 1)
        boundary('enter', 2); boundary('exit', 2)
    ''')
    true_peak = 9 * MiB + 5 * PAGE
    for _ in range(3):
        run = measure(tmp_path, subject)
        assert true_peak - LAG <= run.stage_peaks[1] < true_peak + SLACK
        assert abs(run.retained[1]) < SLACK


@pytest.mark.parametrize('kept', [640 << 10, 8 * MiB + 3 * PAGE])
def test_a_kept_allocation_shows_in_what_the_stage_keeps(tmp_path: Path, kept: int) -> None:
    run = measure(tmp_path, command(tmp_path, f'''
        boundary('enter', 0)
        scratch = touched(16 << 20)
        scratch.close()
        kept = touched({kept})
        boundary('exit', 0)
        boundary('enter', 1); boundary('exit', 1)
        boundary('enter', 2)
        kept.close()
        boundary('exit', 2)
    '''))
    assert kept <= run.retained[0] < kept + SLACK              # read at the boundaries: exact
    assert 16 * MiB - LAG <= run.stage_peaks[0] < 16 * MiB + SLACK   # the scratch, gone before
    assert abs(run.retained[1]) < SLACK
    # A stage that frees what an earlier one kept keeps less than nothing.
    assert -kept - SLACK < run.retained[2] <= -kept + SLACK


def test_a_stage_shorter_than_the_sampling_interval_gets_its_true_peak(tmp_path: Path) -> None:
    subject = command(tmp_path, '''
        boundary('enter', 0); boundary('exit', 0)
        boundary('enter', 1)
        start = time.perf_counter()
        m = touched(2 << 20)
        m.close()
        took = time.perf_counter() - start
        boundary('exit', 1)
        boundary('enter', 2); boundary('exit', 2)
        open('took', 'w').write(repr(took))
    ''')
    durations = []
    for _ in range(8):   # a loaded machine may stretch the stage; its figure is right either way
        run = measure(tmp_path, subject)
        assert 2 * MiB - LAG <= run.stage_peaks[1] < 2 * MiB + SLACK
        durations.append(float((tmp_path / 'took').read_text()))
        if durations[-1] < proc.SAMPLE_EVERY:
            break
    assert min(durations) < proc.SAMPLE_EVERY, durations


def test_a_child_process_inside_a_stage_counts(tmp_path: Path) -> None:
    # Stage 1 starts a child that touches 48 MiB and ends before the stage does: the samples
    # between the boundaries hold its peak (the parent's own stays small).
    run = measure(tmp_path, command(tmp_path, f'''
        import subprocess
        boundary('enter', 0); boundary('exit', 0)
        boundary('enter', 1)
        subprocess.run([{sys.executable!r}, '-I', '-c',
                        'import mmap, time\\nm = mmap.mmap(-1, 48 << 20)\\n'
                        'for o in range(0, 48 << 20, 4096): m[o] = 1\\ntime.sleep(0.3)'], check=True)
        boundary('exit', 1)
        boundary('enter', 2); boundary('exit', 2)
    '''))
    assert run.stage_peaks[1] >= 48 * MiB
    assert run.stage_peaks[0] < SLACK and run.stage_peaks[2] < SLACK
    assert abs(run.retained[1]) < 4 * SLACK    # the child is gone; its parent kept a few pages


def test_the_command_runs_on_one_cpu_and_sees_no_engine_variable(tmp_path: Path) -> None:
    run = measure(tmp_path, command(tmp_path, '''
        for k in range(3):
            boundary('enter', k); boundary('exit', k)
        json_text = repr((sorted(os.sched_getaffinity(0)), 'STAGEGATE_PIN_CPU' in os.environ,
                          'STAGEGATE_ACK_FD' in os.environ))
        open('seen', 'w').write(json_text)
    '''))
    cpus, pin_var, ack_var = eval((tmp_path / 'seen').read_text())
    assert len(cpus) == 1 and not pin_var and ack_var
    assert set(run.stage_peaks) == set(STAGES)


def test_a_command_that_does_not_wait_fails_the_run(tmp_path: Path) -> None:
    # It prints its boundaries and never reads the acknowledgements: its figures would be read
    # wherever it had got to by then, so the run fails (and says what the contract asks).
    subject = command(tmp_path, '''
        ACK = None
        for k in range(3):
            boundary('enter', k); boundary('exit', k)
    ''')
    with pytest.raises(probe.ProbeFailed) as failed:
        measure(tmp_path, subject)
    assert 'before reading the engine\'s acknowledgement' in failed.value.message
    assert 'STAGEGATE_ACK_FD' in failed.value.message
    # One that waits at every line but the last ends with a byte unread: it fails too.
    late = command(tmp_path, '''
        for k in range(3):
            boundary('enter', k)
            if k == 2:
                ACK = None
            boundary('exit', k)
    ''')
    with pytest.raises(probe.ProbeFailed) as failed:
        measure(tmp_path, late)
    assert 'ended without reading' in failed.value.message
    # The same commands under plain rss (sampled) are not asked to wait, and pass.
    assert set(measure(tmp_path, subject, 'rss').stage_peaks) == set(STAGES)


def test_the_spec_offers_rss_sync_to_commands_only(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / 'examples' / 'listprover' / 'specs'
    spec = load_spec(example / 'listprover-rss-sync.yaml', 'specs/listprover-rss-sync.yaml')
    assert spec.subject.kind == 'command' and spec.budgets.memory.measure == 'rss-sync'
    heap = (example / 'listprover.yaml').read_text(encoding='utf-8')
    bad = tmp_path / 'bad.yaml'
    bad.write_text(heap.replace('    max_exponent: 0.6\n', '    max_exponent: 0.6\n    measure: rss-sync\n'),
                   encoding='utf-8')
    from gates.model import GateError
    with pytest.raises(GateError, match='rss-sync is measured for command subjects'):
        load_spec(bad, 'bad.yaml')


def test_rss_sync_figures_are_their_own_method_and_their_own_noise_record() -> None:
    example = Path(__file__).resolve().parents[2] / 'examples' / 'listprover' / 'specs'
    spec = load_spec(example / 'listprover-rss-sync.yaml', 'specs/listprover-rss-sync.yaml')
    figures = WorkloadFigures({'0': 1, '1': 2, '2': 3}, 10, 1.0, {'0': 1.0, '1': 1.0, '2': 1.0}, 'ab')
    rss_row = make_row(spec.stages[0], 'a' * 40, False, {'lp-14': figures}, measure='rss')
    sync_row = make_row(spec.stages[0], 'a' * 40, False, {'lp-14': figures}, measure='rss-sync')
    assert sync_row.memory_method == 'rss-sync' and sync_row.measured_like_this_engine('rss-sync')
    assert not rss_row.measured_like_this_engine('rss-sync') and rss_row.measured_like_this_engine('rss')
    # A sampled rss row is no reference for rss-sync figures (the base measured now stands in).
    assert memory_rule.from_ledger(spec, [rss_row], 'lp-14') is None
    assert memory_rule.from_ledger(spec, [sync_row], 'lp-14') is not None
    # A noise record of sampled rss says nothing about rss-sync (nor the other way).
    golden = json.loads((example / 'golden-rss.json').read_text(encoding='utf-8'))
    assert noise_mod.parse(golden, 'rss') is not None and noise_mod.parse(golden, 'rss-sync') is None
    synced = json.loads((example / 'golden-rss-sync.json').read_text(encoding='utf-8'))
    record = noise_mod.parse(synced, 'rss-sync')
    assert record is not None and noise_mod.parse(synced, 'rss') is None
    assert record.bound('lp-16', 'retained 1', 1 << 20) == noise_mod.FLOOR['rss-sync']


def test_switching_to_rss_sync_is_a_loosening_the_integrity_gate_names() -> None:
    # Another measure compares figures unlike the ledger's and the noise record's, either way.
    from gates.contract import loosening
    example = Path(__file__).resolve().parents[2] / 'examples' / 'listprover' / 'specs'
    sampled = load_spec(example / 'listprover-rss.yaml', 'specs/listprover-rss.yaml')
    synced = load_spec(example / 'listprover-rss-sync.yaml', 'specs/listprover-rss-sync.yaml')
    for base, head in ((sampled, synced), (synced, sampled)):
        found = [item.key for item in loosening.budgets(base, head)]
        assert found == ['budgets.memory.measure']
    # The rss-sync record under the rss-sync spec: nothing to say when it stays as it is.
    text = (example / 'golden-rss-sync.json').read_text(encoding='utf-8')
    assert loosening.golden(text, text, synced.budgets.memory) == []
