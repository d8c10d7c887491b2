"""Sharded runs (issue 18): `gates check --shard K/N --out R` run one after another and `gates
merge` give the verdicts of the unsharded run of the same tree; every refusal of the merge is
one line and exit 2. Real git repositories and real `python -m gates` subprocesses."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    TinyRepo,
    build_tiny_subject,
    commit_all,
    convert_stage,
    git,
    write_files,
)
from structural_helpers import gates_cli

from gates.contract.spec import Workload
from gates.reports import shard as sharding
from gates.selftest import toy

SLEEP = toy.SLEEP_MS


def _doc(proc: Any) -> dict[str, Any]:
    assert proc.stdout.strip(), proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _verdicts(doc: dict[str, Any]) -> dict[str, bool]:
    return {v['gate']: v['passed'] for v in doc['verdicts']}


def _shards(repo: Path, out: Path, tier: str, count: int) -> list[Path]:
    paths = []
    for k in range(1, count + 1):
        path = out / f'shard-{k}.json'
        proc = gates_cli(repo, 'check', '--tier', tier, '--shard', f'{k}/{count}', '--out', str(path))
        assert proc.returncode in (0, 1, 4), proc.stderr[-3000:]
        assert path.is_file(), proc.stderr[-3000:]
        paths.append(path)
    return paths


@pytest.mark.parametrize(('change', 'failing'), [
    ('benign', set()),
    ('leak', {'memory'}),
    ('slowdown-3x', {'time'}),
])
def test_shards_merged_give_the_unsharded_verdicts(tmp_path: Path, change: str, failing: set[str]) -> None:
    tiny = build_tiny_subject(tmp_path, sleep_ms=SLEEP)
    repo = tiny.path
    if change == 'leak':
        # The stage under conversion allocates more than the materialized one (8 MiB at toy-13): not a drop.
        convert_stage(repo, 0, extra_bytes=9_000_000)
    elif change == 'slowdown-3x':
        convert_stage(repo, 0, slowdown_ms=2 * SLEEP)
    else:
        convert_stage(repo, 0)
    commit_all(repo, f'stage 0: {change}')
    whole = gates_cli(repo, 'check', '--tier', 'full', '--json')
    expected = _doc(whole)
    results = tmp_path / 'results'
    paths = _shards(repo, results, 'full', 2)
    merged_proc = gates_cli(repo, 'merge', '--json', *map(str, paths))
    merged = _doc(merged_proc)
    assert {g for g, ok in _verdicts(expected).items() if not ok} == failing, whole.stderr[-3000:]
    assert _verdicts(merged) == _verdicts(expected)
    assert merged_proc.returncode == whole.returncode == merged['exit_code'] == expected['exit_code']
    same = ('schema', 'spec', 'tier', 'head', 'base', 'oracle', 'change', 'stage_under_conversion',
            'accepted_stages', 'workloads', 'mode', 'dirty', 'head_tree')
    assert {k: merged[k] for k in same} == {k: expected[k] for k in same}
    assert set(merged) == set(expected)
    by_gate = {v['gate']: v for v in merged['verdicts']}
    want = {v['gate']: v for v in expected['verdicts']}
    assert [v['gate'] for v in merged['verdicts']] == [v['gate'] for v in expected['verdicts']]
    for gate in ('proof', 'memory', 'time'):
        assert sorted(by_gate[gate]['details']['workloads']) == sorted(want[gate]['details']['workloads'])
    # memray heap figures do not depend on the run: the merged memory findings are the unsharded
    # ones, workload for workload, and so are the candidate's stage peaks.
    assert [(f['workload'], f['stage']) for f in by_gate['memory']['findings']] == \
        [(f['workload'], f['stage']) for f in want['memory']['findings']]
    for wid, d in want['memory']['details']['workloads'].items():
        assert by_gate['memory']['details']['workloads'][wid]['candidate']['stage_peaks'] == \
            d['candidate']['stage_peaks']
    assert by_gate['proof'] == {**want['proof'], 'seconds': by_gate['proof']['seconds']}
    # The table form too: the same per-gate lines.
    table = gates_cli(repo, 'merge', *map(str, paths))
    assert table.returncode == whole.returncode
    assert ('All gates passed.' in table.stdout) == (not failing)


# --- the merge's refusals ---------------------------------------------------------------------


@pytest.fixture(scope='module')
def ci_shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyRepo, list[Path]]:
    """One converted toy, its ci tier as 3 shards (shard 1: static gates; 2 and 3 the units)."""
    tmp = tmp_path_factory.mktemp('shards')
    tiny = build_tiny_subject(tmp, sleep_ms=SLEEP)
    convert_stage(tiny.path, 0)
    commit_all(tiny.path, 'stage 0: stream')
    return tiny, _shards(tiny.path, tmp / 'results', 'ci', 3)


def _merge_error(repo: Path, *paths: Path) -> str:
    proc = gates_cli(repo, 'merge', *map(str, paths))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('gates: error: '), proc.stderr
    return lines[0]


def _rewrite(src: Path, dest: Path, edit: Any, resign: bool = True) -> Path:
    content = json.loads(src.read_text())
    edit(content)
    if resign:
        # The digest is no signature: whoever writes a result can recompute it. A re-signed edit
        # is what a shard of another run looks like; the merge must still refuse the mix.
        content['digest'] = sharding.content_digest(content)
    dest.write_text(json.dumps(content))
    return dest


def test_the_ci_shards_merge_and_pass(ci_shards: tuple[TinyRepo, list[Path]]) -> None:
    tiny, paths = ci_shards
    proc = gates_cli(tiny.path, 'merge', '--json', *map(str, reversed(paths)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(_verdicts(_doc(proc)).values())
    units = [json.loads(p.read_text())['units'] for p in paths]
    assert units == [[], [['toy-12', 'proof'], ['toy-12', 'memory']], [['toy-12', 'time']]]


def test_a_missing_shard_is_refused(ci_shards: tuple[TinyRepo, list[Path]]) -> None:
    tiny, paths = ci_shards
    line = _merge_error(tiny.path, paths[0], paths[2])
    assert 'shard 2/3 missing: 2 of 3 result files given' in line


def test_a_duplicate_shard_is_refused(ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path) -> None:
    tiny, paths = ci_shards
    copy = tmp_path / 'copy.json'
    copy.write_bytes(paths[1].read_bytes())
    line = _merge_error(tiny.path, paths[0], paths[1], copy, paths[2])
    assert f'{copy}: shard 2/3 is a duplicate of {paths[1]}' in line


def test_a_tampered_result_is_refused(ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path) -> None:
    tiny, paths = ci_shards

    def flip(content: dict[str, Any]) -> None:
        content['document']['verdicts'][0]['passed'] = not content['document']['verdicts'][0]['passed']
    bad = _rewrite(paths[1], tmp_path / 'bad.json', flip, resign=False)
    line = _merge_error(tiny.path, paths[0], bad, paths[2])
    assert f'{bad}: digest: ' in line and 'does not match its content' in line
    (tmp_path / 'cut.json').write_text(paths[1].read_text()[:200])
    line = _merge_error(tiny.path, paths[0], tmp_path / 'cut.json', paths[2])
    assert 'not a JSON shard result' in line


@pytest.mark.parametrize(('key', 'edit', 'what'), [
    ('engine', lambda c: c.update(engine='0' * 64), 'engines'),
    ('oracle', lambda c: c.update(oracle='0' * 40), 'oracles'),
    ('trees.oracle', lambda c: c['trees'].update(oracle='0' * 64), 'oracle trees'),
    ('tier', lambda c: c.update(tier='full'), 'tiers'),
])
def test_shards_of_other_runs_are_refused(
        ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path, key: str, edit: Any, what: str,
) -> None:
    tiny, paths = ci_shards
    other = _rewrite(paths[2], tmp_path / 'other.json', edit)
    line = _merge_error(tiny.path, paths[0], paths[1], other)
    assert f'{other}: {key} differs from {paths[0]}: shards of different {what} cannot be merged' in line


def test_a_shard_of_another_head_is_refused(ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path) -> None:
    """A real shard of another commit: the same run, one comment later."""
    tiny, paths = ci_shards
    repo = tmp_path / 'clone'
    git(tmp_path, 'clone', '-q', str(tiny.path), str(repo))
    git(repo, 'fetch', '-q', 'origin', 'main:main', '--tags')
    git(repo, 'config', 'user.name', 'Test')
    git(repo, 'config', 'user.email', 'test@example.com')
    write_files(repo, {'README.md': (repo / 'README.md').read_text() + '\nOne more line.\n'})
    commit_all(repo, 'docs')
    path = tmp_path / 'head2-3.json'
    proc = gates_cli(repo, 'check', '--tier', 'ci', '--base', 'main', '--shard', '3/3', '--out', str(path))
    assert path.is_file(), proc.stderr[-2000:]
    line = _merge_error(tiny.path, paths[0], paths[1], path)
    assert f'{path}: head differs from {paths[0]}: shards of different heads cannot be merged' in line


def test_different_counts_and_bad_options_are_refused(ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path) -> None:
    tiny, paths = ci_shards
    other = _rewrite(paths[2], tmp_path / 'n4.json', lambda c: c['shard'].update(count=4))
    line = _merge_error(tiny.path, paths[0], paths[1], other)
    assert 'shards of different counts' in line
    for args, why in (
            (('--shard', '4/3', '--out', str(tmp_path / 'x.json')), '--shard 4/3: expected K/N'),
            (('--shard', '1/3'), '--out FILE is required'),
            (('--out', str(tmp_path / 'x.json')), 'only a sharded run writes a result file'),
            (('--shard', '1/3', '--out', str(tmp_path / 'x.json'), '--gate', 'api'), '--gate cannot narrow'),
    ):
        proc = gates_cli(tiny.path, 'check', '--tier', 'ci', *args)
        assert proc.returncode == 2 and why in proc.stderr, (args, proc.stderr)
    line = _merge_error(tiny.path, tmp_path / 'nothing.json')
    assert 'nothing.json: cannot be read' in line


def test_units_other_than_the_plan_are_refused(ci_shards: tuple[TinyRepo, list[Path]], tmp_path: Path) -> None:
    """A shard that says it owns less than the plan gives it (a unit silently dropped)."""
    tiny, paths = ci_shards
    other = _rewrite(paths[2], tmp_path / 'less.json', lambda c: c.update(units=[]))
    line = _merge_error(tiny.path, paths[0], paths[1], other)
    assert f'{other}: units: shard 3/3 judged [], the plan gives' in line


# --- the plan ------------------------------------------------------------------------------------


def _w(wid: str, log_t: int) -> Workload:
    return Workload(wid, {'log_t': log_t}, 1)


def test_the_plan_of_the_full_tier_in_five_shards() -> None:
    full = [_w(f'sha2-{t}', t) for t in (16, 17, 18, 19, 20)]
    owned = sharding.plan(full, ('api', 'scope', 'integrity', 'proof', 'memory', 'time'), 5)
    units = sorted(u for k in owned for u in k)
    assert units == sorted((w.id, g) for w in full for g in ('proof', 'memory', 'time'))
    assert owned == sharding.plan(list(full), ('api', 'scope', 'integrity', 'proof', 'memory', 'time'), 5)
    # The two costliest units (2^20 memory and time) each have a shard of their own.
    assert [('sha2-20', 'memory')] in owned and [('sha2-20', 'time')] in owned
    load = [sum(sharding.unit_cost(next(w for w in full if w.id == wid), g) for wid, g in k) for k in owned]
    load[0] += sharding.STATIC_COST
    assert max(load) == 4 << 20


def test_accept_from_shards_records_the_row(tmp_path: Path) -> None:
    """`gates accept --from` the full tier's shards: one committed row with the merged figures;
    shards of another tier, or a dirty tree, are refused."""
    tiny = build_tiny_subject(tmp_path, sleep_ms=SLEEP)
    repo = tiny.path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: stream')
    paths = _shards(repo, tmp_path / 'results', 'full', 2)
    merged = _doc(gates_cli(repo, 'merge', '--json', *map(str, paths)))
    (repo / 'scratch.txt').write_text('x')
    dirty = gates_cli(repo, 'accept', '--from', *map(str, paths))
    assert dirty.returncode == 2 and 'uncommitted changes' in dirty.stderr, dirty.stderr
    (repo / 'scratch.txt').unlink()
    proc = gates_cli(repo, 'accept', '--from', *map(str, paths))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo, 'log', '-1', '--format=%s').startswith('gates: accept stage 0')
    row = json.loads((repo / 'specs/ledger.json').read_text())['rows'][-1]
    memory = next(v for v in merged['verdicts'] if v['gate'] == 'memory')['details']['workloads']
    for wid in ('toy-12', 'toy-13'):
        assert row['workloads'][wid]['stage_peaks'] == memory[wid]['candidate']['stage_peaks']
        assert row['workloads'][wid]['proof_sha256'] == tiny.golden['workloads'][wid]['sha256']
    again = gates_cli(repo, 'accept', '--from', *map(str, paths))
    assert again.returncode == 2 and 'head' in again.stderr, again.stderr
