"""``gates loop --agent CMD``: drive a coding agent through implement -> check -> fix.

Each iteration: write the feedback (``GATES_FEEDBACK``, also on the agent's stdin), run CMD in a
worktree of the loop branch ``gates-loop/<stamp>``, commit what it left there, run
``gates check --tier T --json`` on that commit. Stops when the check passes, after
``--max-iterations``, when the agent made no change or repeated an earlier attempt's tree, and
on Ctrl-C / SIGTERM.

The loop succeeds only when the mode's goal is met (``--until accepted``, the default): a passing
attempt is then handed to ``gates accept`` in the loop's worktree (the full tier; in conversion
mode the stage's in-stage peak must drop and its time stay within budget), and only an accepted
attempt (with its ledger commit) is fast-forwarded onto the user's branch. A passing attempt that
accept refuses ends as "checked, not converted" (exit 5). ``--until check`` stops at the passing
check as before (then fast-forwards, and runs ``gates accept`` on the user's branch with
``--accept``).

The user's branch, index and working tree are never touched before an attempt passes: the agent
works in its own worktree, and the transcript lives in the git directory. Every attempt stays a
commit on the loop branch and under ``refs/gates-loop/<stamp>/attempt-<k>`` (so an agent that
rewrites the branch cannot lose one), on every ending.

The check runs in the worktree as ``python -P -m gates`` (-P: the working directory is not put
on sys.path), so the installed engine judges, never a ``gates/`` package the agent wrote there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO

from git import Repo

from gates.vcs import repo as repo_mod
from gates.contract.focus import Focus
from gates.contract.focus import focus
from gates.reports.brief import agent_brief
from gates.reports.brief import commit_rules
from gates.session import spec_relpath
from gates.contract.ledger import read_ledger
from gates.vcs.loopgit import IDENTITY
from gates.vcs.loopgit import child_env
from gates.vcs.loopgit import current_branch
from gates.vcs.loopgit import fast_forward
from gates.vcs.loopgit import git
from gates.vcs.loopgit import git_ok
from gates.vcs.loopgit import new_stamp
from gates.vcs.loopgit import no_interrupts
from gates.vcs.loopgit import stop
from gates.vcs.loopgit import upstream_of
from gates.reports.looptranscript import Feedback
from gates.reports.looptranscript import Iteration
from gates.reports.looptranscript import Transcript
from gates.reports.looptranscript import failing
from gates.model import GateError
from gates.contract.spec import Spec
from gates.contract.spec import load_spec

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPT = 0, 1, 2, 3, 130
# The check passed but `gates accept` refused the attempt: the goal (a converted, accepted stage)
# was not met although every gate of the check's tier passed.
EXIT_NOT_CONVERTED = 5   # 4 is gates check's inconclusive time verdict
UNTIL = ('accepted', 'check')
# The check converts SIGTERM into its Ctrl-C path (temporary trees removed); give it that long.
CHECK_GRACE = 60.0
AGENT_GRACE = 5.0


class Run:
    """One loop run's state: repository, loop branch and worktree, transcript, options."""

    def __init__(self, root: Path, spec_rel: str, spec_given: bool, agent: str, tier: str,
                 max_iterations: int, quiet: bool, folder: Path, stamp: str) -> None:
        self.root, self.spec_rel, self.spec_given = root, spec_rel, spec_given
        self.agent, self.tier, self.max_iterations, self.quiet = agent, tier, max_iterations, quiet
        self.folder, self.stamp = folder, stamp
        self.branch = f'gates-loop/{stamp}'
        self.transcript = Transcript(folder)
        self.iterations: list[Iteration] = []
        self.recorded: set[int] = set()
        self.last_doc: dict[str, Any] | None = None
        self.base: str | None = None
        self.until = 'accepted'
        self.tmp = Path(tempfile.mkdtemp(prefix='stagegate-loop-'))
        self.tree = self.tmp / 'tree'
        self.ident: tuple[str, ...] = () if git_ok(root, 'config', 'user.email') else IDENTITY

    def record(self, it: Iteration) -> None:
        self.recorded.add(it.number)
        self.transcript.add(it.to_dict())

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f'gates loop: {message}', file=sys.stderr, flush=True)

    def where(self, k: int) -> str:
        return f'iteration {k} of {self.max_iterations}'

    def head(self) -> str:
        return git(self.tree, 'rev-parse', 'HEAD').strip()

    def tree_of(self, rev: str) -> str:
        return git(self.tree, 'rev-parse', f'{rev}^{{tree}}').strip()

    def commit_attempt(self, message: str) -> str:
        """Commit whatever the agent left uncommitted (hooks skipped: the loop checks itself)."""
        git(self.tree, 'add', '-A')
        if not git_ok(self.tree, 'diff', '--cached', '--quiet'):
            git(self.tree, *self.ident, 'commit', '-q', '--no-verify', '-m', message)
        return self.head()

    def keep(self, k: int, sha: str) -> None:
        git(self.root, 'update-ref', f'refs/gates-loop/{self.stamp}/attempt-{k}', sha)

    def run_agent(self, k: int, feedback_md: Path, feedback_json: Path, start: str) -> int:
        env = child_env({
            'GATES_FEEDBACK': str(feedback_md), 'GATES_FEEDBACK_JSON': str(feedback_json),
            'GATES_ITERATION': str(k), 'GATES_MAX_ITERATIONS': str(self.max_iterations),
            'GATES_LOOP_BRANCH': self.branch, 'GATES_START_COMMIT': start, 'GATES_TIER': self.tier,
        })
        log = self.folder / f'agent-{k}.log'
        with open(feedback_md, 'rb') as stdin, open(log, 'wb') as out:
            # Its own session: Ctrl-C reaches the loop, which then stops the agent's whole group.
            proc = subprocess.Popen(self.agent, shell=True, cwd=self.tree, env=env, stdin=stdin,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                return proc.wait()
            finally:
                stop(proc, AGENT_GRACE, own_handler=False)

    def engine(self, command: str, *args: str) -> list[str]:
        argv = [sys.executable, '-P', '-m', 'gates', command, *args]
        if self.spec_given:
            argv += ['--spec', self.spec_rel]
        if self.base is not None:
            argv += ['--base', self.base]
        return argv

    def run_engine(self, argv: Sequence[str], cwd: Path, stdout: Path, log: Path) -> int:
        """A ``gates`` subcommand; its stderr is kept in ``log`` and shown indented."""
        with open(stdout, 'wb') as out, open(log, 'w', encoding='utf-8') as err_log:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=child_env({}), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            try:
                if proc.stderr is not None:
                    for line in proc.stderr:
                        err_log.write(line)
                        err_log.flush()
                        if not self.quiet:
                            print(f'    {line.rstrip()}', file=sys.stderr, flush=True)
                return proc.wait()
            finally:
                stop(proc, CHECK_GRACE, own_handler=True)
                if proc.stderr is not None:
                    proc.stderr.close()

    def check(self, k: int, it: Iteration) -> dict[str, Any] | None:
        out = self.folder / f'check-{k}.json'
        self.say(f'{self.where(k)}: gates check --tier {self.tier} on {it.commit and it.commit[:12]}')
        began = time.monotonic()
        code = self.run_engine(self.engine('check', '--tier', self.tier, '--json'), self.tree,
                               out, self.folder / f'check-{k}.log')
        it.check_seconds, it.check_exit = time.monotonic() - began, code
        try:
            doc: dict[str, Any] | None = json.loads(out.read_text(encoding='utf-8'))
        except (OSError, ValueError):
            doc = None
        if code == EXIT_INTERRUPT:
            raise KeyboardInterrupt
        if doc is None or code not in (EXIT_PASS, EXIT_FAIL, EXIT_USAGE):
            it.outcome = 'check-error'
            it.check_error = f'gates check exited {code} without a verdict; see {self.folder / f"check-{k}.log"}'
            return doc
        it.failed_gates, it.findings = failing(doc)
        if code == EXIT_USAGE:
            it.check_error = str(doc.get('error'))
        it.outcome = 'passed' if code == EXIT_PASS else 'failed'
        return doc

    def accept(self, k: int, it: Iteration) -> None:
        """``gates accept`` on the passing attempt, in the loop's worktree (clean: the attempt is
        committed), so the user's branch only ever receives an accepted stage."""
        self.say(f'{self.where(k)}: the check passed; gates accept (the full tier) on '
                 f'{str(it.commit)[:12]}')
        out = self.folder / f'accept-{k}.out'
        began = time.monotonic()
        code = self.run_engine(self.engine('accept'), self.tree, out, self.folder / f'accept-{k}.log')
        it.accept_seconds, it.accept_exit = time.monotonic() - began, code
        if code == EXIT_INTERRUPT:
            raise KeyboardInterrupt
        try:
            text = out.read_text(encoding='utf-8', errors='replace')
        except OSError:
            text = ''
        it.accept_failed_gates = re.findall(r'^(\w+)\.+ *Failed', text, re.MULTILINE)
        if code == EXIT_PASS:
            it.outcome, it.accepted_commit = 'accepted', self.head()
        elif code == EXIT_FAIL:
            it.outcome = 'not-converted'
        else:
            it.outcome = 'accept-error'
            it.check_error = f'gates accept exited {code}; see {self.folder / f"accept-{k}.log"}'

    def diff(self, old: str, new: str) -> tuple[str, list[str]]:
        stat = git(self.tree, 'diff', '--stat', '--no-color', old, new)
        names = git(self.tree, 'diff', '--name-only', '-z', old, new).split('\0')
        return stat, [n for n in names if n]


def loop(cwd: Path, spec: str | None, agent: str, tier: str, max_iterations: int,
         accept: bool | None, as_json: bool, transcript_dir: Path | None, out: TextIO,
         base: str | None = None, until: str = 'accepted') -> int:
    _refuse_options(agent, max_iterations, accept, until)
    repo = repo_mod.open_repo(cwd)
    root = repo_mod.root(repo)
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    now = focus(the_spec, read_ledger(root / the_spec.ledger, the_spec.ledger))
    if now.done:
        raise GateError(f'every stage of {the_spec.path} is already accepted; nothing to loop on.')
    # The transcript's stage: the stage under conversion, or in optimisation mode the target
    # (id null for the whole run), with the mode and the row the next accept would record.
    stage = now.as_dict()
    the_spec.tier_workloads(tier)                 # an unknown tier is refused before any work
    # Resolved here: in the loop's worktree a name like HEAD would mean the attempt itself.
    base_sha = repo_mod.resolve(repo, base) if base is not None else None
    start = repo_mod.head_commit(repo)
    user_branch = current_branch(root)
    stamp = new_stamp(root)
    folder = _transcript_folder(root, transcript_dir, stamp)
    run = Run(root, spec_rel, spec is not None, agent, tier, max_iterations, as_json, folder, stamp)
    run.base = base_sha
    run.until = until
    # With --until accepted, accept ran in the loop's worktree already: what is fast-forwarded
    # is its ledger commit, and nothing runs on the user's branch afterwards.
    accept_after = bool(accept) and until == 'check'
    began = time.monotonic()
    ending = _Ending()
    try:
        _open(run, repo, start, user_branch, stage, now)
        _attempts(run, ending, start, the_spec, now)
    except KeyboardInterrupt:
        ending.outcome, ending.reason, ending.code = 'interrupted', 'interrupted (Ctrl-C or SIGTERM)', EXIT_INTERRUPT
    finally:
        with no_interrupts():
            ending.notes += _finish(run, ending.outcome)
    if ending.target is not None:
        try:
            ending.code, more = _after_pass(run, user_branch, start, ending.target, accept_after)
        except KeyboardInterrupt:
            ending.outcome, ending.code = 'interrupted', EXIT_INTERRUPT
            more = ['interrupted after the pass, during the fast-forward or gates accept.']
        ending.notes += more
    return _end(run, ending, time.monotonic() - began, start, user_branch, stage, now, as_json, out)


@dataclasses.dataclass
class _Ending:
    """How a loop run ends, filled in as it goes (an interrupt keeps what was set)."""

    outcome: str = 'stopped'
    reason: str = ''
    code: int = EXIT_FAIL
    notes: list[str] = dataclasses.field(default_factory=list)
    passing: str | None = None
    target: str | None = None          # what the user's branch is fast-forwarded to


def _refuse_options(agent: str, max_iterations: int, accept: bool | None, until: str) -> None:
    if until not in UNTIL:
        raise GateError(f'--until {until}: choose one of {", ".join(UNTIL)}.')
    if until == 'accepted' and accept is False:
        raise GateError('--no-accept contradicts --until accepted (the loop then ends with '
                        '`gates accept`); give --until check to stop at a passing check.')
    if max_iterations < 1:
        raise GateError(f'--max-iterations {max_iterations}: give a number of iterations >= 1.')
    if not agent.strip():
        raise GateError('--agent: give the shell command that runs your coding agent.')


def _transcript_folder(root: Path, transcript_dir: Path | None, stamp: str) -> Path:
    """``--transcript``, else ``<git common dir>/gates-loop/<stamp>``; refused unless writable."""
    common = Path(git(root, 'rev-parse', '--path-format=absolute', '--git-common-dir').strip())
    folder = (transcript_dir if transcript_dir is not None else common / 'gates-loop' / stamp)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / '.probe').write_bytes(b'')
        (folder / '.probe').unlink()
    except OSError as e:
        raise GateError(f'--transcript {folder}: cannot write there ({e.strerror}); give a writable folder.') from None
    return folder


def _open(run: Run, repo: Repo, start: str, user_branch: str | None, stage: dict[str, Any], now: Focus) -> None:
    """The loop branch at ``start`` (tracking what the user's branch tracks), its worktree and
    the transcript's start event."""
    root = run.root
    git(root, 'branch', run.branch, start)
    # The loop branch tracks what the user's branch tracks, so a check whose default base is
    # the upstream judges the attempts against the same base as the user's own check would.
    upstream = upstream_of(root, user_branch)
    if upstream is not None:
        git(root, 'branch', f'--set-upstream-to={upstream}', run.branch)
    git(root, 'worktree', 'add', '--quiet', str(run.tree), run.branch)
    run.transcript.add({
        'event': 'start', 'schema': 1, 'started_at': _now(), 'agent': run.agent, 'tier': run.tier,
        'max_iterations': run.max_iterations, 'stage': stage, 'focus': now.headline,
        'start_commit': start, 'user_branch': user_branch, 'loop_branch': run.branch,
        'worktree': str(run.tree), 'folder': str(run.folder), 'until': run.until,
    })
    run.say(f'{now.headline}, tier {run.tier}, at most {run.max_iterations} '
            f'iterations; attempts on branch {run.branch}; transcript in {run.folder}')
    if repo_mod.is_dirty(repo):
        run.say('note: your uncommitted changes are not part of the loop; it starts from HEAD')


def _attempts(run: Run, ending: _Ending, start: str, spec: Spec, now: Focus) -> None:
    """The iterations, until one ends the loop or they run out."""
    seen = {run.tree_of(start): 0}
    previous, last_doc = start, None
    for k in range(1, run.max_iterations + 1):
        it = Iteration(k, _now())
        run.iterations.append(it)
        ending.code, ending.outcome, ending.reason = _iteration(
            run, it, k, start, previous, last_doc, seen, spec, now,
        )
        if ending.outcome == 'continue':
            previous, last_doc = str(it.commit), run.last_doc
            if k == run.max_iterations:
                ending.outcome, ending.reason, ending.code = 'stopped', f'not passing after {k} iterations', EXIT_FAIL
                return
            continue
        if ending.outcome in ('passed', 'accepted', 'checked, not converted'):
            ending.passing = it.commit
        if ending.outcome == 'passed' or ending.outcome == 'accepted':
            ending.target = it.accepted_commit or it.commit
        if ending.outcome == 'checked, not converted':
            ending.notes.append(f'the passing attempt {str(it.commit)[:12]} stays on {run.branch}; '
                                f'`git merge --ff-only {str(it.commit)[:12]}` takes it without the '
                                f'stage being accepted; accept output in '
                                f'{run.folder / f"accept-{k}.out"}.')
        return


def _end(run: Run, ending: _Ending, seconds: float, start: str, user_branch: str | None,
         stage: dict[str, Any], now: Focus, as_json: bool, out: TextIO) -> int:
    """The transcript's end event, the closing lines and, with --json, the summary."""
    end = {'event': 'end', 'outcome': ending.outcome, 'reason': ending.reason, 'exit_code': ending.code,
           'seconds': seconds, 'loop_branch': run.branch, 'notes': ending.notes,
           'final_commit': run.iterations[-1].commit if run.iterations else start,
           'passing_commit': ending.passing, 'until': run.until,
           'accepted_commit': run.iterations[-1].accepted_commit if run.iterations else None}
    run.transcript.add(end)
    run.say(f'{ending.outcome}: {ending.reason} ({end["seconds"]:.1f}s in all)')
    for note in ending.notes:
        run.say(note)
    run.say(f'transcript: {run.transcript.md}')
    if as_json:
        out.write(json.dumps({
            'schema': 1, **{k: v for k, v in end.items() if k != 'event'},
            'stage': stage, 'focus': now.headline, 'tier': run.tier,
            'start_commit': start, 'user_branch': user_branch,
            'iterations': [i.to_dict() for i in run.iterations],
            'transcript': {'jsonl': str(run.transcript.jsonl), 'markdown': str(run.transcript.md),
                           'html': str(run.transcript.html)},
        }, indent=2, sort_keys=True, default=str) + '\n')
    return ending.code


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _iteration(run: Run, it: Iteration, k: int, start: str, previous: str,
               last_doc: dict[str, Any] | None, seen: dict[str, int], spec: Spec,
               now: Focus) -> tuple[int, str, str]:
    """One iteration; returns (exit code, outcome, reason) with outcome 'continue' to go on."""
    changed = None
    if k > 1:
        last = run.iterations[-2]
        changed = {'diffstat': last.diffstat, 'files': list(last.files), 'commit': last.commit}
    ledger = read_ledger(run.root / spec.ledger, spec.ledger)
    fb = Feedback(k, run.max_iterations, run.tier, {**now.as_dict(),
                  'brief': '' if now.stage is None else now.stage.brief, 'paths': list(now.paths(spec)),
                  'shared_paths': list(spec.shared_paths), 'protected_paths': list(spec.protected_paths),
                  'assets': list(spec.assets)},
                  run.branch, start, previous, last_doc, changed, commit_rules(spec, now),
                  agent_brief(spec, ledger, run.tier), run.until)
    md, js = run.folder / f'feedback-{k}.md', run.folder / f'feedback-{k}.json'
    md.write_text(fb.markdown(), encoding='utf-8')
    js.write_text(json.dumps(fb.to_dict(), indent=2, sort_keys=True, default=str) + '\n', encoding='utf-8')
    run.say(f'{run.where(k)}: running the agent (output in {run.folder / f"agent-{k}.log"})')
    began = time.monotonic()
    try:
        it.agent_exit = run.run_agent(k, md, js, start)
    finally:
        it.agent_seconds = time.monotonic() - began
    it.commit = run.commit_attempt(f'gates loop: attempt {k} (agent exit {it.agent_exit})\n\n'
                                   f'Agent: {run.agent}\nTier: {run.tier}\n')
    run.keep(k, it.commit)
    it.tree = run.tree_of(it.commit)
    it.diffstat, it.files = run.diff(previous, it.commit)
    summary = it.diffstat.strip().splitlines()[-1].strip() if it.diffstat.strip() else 'no change'
    run.say(f'{run.where(k)}: agent exited {it.agent_exit} after {it.agent_seconds:.1f}s; '
            f'attempt {it.commit[:12]}: {summary}')
    if it.agent_exit in (126, 127) and it.commit == previous:
        it.outcome = 'agent-error'
        return EXIT_USAGE, 'stopped', (f'the agent command could not be run (exit {it.agent_exit}); '
                                       f'see {run.folder / f"agent-{k}.log"}')
    if it.tree in seen:
        it.repeats = seen[it.tree]
        it.outcome = 'no-change' if it.tree == run.tree_of(previous) else 'repeat'
        what = ('the agent made no change' if it.outcome == 'no-change' else
                f'the agent repeated {"the starting tree" if it.repeats == 0 else f"attempt {it.repeats}"} (thrashing)')
        run.record(it)
        return EXIT_FAIL, 'stopped', what
    seen[it.tree] = k
    run.last_doc = run.check(k, it)
    if it.outcome == 'check-error':
        run.record(it)
        return EXIT_CRASH, 'stopped', str(it.check_error)
    failed = ', '.join(it.failed_gates) or ('none: ' + str(it.check_error) if it.check_error else '-')
    run.say(f'{run.where(k)}: check {"passed" if it.outcome == "passed" else f"failed ({failed})"} '
            f'after {it.check_seconds:.1f}s')
    if it.outcome == 'passed' and run.until == 'accepted':
        try:
            run.accept(k, it)
        finally:
            run.record(it)
        where = f'at iteration {k} of {run.max_iterations}'
        if it.outcome == 'accepted':
            what = (f'ledger row {now.next_row} ({now.row_name})' if now.optimising
                    else now.target)
            return EXIT_PASS, 'accepted', f'the check passed and gates accept recorded {what} {where}'
        if it.outcome == 'not-converted':
            refused = ', '.join(it.accept_failed_gates) or 'see its output'
            return EXIT_NOT_CONVERTED, 'checked, not converted', (
                f'the {run.tier} check passed {where}, but gates accept (the full tier) refused '
                f'the attempt (failed: {refused}): '
                + (f'no optimisation of {now.target} recorded' if now.optimising
                   else f'{now.target} is not converted'))
        return EXIT_CRASH, 'stopped', str(it.check_error)
    run.record(it)
    if it.outcome == 'passed':
        return EXIT_PASS, 'passed', f'the check passed at iteration {k} of {run.max_iterations}'
    return EXIT_FAIL, 'continue', ''


def _finish(run: Run, outcome: str) -> list[str]:
    """Keep every attempt (an interrupted one too), then remove the worktree; the branch stays."""
    notes = []
    try:
        if run.tree.is_dir() and git_ok(run.tree, 'rev-parse', 'HEAD'):
            before = run.head()
            # Normally each attempt is committed already; an interrupted one, or one cut short
            # by an error, is committed here so that no ending loses the agent's work.
            if git(run.tree, 'status', '--porcelain', '--untracked-files=all').strip() or (
                    outcome == 'interrupted' and run.iterations
                    and run.iterations[-1].number not in run.recorded):
                k = len(run.iterations) or 1
                how = 'interrupted' if outcome == 'interrupted' else 'left when the loop stopped'
                sha = run.commit_attempt(f'gates loop: attempt {k} ({how})\n\n'
                                         f'Agent: {run.agent}\n')
                if sha != before:
                    run.keep(k, sha)
                if run.iterations and k not in run.recorded:
                    it = run.iterations[-1]
                    if it.commit is None or sha != before:
                        it.commit = sha
                        it.diffstat, it.files = run.diff(before, sha)
                    it.outcome = 'interrupted' if outcome == 'interrupted' else 'unfinished'
                    run.record(it)
            notes.append(f'every attempt is on branch {run.branch} (and refs/gates-loop/{run.stamp}/*).')
    except GateError as e:
        notes.append(f'could not commit the last attempt: {e}; its files are in {run.tree}.')
        return notes
    with contextlib.suppress(GateError):
        git(run.root, 'worktree', 'remove', '--force', str(run.tree))
    shutil.rmtree(run.tmp, ignore_errors=True)
    with contextlib.suppress(GateError):
        git(run.root, 'worktree', 'prune')
    return notes


def _after_pass(run: Run, user_branch: str | None, start: str, passing: str,
                accept: bool) -> tuple[int, list[str]]:
    """Fast-forward the user's branch to ``passing`` (with --until accepted: the accept commit);
    with --until check --accept, run ``gates accept`` there."""
    done, note = fast_forward(run.root, user_branch, start, passing)
    notes = [note]
    if not accept:
        return EXIT_PASS, notes
    if not done:
        notes.append('not accepted: `gates accept` runs on your branch once it holds the passing commit.')
        return EXIT_FAIL, notes
    run.say('running gates accept (the full tier) on your branch')
    code = run.run_engine(run.engine('accept'), run.root, run.folder / 'accept.out',
                          run.folder / 'accept.log')
    notes.append(f'gates accept exited {code}; its output is in {run.folder / "accept.out"}.')
    return code, notes
