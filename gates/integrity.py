"""The integrity gate: no change can loosen the gates.

1. Gate assets (the base's ``assets``: the engine, the rules, the spec, the golden digests) are
   never edited together with subject code (anything that is neither an asset nor a shared
   path): the change that is judged must not also move the goal posts.
2. The ledger only grows, and only through ``gates accept``: base rows stay byte-for-byte (in
   canonical form), new rows carry a valid ``row_digest``, and each was committed by an accept
   commit (subject ``gates: accept stage N (name)``, touching only the ledger, whose parent is
   the commit the row names). An uncommitted ledger edit is a hand edit: accept commits its row.
3. The spec and the golden digests never loosen (``gates.loosening``), not even alone.
In CI the base revision's engine runs this gate against the head (the workflow's job), so an
edit of this file in the change under judgement cannot weaken it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import git

from gates import loosening
from gates import repo as repo_mod
from gates import trees
from gates.context import CheckContext
from gates.ledger import canonical
from gates.ledger import digest_of
from gates.ledger import parse_ledger
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.spec import Spec
from gates.spec import matches

GATE = 'integrity'
ACCEPT_SUBJECT = re.compile(r'^gates: accept stage (\d+) \(')


def _listing(paths: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(paths[:limit])
    return shown + (f' and {len(paths) - limit} more' if len(paths) > limit else '')


def co_edit(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Gate assets edited together with subject code (the ledger has its own rules below)."""
    assets: list[str] = []
    subject: list[str] = []
    for change in ctx.changed:
        for path in change.paths():
            if path == spec.ledger:
                continue
            if matches(path, spec.assets):
                assets.append(path)
            elif not matches(path, spec.shared_paths):
                subject.append(path)
    if not assets or not subject:
        return []
    return [Finding(
        GATE,
        f'gate assets ({_listing(assets)}) are edited together with subject code '
        f'({_listing(subject)}): a change may not move the goal posts it is judged by. Split it: '
        f'land the asset change alone first (it is judged by the base\'s gates), then the '
        f'subject change',
        assets[0],
    )]


def _rows(text: str, display: str) -> list[Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'{display}:{e.lineno}: not valid JSON ({e.msg})') from None
    rows = doc.get('rows') if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f'{display}: no "rows" list')
    return rows


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return None if at < 0 or not needle else text.count('\n', 0, at) + 1


def ledger_rows(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Base rows unchanged, new rows valid; returns findings (never raises on a bad ledger)."""
    rel = spec.ledger
    base_text, head_text = trees.read_text(ctx.base_tree, rel), trees.read_text(ctx.head_tree, rel)
    if base_text is None or base_text == head_text:
        return []
    fix = f'restore it (git checkout {ctx.base_rev[:12]} -- {rel}); rows are added only by `gates accept`'
    if head_text is None:
        return [Finding(GATE, f'the ledger was deleted; {fix}', rel)]
    try:
        old, new = _rows(base_text, rel), _rows(head_text, rel)
    except ValueError as e:
        return [Finding(GATE, f'{e}; {fix}', rel)]
    out = []
    for i, row in enumerate(old):
        if i >= len(new):
            out.append(Finding(GATE, f'rows[{i}] was removed; the ledger only grows; {fix}', rel))
        elif canonical(new[i]) != canonical(row):
            where = _line_of(head_text, str(new[i].get('row_digest', ''))) if isinstance(new[i], dict) else None
            out.append(Finding(
                GATE, f'rows[{i}] differs from the base (edited by hand); accepted rows never change; {fix}',
                rel, where,
            ))
    for j in range(len(old), len(new)):
        row = new[j]
        body = {k: v for k, v in row.items() if k != 'row_digest'} if isinstance(row, dict) else None
        if body is None or digest_of(body) != row.get('row_digest'):
            where = _line_of(head_text, str(row.get('row_digest', ''))) if isinstance(row, dict) else None
            out.append(Finding(
                GATE, f'rows[{j}]: row_digest does not match the row (written or edited by hand); {fix}',
                rel, where,
            ))
    if not out:
        try:
            parse_ledger(head_text, rel)
        except GateError as e:
            out.append(Finding(GATE, f'{e}', rel))
    return out


def _commit_rows(repo: git.Repo, rev: str, rel: str) -> list[Any]:
    """The ledger rows at ``rev``; none when the file does not exist there or is not a ledger
    (a broken head ledger is reported by ``ledger_rows``)."""
    try:
        return _rows(str(repo.git.show(f'{rev}:{rel}')), rel)
    except (git.GitCommandError, ValueError):
        return []


def accept_provenance(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Every commit since the base that touches the ledger is an accept commit."""
    rel = spec.ledger
    repo = repo_mod.open_repo(ctx.repo_root)
    out = []
    committed = _commit_rows(repo, 'HEAD', rel)
    head_text = trees.read_text(ctx.head_tree, rel)
    if head_text is not None:
        try:
            now = _rows(head_text, rel)
        except ValueError:
            now = committed   # reported by ledger_rows
        if [canonical(r) for r in now] != [canonical(r) for r in committed]:
            out.append(Finding(
                GATE, 'the ledger differs from the last commit: rows are recorded only by '
                '`gates accept`, which commits them itself; restore it (git checkout HEAD -- '
                f'{rel})', rel,
            ))
    log = repo.git.log('--format=%H %P', '--reverse', f'{ctx.base_rev}..HEAD', '--', rel)
    for entry in log.splitlines():
        sha, *parents = entry.split()
        subject = repo.git.log('-1', '--format=%s', sha)
        files = [f for f in repo.git.diff_tree('--no-commit-id', '--name-only', '-r', '--root', sha).splitlines() if f]
        short = sha[:12]
        match = ACCEPT_SUBJECT.match(subject)
        if match is None or files != [rel] or len(parents) != 1:
            out.append(Finding(
                GATE, f'commit {short} ("{subject}") changes the ledger but is not a `gates accept` '
                f'commit (one parent, only {rel}, subject "gates: accept stage N (name)"); drop '
                f'it and run `gates accept`', rel,
            ))
            continue
        before, after = _commit_rows(repo, parents[0], rel), _commit_rows(repo, sha, rel)
        for row in after[len(before):]:
            if not isinstance(row, dict) or row.get('commit') != parents[0] or str(row.get('stage')) != match.group(1):
                out.append(Finding(
                    GATE, f'commit {short} adds a row that does not record its parent {parents[0][:12]} '
                    f'as the measured commit (or names another stage); rows are written only by '
                    f'`gates accept`', rel,
                ))
    return out


def _spec_line(spec: Spec, key: str) -> int | None:
    """The line of ``key`` in the spec, else of its closest enclosing key."""
    parts = re.split(r'\.(?![^\[]*\])', key)
    for n in range(len(parts), 0, -1):
        line = spec.line_of('.'.join(parts[:n]))
        if line is not None:
            return line
    return None


def budget_findings(ctx: CheckContext, base: Spec) -> list[Finding]:
    head = ctx.spec
    found = loosening.spec(base, head, bool(trees.base_ledger(ctx, base).rows))
    found += loosening.golden(trees.read_text(ctx.base_tree, base.golden), trees.read_text(ctx.head_tree, head.golden))
    out = []
    for item in found:
        is_golden = item.key.startswith('golden.')
        where = head.golden if is_golden else head.path
        line = None if is_golden else _spec_line(head, item.key)
        out.append(Finding(
            GATE,
            f'{item.key} loosened: {item.old} -> {item.new} ({item.why}). {loosening.NOTHING.capitalize()}: '
            f'only tightening passes; restore the base\'s value',
            where, line,
        ))
    return out


def run(ctx: CheckContext) -> Verdict:
    base = trees.base_spec(ctx)
    spec = base if base is not None else ctx.spec
    findings = co_edit(ctx, spec)
    findings += ledger_rows(ctx, spec)
    findings += accept_provenance(ctx, spec)
    if base is not None:
        findings += budget_findings(ctx, base)
    details = {
        'spec': 'base' if base is not None else 'head (the base has no spec)',
        'assets': list(spec.assets),
    }
    return Verdict.from_findings(GATE, findings, details)
