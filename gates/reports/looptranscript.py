"""What ``gates loop`` writes: the agent's feedback files and the run's transcript.

Per run, in one folder (default ``<git common dir>/gates-loop/<stamp>/``, outside the working
tree so the user's tree stays exactly as it was):
- ``feedback-<k>.md`` / ``feedback-<k>.json``: the agent's input for iteration k;
- ``agent-<k>.log``, ``check-<k>.log`` (stderr of ``gates check``), ``check-<k>.json``;
- ``transcript.jsonl``: one JSON object per event (``start``, ``iteration``, ``end``), appended
  as it happens, so that even a killed loop leaves what it had done;
- ``transcript.md`` and ``transcript.html``: the same for people, rewritten after every event.
"""
from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = 1


@dataclasses.dataclass
class Iteration:
    """One attempt: the agent's run, the commit it left, and the verdict on it."""

    number: int
    started_at: str
    agent_exit: int | None = None
    agent_seconds: float = 0.0
    commit: str | None = None
    tree: str | None = None
    diffstat: str = ''
    files: list[str] = dataclasses.field(default_factory=list)
    # 'passed' | 'failed' | 'no-change' | 'repeat' | 'interrupted' | 'unfinished' | 'check-error'
    # | 'agent-error'; with --until accepted a passing attempt then becomes 'accepted' or
    # 'not-converted' (gates accept refused it) or 'accept-error'
    outcome: str = 'running'
    repeats: int | None = None            # the earlier iteration whose tree this one repeats (0: start)
    check_exit: int | None = None
    check_seconds: float = 0.0
    failed_gates: list[str] = dataclasses.field(default_factory=list)
    findings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    check_error: str | None = None
    accept_exit: int | None = None          # --until accepted: `gates accept` on the passing attempt
    accept_seconds: float = 0.0
    accepted_commit: str | None = None      # the ledger commit accept made on the loop branch
    accept_failed_gates: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {'event': 'iteration', **dataclasses.asdict(self)}


def failing(doc: Mapping[str, Any] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The failed gates and their findings out of a ``gates check --json`` document."""
    if not doc:
        return [], []
    gates, findings = [], []
    for v in doc.get('verdicts') or []:
        if not v.get('passed'):
            gates.append(str(v.get('gate')))
            findings += [dict(f) for f in v.get('findings') or []]
    return gates, findings


def render_finding(f: Mapping[str, Any]) -> str:
    where = f.get('file') or ''
    if where and f.get('line') is not None:
        where += f':{f["line"]}'
    extra = [f'{k} {f[k]}' for k in ('stage', 'workload') if f.get(k) is not None]
    return (f'{where}: ' if where else '') + f'{f.get("gate")}: {f.get("message")}' + (
        f' [{", ".join(extra)}]' if extra else '')


def _focus(start: Mapping[str, Any]) -> str:
    """What the loop worked on, capitalised ('Stage 0 (commit) under conversion', 'Optimisation of
    the whole run'); transcripts written before the loop knew optimisation mode lack 'focus'."""
    text = start.get('focus') or f'stage {start["stage"]["id"]} ({start["stage"]["name"]})'
    return str(text)[:1].upper() + str(text)[1:]


@dataclasses.dataclass(frozen=True)
class Feedback:
    """The agent's input for one iteration (written both as markdown and as JSON)."""

    iteration: int
    max_iterations: int
    tier: str
    stage: Mapping[str, Any]
    loop_branch: str
    start_commit: str
    previous_commit: str
    last_verdict: Mapping[str, Any] | None
    changed: Mapping[str, Any] | None
    commit_rules: Sequence[str]
    brief: str
    # 'accepted': the loop succeeds only once `gates accept` records the stage (or the
    # optimisation row); 'check': once the check passes (--until check)
    goal: str = 'check'

    def to_dict(self) -> dict[str, Any]:
        return {'schema': SCHEMA, **dataclasses.asdict(self)}

    def markdown(self) -> str:
        accepted = self.goal == 'accepted'
        goal = ('Passing the check is not enough: the loop then runs `gates accept` (the full '
                'tier), which records the stage only if it is really converted (its in-stage peak '
                'strictly lower, time within budget); a change that passes the check without '
                'converting ends the loop as "checked, not converted". ') if accepted else ''
        stops = '`gates accept` has run on a passing attempt' if accepted else 'the check passes'
        lines = [
            f'# gates loop: iteration {self.iteration} of {self.max_iterations}', '',
            (f'You work in this directory, a worktree on branch `{self.loop_branch}` '
             f'(started from `{self.start_commit[:12]}`). Edit files, and commit if you like; '
             'when you exit, the loop commits whatever you left uncommitted and runs '
             f'`gates check --tier {self.tier}`. Do not switch branches or rewrite history. '
             f'{goal}The loop stops when {stops}, when you make no change, when you repeat an '
             'earlier attempt, or after the last iteration.'), '',
            (f'The loop started from commit `{self.start_commit}`. To undo what you changed in a '
             f'path, restore it from there: `git checkout {self.start_commit} -- <path>`.'), '',
            '## The last verdict', '',
        ]
        if self.last_verdict is None:
            lines.append('None yet: this is the first iteration.')
        else:
            gates, findings = failing(self.last_verdict)
            error = self.last_verdict.get('error')
            if error:
                lines.append(f'`gates check` could not judge the last attempt: {error}')
            elif gates:
                lines.append(f'Failed gates: {", ".join(gates)}. Findings:')
                lines += [f'- {render_finding(f)}' for f in findings]
            else:
                lines.append('Every gate passed.')
            lines += ['', 'The whole document (`gates check --json`):', '', '```json',
                      json.dumps(self.last_verdict, indent=2, sort_keys=True), '```']
        lines += ['', '## What changed since the last iteration', '']
        if self.changed is None:
            lines.append('Nothing yet: this is the first iteration.')
        else:
            lines += ['```', str(self.changed.get('diffstat') or '(no change)'), '```']
        lines += ['', '## Commit rules', '', *self.commit_rules, '', '---', '', self.brief]
        return '\n'.join(lines) + '\n'


class Transcript:
    """The run's record on disk; every write is complete on its own (no buffering)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jsonl = folder / 'transcript.jsonl'
        self.md = folder / 'transcript.md'
        self.html = folder / 'transcript.html'
        self.events: list[dict[str, Any]] = []

    def add(self, event: Mapping[str, Any]) -> None:
        self.events.append(dict(event))
        with open(self.jsonl, 'a', encoding='utf-8') as fh:
            fh.write(json.dumps(event, sort_keys=True, default=str) + '\n')
        self.md.write_text(self.markdown(), encoding='utf-8')
        self.html.write_text(self.page(), encoding='utf-8')

    def page(self) -> str:
        """The transcript as one HTML page: the iterations' table, then each one's details."""
        esc = html.escape
        starts = [e for e in self.events if e.get('event') == 'start']
        title = 'gates loop transcript'
        parts = ['<!doctype html>', '<html lang="en"><head><meta charset="utf-8">',
                 f'<title>{title}</title>', '<style>body{font-family:system-ui,sans-serif;'
                 'margin:2em auto;max-width:1200px} table{border-collapse:collapse}'
                 'td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}'
                 'pre{background:#f6f6f6;padding:.5em}</style></head><body>', f'<h1>{title}</h1>']
        for e in starts:
            parts.append(
                f'<p>{esc(_focus(e))}, tier '
                f'<code>{esc(e["tier"])}</code>, at most {e["max_iterations"]} iterations; agent '
                f'<code>{esc(e["agent"])}</code>; from <code>{esc(e["start_commit"][:12])}</code> '
                f'on {esc(e["user_branch"] or "a detached HEAD")}; attempts on branch '
                f'<code>{esc(e["loop_branch"])}</code>.</p>')
        rows = []
        for e in self.events:
            if e.get('event') != 'iteration':
                continue
            findings = ''.join(f'<li>{esc(render_finding(f))}</li>' for f in e.get('findings') or [])
            check = '-' if e.get('check_exit') is None else f'exit {e["check_exit"]}, {e["check_seconds"]:.1f}s'
            rows.append(
                f'<tr><td>{e["number"]}</td><td>{esc(e["outcome"])}</td>'
                f'<td>exit {e["agent_exit"]}, {e["agent_seconds"]:.1f}s</td>'
                f'<td><code>{esc((e.get("commit") or "-")[:12])}</code></td>'
                f'<td><pre>{esc((e.get("diffstat") or "no change").rstrip())}</pre></td>'
                f'<td>{esc(check)}</td><td>{esc(", ".join(e.get("failed_gates") or []) or "-")}'
                f'{f"<ul>{findings}</ul>" if findings else ""}'
                f'{esc(e["check_error"]) if e.get("check_error") else ""}</td></tr>')
        if rows:
            parts += ['<table><tr><th>#</th><th>outcome</th><th>agent</th><th>attempt</th>'
                      '<th>diffstat</th><th>check</th><th>failed gates, findings</th></tr>',
                      *rows, '</table>']
        for e in self.events:
            if e.get('event') == 'end':
                parts.append(f'<h2>End</h2><p>{esc(e["outcome"])}: {esc(e["reason"])} (exit '
                             f'{e["exit_code"]}, {e["seconds"]:.1f}s in all).</p>')
                parts += [f'<p>{esc(n)}</p>' for n in e.get('notes') or []]
        return '\n'.join(parts + ['</body></html>']) + '\n'

    def markdown(self) -> str:
        lines = ['# gates loop transcript', '']
        for e in self.events:
            if e.get('event') == 'start':
                lines += [
                    f'{_focus(e)}, tier `{e["tier"]}`, at most '
                    f'{e["max_iterations"]} iterations; agent `{e["agent"]}`.',
                    f'Started {e["started_at"]} from `{e["start_commit"][:12]}` on '
                    f'{e["user_branch"] or "a detached HEAD"}; attempts go to branch '
                    f'`{e["loop_branch"]}`.', '',
                    '| # | outcome | agent | attempt | diffstat | check | failed gates |',
                    '|---|---|---|---|---|---|---|',
                ]
            elif e.get('event') == 'iteration':
                stat = (e.get('diffstat') or '').strip().splitlines()
                summary = stat[-1].strip() if stat else 'no change'
                repeat = f' (repeats #{e["repeats"]})' if e.get('repeats') is not None else ''
                check = ('-' if e.get('check_exit') is None
                         else f'exit {e["check_exit"]}, {e["check_seconds"]:.1f}s')
                lines.append(
                    f'| {e["number"]} | {e["outcome"]}{repeat} | exit {e["agent_exit"]}, '
                    f'{e["agent_seconds"]:.1f}s | `{(e.get("commit") or "-")[:12]}` | {summary} | '
                    f'{check} | {", ".join(e.get("failed_gates") or []) or "-"} |',
                )
        ends = [e for e in self.events if e.get('event') == 'end']
        iterations = [e for e in self.events if e.get('event') == 'iteration']
        for e in iterations:
            if e.get('findings') or e.get('check_error') or e.get('diffstat'):
                lines += ['', f'## Iteration {e["number"]}', '']
                if e.get('diffstat'):
                    lines += ['```', e['diffstat'].rstrip(), '```']
                if e.get('check_error'):
                    lines.append(f'- check error: {e["check_error"]}')
                lines += [f'- {render_finding(f)}' for f in e.get('findings') or []]
                if e.get('accept_exit') is not None:
                    refused = ', '.join(e.get('accept_failed_gates') or [])
                    lines.append(
                        f'- gates accept: exit {e["accept_exit"]} after {e["accept_seconds"]:.1f}s'
                        + (f', ledger commit `{e["accepted_commit"][:12]}`' if e.get('accepted_commit') else '')
                        + (f', failed: {refused}' if refused else ''))
        for e in ends:
            lines += ['', '## End', '', f'{e["outcome"]}: {e["reason"]} (exit {e["exit_code"]}, '
                      f'{e["seconds"]:.1f}s in all).']
            lines += [f'- {note}' for note in e.get('notes') or []]
        return '\n'.join(lines) + '\n'
