"""Protected code for the api gate: protected paths, and protected symbols.

Found from git's change list (semgrep never scans a deleted file), each modified file compared
with its base version structurally (``gates.analysis.astdiff``): a comment or a docstring passes; an edit
inside a protected function, a changed signature or an added/removed name fails with a line.

Symbols (``path::qualname``) are protected when the spec lists them (``protected.symbols``) or
when the verifier's code reaches them (``protected.verifier`` globs; ``gates.analysis.reach`` computes
the closure on the base tree, so the head cannot cut an edge to free a helper). In a file
holding protected symbols only their scopes are judged: an unprotected neighbour may change.
A protected symbol's import bindings must stay (re-pointing a name it calls at another function
is an edit of it), and ``path::<module>`` (its top-level code, imports aside) is judged when a
protected symbol uses the module's variables.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from gates.analysis import astdiff
from gates.analysis import reach
from gates.vcs import cachestore
from gates.vcs.changes import ChangedPath
from gates.context import CheckContext
from gates.model import Finding
from gates.model import GateError
from gates.contract.spec import matches

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
    'protected-symbol-edit': 'A protected symbol (declared, or reached by the verifier) differs from the base.',
    'protected-symbol-file': 'A file holding protected symbols was deleted or renamed.',
    'protected-binding': 'A name a protected symbol uses is bound to something else than in the base.',
}
WHOLE = '*'   # the qualname of a whole-file entry (``path::``)
_SKIP_DIRS = {'.git', '.venv', 'venv', 'node_modules', '__pycache__', '.stagegate'}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One protected symbol and why: declared in the spec, or reached (root first)."""

    symbol: reach.Symbol
    line: int | None
    declared: bool
    chain: tuple[reach.Symbol, ...]

    def why(self) -> str:
        if self.declared:
            return 'declared in protected.symbols'
        if len(self.chain) <= 1:
            return 'verifier code (protected.verifier)'
        return 'reached by the verifier: ' + ' -> '.join(str(s) for s in self.chain)


def python_files(tree: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith('.'))
        for name in filenames:
            if name.endswith('.py'):
                out.append(Path(dirpath, name).relative_to(tree).as_posix())
    return sorted(out)


def protection(
        tree: Path, symbols: Iterable[str], verifier: tuple[str, ...], protected_paths: tuple[str, ...],
        subject_root: str = '.',
) -> list[Entry]:
    """Every protected symbol outside the protected paths, computed on ``tree``."""
    entries: dict[reach.Symbol, Entry] = {}
    index: reach.Index | None = None
    if verifier:
        files = python_files(tree)
        index = reach.Index(tree, files, subject_root)
        globs = [v for v in verifier if '::' not in v]
        roots = index.roots_in([f for f in files if matches(f, globs)])
        for entry in verifier:
            if '::' not in entry:
                continue
            path, _, qual = entry.partition('::')
            if not qual:
                roots += index.roots_in([path])
                continue
            sym = reach.Symbol(path, qual)
            if not index.defines(sym):
                raise GateError(
                    f'protected.verifier: {entry} names no function or class under subject.root '
                    f'{subject_root!r} in {tree}; fix the entry (path relative to the repository).',
                )
            roots.append(sym)
        reached = index.closure(roots)
        outside = index.outside_root(reached, tree, subject_root)
        if outside is not None:
            raise GateError(
                f'{outside[0]} (reached from protected.verifier) imports {outside[1]}, which is '
                f'outside subject.root {subject_root!r}: the subject process imports from its root '
                f'only, so set subject.root to the folder that holds both.',
            )
        for sym in reached:
            if not matches(sym.path, protected_paths):
                entries[sym] = Entry(sym, index.line_of(sym), False, tuple(reach.chain_to(reached, sym)))
    for raw in symbols:
        path, _, qual = raw.partition('::')
        sym = reach.Symbol(path, qual or WHOLE)
        line = index.line_of(sym) if index is not None and qual else None
        entries[sym] = Entry(sym, line, True, (sym,))
    return sorted(entries.values(), key=lambda e: (e.symbol.path, e.line or 0, e.symbol.qualname))


# A store write the api gate makes after the check (kind, key, value): writes wait until no
# subject run is in flight, so the tree guard watching the store sees only engine writes.
Pending = list[tuple[str, str, object]]


def engine_digest() -> str:
    """The analysis code's own digest: a cached result is only as good as the code that made it."""
    if not _ENGINE:
        here = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for path in sorted(here.glob('*.py')) + [here.parent / 'contract' / 'spec.py']:
            h.update(path.name.encode() + b'\0' + path.read_bytes())
        _ENGINE.append(h.hexdigest())
    return _ENGINE[0]


_ENGINE: list[str] = []


def tree_digest(tree: Path) -> str:
    """The Python files of ``tree`` by path and git blob id (what ``protection`` reads)."""
    h = hashlib.sha256()
    for rel in python_files(tree):
        h.update(rel.encode('utf-8', 'surrogateescape') + b'\0' + cachestore.git_blob_sha((tree / rel).read_bytes()).encode())
    return h.hexdigest()


def _entry_json(e: Entry) -> dict[str, object]:
    return {'path': e.symbol.path, 'qualname': e.symbol.qualname, 'line': e.line, 'declared': e.declared,
            'chain': [[c.path, c.qualname] for c in e.chain]}


def _entries(raw: object) -> list[Entry] | None:
    """Entries back from a store value; None when it is not exactly that shape."""
    if not isinstance(raw, list):
        return None
    out = []
    try:
        for item in raw:
            line = item['line']
            if not (isinstance(item['path'], str) and isinstance(item['qualname'], str)
                    and (line is None or (isinstance(line, int) and not isinstance(line, bool)))
                    and isinstance(item['declared'], bool)):
                return None
            chain = tuple(reach.Symbol(str(p), str(q)) for p, q in item['chain'])
            out.append(Entry(reach.Symbol(item['path'], item['qualname']), line, item['declared'], chain))
    except (KeyError, TypeError, ValueError):
        return None
    return out


def protection_cached(
        tree: Path, symbols: Iterable[str], verifier: tuple[str, ...], protected_paths: tuple[str, ...],
        subject_root: str, store: Path | None, pending: Pending,
) -> list[Entry]:
    """``protection`` on ``tree``, from the persistent store when it has it (keyed by the
    analysis code, the tree's Python blobs and the arguments)."""
    symbols = tuple(symbols)
    if store is None:
        return protection(tree, symbols, verifier, protected_paths, subject_root)
    key = cachestore.key_of('protection', engine_digest(), tree_digest(tree), list(symbols),
                            list(verifier), list(protected_paths), subject_root)
    found = _entries(cachestore.get(store, 'protection', key))
    if found is not None:
        return found
    entries = protection(tree, symbols, verifier, protected_paths, subject_root)
    pending.append(('protection', key, [_entry_json(e) for e in entries]))
    return entries


def _covering(name: str, quals: dict[str, Entry]) -> Entry | None:
    for q, entry in quals.items():
        if q not in (reach.MODULE, WHOLE) and (name == q or name.startswith(q + '.')):
            return entry
    return None


def _first_diff_line(base: list[str], head: list[tuple[str, int]]) -> int | None:
    for i, (dump, line) in enumerate(head):
        if i >= len(base) or base[i] != dump:
            return line
    return head[-1][1] if len(base) > len(head) and head else (1 if len(base) > len(head) else None)


def _imports(tree: ast.Module) -> dict[str, tuple[str, int]]:
    """Top-level import bindings: local name -> (what it names, line)."""
    out: dict[str, tuple[str, int]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                out[a.asname or a.name.split('.')[0]] = (a.name if a.asname else a.name.split('.')[0], stmt.lineno)
        elif isinstance(stmt, ast.ImportFrom):
            for a in stmt.names:
                out[a.asname or a.name] = (f'{"." * stmt.level}{stmt.module or ""}:{a.name}', stmt.lineno)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[stmt.name] = (f'<defined here>:{stmt.name}', stmt.lineno)
    return out


def _def_node(tree: ast.Module, qual: str) -> ast.AST | None:
    node: ast.AST = tree
    for part in qual.split('.'):
        body = getattr(node, 'body', [])
        found = next((s for s in body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and s.name == part), None)
        if found is None:
            return None
        node = found
    return node


def _symbol_edits(
        rel: str, base_text: str, head_text: str, quals: dict[str, Entry],
) -> list[tuple[str, int, str]]:
    """(rule, head line, message) of every edit to a protected symbol of one file."""
    try:
        base_tree, head_tree = ast.parse(base_text, rel), ast.parse(head_text, rel)
    except (SyntaxError, ValueError) as err:
        return [('protected-symbol-edit', getattr(err, 'lineno', 1) or 1,
                 f'file with protected symbols does not parse ({err})')]
    out: list[tuple[str, int, str]] = []
    for e in astdiff.diff_python(base_text, head_text, rel):
        entry = _covering(e.name, quals)
        if entry is not None:
            out.append(('protected-symbol-edit', e.line, f'{e.message} (`{entry.symbol}`, {entry.why()})'))
    module = quals.get(reach.MODULE)
    if module is not None:
        def dumps(t: ast.Module) -> list[tuple[str, int]]:
            return [(ast.dump(s), s.lineno) for s in reach.module_statements(t)]
        line = _first_diff_line([d for d, _ in dumps(base_tree)], dumps(head_tree))
        if line is not None:
            out.append(('protected-symbol-edit', line, f'edit of the top-level code of `{rel}` that protected code '
                        f'uses (`{module.symbol}`, {module.why()})'))
    base_bind, head_bind = _imports(base_tree), _imports(head_tree)
    for q, entry in quals.items():
        if q in (reach.MODULE, WHOLE):
            continue
        node = _def_node(base_tree, q)
        if node is None:
            continue
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for name in sorted(used & set(base_bind)):
            if base_bind[name][0].startswith('<defined here>'):
                continue
            now = head_bind.get(name)
            if now is None or now[0] != base_bind[name][0]:
                shown = 'unbound' if now is None else f'bound to {now[0]}'
                out.append(('protected-binding', now[1] if now else 1,
                            f'`{name}`, used by protected `{entry.symbol}` ({entry.why()}), was imported '
                            f'as {base_bind[name][0]} in the base and is now {shown}'))
    return out


def symbol_findings(
        ctx: CheckContext, symbols: tuple[str, ...], verifier: tuple[str, ...], protected: tuple[str, ...],
        store: Path | None = None, pending: Pending | None = None,
) -> tuple[list[tuple[str, Finding]], dict[str, object]]:
    """Edits of protected symbols outside the protected paths; details for the report."""
    candidates = [c for c in ctx.changed if any(p.endswith('.py') for p in c.paths())
                  and not all(matches(p, protected) for p in c.paths())]
    if not candidates or not (symbols or verifier):
        return [], {'protected_symbols': 'not computed: no changed Python file outside protected paths'
                    if symbols or verifier else 'none declared'}
    entries = protection_cached(
        ctx.base_tree, symbols, verifier, protected, ctx.spec.subject.root, store,
        [] if pending is None else pending,
    )
    by_path: dict[str, dict[str, Entry]] = {}
    for entry in entries:
        by_path.setdefault(entry.symbol.path, {})[entry.symbol.qualname] = entry
    out: list[tuple[str, Finding]] = []
    fix = 'undo the edit or restore it from the base ({rev}): git checkout {rev} -- {path}'
    for change in candidates:
        old = change.old_path if change.status == 'R' else change.path
        quals = by_path.get(old or change.path)
        if not quals:
            continue
        names = ', '.join(f'`{e.symbol}`' for e in list(quals.values())[:3]) + (' ...' if len(quals) > 3 else '')
        if change.status in ('D', 'R'):
            verb = 'deleted' if change.status == 'D' else f'renamed to {change.path}'
            out.append(('protected-symbol-file', Finding(
                GATE, f'file holding protected symbols {verb} ({names}): protected code must stay '
                f'where the verifier finds it; ' + fix.format(rev=ctx.base_rev[:12], path=old), old,
            )))
            continue
        base_b, head_b = _read(ctx.base_tree, change.path), _read(ctx.head_tree, change.path)
        if base_b is None or head_b is None or base_b == head_b:
            continue
        base_text = base_b.decode('utf-8', errors='surrogateescape')
        head_text = head_b.decode('utf-8', errors='surrogateescape')
        if WHOLE in quals:
            edits = astdiff.diff_python(base_text, head_text, change.path)
            rows = [('protected-symbol-edit', e.line, f'{e.message} (`{change.path}::` {quals[WHOLE].why()})')
                    for e in edits]
        else:
            rows = _symbol_edits(change.path, base_text, head_text, quals)
        for rule, line, message in rows:
            out.append((rule, Finding(
                GATE, f'{message}: the verifier\'s guarantees rest on it; '
                + fix.format(rev=ctx.base_rev[:12], path=change.path), change.path, line,
            )))
    details: dict[str, object] = {
        'protected_symbols': len(entries),
        'protected_symbol_files': len(by_path),
    }
    return out, details
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
