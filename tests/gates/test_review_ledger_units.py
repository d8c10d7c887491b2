"""Adversarial review of the ledger's ``time_ratio.units`` and the report's unit panels (526c859):
malformed units are refused with a line naming the key, an old row (no units) keeps its digest
and its bytes, unit keys the spec does not name are not plotted, and what the parser accepts
the report can draw."""
from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import _SPEC_BLOCKS, TinyRepo, commit_all, toy_spec_yaml

from gates.commands.report import check_figures, ledger_figures, ledger_unit_figures
from gates.contract.ledger import (
    Ledger,
    WorkloadFigures,
    canonical,
    make_row,
    parse_ledger,
    render,
)
from gates.contract import metrics
from gates.contract.spec import Spec, parse_spec
from gates.model import GateError
from gates.reports import htmlreport

LEDGER = 'specs/ledger.json'
COMMIT = 'c0ffee' * 6 + 'c0ff'


def _spec(units: str = '[[0, 2]]') -> Spec:
    budgets = _SPEC_BLOCKS['budgets'].replace('max_pairs: 11', f'max_pairs: 11\n    units: {units}')
    return parse_spec(toy_spec_yaml(budgets=budgets), 'specs/streaming-prover.yaml')


def _fig(units: dict[str, float] | None = None) -> WorkloadFigures:
    return WorkloadFigures(
        stage_peaks={'0': 65536, '1': 4 << 20, '2': 4 << 20}, whole_run_peak=5 << 20,
        time_ratio_total=1.05, time_ratio_stages={'0': 1.1, '1': 1.0, '2': 1.0},
        proof_sha256='ab' * 32, time_ratio_units=units or {},
    )


def _doc(spec: Spec, units: dict[str, float] | None = None) -> dict[str, Any]:
    row = make_row(spec.stages[0], COMMIT, False, {'toy-12': _fig(units), 'toy-13': _fig(units)})
    doc: dict[str, Any] = json.loads(render(Ledger(LEDGER, (row,))))
    return doc


def _redigest(doc: dict[str, Any]) -> str:
    """The ledger text with every row's digest recomputed (a forger who knows the rule)."""
    for row in doc['rows']:
        body = {k: v for k, v in row.items() if k != 'row_digest'}
        row['row_digest'] = hashlib.sha256(canonical(body).encode()).hexdigest()
    return json.dumps(doc)


BAD_UNITS: list[Any] = [
    [], 'x', 3, None, True,
    {'0': 1.0}, {'0+': 1.0}, {'+0+2': 1.0}, {'0++2': 1.0}, {'0+2 ': 1.0}, {'0+2\n': 1.0},
    {'a+b': 1.0}, {'-1+2': 1.0}, {'0+2': True}, {'0+2': '1.3'}, {'0+2': None}, {'0+2': [1.3]},
]


@pytest.mark.parametrize('units', BAD_UNITS, ids=[repr(u) for u in BAD_UNITS])
def test_malformed_units_are_refused_naming_the_key(units: Any) -> None:
    doc = _doc(_spec(), {'0+2': 1.3})
    doc['rows'][0]['workloads']['toy-13']['time_ratio']['units'] = units
    with pytest.raises(GateError) as e:
        parse_ledger(_redigest(doc), LEDGER)  # the shape is judged before the digest
    msg = str(e.value)
    assert msg.startswith(f'{LEDGER}: rows[0].workloads.toy-13.time_ratio.units'), msg
    assert '\n' not in msg.rstrip('\n').replace('0+2\n', ''), msg


def test_an_old_row_without_units_keeps_its_digest_and_its_bytes() -> None:
    # A row as the engine wrote it before 526c859: no 'units' key, its digest over that form.
    spec = _spec()
    old = _doc(spec)
    assert all('units' not in w['time_ratio'] for w in old['rows'][0]['workloads'].values())
    text = render(parse_ledger(json.dumps(old), LEDGER))
    assert text == json.dumps(old, indent=2, sort_keys=True) + '\n'
    # written with the digest of the pre-units serialization by hand, not by this code
    body = {k: v for k, v in old['rows'][0].items() if k != 'row_digest'}
    assert old['rows'][0]['row_digest'] == hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=True).encode()).hexdigest()
    # an explicit empty units object is not what any writer makes: the digest no longer matches
    old['rows'][0]['workloads']['toy-12']['time_ratio']['units'] = {}
    with pytest.raises(GateError, match='row_digest'):
        parse_ledger(_redigest(old), LEDGER)


def test_a_unit_in_spec_order_and_foreign_keys_are_not_plotted(tmp_path: Path) -> None:
    spec = _spec('[[2, 0]]')  # order as written: the key is '2+0'
    assert spec.budgets.time.units == ((2, 0),)
    ledger = parse_ledger(_redigest(_doc(spec, {'2+0': 1.4, '0+9': 7.0, '0+2': 3.0})), LEDGER)
    units: dict[str, list[htmlreport.Line]] = {metrics.unit_key(u): [] for u in spec.budgets.time.units}
    ledger_unit_figures(spec, ledger, units)
    assert [p[1] for ln in units['2+0'] for p in ln.points] == [1.4, 1.4]
    ratios: dict[int, list[htmlreport.Line]] = {}
    ledger_figures(spec, ledger, 'ratio', ratios)
    out = htmlreport.plot(spec, ratios, tmp_path / 't.png', 'ratio', log_y=False, bytes_axis=False,
                          budget=2.0, unit_figures=units)
    assert out is not None and out.stat().st_size > 0
    # a check document's unit ratios land under the same key
    doc = {'schema': 1, 'head': 'f' * 40, 'tier': 'full', 'verdicts': [
        {'gate': 'time', 'details': {'workloads': {'toy-12': {'ratio_stages': {'0': 1.0},
                                                              'ratio_units': {'unit:2+0': 1.2}}}}}]}
    check_figures(spec, doc, {}, {}, units)
    assert sorted(ln.kind for ln in units['2+0']) == ['accepted', 'candidate']


@pytest.mark.parametrize('value', [math.inf])  # -inf and NaN are drawn (the budget bounds the axis)
def test_a_non_finite_unit_ratio_is_refused_or_drawn(value: float, tmp_path: Path) -> None:
    spec = _spec()
    text = _redigest(_doc(spec, {'0+2': value}))
    try:
        ledger = parse_ledger(text, LEDGER)
    except GateError as e:
        assert 'time_ratio.units' in str(e)
        return
    units: dict[str, list[htmlreport.Line]] = {'0+2': []}
    ledger_unit_figures(spec, ledger, units)
    htmlreport.plot(spec, {}, tmp_path / 't.png', 'ratio', log_y=False, bytes_axis=False,
                    budget=2.0, unit_figures=units)


def test_a_unit_key_in_other_digits_is_refused() -> None:
    # '\\d' would match every Unicode decimal digit; unit keys are ASCII stage ids
    spec = _spec()
    with pytest.raises(GateError, match='time_ratio.units'):
        parse_ledger(_redigest(_doc(spec, {'0+\u0662': 1.2})), LEDGER)


@pytest.mark.parametrize('where', ['stage_peaks', 'stages'])
def test_a_stage_key_in_superscript_digits_is_refused_as_a_gate_error(where: str) -> None:
    doc = _doc(_spec())
    fig = doc['rows'][0]['workloads']['toy-12']
    (fig['stage_peaks'] if where == 'stage_peaks' else fig['time_ratio']['stages'])['\u00b2'] = 7
    with pytest.raises(GateError):
        parse_ledger(_redigest(doc), LEDGER)


def test_cli_exit_code_for_a_superscript_stage_key(tiny_subject: TinyRepo, tmp_path: Path) -> None:
    spec = parse_spec(tiny_subject.spec_path.read_text(), 'specs/streaming-prover.yaml')
    doc = _doc(spec)
    doc['rows'][0]['workloads']['toy-12']['stage_peaks']['\u00b2'] = 7
    path = tiny_subject.path / LEDGER
    path.write_text(_redigest(doc))
    commit_all(tiny_subject.path, 'a forged ledger')
    crash_dir = tmp_path / 'crash-tmp'  # the crash log goes to TMPDIR: keep it out of the shared one
    crash_dir.mkdir()
    env = {**os.environ, 'TMPDIR': str(crash_dir)}
    proc = subprocess.run((sys.executable, '-m', 'gates', 'status'), cwd=tiny_subject.path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-400:])
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-400:]


def _report(repo: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    crash_dir = tmp_path / 'crash-tmp'
    crash_dir.mkdir(exist_ok=True)
    env = {**os.environ, 'TMPDIR': str(crash_dir)}
    return subprocess.run((sys.executable, '-m', 'gates', 'report', '--out', str(tmp_path / 'out'), *args),
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def unit_subject(tmp_path: Path) -> TinyRepo:
    from conftest import build_tiny_subject
    budgets = _SPEC_BLOCKS['budgets'].replace('max_pairs: 11', 'max_pairs: 11\n    units: [[0, 2]]')
    return build_tiny_subject(tmp_path, budgets=budgets)


def test_cli_report_draws_a_unit_panel_from_a_ledger_row(unit_subject: TinyRepo, tmp_path: Path) -> None:
    spec = parse_spec(unit_subject.spec_path.read_text(), 'specs/streaming-prover.yaml')
    (unit_subject.path / LEDGER).write_text(_redigest(_doc(spec, {'0+2': 1.4})))
    commit_all(unit_subject.path, 'ledger: one row with a unit ratio')
    proc = _report(unit_subject.path, tmp_path)
    assert proc.returncode == 0, proc.stderr[-400:]
    assert (tmp_path / 'out' / 'time_ratio_vs_T.png').stat().st_size > 0


def test_cli_report_on_an_infinite_unit_ratio(unit_subject: TinyRepo, tmp_path: Path) -> None:
    spec = parse_spec(unit_subject.spec_path.read_text(), 'specs/streaming-prover.yaml')
    (unit_subject.path / LEDGER).write_text(_redigest(_doc(spec, {'0+2': math.inf})))
    commit_all(unit_subject.path, 'ledger: an infinite unit ratio')
    proc = _report(unit_subject.path, tmp_path)
    assert proc.returncode in (0, 2), (proc.returncode, proc.stderr[-400:])


@pytest.mark.parametrize('ratio_units', [{'unit:0+2': 'fast'}, ['unit:0+2']], ids=['string', 'list'])
def test_cli_report_on_a_malformed_check_document_unit(unit_subject: TinyRepo, tmp_path: Path,
                                                       ratio_units: Any) -> None:
    doc = {'schema': 1, 'head': 'f' * 40, 'tier': 'full', 'verdicts': [
        {'gate': 'time', 'details': {'workloads': {'toy-12': {'ratio_stages': {'0': 1.0},
                                                              'ratio_units': ratio_units}}}}]}
    path = tmp_path / 'check.json'
    path.write_text(json.dumps(doc))
    proc = _report(unit_subject.path, tmp_path, '--check', str(path))
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-400:])
