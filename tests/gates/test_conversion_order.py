"""The conversion order (spec key ``conversion_order``): stages are converted and accepted in the
order the spec declares, not necessarily ascending ids (a stage that passes Theta(T) data forward
is converted after the stages that consume it). The loader, the stage under conversion, the
ledger's rows (``append_row`` and the integrity gate), a row's variant when the integrity gate
re-judges it, and the ratchet on the key itself. Real throw-away repositories, as test_rooms.py."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from _change_helpers import build_like_this_repo
from _change_helpers import engine_figures
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import toy_spec_yaml
from gates.commands.status import next_stage
from gates.commands.status import status
from gates.contract import loosening
from gates.contract.ledger import Ledger
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.contract.ledger import stage_under_conversion
from gates.contract.spec import Spec
from gates.contract.spec import load_spec
from gates.contract.spec import parse_spec
from gates.model import GateError
from gates.reports.brief import agent_brief
from gates.selftest.toy import SLEEP_MS
from structural_helpers import accept_like_gates
from structural_helpers import append_raw_row
from structural_helpers import gates_cli
from structural_helpers import hand_written_row
from structural_helpers import rendered
from structural_helpers import run_gate
from test_ledger import figures

SPEC = 'specs/streaming-prover.yaml'
LEDGER = 'specs/ledger.json'
TAIL = 'golden: specs/golden.json\nledger: specs/ledger.json\n'
# The pre-commit tier without the measuring gates: the integrity gate then judges a row's place in
# the ledger without re-measuring it (its figures are invented here; trust's own tests measure).
STATIC_PRE_COMMIT = 'tier_gates:\n  pre-commit: [api, scope, integrity, proof]\n'


def _tail(order: str, extra: str = '') -> str:
    return f'{TAIL}{extra}conversion_order: {order}\n'


def _subject(tmp_path: Path, order: str = '[0, 2, 1]', extra: str = '', **blocks: str) -> TinyRepo:
    return build_tiny_subject(tmp_path, tail=_tail(order, extra), **blocks)


def _set_order(repo: TinyRepo, order: str | None) -> None:
    text = repo.spec_path.read_text()
    start = text.index('conversion_order: ') if 'conversion_order: ' in text else len(text)
    end = text.index('\n', start) + 1 if start < len(text) else start
    repo.spec_path.write_text(text[:start] + ('' if order is None else f'conversion_order: {order}\n') + text[end:])


# The loader.

def test_the_default_is_ascending_ids_and_a_declared_order_loads() -> None:
    spec = parse_spec(toy_spec_yaml(), SPEC)
    assert spec.conversion_order == spec.order == (0, 1, 2)
    spec = parse_spec(toy_spec_yaml(tail=_tail('[0, 2, 1]')), SPEC)
    assert spec.conversion_order == spec.order == (0, 2, 1)
    assert spec.line_of('conversion_order') == toy_spec_yaml(tail=_tail('[0, 2, 1]')).splitlines().index(
        'conversion_order: [0, 2, 1]') + 1


@pytest.mark.parametrize(('value', 'key', 'message'), [
    ('[0, 2]', 'conversion_order',
     'stage 1 missing; list every stage id once (a stage left out would never be converted).'),
    ('[]', 'conversion_order',
     'stages 0, 1, 2 missing; list every stage id once (a stage left out would never be converted).'),
    ('[0, 2, 2, 1]', 'conversion_order[2]', 'stage 2 is listed twice; list every stage id once.'),
    ('[0, 3, 1, 2]', 'conversion_order[1]', 'expected a stage id (one of [0, 1, 2]), got 3.'),
    ('[0, true, 2]', 'conversion_order[1]', 'expected a stage id (one of [0, 1, 2]), got true (a yes/no value).'),
    ('[0, "2", 1]', 'conversion_order[1]', 'expected a stage id (one of [0, 1, 2]), got "2".'),
    ('"0, 2, 1"', 'conversion_order',
     'expected a list of every stage id in the order they are converted, e.g. [2, 1, 0], got "0, 2, 1".'),
])
def test_a_bad_order_names_file_line_key_and_value(value: str, key: str, message: str) -> None:
    text = toy_spec_yaml(tail=_tail(value))
    line = text.splitlines().index(f'conversion_order: {value}') + 1
    with pytest.raises(GateError) as err:
        parse_spec(text, SPEC)
    assert str(err.value) == f'{SPEC}:{line}: {key}: {message}'


def test_an_optimisation_has_no_conversion_order() -> None:
    """An optimisation converts nothing and numbers its ledger rows: the key makes no sense there,
    and is refused even when it spells the default."""
    from test_loosening_keys import MERKLE_TEXT
    merkle = parse_spec(MERKLE_TEXT, 'merkle.yaml')
    assert merkle.mode == 'optimisation'
    ids = ', '.join(str(s.id) for s in merkle.stages)
    with pytest.raises(GateError) as err:
        parse_spec(MERKLE_TEXT + f'conversion_order: [{ids}]\n', 'merkle.yaml')
    assert ('conversion_order: an optimisation spec converts nothing (its ledger rows are numbered '
            'optimisations, not stages); remove the key.') in str(err.value)


# The stage under conversion and the ledger's rows.

def test_the_stage_under_conversion_follows_the_order(tmp_path: Path) -> None:
    spec = parse_spec(toy_spec_yaml(tail=_tail('[2, 0, 1]')), SPEC)
    path = tmp_path / 'ledger.json'
    path.write_text('{"schema": 1, "rows": []}\n')
    ledger = read_ledger(path, LEDGER)
    assert stage_under_conversion(spec, ledger) == spec.stage(2)
    with pytest.raises(GateError) as err:
        append_row(path, ledger, make_row(spec.stage(0), 'a' * 40, False, {'toy-12': figures()}), spec)
    assert str(err.value) == (f'{LEDGER}: cannot append stage 0; the next stage to accept is 2 ({SPEC} '
                              f'converts the stages in the order [2, 0, 1] (conversion_order)).')
    for expected_next in (0, 1, None):
        ledger = append_row(path, ledger, make_row(spec.stage(ledger_next(spec, ledger)), 'a' * 40, False,
                                                   {'toy-12': figures()}), spec)
        assert read_ledger(path, LEDGER) == ledger
        now = stage_under_conversion(spec, ledger)
        assert (None if now is None else now.id) == expected_next
    assert ledger.accepted_stages() == (2, 0, 1)
    with pytest.raises(GateError, match='cannot append stage 1; every stage is already accepted.'):
        append_row(path, ledger, make_row(spec.stage(1), 'a' * 40, False, {'toy-12': figures()}), spec)


def ledger_next(spec: Spec, ledger: Ledger) -> int:
    stage = stage_under_conversion(spec, ledger)
    assert stage is not None
    return stage.id


def test_status_next_and_the_brief_name_the_order(tmp_path: Path) -> None:
    repo = _subject(tmp_path, '[2, 0, 1]')
    out = io.StringIO()
    assert next_stage(repo.path, None, out) == 0
    assert out.getvalue().startswith('Stage 2 (openings) is under conversion (conversion_order: 2, 0, 1).\n')
    convert_stage(repo.path, 2)
    commit_all(repo.path, 'stage 2: streaming')
    accept_like_gates(repo.path, 2)
    out = io.StringIO()
    assert status(repo.path, None, out) == 0
    text = out.getvalue()
    assert text.startswith('toy-streaming: 1 of 3 stages accepted; conversion_order: 2, 0, 1\n')
    assert '  0  commit               under conversion\n' in text
    assert '  1  constraints          materialized\n' in text
    assert '  2  openings             accepted at' in text
    spec = load_spec(repo.spec_path, SPEC)
    brief = agent_brief(spec, read_ledger(repo.path / LEDGER, LEDGER))
    assert brief.startswith('# toy-streaming: convert stage 0 (commit)\n\n1 of 3 stages accepted; stage 0 is '
                            'under conversion (conversion_order: 2, 0, 1).\n')


def test_the_default_order_says_nothing_new(tiny_subject: TinyRepo) -> None:
    out = io.StringIO()
    next_stage(tiny_subject.path, None, out)
    assert out.getvalue().startswith('Stage 0 (commit) is under conversion.\n')
    out = io.StringIO()
    status(tiny_subject.path, None, out)
    assert out.getvalue().startswith('toy-streaming: 0 of 3 stages accepted\n')


def _integrity(repo: Path, base: str | None = None) -> tuple[int, str]:
    """The integrity gate of ``gates check`` on the pre-commit tier (no re-measuring of rows)."""
    args = ('check', '--tier', 'pre-commit', '--gate', 'integrity') + (('--base', base) if base else ())
    proc = gates_cli(repo, *args)
    return proc.returncode, proc.stdout + proc.stderr


def _accept_commit_by_hand(repo: Path, stage: int, name: str) -> None:
    """An accept-like commit whose row skips the order (``append_row`` itself refuses it)."""
    append_raw_row(repo, hand_written_row(repo, stage))
    git(repo, 'add', LEDGER)
    git(repo, 'commit', '-q', '--no-verify', '-m', f'gates: accept stage {stage} ({name})\n\nmeasured')


def test_a_row_for_the_next_stage_in_order_passes_and_one_out_of_order_fails(tmp_path: Path) -> None:
    repo = _subject(tmp_path, '[0, 2, 1]', STATIC_PRE_COMMIT).path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0)
    convert_stage(repo, 2)
    commit_all(repo, 'stage 2: streaming (it is next in the order)')
    accept_like_gates(repo, 2)
    code, out = _integrity(repo)
    assert code == 0, out
    # Stage 1 accepted before stage 2, with the default order (what the engine did before the key).
    git(repo, 'reset', '-q', '--hard', 'HEAD~1')
    with pytest.raises(GateError, match='cannot append stage 1; the next stage to accept is 2'):
        accept_like_gates(repo, 1)
    _accept_commit_by_hand(repo, 1, 'constraints')
    code, out = _integrity(repo)
    assert code == 1, out
    assert ('rows[1]: stage 1 out of order: specs/streaming-prover.yaml converts the stages in the order '
            '[0, 2, 1] (conversion_order), so rows[1] must be stage 2; a stage is accepted only after every '
            'stage before it in the order; drop the row and convert the next stage first (`gates next` '
            'names it) [stage 1]') in ' '.join(out.split()), out
    digest = json.loads((repo / LEDGER).read_text())['rows'][1]['row_digest']
    line = next(i + 1 for i, text in enumerate((repo / LEDGER).read_text().splitlines()) if digest in text)
    assert f'- specs/ledger.json:{line}: rows[1]: stage 1 out of order' in out


def test_without_the_key_rows_stay_in_ascending_order(tmp_path: Path) -> None:
    repo = build_tiny_subject(tmp_path, tail=TAIL + STATIC_PRE_COMMIT).path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0)
    _accept_commit_by_hand(repo, 2, 'openings')
    code, out = _integrity(repo)
    assert code == 1, out
    assert 'rows[1]: stage 2 out of order' in out and 'order [0, 1, 2] (conversion_order), so rows[1] must be stage 1' in out


# A row's variant when the integrity gate re-judges it.

def test_a_row_out_of_id_order_is_re_judged_with_the_stages_of_its_rows(tmp_path: Path) -> None:
    """Order [0, 2, 1]: the row of stage 2 was measured with stages 0 and 2 converted, and stage 1
    not, although stage 1's code already offers streaming at the row's commit (it is converted
    ahead, not accepted). Re-judged with stages 0..2 converted (ids up to the row's) its stage 1
    would run streaming and its peak would not reproduce."""
    repo = _subject(tmp_path, '[0, 2, 1]', sleep_ms=SLEEP_MS).path
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    accept_like_gates(repo, 0, engine_figures(repo, 0))
    git(repo, 'branch', '-f', 'main', 'HEAD')
    convert_stage(repo, 1)
    convert_stage(repo, 2)
    commit_all(repo, 'stages 2 and 1: streaming')
    measured = engine_figures(repo, 2)
    assert measured['toy-12'].stage_peaks['1'] > 2 * measured['toy-12'].stage_peaks['2']   # 1 materialized
    accept_like_gates(repo, 2, measured)
    verdict = run_gate(repo, 'integrity')
    assert verdict.passed, rendered(verdict)


# The ratchet: accepted stages stay the order's first stages.

def _accepted_on_main(tmp_path: Path, order: str) -> TinyRepo:
    repo = _subject(tmp_path, order)
    convert_stage(repo.path, 0)
    commit_all(repo.path, 'stage 0: streaming')
    accept_like_gates(repo.path, 0)
    git(repo.path, 'branch', '-f', 'main', 'HEAD')
    return repo


def test_moving_an_accepted_stage_is_a_loosening(tmp_path: Path) -> None:
    repo = _accepted_on_main(tmp_path, '[0, 2, 1]')
    _set_order(repo, '[2, 0, 1]')
    commit_all(repo.path, 'specs: stage 2 first after all')
    verdict = run_gate(repo.path, 'integrity')
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.message.startswith(
        'conversion_order loosened: [0, 2, 1] -> [2, 0, 1] (the ledger accepted [0] in that order: accepted '
        'stages stay the first of the order, as accepted; only the stages not yet accepted may be '
        'reordered). Nothing can loosen a gate'), finding.message
    assert finding.file == SPEC
    assert finding.line == repo.spec_path.read_text().splitlines().index('conversion_order: [2, 0, 1]') + 1


def test_reordering_the_stages_not_yet_accepted_passes(tmp_path: Path) -> None:
    repo = _accepted_on_main(tmp_path, '[0, 2, 1]')
    _set_order(repo, None)             # back to the default [0, 1, 2]: stage 0 stays first
    commit_all(repo.path, 'specs: stage 1 before stage 2 after all')
    verdict = run_gate(repo.path, 'integrity')
    assert verdict.passed, rendered(verdict)
    spec = load_spec(repo.spec_path, SPEC)
    assert stage_under_conversion(spec, read_ledger(repo.path / LEDGER, LEDGER)) == spec.stage(1)


def test_before_any_acceptance_the_order_is_free() -> None:
    base = parse_spec(toy_spec_yaml(), SPEC)
    head = parse_spec(toy_spec_yaml(tail=_tail('[2, 1, 0]')), SPEC)
    assert loosening.spec(base, head, False, ()) == []
    assert [i.key for i in loosening.spec(base, head, True, (0,))] == ['conversion_order']
    assert loosening.spec(base, parse_spec(toy_spec_yaml(tail=_tail('[0, 2, 1]')), SPEC), True, (0,)) == []
    # Two accepted stages stay first, in the order of their rows.
    two = parse_spec(toy_spec_yaml(tail=_tail('[1, 0, 2]')), SPEC)
    assert [i.key for i in loosening.spec(base, two, True, (0, 1))] == ['conversion_order']
    assert loosening.spec(two, parse_spec(toy_spec_yaml(tail=_tail('[1, 0, 2]')), SPEC), True, (1, 0)) == []


def test_a_rebaseline_may_reorder_every_stage(tmp_path: Path) -> None:
    """A checked re-baseline empties the ledger: nothing stays accepted, so the new oracle's order
    is declared with it. Without the re-baseline the same edit is a loosening."""
    repo = build_like_this_repo(tmp_path).path
    common = repo / 'toyprover/backends/common.py'
    common.write_text(common.read_text().replace('text = repr((stage,', 'text = repr(("v2", stage,'))
    v2 = commit_all(repo, 'toy prover v2: stage 2 now feeds stages 0 and 1')
    accept_like_gates(repo, 0)       # stage 0 accepted on main, against the old oracle
    git(repo, 'checkout', '-q', '-b', 'rebaseline')
    spec = repo / SPEC
    spec.write_text(spec.read_text() + 'conversion_order: [1, 2, 0]\n')
    commit_all(repo, 'specs: stage 0 last under the new oracle')
    code, out = _integrity(repo)
    assert code == 1 and 'conversion_order loosened: [0, 1, 2] -> [1, 2, 0]' in out, out
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2: stage 0 produces what 1 and 2 read', '--reset-ledger')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code, out = _integrity(repo)
    assert code == 0, out
