"""Protected paths for the api gate: deleted, renamed, added or edited protected files.

Found from git's change list (semgrep never scans a deleted file), each modified file compared
with its base version structurally (``gates.astdiff``): a comment or a docstring passes; an edit
inside a protected function, a changed signature or an added/removed name fails with a line.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gates import astdiff
from gates.context import ChangedPath
from gates.context import CheckContext
from gates.model import Finding
from gates.spec import matches

GATE = 'api'

# Rule ids of the findings that do not come from semgrep (for SARIF and the report).
AST_RULES = {
    'protected-file-deleted': 'A protected file was deleted.',
    'protected-file-renamed': 'A protected file was renamed or moved.',
    'protected-file-added': 'A file was added under a protected path.',
    'protected-edit': 'Protected code differs from the base (AST comparison).',
    'protected-signature': 'A protected function or class signature changed.',
    'protected-name': 'A name was added to or removed from a protected module or class.',
    'semgrep-not-checked': 'Semgrep could not check a changed file.',
}
_EDIT_RULE = {
    'body': 'protected-edit', 'text': 'protected-edit', 'syntax': 'protected-edit',
    'signature': 'protected-signature', 'added': 'protected-name', 'removed': 'protected-name',
}
_RESTORE = 'restore it from the base ({rev}): git checkout {rev} -- {path}'


def _glob_of(path: str, globs: Iterable[str]) -> str:
    return next(g for g in globs if matches(path, (g,)))


def _read(tree: Path, rel: str) -> bytes | None:
    path = tree / rel
    return path.read_bytes() if path.is_file() else None


def _modified(ctx: CheckContext, change: ChangedPath, glob: str) -> list[tuple[str, Finding]]:
    base, head = _read(ctx.base_tree, change.path), _read(ctx.head_tree, change.path)
    if base is None or head is None or base == head:
        return []
    why = (
        f'{change.path} is protected ({glob}): it must stay exactly as in the base so the '
        f'verifier, the protocol and the proof format keep meaning what the baseline proved'
    )
    fix = _RESTORE.format(rev=ctx.base_rev[:12], path=change.path)
    try:
        base_text, head_text = base.decode('utf-8'), head.decode('utf-8')
    except UnicodeDecodeError:
        return [('protected-edit', Finding(GATE, f'binary protected file changed; {why}; {fix}', change.path))]
    if change.path.endswith('.py'):
        edits = astdiff.diff_python(base_text, head_text, change.path)
    else:
        edits = astdiff.diff_text(base_text, head_text)
    return [
        (_EDIT_RULE[e.kind], Finding(GATE, f'{e.message}; {why}. Undo the edit or {fix}', change.path, e.line))
        for e in edits
    ]


def protected_findings(ctx: CheckContext, protected: tuple[str, ...]) -> list[tuple[str, Finding]]:
    """Deleted, renamed, added or edited protected files, from git's change list."""
    out: list[tuple[str, Finding]] = []
    for change in ctx.changed:
        old = change.old_path if change.status == 'R' else None
        if old is not None and matches(old, protected):
            out.append(('protected-file-renamed', Finding(
                GATE,
                f'protected file renamed to {change.path} (protected by {_glob_of(old, protected)}): '
                f'protected paths may not be edited, deleted or renamed, since the verifier and '
                f'the protocol must stay the baseline\'s; move it back '
                f'(git mv {change.path} {old})',
                old,
            )))
            continue
        if not matches(change.path, protected):
            continue
        glob = _glob_of(change.path, protected)
        if change.status == 'D':
            out.append(('protected-file-deleted', Finding(
                GATE,
                f'protected file deleted (protected by {glob}): protected paths may not be '
                f'edited, deleted or renamed, since the verifier and the protocol must stay the '
                f'baseline\'s; {_RESTORE.format(rev=ctx.base_rev[:12], path=change.path)}',
                change.path,
            )))
        elif change.status in ('A', 'R'):
            out.append(('protected-file-added', Finding(
                GATE,
                f'new file under a protected path ({glob}): protected code is frozen at the '
                f'baseline; put new code in the stage under conversion or its backend',
                change.path,
            )))
        else:
            out.extend(_modified(ctx, change, glob))
    return out
