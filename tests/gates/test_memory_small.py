"""Memory verdicts on a small prover (issue 13.6): growth judged against the reference's own
exponent, the tolerance from the subject's recorded noise, and the noise record as a ratchet.
The rules on figures first, then the real gate on examples/listprover (real git, real
subprocesses)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gates.checks import memory
from gates.contract import loosening
from gates.contract import noise as noise_mod
from gates.contract.spec import load_spec
from gates.measuring import trust
from tests.gates.conftest import commit_all
from tests.gates.conftest import git

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'listprover'
HEAP = load_spec(EXAMPLE / 'specs' / 'listprover.yaml', 'specs/listprover.yaml')
SIZES = {'lp-12': 1 << 12, 'lp-13': 1 << 13, 'lp-14': 1 << 14}


def figures(retained_per_row: float, peak_per_row: float = 40.0, const: int = 3000) -> dict[str, dict[str, int]]:
    out = {}
    for wid, t in SIZES.items():
        out[wid] = {f'stage {k}': int(peak_per_row * t) + const for k in range(3)}
        out[wid].update({f'retained {k}': int(retained_per_row * t) + const for k in range(3)})
        out[wid]['whole'] = int(60 * t)
    return out


def test_a_trace_copy_below_the_tolerance_fails_by_its_growth() -> None:
    reference = figures(0)
    leaky = figures(0)
    for wid, t in SIZES.items():   # stage 1 keeps 8 bytes a row: 128 KiB at 2^14, far below 1 MiB
        leaky[wid]['retained 1'] += 8 * t
    found, _, fitted = memory.judge_relative_growth(HEAP, HEAP.workloads, leaky, reference)
    assert [f.stage for f in found] == [1]
    assert 'grows like T' in found[0].message
    assert fitted['figures']['retained 1']['candidate'] > 0.9
    assert memory.judge_relative_growth(HEAP, HEAP.workloads, reference, reference)[0] == []


def test_growth_the_reference_has_too_is_not_a_leak_and_noise_is_not_growth() -> None:
    # Every in-stage peak grows like T on both sides (materialized): equal exponents pass.
    assert memory.judge_relative_growth(HEAP, HEAP.workloads, figures(0, 44), figures(0, 40))[0] == []
    # A kept-alive figure of a few hundred bytes that wobbles: a steep fit, but within the floor.
    wobbly = figures(0)
    wobbly['lp-14']['retained 2'] += 900
    found, notes, _ = memory.judge_relative_growth(HEAP, HEAP.workloads, wobbly, figures(0))
    assert found == [] and any('within its' in n for n in notes)
    # Two sizes cannot be fitted: nothing is judged.
    two = {w: f for w, f in figures(8).items() if w != 'lp-14'}
    assert memory.judge_relative_growth(HEAP, HEAP.workloads, two, figures(0))[0] == []


def test_the_recorded_noise_is_the_bound_and_its_absence_keeps_tolerance_bytes() -> None:
    noise = noise_mod.Noise('heap', 5, {'lp-12': {'stage 1': 0, 'retained 1': 0, 'whole': 30000}})
    ref = memory.Reference({0: 1000, 1: 100000, 2: 1000}, 500000, HEAP.variant(()), 'test', {0: 0, 1: 3000, 2: 0})
    cand = {0: 1000, 1: 100000 + 33000, 2: 1000}
    judged = memory.judge(HEAP, 'lp-12', None, cand, HEAP.variant(()), ref, False,
                          whole_run_peak=500000 + 33000, retained={0: 0, 1: 36000, 2: 0}, noise=noise)
    assert {(f.stage, 'keeps' in f.message) for f in judged.findings} == {(1, False), (1, True)}
    # The whole run's recorded spread is 30,000 B: 2 x 30,000 B is its bound, so +33,000 B passes.
    assert judged.stages['whole']['rule'] == '<= reference + 60,000 B'
    # Without a record the spec's tolerance_bytes (1 MiB) is the bound: the same leak passes.
    assert memory.judge(HEAP, 'lp-12', None, cand, HEAP.variant(()), ref, False,
                        retained={0: 0, 1: 36000, 2: 0}).findings == []
    assert noise.bound('lp-12', 'stage 1', 1 << 20) == noise_mod.FLOOR['heap']
    assert noise.bound('lp-13', 'stage 1', 1 << 20) == 1 << 20
    assert trust.noise_bound(HEAP, noise, 'lp-12', 'whole') == 60000
    assert trust.noise_bound(HEAP) == trust.NOISE_BYTES


def golden(spread: dict[str, int] | None) -> str:
    doc: dict[str, Any] = {'schema': 1, 'workloads': {'lp-12': {'sha256': 'ab', 'size': 1}}}
    if spread is not None:
        doc['memory_noise'] = {'measure': 'heap', 'runs': 5, 'workloads': {'lp-12': spread}}
    return json.dumps(doc)


def test_raising_or_dropping_the_recorded_noise_is_a_loosening() -> None:
    mem = HEAP.budgets.memory
    base = golden({'stage 1': 100, 'whole': 0})
    assert loosening.golden(base, golden({'stage 1': 100, 'whole': 0}), mem) == []
    assert loosening.golden(base, golden({'stage 1': 50, 'whole': 0}), mem) == []
    raised = loosening.golden(base, golden({'stage 1': 101, 'whole': 0}), mem)
    assert [item.key for item in raised] == ['golden.memory_noise.lp-12.stage 1']
    dropped = loosening.golden(base, golden(None), mem)
    assert {item.key for item in dropped} == {'golden.memory_noise.lp-12.stage 1', 'golden.memory_noise.lp-12.whole'}
    # A first record tightens the bound (below tolerance_bytes): fine; one above it is not.
    assert loosening.golden(golden(None), golden({'stage 1': 100}), mem) == []
    assert [i.key for i in loosening.golden(golden(None), golden({'stage 1': 1 << 20}), mem)] == \
        ['golden.memory_noise.lp-12.stage 1']


def listprover_repo(tmp_path: Path, leak: bool) -> Path:
    repo = tmp_path / 'listprover'
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns('__pycache__', '.stagegate'))
    git(repo, 'init', '-q', '-b', 'main')
    commit_all(repo, 'listprover: baseline')
    git(repo, 'tag', 'listprover-v1')
    git(repo, 'checkout', '-q', '-b', 'change')
    if leak:
        shutil.copyfile(repo / 'candidates' / 'stage1_leak.py', repo / 'listprover' / 'stage1.py')
    else:
        (repo / 'README.md').write_text('unchanged prover\n', encoding='utf-8')
    commit_all(repo, 'the change')
    return repo


def memory_verdict(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        (sys.executable, '-m', 'gates', 'check', '--tier', 'ci', '--gate', 'memory', '--json', *args),
        cwd=repo, capture_output=True, text=True, check=False, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, next(v for v in json.loads(proc.stdout)['verdicts'] if v['gate'] == 'memory')


def test_the_gate_catches_a_trace_copy_on_the_heap_and_passes_the_unchanged_prover(tmp_path: Path) -> None:
    code, verdict = memory_verdict(listprover_repo(tmp_path / 'leak', leak=True))
    messages = '\n'.join(f['message'] for f in verdict['findings'])
    assert code == 1
    assert 'stage 1 (constraints) kept alive at its exit grows as T^' in messages
    assert 'plus 16,384 B' in messages   # the recorded noise's floor, not 1 MiB
    assert verdict['details']['noise']['measure'] == 'heap'
    code, verdict = memory_verdict(listprover_repo(tmp_path / 'clean', leak=False))
    assert code == 0, verdict['findings']
    assert verdict['details']['relative_growth']['figures']['retained 1']['candidate'] < 0.5


def test_the_rss_spec_bounds_each_figure_by_its_recorded_noise(tmp_path: Path) -> None:
    # Whether RSS catches the copy is measured by benchmarks/memory_catch_rate.py (not every
    # time: see docs/gates.md); what holds every time is the bound each figure is judged by.
    code, verdict = memory_verdict(listprover_repo(tmp_path, leak=True), '--spec', 'specs/listprover-rss.yaml')
    recorded = json.loads((EXAMPLE / 'specs' / 'golden-rss.json').read_text())['memory_noise']['workloads']
    stages = verdict['details']['workloads']['lp-16']['stages']
    assert verdict['details']['workloads']['lp-16']['measure'] == 'rss'
    bound = max(noise_mod.FLOOR['rss'], noise_mod.FACTOR * recorded['lp-16']['stage 1'])
    assert stages['1']['rule'] == f'<= reference + {bound:,} B'
    assert code in (0, 1)


def test_rss_read_at_the_boundaries_catches_the_trace_copy_and_passes_the_unchanged_prover(tmp_path: Path) -> None:
    # measure rss-sync: prove.py waits for the engine at each boundary, which reads what stage 1
    # keeps (RSS at exit minus at enter): the copy's 8 bytes a row at every size of the tier.
    spec = ('--spec', 'specs/listprover-rss-sync.yaml')
    code, verdict = memory_verdict(listprover_repo(tmp_path / 'leak', leak=True), *spec)
    assert code == 1
    assert verdict['details']['noise']['measure'] == 'rss-sync'
    kept = {f['workload'] for f in verdict['findings'] if 'keeps more alive at its exit' in f['message']}
    assert kept == {'lp-14', 'lp-15', 'lp-16'}
    for wid, t in (('lp-14', 1 << 14), ('lp-15', 1 << 15), ('lp-16', 1 << 16)):
        retained = verdict['details']['workloads'][wid]['stages']['1']['retained']
        assert retained['candidate'] - retained['reference'] >= 8 * t
    code, verdict = memory_verdict(listprover_repo(tmp_path / 'clean', leak=False), *spec)
    assert code == 0, verdict['findings']


def test_freeze_refuses_a_noise_run_count_below_two(tmp_path: Path) -> None:
    repo = listprover_repo(tmp_path, leak=False)
    proc = subprocess.run((sys.executable, '-m', 'gates', 'freeze', '--noise-runs', '1'),
                          cwd=repo, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith('got 1.')
    assert len(proc.stderr.strip().splitlines()) == 1
