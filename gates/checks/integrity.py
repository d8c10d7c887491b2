"""The integrity gate: no change can loosen the gates.

1. Gate assets (the base's ``assets``: the engine, the rules, the spec, the golden digests) are
   never edited together with subject code (anything that is neither an asset nor a shared
   path): the change that is judged must not also move the goal posts.
2. The ledger only grows, and only through ``gates accept``: base rows stay byte-for-byte (in
   canonical form), new rows carry a valid ``row_digest`` and follow the conversion order of the
   base's spec and the head's (``conversion_order``), and each was committed by an accept
   commit (subject ``gates: accept stage N (name)``, touching only the ledger, whose parent is
   the commit the row names). An uncommitted ledger edit is a hand edit: accept commits its row.
3. The spec and the golden digests never loosen (``gates.contract.loosening``), not even alone, except
   through ``gates rebaseline``: ``baseline.version`` up by one, a ``rebaseline`` record in the
   golden digests (reason, rows reset), the ledger emptied, all in commits of the engine's own,
   and the digests reproducible: this gate re-makes them for the tier's workloads from the new
   baseline commit and compares.
4. A ledger row this change adds is trusted only if this engine, re-judging it, finds the accept
   rule holding again: figures reproduced, the stage converted, the memory gate's rule and the
   time gate's comparison (``gates.measuring.trust``, ci and full tiers).
5. A CI entry point (the base spec's ``ci_entry_points``: ``.ci/run``, the workflow) the change
   edits still runs every ``gates check`` of its base version, none narrowed, none with its
   failure swallowed (``gates.analysis.ci_entry``); a deleted one fails.
In CI the base revision's engine runs this gate against the head (the workflow's job), so an
edit of this file in the change under judgement cannot weaken it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import git

from gates.analysis import ci_entry
from gates.contract import loosening
from gates.vcs import repo as repo_mod
from gates.vcs import trees
from gates.context import CheckContext
from gates.contract.ledger import canonical
from gates.contract.ledger import digest_of
from gates.contract.ledger import Ledger
from gates.contract.ledger import out_of_order
from gates.contract.ledger import parse_ledger
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.contract.spec import Spec
from gates.contract.spec import matches

GATE = 'integrity'
ACCEPT_SUBJECT = re.compile(r'^gates: accept stage (\d+) \(')
REBASELINE_SUBJECT = re.compile(r'^gates: rebaseline to [0-9a-f]{12} \(baseline v\d+\)$')


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


def ledger_rows(ctx: CheckContext, spec: Spec, reset: bool = False) -> list[Finding]:
    """Base rows unchanged, new rows valid; returns findings (never raises on a bad ledger).
    ``reset``: a checked re-baseline empties the ledger on purpose."""
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
    if reset and not new:
        return []
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
            ledger = parse_ledger(head_text, rel)
        except GateError as e:
            out.append(Finding(GATE, f'{e}', rel))
        else:
            out += _order(ctx, spec, ledger, len(old), head_text)
    return out


def _order(ctx: CheckContext, spec: Spec, ledger: Ledger, start: int, head_text: str) -> list[Finding]:
    """The rows this change adds follow the conversion order (``conversion_order``) of the base's
    spec and of the head's: the next stage in order, never a later one before it. (A head spec
    that reorders the base's accepted stages is a loosening, judged by ``budget_findings``.)"""
    for judged_by in (spec,) if ctx.spec is spec else (spec, ctx.spec):
        wrong = out_of_order(judged_by, ledger.rows, start)
        if wrong is not None:
            index, why = wrong
            return [Finding(
                GATE, f'{why}; a stage is accepted only after every stage before it in the order; '
                      f'drop the row and convert the next stage first (`gates next` names it)',
                spec.ledger, _line_of(head_text, ledger.rows[index].row_digest), stage=ledger.rows[index].stage,
            )]
    return []


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
        if REBASELINE_SUBJECT.match(subject) and len(parents) == 1 and set(files) <= rebaseline_files(spec):
            # An engine re-baseline commit: judged by ``rebaseline_findings`` as a whole.
            continue
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


def rebaseline_files(spec: Spec) -> set[str]:
    return {spec.path, spec.golden, spec.ledger}


def _golden_doc(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text) if text is not None else None
    except json.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


def rebaseline_findings(ctx: CheckContext, base: Spec) -> tuple[bool, list[Finding]]:
    """(is this change a re-baseline, what is wrong with it). A re-baseline is recognised by the
    spec's ``baseline.version`` changing; everything ``gates rebaseline`` writes must then hold."""
    head = ctx.spec
    old_v, new_v = base.baseline_version, head.baseline_version
    if old_v == new_v:
        return False, []
    out = []
    where = head.path
    line = _spec_line(head, 'baseline.version')
    if new_v != old_v + 1:
        out.append(Finding(GATE, f'baseline.version {old_v} -> {new_v}: a re-baseline raises it by '
                                 f'exactly one; run `gates rebaseline REF --reason ...`', where, line))
    doc = _golden_doc(trees.read_text(ctx.head_tree, head.golden))
    record = doc.get('rebaseline')
    base_rows = len(trees.base_ledger(ctx, base).rows)
    if not isinstance(record, dict) or record.get('version') != new_v or not str(record.get('reason') or '').strip():
        out.append(Finding(GATE, f'baseline.version is {new_v} but {head.golden} has no rebaseline record '
                                 f'for it (version, reason): re-baselining is `gates rebaseline`, not a '
                                 f'hand edit', head.golden))
    elif record.get('ledger_rows_reset') != base_rows:
        out.append(Finding(GATE, f'{head.golden}: the rebaseline record says '
                                 f'{record.get("ledger_rows_reset")} ledger rows were reset, the base has '
                                 f'{base_rows}', head.golden))
    head_ledger = trees.read_text(ctx.head_tree, head.ledger)
    try:
        rows_now = _rows(head_ledger, head.ledger) if head_ledger is not None else []
    except ValueError:
        rows_now = []
    if rows_now:
        out.append(Finding(GATE, f'a re-baseline empties {head.ledger}; it has {len(rows_now)} row(s): rows '
                                 f'measured against the old oracle cannot count against the new one',
                           head.ledger))
    out += _reproduce_golden(ctx, doc)
    return True, out


def _reproduce_golden(ctx: CheckContext, doc: dict[str, Any]) -> list[Finding]:
    """The new digests must be what the new baseline commit proves: re-made here, by this engine,
    for the tier's workloads."""
    from gates.measuring import measure   # only a re-baseline pays for proving here
    from gates.measuring import probe
    head = ctx.spec
    commit = doc.get('baseline_commit')
    repo = repo_mod.open_repo(ctx.repo_root)
    sha = repo_mod.try_resolve(repo, commit) if isinstance(commit, str) else None
    if sha is None or not repo_mod.is_ancestor(repo, sha, 'HEAD'):
        return [Finding(GATE, f'{head.golden}: baseline_commit {str(commit)[:12]} is not in the history '
                              f'of HEAD; the new oracle must be a commit every clone has', head.golden)]
    raw = doc.get('workloads')
    wanted: dict[str, Any] = raw if isinstance(raw, dict) else {}
    out = []
    with repo_mod.export(repo, sha) as tree:
        for w in ctx.workloads:
            ctx.progress(f'integrity: re-making the golden digest of {w.id} at {sha[:12]} (re-baseline)')
            run = probe.proof(measure.request(head, tree, w, head.variant(())))
            made = {'sha256': run.sha256, 'size': run.size}
            if wanted.get(w.id) != made:
                out.append(Finding(
                    GATE, f'{head.golden}: the digest of {w.id} is not what {sha[:12]} proves '
                          f'({run.sha256[:12]}, {run.size} B): golden digests are made by the engine',
                    head.golden, workload=w.id,
                ))
    return out


# What a checked re-baseline may change (everything else still may not loosen).
_REBASELINE_KEYS = ('baseline.ref', 'golden.baseline_commit')


def budget_findings(ctx: CheckContext, base: Spec, rebaselined: bool = False) -> list[Finding]:
    head = ctx.spec
    ledger = trees.base_ledger(ctx, base)
    # A checked re-baseline empties the ledger: no room stays closed, so it may narrow them, and
    # no row is measured under the new oracle yet, so its units may be declared with it.
    accepted = () if rebaselined else ledger.accepted_stages()
    found = loosening.spec(base, head, bool(ledger.rows) and not rebaselined, accepted)
    found += loosening.golden(
        trees.read_text(ctx.base_tree, base.golden), trees.read_text(ctx.head_tree, head.golden),
        base.budgets.memory,
    )
    if rebaselined:
        # A new baseline's digests replace the old ones, and the old baseline's measured noise
        # says nothing about the new one (freeze --noise-runs records it again).
        found = [
            f for f in found
            if f.key not in _REBASELINE_KEYS and not (f.key.startswith('golden.workloads.') and f.new != 'removed')
            and not (f.key.startswith('golden.memory_noise.') and f.new == 'removed')
        ]
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


def ci_entry_findings(ctx: CheckContext, spec: Spec) -> list[Finding]:
    """Every CI entry point of the base spec that the change edits, deletes or renames."""
    out: list[Finding] = []
    seen: set[str] = set()
    for change in ctx.changed:
        for path in change.paths():
            if path in seen or not matches(path, spec.ci_entry_points):
                continue
            seen.add(path)
            base_text = trees.read_text(ctx.base_tree, path)
            if base_text is None:
                continue        # new in this change: nothing of the base's to keep
            out += ci_entry.findings(path, base_text, trees.read_text(ctx.head_tree, path), ctx.base_rev)
    return out


def run(ctx: CheckContext) -> Verdict:
    base = trees.base_spec(ctx)
    spec = base if base is not None else ctx.spec
    rebaselined, findings = rebaseline_findings(ctx, base) if base is not None else (False, [])
    checked_reset = rebaselined and not findings
    findings += co_edit(ctx, spec)
    findings += ledger_rows(ctx, spec, reset=checked_reset)
    findings += accept_provenance(ctx, spec)
    findings += ci_entry_findings(ctx, spec)
    if base is not None:
        findings += budget_findings(ctx, base, rebaselined)
    if not findings:
        # Only a ledger that is otherwise sound is worth measuring (it costs probe runs).
        from gates.measuring import trust
        findings += trust.remeasure(ctx, spec)
    if not findings:
        # An engine change: the head's engine must give the corpus's verdicts (issue 8.3).
        from gates.selftest import gate as selftest_gate
        findings += selftest_gate.findings(ctx)
    details = {
        'spec': 'base' if base is not None else 'head (the base has no spec)',
        'assets': list(spec.assets),
        'ci_entry_points': list(spec.ci_entry_points),
    }
    return Verdict.from_findings(GATE, findings, details)
