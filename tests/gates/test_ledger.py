from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import TinyRepo
from conftest import commit_all
from conftest import toy_spec_yaml
from gates.contract.ledger import SCHEMA
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import compare_row
from gates.contract.ledger import make_row
from gates.contract.ledger import out_of_order
from gates.contract.ledger import parse_ledger
from gates.contract.ledger import read_ledger
from gates.contract.ledger import reference_peaks
from gates.contract.ledger import stage_under_conversion
from gates.model import GateError
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.contract.spec import TimeBudget
from gates.contract.spec import parse_spec

LEDGER = 'specs/ledger.json'


def figures(scale: int = 1, digest: str = 'ab' * 32) -> WorkloadFigures:
    return WorkloadFigures(
        stage_peaks={'0': 65536 * scale, '1': 4 << 20, '2': 4 << 20},
        whole_run_peak=5 << 20,
        time_ratio_total=1.05,
        time_ratio_stages={'0': 1.1, '1': 1.0, '2': 1.0},
        proof_sha256=digest,
    )


@pytest.fixture
def spec_and_path(tmp_path: Path) -> tuple[Spec, Path]:
    path = tmp_path / 'ledger.json'
    path.write_text('{"schema": 1, "rows": []}\n')
    return parse_spec(toy_spec_yaml(), 'specs/streaming-prover.yaml'), path


def test_append_and_read_back(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    ledger = read_ledger(path, LEDGER)
    assert ledger.rows == () and stage_under_conversion(spec, ledger) == spec.stages[0]
    row = make_row(spec.stages[0], 'c0ffee' * 6 + 'c0ff', False, {'toy-12': figures(), 'toy-13': figures(2)})
    new = append_row(path, ledger, row)
    again = read_ledger(path, LEDGER)
    assert again == new
    assert again.rows[0] == row
    assert stage_under_conversion(spec, again) == spec.stages[1]
    doc = json.loads(path.read_text())
    assert doc['schema'] == SCHEMA
    stored = doc['rows'][0]
    assert set(stored) >= {'stage', 'commit', 'dirty', 'machine', 'tools', 'workloads', 'row_digest'}
    assert set(stored['tools']) == {'python', 'numpy', 'memray', 'semgrep'}
    assert set(stored['machine']) == {'platform', 'cpu_count', 'python'}
    assert stored['workloads']['toy-13']['stage_peaks']['0'] == 2 * 65536
    assert reference_peaks(again, 'toy-13') == {0: 2 * 65536, 1: 4 << 20, 2: 4 << 20}
    assert reference_peaks(again, 'toy-99') is None

    row1 = make_row(spec.stages[1], 'd' * 40, True, {'toy-12': figures(3)})
    latest = append_row(path, again, row1)
    assert reference_peaks(latest, 'toy-12') == {0: 3 * 65536, 1: 4 << 20, 2: 4 << 20}
    assert reference_peaks(latest, 'toy-13') == {0: 2 * 65536, 1: 4 << 20, 2: 4 << 20}
    with pytest.raises(GateError, match='cannot append stage 0; the next stage to accept is 2'):
        append_row(path, latest, row)


def _written(path: Path, stage: Stage) -> Any:
    ledger = read_ledger(path, LEDGER)
    append_row(path, ledger, make_row(stage, 'e' * 40, False, {'toy-12': figures()}))
    return json.loads(path.read_text())


def test_hand_edited_row_is_detected(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    doc = _written(path, spec.stages[0])
    doc['rows'][0]['workloads']['toy-12']['stage_peaks']['0'] = 1
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(GateError) as info:
        read_ledger(path, LEDGER)
    assert str(info.value).startswith(f'{LEDGER}: rows[0] (stage 0): row_digest does not match')


@pytest.mark.parametrize(('text', 'expected'), [
    ('{"schema": 1, "rows": [', f'{LEDGER}:1: the ledger is not valid JSON'),
    ('', f'{LEDGER}:1: the ledger is not valid JSON'),
    ('{"schema": 2, "rows": []}', f'{LEDGER}: expected {{"schema": 1, "rows": [...]}}'),
    ('{"schema": 1}', f'{LEDGER}: expected {{"schema": 1, "rows": [...]}}'),
    ('[]', f'{LEDGER}: expected {{"schema": 1, "rows": [...]}}'),
    ('{"schema": 1, "rows": [3]}', f'{LEDGER}: rows[0].expected an object'),
])
def test_corrupt_ledger_is_an_error(text: str, expected: str) -> None:
    with pytest.raises(GateError) as info:
        parse_ledger(text, LEDGER)
    assert str(info.value).startswith(expected)


def test_malformed_row_fields(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    doc = _written(path, spec.stages[0])
    del doc['rows'][0]['workloads']['toy-12']['whole_run_peak']
    with pytest.raises(GateError, match=r'rows\[0\]\.workloads\.toy-12\.whole_run_peak: missing'):
        parse_ledger(json.dumps(doc), LEDGER)
    doc = _written(path, spec.stages[1])
    doc['rows'][0]['dirty'] = 'no'
    with pytest.raises(GateError, match=r'rows\[0\]\.dirty: expected bool, got str'):
        parse_ledger(json.dumps(doc), LEDGER)


def test_rows_out_of_order(spec_and_path: tuple[Spec, Path]) -> None:
    """Which stage a row must be is the spec's word (its conversion order): the ledger parses on
    its own, and ``out_of_order`` (the integrity gate, ``append_row``) names the row."""
    spec, path = spec_and_path
    row = make_row(spec.stages[1], 'f' * 40, False, {'toy-12': figures()})
    path.write_text(json.dumps({'schema': 1, 'rows': [row.to_dict()]}))
    ledger = read_ledger(path, LEDGER)
    assert out_of_order(spec, ledger.rows) == (0, (
        'rows[0]: stage 1 out of order: specs/streaming-prover.yaml converts the stages in the order '
        '[0, 1, 2] (conversion_order), so rows[0] must be stage 0'))
    assert out_of_order(None, ledger.rows) == (0, 'rows[0]: stage 1 out of order: rows are numbered 0, 1, 2, ..., '
                                                  'so rows[0] must be stage 0')
    with pytest.raises(GateError, match=r'rows\[0\]: stage 1 out of order'):
        append_row(path, ledger, make_row(spec.stages[2], 'f' * 40, False, {'toy-12': figures()}), spec)


def test_a_stage_accepted_twice(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    row = make_row(spec.stages[0], 'f' * 40, False, {'toy-12': figures()})
    path.write_text(json.dumps({'schema': 1, 'rows': [row.to_dict(), row.to_dict()]}))
    with pytest.raises(GateError) as info:
        read_ledger(path, LEDGER)
    assert str(info.value) == (f'{LEDGER}: rows[1]: stage 0 is accepted twice (rows[0] too); a stage is '
                               f'accepted once; restore the ledger from git.')


def test_ledger_and_spec_disagree(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    _written(path, spec.stages[0])
    renamed = parse_spec(toy_spec_yaml().replace('name: commit', 'name: commitment'), 'specs/s.yaml')
    with pytest.raises(GateError, match=r'rows\[0\]: stage 0 \(commit\) is not a stage of specs/s.yaml'):
        stage_under_conversion(renamed, read_ledger(path, LEDGER))


def test_missing_ledger(tmp_path: Path) -> None:
    with pytest.raises(GateError, match='ledger not found; restore it from git'):
        read_ledger(tmp_path / 'nope.json', LEDGER)


def test_all_stages_accepted(spec_and_path: tuple[Spec, Path]) -> None:
    spec, path = spec_and_path
    ledger = read_ledger(path, LEDGER)
    for stage in spec.stages:
        ledger = append_row(path, ledger, make_row(stage, 'a' * 40, False, {'toy-12': figures()}))
    assert stage_under_conversion(spec, ledger) is None
    assert ledger.accepted_stages() == (0, 1, 2)


def test_compare_row(spec_and_path: tuple[Spec, Path]) -> None:
    spec, _ = spec_and_path
    row = make_row(spec.stages[0], 'a' * 40, False, {'toy-12': figures()})
    assert compare_row(spec, row, {'toy-12': figures()}) == []
    drift = figures()
    drift = WorkloadFigures({**drift.stage_peaks, '1': int((4 << 20) * 1.005)}, drift.whole_run_peak,
                            1.9, drift.time_ratio_stages, drift.proof_sha256)
    assert compare_row(spec, row, {'toy-12': drift}) == []
    messages = [f.message for f in compare_row(spec, row, {'toy-12': figures(2, 'cd' * 32)})]
    assert any(m.startswith('proof sha256 cdcdcdcdcdcd != recorded abababababab') for m in messages)
    assert any(m.startswith('stage 0 in-stage peak 131072 B vs recorded 65536 B') for m in messages)
    slow = WorkloadFigures(drift.stage_peaks, drift.whole_run_peak, 2.5, {}, 'ab' * 32)
    assert [f.message[:14] for f in compare_row(spec, row, {'toy-12': slow})] == ['time ratio now']
    assert [f.message for f in compare_row(spec, row, {})] == ['not re-measured']


def test_cli_refuses_a_hand_edited_ledger(tiny_subject: TinyRepo) -> None:
    spec = parse_spec(tiny_subject.spec_path.read_text(), 'specs/streaming-prover.yaml')
    path = tiny_subject.path / LEDGER
    doc = _written(path, spec.stages[0])
    doc['rows'][0]['workloads']['toy-12']['time_ratio']['total'] = 0.5
    path.write_text(json.dumps(doc, indent=2))
    commit_all(tiny_subject.path, 'sneaky')
    proc = subprocess.run(
        (sys.executable, '-m', 'gates', 'status'), cwd=tiny_subject.path, capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert 'row_digest does not match the row (edited by hand?)' in proc.stderr


def test_unit_ratios_are_recorded_and_old_rows_keep_their_digest(spec_and_path: tuple[Spec, Path]) -> None:
    # A row made before units were recorded serializes exactly as before (no 'units' key), so
    # its row_digest still verifies; a new row carries the unit ratios and they are covered too.
    spec, path = spec_and_path
    plain = figures()
    assert 'units' not in plain.to_dict()['time_ratio']
    with_units = WorkloadFigures(**{**plain.__dict__, 'time_ratio_units': {'0+2': 1.3}})
    assert with_units.to_dict()['time_ratio']['units'] == {'0+2': 1.3}
    ledger = read_ledger(path, LEDGER)
    row = make_row(spec.stages[0], 'c0ffee' * 6 + 'c0ff', False, {'toy-12': with_units})
    append_row(path, ledger, row)
    again = read_ledger(path, LEDGER)
    assert again.rows[0].workloads['toy-12'].time_ratio_units == {'0+2': 1.3}
    doc = json.loads(path.read_text())
    doc['rows'][0]['workloads']['toy-12']['time_ratio']['units']['0+2'] = 0.5  # a forged unit ratio
    with pytest.raises(GateError, match='row_digest'):
        parse_ledger(json.dumps(doc), LEDGER)
    for key in ('0 and 2', '0+0', '00+2', '2'):  # not a unit of distinct, plain stage ids
        doc['rows'][0]['workloads']['toy-12']['time_ratio']['units'] = {key: 1.3}
        with pytest.raises(GateError, match='time_ratio.units'):
            parse_ledger(json.dumps(doc), LEDGER)


def test_one_threshold_judges_the_time_gate_and_the_audit(
        spec_and_path: tuple[Spec, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17.6: the time budget is one object, ``TimeBudget.threshold()``: the time gate
    decides its intervals with it and ``gates audit`` (``compare_row``) judges a row's ratio with
    it, so moving its limit moves both the same way."""
    from gates.measuring import probe
    from gates.measuring import time_rule
    from gates.model import RatioBelow
    spec, _ = spec_and_path
    asked: list[str] = []

    def lenient(budget: TimeBudget) -> RatioBelow:
        asked.append('threshold')
        return RatioBelow(3.0)       # the spec says 2.0: only this object can let 2.5 pass

    monkeypatch.setattr(TimeBudget, 'threshold', lenient)
    row = make_row(spec.stages[0], 'a' * 40, False, {'toy-12': figures()})
    slow = WorkloadFigures(figures().stage_peaks, figures().whole_run_peak, 2.5, {}, 'ab' * 32)
    assert compare_row(spec, row, {'toy-12': slow}) == [] and asked == ['threshold']
    run = probe.TimeRun({0: 1.0}, 1.0, 'x' * 64, 1, None)
    slower = probe.TimeRun({0: 2.5}, 2.5, 'x' * 64, 1, None)
    _, decisions, _ = time_rule.compare(lambda: run, lambda: slower, ['total', '0'], spec.budgets.time)
    assert all(d.side == 'below' and d.passed for d in decisions) and len(asked) == 2
    assert RatioBelow(2.0).side(1.0, 1.99) == 'below' and RatioBelow(2.0).fails(1.99, 1.0) is None
    assert RatioBelow(2.0).side(2.0, 3.0) == 'above' and RatioBelow(2.0).fails(2.0, 1.0) is not None
