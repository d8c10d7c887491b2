"""`gates status`, `gates next` (and `--format agent`), `gates loop` and the check's header speak
optimisation mode (issue 8.5): no stage under conversion, the target (a stage or the whole run)
and the ledger row the next accept would record. On real copies of examples/merkle."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _loop_helpers import agent_cmd
from _loop_helpers import run_loop
from conftest import commit_all
from conftest import git
from gates.contract.focus import optimisation_row_name
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import append_row
from gates.contract.ledger import make_row
from gates.contract.ledger import read_ledger
from gates.contract.spec import Stage
from gates.contract.spec import load_spec
from test_examples import EXAMPLE
from test_examples import FAST
from test_examples import example_repo
from test_examples import example_repo_from

SPEC = 'specs/merkle.yaml'


def gates(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run((sys.executable, '-m', 'gates', *args), cwd=repo, check=False,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def whole_run_repo(tmp_path: Path) -> Path:
    source = tmp_path / 'src'
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns('__pycache__', '.stagegate'))
    spec = source / SPEC
    spec.write_text(spec.read_text(encoding='utf-8').replace('target: openings', 'target: run'), encoding='utf-8')
    return example_repo_from(source, tmp_path)


def add_row(repo: Path) -> None:
    """A row as `gates accept` writes it in optimisation mode (status reads rows, it does not
    re-measure them: the integrity gate does that)."""
    spec = load_spec(repo / SPEC, SPEC)
    path = repo / spec.ledger
    ledger = read_ledger(path, spec.ledger)
    figures = {'n12': WorkloadFigures({'0': 1 << 20, '1': 1 << 20, '2': 2 << 20}, 3 << 20, 0.6,
                                      {'0': 1.0, '1': 1.0, '2': 0.3}, 'ab' * 32)}
    row = make_row(Stage(len(ledger.rows), optimisation_row_name(spec), '', (), 0),
                   git(repo, 'rev-parse', 'HEAD'), False, figures)
    append_row(path, ledger, row)
    commit_all(repo, 'gates: accept stage 0 (optimisation of stage 2)')


def test_status_names_the_target_and_the_next_row(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    proc = gates(repo, 'status')
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith('merkle-openings: optimisation of stage 2 (openings) (mode: optimisation; '
                          'nothing converts), 0 optimisations accepted\n')
    assert '  2  openings             target\n' in out
    assert '  0  leaves               reported, not judged\n' in out
    assert out.rstrip().endswith('The next `gates accept` records ledger row 0 (optimisation of stage 2).')
    assert 'under conversion' not in out and 'materialized' not in out
    add_row(repo)
    out = gates(repo, 'status').stdout
    assert '1 optimisation accepted' in out
    assert '  row 0  optimisation of stage 2' in out
    assert 'n12: in-stage peak 2.0 MiB, whole run 3.0 MiB, time x0.60 (stage x0.30)' in out
    assert out.rstrip().endswith('records ledger row 1 (optimisation of stage 2).')


def test_status_and_next_of_a_whole_run_optimisation(tmp_path: Path) -> None:
    repo = whole_run_repo(tmp_path)
    out = gates(repo, 'status').stdout
    assert out.startswith('merkle-openings: optimisation of the whole run (mode: optimisation;')
    assert '  1  root                 in the target\n' in out
    assert 'records ledger row 0 (optimisation of the whole run).' in out
    proc = gates(repo, 'next')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('Optimisation of the whole run: nothing converts. The same proof '
                                  'bytes, faster end to end: under 0.9x')
    assert 'It may touch: merkle.py\n' in proc.stdout
    assert 'records ledger row 0 (optimisation of the whole run)' in proc.stdout
    agent = gates(repo, 'next', '--format', 'agent').stdout
    assert agent.startswith('# merkle-openings: optimise the whole run\n')
    assert 'the prove time end to end is under 0.9x' in agent
    assert 'Make the whole run faster.' in agent
    for wrong in ('convert stage', 'under conversion.', 'nothing to convert', 'converted stage still using'):
        assert wrong not in agent, wrong


def test_next_names_the_target_stage_and_never_says_convert(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    add_row(repo)
    human = gates(repo, 'next').stdout
    assert human.startswith('Optimisation of stage 2 (openings): nothing converts.')
    assert 'faster in stage 2: under 0.9x' in human
    assert 'Authentication paths of the indices' in human            # the target's brief
    assert '`gates accept` records ledger row 1 (optimisation of stage 2)' in human
    agent = gates(repo, 'next', '--format', 'agent').stdout
    assert agent.startswith('# merkle-openings: optimise stage 2 (openings)\n')
    assert '1 optimisation accepted so far; the next `gates accept` records ledger row 1' in agent
    assert '## What "optimised" means, in figures' in agent
    assert 'every workload of the tier (`ci`: n12)' in agent
    assert '- `merkle.py::verify`' in agent                           # protected by symbol
    assert '1. One optimisation per commit series: every commit of this series optimises stage 2' in agent
    for wrong in ('convert stage', 'under conversion.', 'stages accepted', 'converted stage still using'):
        assert wrong not in human + agent, wrong


def test_the_check_header_names_the_optimisation(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    proc = gates(repo, 'check', '--tier', 'pre-commit')
    assert 'gates check: optimisation of stage 2 (openings), tier pre-commit [n12]' in proc.stdout, proc.stdout
    doc = json.loads(gates(repo, 'check', '--tier', 'pre-commit', '--json').stdout)
    assert (doc['mode'], doc['target'], doc['stage_under_conversion']) == (
        'optimisation', 'stage 2 (openings)', None)


FAST_AGENT = f'''\
import os
text = open(os.environ['GATES_FEEDBACK'], encoding='utf-8').read()
open(os.environ['SEEN'], 'w', encoding='utf-8').write(text)
open('merkle.py', 'w', encoding='utf-8').write({FAST!r})
'''


@pytest.mark.slow
def test_the_loop_works_on_the_target_and_its_transcript_says_so(tmp_path: Path) -> None:
    repo = example_repo(tmp_path)
    seen = tmp_path / 'seen.md'
    agent = f'SEEN={seen} ' + agent_cmd(tmp_path, 'fast', FAST_AGENT)
    # pre-commit: api, scope, integrity and proof judge the attempt; time is the full tier's.
    # --until check: this test is about the loop's focus and feedback, not the accept after it.
    proc = run_loop(repo, '--agent', agent, '--tier', 'pre-commit', '--max-iterations', '2', '--until', 'check', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'passed'
    assert doc['focus'] == 'optimisation of stage 2 (openings)'
    assert doc['stage'] == {'mode': 'optimisation', 'id': 2, 'name': 'openings', 'next_row': 0,
                            'row_name': 'optimisation of stage 2'}
    feedback = seen.read_text(encoding='utf-8')
    assert '# merkle-openings: optimise stage 2 (openings)' in feedback
    assert 'convert stage' not in feedback and 'under conversion.' not in feedback
    md = Path(doc['transcript']['markdown']).read_text(encoding='utf-8')
    assert 'Optimisation of stage 2 (openings), tier `pre-commit`' in md
    fb = json.loads((Path(doc['transcript']['markdown']).parent / 'feedback-1.json').read_text())
    assert fb['stage']['paths'] == ['merkle.py'] and fb['stage']['row_name'] == 'optimisation of stage 2'
