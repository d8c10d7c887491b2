"""Rooms with doors (issue 14.5): under ``rooms: closed`` the paths of every stage accepted before
a change are closed to it (the scope gate), reopening them is a loosening (the integrity gate), and
``gates next`` and the agent brief name them. Real throw-away repositories, as test_scope.py."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from _change_helpers import build_like_this_repo
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import convert_stage
from conftest import git
from conftest import toy_spec_yaml
from gates.reports.brief import agent_brief
from gates.commands.status import next_stage
from gates.contract import loosening
from gates.contract.ledger import read_ledger
from gates.contract.spec import load_spec
from gates.contract.spec import parse_spec
from gates.model import GateError
from gates.selftest import corpus
from structural_helpers import accept_like_gates
from structural_helpers import gates_cli
from structural_helpers import rendered
from structural_helpers import run_gate

CLOSED = 'golden: specs/golden.json\nledger: specs/ledger.json\nrooms: closed\n'
# Stage 0's room also names a file under the shared docs/**: shared paths stay open.
STAGES = '''\
stages:
  - id: 0
    name: commit
    brief: "Stream the commitment: hold sqrt(T) rows."
    paths: [toyprover/stages/stage0.py, toyprover/backends/streaming/**, docs/commit.md]
  - id: 1
    name: constraints
    brief: "Stream the constraint check."
    paths: [toyprover/stages/stage1.py, toyprover/backends/streaming/**]
  - id: 2
    name: openings
    brief: "Stream the openings."
    paths: [toyprover/stages/stage2.py, toyprover/backends/streaming/**]
'''
SHARED_BACKEND = 'toyprover/backends/streaming/__init__.py'


def _subject(tmp_path: Path, closed: bool) -> TinyRepo:
    return build_tiny_subject(tmp_path, stages=STAGES, **({'tail': CLOSED} if closed else {}))


def _accept_stage0(repo: Path) -> str:
    convert_stage(repo, 0)
    commit_all(repo, 'stage 0: streaming')
    return accept_like_gates(repo, 0)


def _touch(repo: Path, rel: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else '') + '\n# stage 1 tidies this\n')


def _stage1_rewrites_stage0s_backend(repo: Path) -> None:
    convert_stage(repo, 1)
    _touch(repo, SHARED_BACKEND)       # in stage 0's room and in stage 1's own globs


@pytest.mark.parametrize('closed', [True, False])
def test_a_later_stage_editing_an_accepted_stages_room(tmp_path: Path, closed: bool) -> None:
    repo = _subject(tmp_path, closed).path
    accepted = _accept_stage0(repo)
    _stage1_rewrites_stage0s_backend(repo)
    verdict = run_gate(repo, 'scope', base=accepted)
    if not closed:
        # The default (open): stage 1's own globs cover the shared backend, as before rooms.
        assert verdict.passed, rendered(verdict)
        assert verdict.details['closed_rooms'] == {}
        return
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.file == SHARED_BACKEND and finding.stage == 0
    assert finding.message.startswith(
        'modified a path in the room of accepted stage 0 (commit): toyprover/backends/streaming/** '
        '(rooms: closed). An accepted stage\'s room is closed: use its public names from your own '
        'stage\'s files, or put what you need in a file under your own stage\'s paths; revert this file'
    ), finding.message
    assert verdict.details['closed_rooms'] == {
        '0': ['toyprover/stages/stage0.py', 'toyprover/backends/streaming/**', 'docs/commit.md']}


def test_deleting_or_renaming_out_of_a_closed_room_fails_too(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True).path
    accepted = _accept_stage0(repo)
    (repo / SHARED_BACKEND).rename(repo / 'toyprover/stages/stage1_backend.py')
    verdict = run_gate(repo, 'scope', base=accepted)
    assert [f.file for f in verdict.findings] == [SHARED_BACKEND, 'toyprover/stages/stage1_backend.py']
    assert 'the room of accepted stage 0' in verdict.findings[0].message
    assert 'outside the scope of this change' in verdict.findings[1].message


def test_a_stage_accepted_within_the_change_is_not_closed_to_it(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True).path
    _accept_stage0(repo)
    _stage1_rewrites_stage0s_backend(repo)
    # From main (the default base), this branch converts and accepts stage 0, then works on stage 1.
    verdict = run_gate(repo, 'scope')
    assert verdict.passed, rendered(verdict)
    assert verdict.details['closed_rooms'] == {}


def test_shared_paths_stay_open(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True).path
    accepted = _accept_stage0(repo)
    convert_stage(repo, 1)
    _touch(repo, 'docs/commit.md')      # stage 0's room, but under the shared docs/**
    _touch(repo, 'README.md')
    verdict = run_gate(repo, 'scope', base=accepted)
    assert verdict.passed, rendered(verdict)


def test_the_head_cannot_open_the_rooms_it_is_judged_by(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True)
    accepted = _accept_stage0(repo.path)
    _stage1_rewrites_stage0s_backend(repo.path)
    repo.spec_path.write_text(repo.spec_path.read_text().replace('rooms: closed\n', ''))
    verdict = run_gate(repo.path, 'scope', base=accepted)
    assert [f.file for f in verdict.findings] == [SHARED_BACKEND]
    assert verdict.details['spec'] == 'base'


# Integrity: closing is a ratchet.

def _integrity_keys(repo: Path, base: str) -> dict[str, str]:
    verdict = run_gate(repo, 'integrity', base=base)
    assert not verdict.passed
    return {f.message.split(' loosened: ')[0]: f.message for f in verdict.findings}


def test_reopening_the_rooms_is_a_loosening(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True)
    repo.spec_path.write_text(repo.spec_path.read_text().replace('rooms: closed\n', 'rooms: open\n'))
    commit_all(repo.path, 'specs: stage 1 needs the shared backend')
    found = _integrity_keys(repo.path, repo.baseline)
    assert list(found) == ['rooms']
    assert found['rooms'].startswith(
        'rooms loosened: closed -> open (the paths of accepted stages would open to later stages\' changes). '
        'Nothing can loosen a gate'), found['rooms']


def test_narrowing_an_accepted_stages_room_is_a_loosening(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True)
    accepted = _accept_stage0(repo.path)
    text = repo.spec_path.read_text()
    # Stage 0 (accepted) gives up the backend folder; stage 1 (not accepted) narrows its own scope.
    text = text.replace('paths: [toyprover/stages/stage0.py, toyprover/backends/streaming/**, docs/commit.md]',
                        'paths: [toyprover/stages/stage0.py, docs/commit.md]')
    text = text.replace('paths: [toyprover/stages/stage1.py, toyprover/backends/streaming/**]',
                        'paths: [toyprover/stages/stage1.py]')
    repo.spec_path.write_text(text)
    commit_all(repo.path, 'specs: the backend belongs to the later stages')
    found = _integrity_keys(repo.path, accepted)
    assert list(found) == ['stages[0].paths']
    assert ('stages[0].paths loosened: [toyprover/stages/stage0.py, toyprover/backends/streaming/**, '
            'docs/commit.md] -> [toyprover/stages/stage0.py, docs/commit.md] (stage 0 is accepted and '
            'rooms are closed: a later stage may then touch what the removed glob covered (removed: '
            'toyprover/backends/streaming/**))') in found['stages[0].paths']


def _new_protocol_after_stage0(tmp_path: Path, **spec: str) -> tuple[Path, str]:
    """A toy repository whose prover changed protocol (commit v2) after stage 0 was accepted
    against the old oracle, on a branch ``rebaseline``: the starting point of a re-baseline."""
    repo = build_like_this_repo(tmp_path, stages=STAGES, **spec).path
    common = repo / 'toyprover/backends/common.py'
    common.write_text(common.read_text().replace('text = repr((stage,', 'text = repr(("v2", stage,'))
    v2 = commit_all(repo, 'toy prover v2: a new protocol')
    accept_like_gates(repo, 0)       # stage 0 accepted on main, against the old oracle
    git(repo, 'checkout', '-q', '-b', 'rebaseline')
    return repo, v2


def test_a_rebaseline_may_narrow_the_rooms_it_reopens(tmp_path: Path) -> None:
    """A checked re-baseline empties the ledger, so no room stays closed: the spec may then give
    each stage a narrower room (issue 14.5 splits the streaming backend in its re-baseline)."""
    repo, v2 = _new_protocol_after_stage0(tmp_path, tail=CLOSED)
    spec = repo / 'specs/streaming-prover.yaml'
    spec.write_text(spec.read_text().replace(', toyprover/backends/streaming/**, docs/commit.md]', ', docs/commit.md]'))
    commit_all(repo, 'specs: stage 0 keeps to its own files')
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2: rooms per piece', '--reset-ledger')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_rebaseline_may_declare_the_units_of_its_new_oracle(tmp_path: Path) -> None:
    """Units may be written only before the first acceptance; a checked re-baseline empties the
    ledger, so the new oracle's units are declared with it (issue 14.4: the spec's units for v3
    go in with the re-baseline). Without the re-baseline the same edit is a loosening."""
    repo, v2 = _new_protocol_after_stage0(tmp_path)
    spec = repo / 'specs/streaming-prover.yaml'
    spec.write_text(spec.read_text().replace('    max_pairs: 11\n', '    max_pairs: 11\n    units: [[0, 2]]\n'))
    commit_all(repo, 'specs: stages 0 and 2 judged as one unit under the new oracle')
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 1 and 'budgets.time.units' in proc.stdout, proc.stdout + proc.stderr
    proc = gates_cli(repo, 'rebaseline', v2, '--reason', 'v2: stages 0 and 2 are coupled', '--reset-ledger')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = gates_cli(repo, 'check', '--tier', 'pre-commit', '--gate', 'integrity')
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_closing_the_rooms_is_no_loosening(tmp_path: Path) -> None:
    repo = _subject(tmp_path, False)
    accepted = _accept_stage0(repo.path)
    repo.spec_path.write_text(repo.spec_path.read_text() + 'rooms: closed\n')
    commit_all(repo.path, 'specs: close the accepted stages\' rooms')
    verdict = run_gate(repo.path, 'integrity', base=accepted)
    assert verdict.passed, rendered(verdict)


def test_the_directions_on_parsed_specs() -> None:
    open_ = parse_spec(toy_spec_yaml(stages=STAGES), 'toy.yaml')
    closed = parse_spec(toy_spec_yaml(stages=STAGES, tail=CLOSED), 'toy.yaml')
    narrowed = parse_spec(toy_spec_yaml(stages=STAGES.replace(', docs/commit.md]', ']'), tail=CLOSED), 'toy.yaml')
    assert loosening.spec(open_, closed, True, (0,)) == []
    assert [i.key for i in loosening.spec(closed, open_, True, (0,))] == ['rooms']
    assert [i.key for i in loosening.spec(closed, narrowed, True, (0,))] == ['stages[0].paths']
    # Not accepted yet, or rooms open: a stage's narrower paths only tighten its own scope.
    assert loosening.spec(closed, narrowed, False, ()) == []
    assert loosening.spec(open_, parse_spec(toy_spec_yaml(stages=STAGES.replace(', docs/commit.md]', ']')),
                                            't.yaml'), True, (0,)) == []


# The spec key.

def test_rooms_default_open_and_are_validated() -> None:
    assert parse_spec(toy_spec_yaml(), 'toy.yaml').rooms == 'open'
    spec = parse_spec(toy_spec_yaml(stages=STAGES, tail=CLOSED), 'toy.yaml')
    assert spec.rooms == 'closed'
    assert [s.id for s in spec.closed_rooms([0, 1])] == [0, 1]
    assert parse_spec(toy_spec_yaml(), 'toy.yaml').closed_rooms([0, 1]) == ()
    text = toy_spec_yaml(tail=CLOSED.replace('closed', 'shut'))
    with pytest.raises(GateError) as err:
        parse_spec(text, 'toy.yaml')
    line = text.splitlines().index('rooms: shut') + 1
    assert str(err.value) == f'toy.yaml:{line}: rooms: expected open or closed, got "shut".'


def test_an_optimisation_keeps_its_rooms_open() -> None:
    from test_loosening_keys import MERKLE_TEXT
    with pytest.raises(GateError) as err:
        parse_spec(MERKLE_TEXT + 'rooms: closed\n', 'merkle.yaml')
    assert 'rooms: an optimisation spec keeps its rooms open' in str(err.value)
    assert parse_spec(MERKLE_TEXT + 'rooms: open\n', 'merkle.yaml').rooms == 'open'


# What the agent is told before it edits.

def test_next_and_the_brief_name_the_closed_rooms(tmp_path: Path) -> None:
    repo = _subject(tmp_path, True)
    spec = load_spec(repo.spec_path, 'specs/streaming-prover.yaml')
    ledger_path = repo.path / spec.ledger
    assert 'Closed rooms' not in agent_brief(spec, read_ledger(ledger_path, spec.ledger))
    _accept_stage0(repo.path)
    brief = agent_brief(spec, read_ledger(ledger_path, spec.ledger))
    assert ('## Closed rooms (accepted stages\' paths: never edit, even where your allowed paths cover them)\n\n'
            '- `toyprover/stages/stage0.py` (stage 0, commit)\n'
            '- `toyprover/backends/streaming/**` (stage 0, commit)\n'
            '- `docs/commit.md` (stage 0, commit)\n') in brief
    assert 'and paths in an accepted stage\'s closed room (scope)' in brief
    out = io.StringIO()
    assert next_stage(repo.path, None, out) == 0
    assert ('but not the closed rooms of accepted stages (rooms: closed): stage 0: '
            'toyprover/stages/stage0.py, toyprover/backends/streaming/**, docs/commit.md\n') in out.getvalue()


def test_open_rooms_leave_the_brief_as_it_was(tmp_path: Path) -> None:
    repo = _subject(tmp_path, False)
    _accept_stage0(repo.path)
    spec = load_spec(repo.spec_path, 'specs/streaming-prover.yaml')
    brief = agent_brief(spec, read_ledger(repo.path / spec.ledger, spec.ledger))
    assert 'Closed rooms' not in brief and 'closed room' not in brief
    out = io.StringIO()
    next_stage(repo.path, None, out)
    assert 'closed rooms' not in out.getvalue()


def test_the_corpus_case_fails_scope_for_the_closed_room(tmp_path: Path) -> None:
    """The self-test corpus holds the attack (about 45 s: stage 0 is accepted for real first)."""
    proc = gates_cli(tmp_path, 'selftest', '--case', 'closed-room-rewrite', '--json')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (case,) = json.loads(proc.stdout)['cases']
    assert case['matched'] and case['verdicts'] == {**corpus.ALL_PASS, 'scope': False}
    (finding,) = case['findings']['scope']
    assert 'modified a path in the room of accepted stage 0 (commit): toyprover/backends/streaming/**' in finding
