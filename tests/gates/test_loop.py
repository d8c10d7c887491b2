"""``gates loop`` with scripted agents: real subprocesses, real git, real gates, the toy subject."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _browser import load
from _loop_helpers import ALTERNATE
from _loop_helpers import COMMENT_ONLY
from _loop_helpers import CONVERT_STAGE0
from _loop_helpers import FAST_TIERS
from _loop_helpers import HANG_ON_SECOND
from _loop_helpers import SCOPE_THEN_FIX
from _loop_helpers import agent_cmd
from _loop_helpers import gates_env
from _loop_helpers import loop_subject
from _loop_helpers import run_loop
from _loop_helpers import snapshot
from conftest import _SPEC_BLOCKS
from conftest import build_tiny_subject
from conftest import git
from conftest import write_files


def user_branch(repo: Path) -> str:
    return git(repo, 'symbolic-ref', '--short', 'HEAD')


def loop_branches(repo: Path) -> list[str]:
    return git(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/gates-loop/').split()


def attempt_refs(repo: Path) -> list[str]:
    return git(repo, 'for-each-ref', '--format=%(refname)', 'refs/gates-loop/').split()


@pytest.mark.slow
def test_out_of_scope_first_then_fixed_from_the_feedback_passes_in_two(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    repo = tiny.path
    start = git(repo, 'rev-parse', 'HEAD')
    proc = run_loop(repo, '--agent', agent_cmd(tmp_path, 'fixer', SCOPE_THEN_FIX),
                    '--max-iterations', '4', '--until', 'check', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ''                      # --json: the document alone, no progress
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'passed' and doc['exit_code'] == 0
    first, second = doc['iterations']
    assert first['outcome'] == 'failed' and first['failed_gates'] == ['scope']
    assert [f['file'] for f in first['findings']] == ['toyprover/backends/common.py']
    assert second['outcome'] == 'passed' and second['files'] == ['toyprover/backends/common.py']
    # The user's branch was clean, so it was fast-forwarded to the passing attempt.
    assert git(repo, 'rev-parse', 'HEAD') == second['commit'] == doc['passing_commit']
    assert git(repo, 'symbolic-ref', '--short', 'HEAD') == doc['user_branch']
    assert git(repo, 'rev-list', '--count', f'{start}..HEAD') == '2'
    assert git(repo, 'status', '--porcelain') == ''
    assert 'streaming' in (repo / 'toyprover/stages/stage0.py').read_text()
    assert git(repo, 'worktree', 'list').count('\n') == 0
    (branch,) = loop_branches(repo)
    assert git(repo, 'rev-parse', branch) == second['commit'] and len(attempt_refs(repo)) == 2
    # The agent read the feedback from the file and from stdin: the same text.
    folder = Path(doc['transcript']['markdown']).parent
    assert (folder / 'agent-1.log').read_text().startswith('stdin-ok')
    assert 'reverted toyprover/backends/common.py' in (folder / 'agent-2.log').read_text()
    feedback = (folder / 'feedback-2.md').read_text()
    assert 'Failed gates: scope.' in feedback and '"exit_code": 1' in feedback
    assert re.search(r'toyprover/stages/stage0\.py +\| 2 \+-', feedback)   # changed since the last
    assert '## Commit rules' in feedback and 'Protected paths' in feedback
    fb = json.loads((folder / 'feedback-2.json').read_text())
    assert fb['iteration'] == 2 and fb['last_verdict']['verdicts'][1]['gate'] == 'scope'
    # Transcript: machine-readable (one event per line) and for people.
    events = [json.loads(line) for line in Path(doc['transcript']['jsonl']).read_text().splitlines()]
    assert [e['event'] for e in events] == ['start', 'iteration', 'iteration', 'end']
    assert all(e['check_seconds'] > 0 and e['diffstat'] for e in events[1:3])
    md = Path(doc['transcript']['markdown']).read_text()
    assert '| 1 | failed |' in md and '| 2 | passed |' in md and 'scope: modified outside' in md
    page = load(Path(doc['transcript']['html']), tmp_path / 'browser')
    assert page.body.get('data-errors') is None and page.console == []   # no script at all
    assert '<td>failed</td>' in page.dom and 'scope: modified outside' in page.dom


@pytest.mark.slow
def test_progress_goes_to_stderr_without_json(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    branch = user_branch(tiny.path)
    proc = run_loop(tiny.path, '--agent', agent_cmd(tmp_path, 'fixer', SCOPE_THEN_FIX), '--until', 'check')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ''
    for line in ('iteration 1 of 5: running the agent', 'iteration 1 of 5: check failed (scope) after',
                 'iteration 2 of 5: check passed after', '    gates: scope FAILED',
                 f'{branch} fast-forwarded to'):
        assert line in proc.stderr, proc.stderr


def test_an_agent_that_changes_nothing_is_stopped(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    git(tiny.path, 'branch', 'upstream-line', 'stagegate-baseline')
    git(tiny.path, 'branch', '--set-upstream-to=upstream-line', user_branch(tiny.path))
    before = snapshot(tiny.path)
    proc = run_loop(tiny.path, '--agent', 'true', '--max-iterations', '3', '--json')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    (only,) = doc['iterations']
    assert only['outcome'] == 'no-change' and only['check_exit'] is None   # nothing to check
    assert doc['reason'] == 'the agent made no change'
    assert snapshot(tiny.path) == before
    # The loop branch tracks what the user's branch tracks: a check's default base is the same.
    (branch,) = loop_branches(tiny.path)
    assert git(tiny.path, 'rev-parse', '--abbrev-ref', f'{branch}@{{upstream}}') == 'upstream-line'


@pytest.mark.slow
def test_an_agent_alternating_between_two_attempts_is_stopped(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    before = snapshot(tiny.path)
    proc = run_loop(tiny.path, '--agent', agent_cmd(tmp_path, 'flip', ALTERNATE),
                    '--max-iterations', '6', '--json')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert [i['outcome'] for i in doc['iterations']] == ['failed', 'failed', 'repeat']
    assert doc['iterations'][2]['repeats'] == 1 and 'attempt 1 (thrashing)' in doc['reason']
    assert doc['iterations'][2]['check_exit'] is None            # a repeat is not re-checked
    # Nothing passed: the user's side is exactly as before; the three attempts are kept.
    assert snapshot(tiny.path) == before
    (branch,) = loop_branches(tiny.path)
    assert git(tiny.path, 'rev-list', '--count', f'HEAD..{branch}') == '3'


@pytest.mark.slow
def test_ctrl_c_in_the_middle_leaves_the_user_alone_and_keeps_every_attempt(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    repo = tiny.path
    # The user has work in progress: a staged edit, an unstaged edit, an untracked file.
    write_files(repo, {'README.md': '# toy, staged edit\n'})
    git(repo, 'add', 'README.md')
    write_files(repo, {'README.md': '# toy, staged edit\nand an unstaged one\n', 'notes.txt': 'mine\n'})
    before = snapshot(repo)
    marker = tmp_path / 'hanging'
    env = {**gates_env(), 'MARKER': str(marker)}
    proc = subprocess.Popen(
        (sys.executable, '-m', 'gates', 'loop', '--agent', agent_cmd(tmp_path, 'hang', HANG_ON_SECOND),
         '--json'), cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 300
    while not marker.exists():                    # iteration 1 checked, iteration 2's agent hangs
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    doc = json.loads(out)
    assert [i['outcome'] for i in doc['iterations']] == ['failed', 'interrupted']
    assert snapshot(repo) == before
    (branch,) = loop_branches(repo)
    log = git(repo, 'log', '--format=%s', f'HEAD..{branch}').splitlines()
    assert log == ['gates loop: attempt 2 (interrupted)', 'gates loop: attempt 1 (agent exit 0)']
    assert '# attempt 2' in git(repo, 'show', f'{branch}:toyprover/stages/stage0.py')
    assert len(attempt_refs(repo)) == 2
    # The hanging agent was stopped with the loop, and no temporary tree is left.
    assert subprocess.run(('pgrep', '-f', str(tmp_path / 'hang.py')), capture_output=True).returncode == 1
    assert git(repo, 'worktree', 'list').count('\n') == 0


def test_bad_input_is_refused_before_any_work(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    before = snapshot(tiny.path)
    for args, words in (
            (('--agent', 'true', '--tier', 'nightly'), "no tier 'nightly'"),
            (('--agent', 'true', '--max-iterations', '0'), '--max-iterations 0'),
            (('--agent', ' '), '--agent: give the shell command'),
            (('--agent', 'true', '--no-accept'), '--no-accept contradicts --until accepted'),
    ):
        proc = run_loop(tiny.path, *args)
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and proc.stderr.count('\n') == 1, proc.stderr
    assert snapshot(tiny.path) == before and loop_branches(tiny.path) == []


def test_an_agent_that_cannot_run_is_unusable_input(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    proc = run_loop(tiny.path, '--agent', 'no-such-agent-xyz --go', '--json')
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'could not be run (exit 127)' in json.loads(proc.stdout)['reason']


def test_next_format_agent_gives_the_rules(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    proc = subprocess.run((sys.executable, '-m', 'gates', 'next', '--format', 'agent'), cwd=tiny.path,
                          env=gates_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith('# toy-streaming: convert stage 0 (commit)')
    for expected in ('Stream the commitment: hold sqrt(T) rows.', '- `toyprover/stages/stage0.py`',
                     '- `toyprover/verifier.py`', '- `specs/golden.json`',
                     '`gates check --tier ci --json`', 'One stage per commit series',
                     'only in a commit of its own', 'below 98% of the reference',
                     'under 2x the baseline', 'loosening is refused',
                     '`gates check --tier pre-commit`: api, scope, integrity, proof on toy-12;',
                     '`gates check --tier full`: api, scope, integrity, proof, memory, time on toy-12, toy-13;'):
        assert expected in text, expected


@pytest.mark.slow
def test_a_pass_on_a_dirty_tree_is_not_fast_forwarded_nor_accepted(tmp_path: Path) -> None:
    tiny = loop_subject(tmp_path)
    repo = tiny.path
    write_files(repo, {'notes.txt': 'work in progress\n'})
    before = snapshot(repo)
    proc = run_loop(repo, '--agent', agent_cmd(tmp_path, 'fixer', SCOPE_THEN_FIX), '--until', 'check',
                    '--accept', '--json')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'passed' and doc['passing_commit']
    assert any('uncommitted changes (notes.txt)' in n and 'git merge --ff-only' in n for n in doc['notes'])
    assert any(n.startswith('not accepted') for n in doc['notes'])
    assert snapshot(repo) == before
    (branch,) = loop_branches(repo)
    assert git(repo, 'rev-parse', branch) == doc['passing_commit']


@pytest.mark.slow
def test_accept_after_a_pass_records_the_stage(tmp_path: Path) -> None:
    # As in test_cli's end-to-end run: 25 ms toy stages and up to 7 pairs keep the time gate's
    # self-vs-self ratios of a shared machine clear of the budget.
    budgets = _SPEC_BLOCKS['budgets'].replace('max_pairs: 11', 'max_pairs: 7')
    tiny = build_tiny_subject(tmp_path, sleep_ms=25, budgets=budgets, tiers=FAST_TIERS)
    repo = tiny.path
    # --until check --accept: the ending before issue 17 (accept runs on the user's branch after
    # the fast-forward); the default ending is test_a_pass_that_converts_the_stage_is_accepted...
    proc = run_loop(repo, '--agent', agent_cmd(tmp_path, 'fixer', SCOPE_THEN_FIX), '--until', 'check',
                    '--accept', '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'passed' and len(doc['iterations']) == 2
    assert git(repo, 'log', '-1', '--format=%s') == 'gates: accept stage 0 (commit)'
    assert git(repo, 'rev-parse', 'HEAD~1') == doc['passing_commit']
    (row,) = json.loads((repo / 'specs/ledger.json').read_text())['rows']
    assert row['stage'] == 0 and row['commit'] == doc['passing_commit']
    assert git(repo, 'status', '--porcelain') == ''


def _accept_budgets() -> str:
    # As in test_accept_after_a_pass_records_the_stage: 25 ms toy stages and up to 7 pairs.
    return _SPEC_BLOCKS['budgets'].replace('max_pairs: 5', 'max_pairs: 7')


@pytest.mark.slow
def test_a_pass_that_converts_nothing_ends_checked_not_converted(tmp_path: Path) -> None:
    tiny = build_tiny_subject(tmp_path, sleep_ms=25, budgets=_accept_budgets(), tiers=FAST_TIERS)
    repo = tiny.path
    before = snapshot(repo)
    start = git(repo, 'rev-parse', 'HEAD')
    proc = run_loop(repo, '--agent', agent_cmd(tmp_path, 'comment', COMMENT_ONLY), '--json')
    assert proc.returncode == 5, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'checked, not converted' and doc['exit_code'] == 5
    (only,) = doc['iterations']
    assert only['check_exit'] == 0 and only['outcome'] == 'not-converted' and only['accept_exit'] == 1
    assert 'memory' in only['accept_failed_gates'] and doc['accepted_commit'] is None
    assert 'stage 0 (commit) is not converted' in doc['reason'] and '(failed: memory' in doc['reason']
    # Nothing reaches the user: branch, tree and ledger as before; the attempt stays on the loop branch.
    assert snapshot(repo) == before
    assert json.loads((repo / 'specs/ledger.json').read_text())['rows'] == []
    (branch,) = loop_branches(repo)
    assert git(repo, 'rev-parse', branch) == doc['passing_commit'] == only['commit']
    assert any(f'git merge --ff-only {only["commit"][:12]}' in n for n in doc['notes'])
    # The feedback named the start commit and how to revert a path to it, and the goal.
    folder = Path(doc['transcript']['markdown']).parent
    feedback = (folder / 'feedback-1.md').read_text()
    assert f'git checkout {start} -- <path>' in feedback and 'checked, not converted' in feedback
    assert '| 1 | not-converted |' in Path(doc['transcript']['markdown']).read_text()


@pytest.mark.slow
def test_a_pass_that_converts_the_stage_is_accepted_and_fast_forwarded(tmp_path: Path) -> None:
    tiny = build_tiny_subject(tmp_path, sleep_ms=25, budgets=_accept_budgets(), tiers=FAST_TIERS)
    repo = tiny.path
    proc = run_loop(repo, '--agent', agent_cmd(tmp_path, 'convert', CONVERT_STAGE0), '--json')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc['outcome'] == 'accepted' and doc['until'] == 'accepted'
    assert doc['reason'] == 'the check passed and gates accept recorded stage 0 (commit) at iteration 1 of 5'
    (only,) = doc['iterations']
    assert only['outcome'] == 'accepted' and only['accept_exit'] == 0
    # The user's branch holds the attempt and, on top, the ledger row accept committed.
    assert git(repo, 'rev-parse', 'HEAD') == doc['accepted_commit'] == only['accepted_commit']
    assert git(repo, 'rev-parse', 'HEAD~1') == doc['passing_commit'] == only['commit']
    assert git(repo, 'log', '-1', '--format=%s') == 'gates: accept stage 0 (commit)'
    (row,) = json.loads((repo / 'specs/ledger.json').read_text())['rows']
    assert row['stage'] == 0 and row['commit'] == doc['passing_commit']
    assert git(repo, 'status', '--porcelain') == '' and git(repo, 'worktree', 'list').count('\n') == 0
