"""Structural diff of two versions of a Python file, for the api gate's protected files.

Semgrep matches patterns in one tree; it cannot say "this function changed since the base", and a
rule matching a whole protected function would re-report on any edit inside it. So protected
files are compared here with ``ast``: two versions are equal when their syntax trees are equal
with comments, formatting, docstrings and the order of definitions ignored. Every difference is
located: the qualified name of the function or class, and a line in the head version.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclasses.dataclass(frozen=True)
class Edit:
    """One structural difference. ``line`` is in the head version unless ``kind == 'removed'``
    (then ``line`` is the enclosing scope's head line and ``base_line`` where it was)."""

    kind: str          # 'body' | 'signature' | 'added' | 'removed' | 'syntax' | 'text'
    name: str          # qualified name ('Checker.check'); '' for the module
    line: int
    message: str
    base_line: int | None = None


@dataclasses.dataclass(frozen=True)
class _Scope:
    kind: str                              # 'module' | 'class' | 'def' | 'async def'
    name: str
    line: int
    end_line: int
    header: str                            # normalized signature; '' for the module
    statements: tuple[tuple[str, int], ...]  # (dump, line) of the non-definition statements
    children: dict[str, _Scope]


def _dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=True, include_attributes=False)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _header(node: DefNode) -> str:
    decorators = '|'.join(_dump(d) for d in node.decorator_list)
    type_params = '|'.join(_dump(p) for p in getattr(node, 'type_params', ()))
    if isinstance(node, ast.ClassDef):
        bases = '|'.join(_dump(b) for b in node.bases)
        keywords = '|'.join(_dump(k) for k in node.keywords)
        return f'class({bases};{keywords};@{decorators};[{type_params}])'
    returns = '' if node.returns is None else _dump(node.returns)
    kind = 'async' if isinstance(node, ast.AsyncFunctionDef) else 'def'
    return f'{kind}({_dump(node.args)}->{returns};@{decorators};[{type_params}])'


def _scope(kind: str, name: str, line: int, end_line: int, header: str, body: list[ast.stmt]) -> _Scope:
    statements = []
    children: dict[str, _Scope] = {}
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, _DEFS):
            key = stmt.name
            n = 1
            while key in children:
                # Redefinitions (property setters, overloads) keep their order among themselves.
                n += 1
                key = f'{stmt.name}#{n}'
            children[key] = _def_scope(stmt, name)
            continue
        statements.append((_dump(stmt), stmt.lineno))
    return _Scope(kind, name, line, end_line, header, tuple(statements), children)


def _def_scope(node: DefNode, parent: str) -> _Scope:
    qual = f'{parent}.{node.name}' if parent else node.name
    if isinstance(node, ast.ClassDef):
        kind = 'class'
    elif isinstance(node, ast.AsyncFunctionDef):
        kind = 'async def'
    else:
        kind = 'def'
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return _scope(kind, qual, first, node.end_lineno or node.lineno, _header(node), node.body)


def _module_scope(tree: ast.Module, text: str) -> _Scope:
    return _scope('module', '', 1, max(1, len(text.splitlines())), '', tree.body)


def _what(scope: _Scope) -> str:
    if scope.kind == 'module':
        return 'module-level code'
    if scope.kind == 'class':
        return f'class `{scope.name}`'
    return f'function `{scope.name}`'


def _public(name: str) -> bool:
    return not any(part.startswith('_') for part in name.split('.'))


def _compare(base: _Scope, head: _Scope, edits: list[Edit]) -> None:
    if base.header != head.header or base.kind != head.kind:
        edits.append(Edit(
            'signature', head.name, head.line,
            f'changed signature of protected {_what(head)} (parameters, defaults, annotations, '
            f'decorators or bases differ from the base, where it is at line {base.line})',
            base.line,
        ))
    old = [d for d, _ in base.statements]
    new = [d for d, _ in head.statements]
    if old != new:
        changed = 0
        first_line: int | None = None
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if op == 'equal':
                continue
            changed += max(i2 - i1, j2 - j1)
            if first_line is None:
                first_line = head.statements[j1][1] if j1 < len(new) else head.end_line
        where = head.line if first_line is None else first_line
        inside = 'edit inside' if head.kind != 'module' else 'edit of'
        edits.append(Edit(
            'body', head.name, where,
            f'{inside} protected {_what(head)}: {changed} statement(s) differ from the base '
            f'(first difference here)',
        ))
    for key, child in base.children.items():
        if key not in head.children:
            label = 'public' if _public(child.name) else 'private'
            edits.append(Edit(
                'removed', child.name, head.line,
                f'removed {label} name `{child.name}` ({child.kind}, at line {child.line} in the '
                f'base) from protected {_what(head) if head.kind != "module" else "module"}',
                child.line,
            ))
    for key, child in head.children.items():
        if key not in base.children:
            label = 'public' if _public(child.name) else 'private'
            edits.append(Edit(
                'added', child.name, child.line,
                f'added {label} name `{child.name}` ({child.kind}) to protected '
                f'{_what(head) if head.kind != "module" else "module"}',
            ))
        else:
            _compare(base.children[key], child, edits)


def _first_text_difference(base: str, head: str) -> int:
    old, new = base.splitlines(), head.splitlines()
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return i + 1
    return min(len(old), len(new)) + 1


def diff_text(base: str, head: str) -> list[Edit]:
    """Non-Python protected files: any byte change is an edit (first differing line)."""
    if base == head:
        return []
    line = _first_text_difference(base, head)
    return [Edit('text', '', line, 'edit of a protected file (first difference here)')]


def diff_python(base: str, head: str, filename: str) -> list[Edit]:
    """Structural edits from ``base`` to ``head`` (both the text of ``filename``)."""
    try:
        head_tree = ast.parse(head, filename)
    except SyntaxError as e:
        return [Edit('syntax', '', e.lineno or 1, f'protected file does not parse: {e.msg}')]
    try:
        base_tree = ast.parse(base, filename)
    except SyntaxError:
        # The base itself is not Python the parser accepts: fall back to comparing text.
        return diff_text(base, head)
    edits: list[Edit] = []
    _compare(_module_scope(base_tree, base), _module_scope(head_tree, head), edits)
    return sorted(edits, key=lambda e: (e.line, e.kind))
