"""The pre-commit tier's caches and concurrency (issue 17.2), with real git and real semgrep:
the api gate's base-side results come from the persistent store only when they validate, a
changed rule set misses, and gates run in threads give the verdicts and the JSON of a
sequential run."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import TinyRepo
from conftest import commit_all
from gates.checks import api
from gates.session import prepared
from gates.session import run_gates
from gates.measuring import measure
from gates.model import Verdict
from gates.reports import report
from gates.vcs import cachestore
from gates.vcs import repo as repo_mod
from structural_helpers import rendered

STAGE0 = 'toyprover/stages/stage0.py'
DENSE_HELPER = '''

def dense_view(witness, names):
    """The dense path: every row of the named columns at once."""
    cols = witness.materialized(names)
    return cols
'''


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / 'store'
    monkeypatch.setenv('STAGEGATE_CACHE_DIR', str(root))
    monkeypatch.delenv('STAGEGATE_JIT_CACHE', raising=False)
    return root


def _change(tiny: TinyRepo) -> str:
    """Base: stage 0 with a pre-existing materialized call; head: a second one in the same
    function (over the base's count: a finding) and a comment (carried over)."""
    path = tiny.path / STAGE0
    path.write_text(path.read_text() + DENSE_HELPER)
    base = commit_all(tiny.path, 'stage 0: dense helper')
    path.write_text(path.read_text().replace(
        '    return cols\n', '    # a comment\n    again = witness.materialized(names)\n    return cols, again\n'))
    commit_all(tiny.path, 'stage 0: one more dense read')
    return base


def _api(repo: Path, base: str, cached: bool) -> Verdict:
    with prepared(repo_mod.open_repo(repo), None, 'pre-commit', base, False, log=lambda m: None) as (ctx, _):
        if cached:
            assert measure.allow_warm_jit(ctx, ['api'])
        verdict = api.run(ctx)
        measure.flush_store(ctx)
    return verdict


def _findings(v: Verdict) -> list[tuple[str | None, int | None, str]]:
    return sorted((f.file, f.line, f.message) for f in v.findings)


def _entries(store: Path, kind: str) -> list[Path]:
    return sorted((store / kind).rglob('*.json')) if (store / kind).is_dir() else []


def _poisons() -> list[tuple[str, Callable[[Path, Path], None]]]:
    def garbage(path: Path, store: Path) -> None:
        path.write_text('{"body": ')

    def unsigned(path: Path, store: Path) -> None:
        doc = json.loads(path.read_text())
        value = doc['body']['value']
        if doc['body']['kind'] == 'semgrep-base':
            value += value * 3          # three more base matches: would carry the new call over
        else:
            value.clear()               # nothing protected
        path.write_text(json.dumps(doc))

    def foreign(path: Path, store: Path) -> None:
        # A valid entry of another key (another file's matches), copied over this one.
        doc = json.loads(path.read_text())
        value = doc['body']['value']
        cachestore.put(store, doc['body']['kind'], 'f' * 64, (value + value * 3) if isinstance(value, list) else value)
        other = store / doc['body']['kind'] / 'ff' / f'{"f" * 64}.json'
        path.write_text(other.read_text())
        other.unlink()

    def misplaced(path: Path, store: Path) -> None:
        doc = json.loads(path.read_text())
        if doc['body']['kind'] != 'semgrep-base':
            return garbage(path, store)
        for m in doc['body']['value']:
            m['line'] += 1              # a match on a line that does not hold it
        raw = json.dumps(doc['body'], sort_keys=True).encode()
        doc['mac'] = cachestore.mac(store, raw)
        path.write_text(json.dumps(doc))

    return [('garbage', garbage), ('unsigned', unsigned), ('foreign', foreign), ('misplaced', misplaced)]


def test_the_store_is_used_and_a_poisoned_entry_does_not_change_the_verdict(tiny_subject: TinyRepo, store: Path) -> None:
    base = _change(tiny_subject)
    fresh = _api(tiny_subject.path, base, cached=False)
    assert not fresh.passed and len(fresh.findings) == 1, rendered(fresh)
    assert fresh.details['carried_over']['matches'] == 1
    first = _api(tiny_subject.path, base, cached=True)          # fills the store
    assert _entries(store, 'semgrep-base') and 'base_matches_from_cache' not in first.details
    warm = _api(tiny_subject.path, base, cached=True)
    assert warm.details['base_matches_from_cache'] == [STAGE0]
    assert _findings(warm) == _findings(first) == _findings(fresh)
    for name, poison in _poisons():
        for path in _entries(store, 'semgrep-base') + _entries(store, 'protection'):
            poison(path, store)
        got = _api(tiny_subject.path, base, cached=True)
        assert _findings(got) == _findings(fresh), name
        assert 'base_matches_from_cache' not in got.details, name
        assert got.details['carried_over'] == fresh.details['carried_over'], name
        # The recomputed entries were written back: the next run uses them again.
        assert _api(tiny_subject.path, base, cached=True).details['base_matches_from_cache'] == [STAGE0]


def test_a_changed_rule_set_misses_the_store(tiny_subject: TinyRepo, store: Path) -> None:
    base = _change(tiny_subject)
    _api(tiny_subject.path, base, cached=True)
    assert _api(tiny_subject.path, base, cached=True).details.get('base_matches_from_cache') == [STAGE0]
    spec = tiny_subject.spec_path
    text = spec.read_text()
    assert 'forbid_in_converted: [materialized]' in text
    spec.write_text(text.replace('forbid_in_converted: [materialized]', 'forbid_in_converted: [materialized, dense_rows]'))
    changed = _api(tiny_subject.path, base, cached=True)
    assert 'base_matches_from_cache' not in changed.details
    assert _findings(changed) == _findings(_api(tiny_subject.path, base, cached=False))


def test_ci_and_full_never_read_the_store(tiny_subject: TinyRepo, store: Path) -> None:
    base = _change(tiny_subject)
    with prepared(repo_mod.open_repo(tiny_subject.path), None, 'ci', base, False, log=lambda m: None) as (ctx, _):
        assert not measure.allow_warm_jit(ctx, ['api'])
        assert measure.persistent_store(ctx) is None
    with prepared(repo_mod.open_repo(tiny_subject.path), None, 'pre-commit', base, False, log=lambda m: None) as (ctx, _):
        assert not measure.allow_warm_jit(ctx, ['api', 'memory'])


def _run(repo: Path, base: str, concurrent: bool) -> tuple[dict[str, Any], list[str]]:
    lines: list[str] = []
    with prepared(repo_mod.open_repo(repo), None, 'pre-commit', base, False, log=lines.append) as (ctx, info):
        verdicts, seconds = run_gates(ctx, ['api', 'scope', 'integrity', 'proof'], concurrent=concurrent)
    doc = json.loads(report.dumps(report.document(info, verdicts, seconds)))
    return doc, lines


def _without_timings(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_timings(v) for k, v in node.items() if k not in ('seconds', 'semgrep_seconds', 'at')}
    if isinstance(node, list):
        return [_without_timings(v) for v in node]
    return node


def test_concurrent_gates_give_the_sequential_verdicts_json_and_output_order(tiny_subject: TinyRepo, store: Path) -> None:
    base = _change(tiny_subject)
    seq, seq_lines = _run(tiny_subject.path, base, concurrent=False)
    con, con_lines = _run(tiny_subject.path, base, concurrent=True)
    assert [g['gate'] for g in con['verdicts']] == ['api', 'scope', 'integrity', 'proof']
    assert _without_timings(con) == _without_timings(seq)
    assert not con['verdicts'][0]['passed']

    def shape(lines: list[str]) -> list[str]:
        return [line.split(' (')[0] for line in lines if line.startswith('gates: ')]

    assert shape(con_lines) == shape(seq_lines)
    assert shape(con_lines)[-2:] == ['gates: proof ...', 'gates: proof passed']


def test_a_gate_error_in_a_thread_is_raised_in_gate_order(tiny_subject: TinyRepo, store: Path) -> None:
    base = _change(tiny_subject)

    def broken(ctx: Any) -> Verdict:
        raise RuntimeError('scope broke')

    def integrity_broken(ctx: Any) -> Verdict:
        raise ValueError('integrity broke')

    with prepared(repo_mod.open_repo(tiny_subject.path), None, 'pre-commit', base, False, log=lambda m: None) as (ctx, _):
        with pytest.raises(RuntimeError, match='scope broke'):
            run_gates(ctx, ['api', 'scope', 'integrity'], {'scope': broken, 'integrity': integrity_broken}, concurrent=True)


HELPERS = 'toyprover/backends/streaming/helpers.py'


def test_an_unchanged_converted_file_is_scanned_when_a_changed_file_makes_its_call_a_wrapper(tiny_subject: TinyRepo) -> None:
    """Cross-file context of no-materialized-in-converted-stage: only changed files are scanned,
    but a helper that a change turns into a wrapper of the forbidden view reaches the unchanged
    converted stage calling it."""
    from conftest import convert_stage
    repo = tiny_subject.path
    convert_stage(repo, 0)
    (repo / HELPERS).write_text('def dense_rows(witness, names):\n    return list(names)\n')
    stage = repo / STAGE0
    stage.write_text(stage.read_text() + '\n\ndef uses(witness):\n'
                     '    from toyprover.backends.streaming.helpers import dense_rows\n'
                     '    return dense_rows(witness, ["a"])\n')
    base = commit_all(repo, 'stage 0 offered as streaming; a helper it calls')
    (repo / HELPERS).write_text('def dense_rows(witness, names):\n    return witness.materialized(names)\n')
    commit_all(repo, 'the helper now returns the dense view')
    verdict = _api(repo, base, cached=False)
    assert verdict.details['scanned_for_new_wrappers'] == [STAGE0]
    line = next(i + 1 for i, t in enumerate(stage.read_text().splitlines()) if 'return dense_rows' in t)
    assert (STAGE0, line) in {(f.file, f.line) for f in verdict.findings}, rendered(verdict)


def test_the_store_keeps_its_newest_entries_only(tmp_path: Path) -> None:
    import os
    root = tmp_path / 'store'
    for i in range(7):
        cachestore.put(root, 'semgrep-base', f'{i:064x}', [i])
        path = root / 'semgrep-base' / f'{i:064x}'[:2] / f'{i:064x}.json'
        os.utime(path, (1000 + i, 1000 + i))
    assert cachestore.prune(root, 'semgrep-base', keep=3) == 4
    assert [cachestore.get(root, 'semgrep-base', f'{i:064x}') for i in range(7)] == [None] * 4 + [[4], [5], [6]]
