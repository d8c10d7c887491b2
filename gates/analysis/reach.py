"""What the protected verifier reaches: a static, conservative closure over the subject's code.

A verifier is only as strong as what it calls. A Merkle-branch check in an unprotected helper
file could be weakened without touching a protected path, so the api gate protects everything
the verifier's code reaches, by symbol (``path::qualname``), computed here from the base tree:

- modules are the ``.py`` files under the subject root (``a/b.py`` is ``a.b``, ``a/__init__.py``
  is ``a``); imports (absolute and relative, ``import x as y``, ``from x import y as z``) bind
  names to modules or to symbols of modules;
- a reached function or class references names (loads, attribute chains, decorators, defaults,
  annotations, base classes); each is resolved through the module's own definitions and its
  imports to a module-level function or class (a class is reached whole), or a module-level
  variable (then the module's top-level statements are reached, ``path::<module>``);
- what cannot be resolved statically is taken conservatively: ``obj.name`` on something of
  unknown type reaches every method ``name`` of a class defined in the same module or in a
  module it imports; ``getattr(x, "name")`` counts as ``x.name``;
- a module's top-level code is reached when a reached symbol uses the module itself or one of
  its variables; the import bindings a protected symbol's names go through are compared by
  ``gates.analysis.protected`` (re-pointing ``check`` at a weaker function is an edit of ``check``'s use).

Roots are every definition and the top-level code of the files the spec's ``protected.verifier``
globs match, and each ``file.py::qualname`` entry of it (a verifier function in a file the
prover shares). Imports are followed under the subject root only, because the subject's process
has only its root on sys.path; a reached import that names a file of the repository above the
root is refused (``Index.outside_root``) rather than silently not followed. The result is a superset of what runs; names the resolver cannot see (code built
with ``exec``, ``importlib`` on computed names) are outside it, which the rules'
no-verifier-internals-import and no-prover-side-import-in-verifier bound.
"""
from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from pathlib import Path

MODULE = '<module>'   # the qualname of a module's top-level statements

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclasses.dataclass(frozen=True)
class Symbol:
    path: str          # repo-relative posix path of the file
    qualname: str      # 'f', 'C' (a class with all it holds) or MODULE

    def __str__(self) -> str:
        return f'{self.path}::{self.qualname}'


@dataclasses.dataclass
class _Module:
    name: str
    path: str
    tree: ast.Module
    defs: dict[str, ast.stmt]                        # top-level function/class name -> node
    variables: set[str]                              # top-level assigned names
    imports: dict[str, tuple[str, str | None]]       # local name -> (module, attribute or None)
    methods: dict[str, list[str]]                    # method name -> ['C', ...] classes defining it


def module_statements(tree: ast.Module) -> Iterable[ast.stmt]:
    """A module's own top-level code: not its definitions (reached one by one) and not its
    imports (a protected symbol's bindings are compared name by name instead), so a stage may
    add an import to a file the verifier reaches."""
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (*_DEFS, ast.Import, ast.ImportFrom)):
            continue
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue   # the docstring
        yield stmt


def module_name(rel: str, root: str) -> str | None:
    """Dotted module of a repo-relative ``.py`` path under the subject ``root``."""
    prefix = '' if root in ('', '.') else root.strip('/') + '/'
    if not rel.endswith('.py') or not rel.startswith(prefix):
        return None
    parts = rel[len(prefix):-3].split('/')
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    parts = current.split('.')
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[:len(parts) - (level - 1)]
    return '.'.join(p for p in parts + ([module] if module else []) if p)


def _load(tree_root: Path, rel: str, name: str) -> _Module | None:
    try:
        tree = ast.parse((tree_root / rel).read_text(encoding='utf-8', errors='surrogateescape'), rel)
    except (SyntaxError, ValueError, OSError):
        return None
    defs: dict[str, ast.stmt] = {}
    variables: set[str] = set()
    imports: dict[str, tuple[str, str | None]] = {}
    methods: dict[str, list[str]] = {}
    is_package = rel.endswith('__init__.py')
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    imports[a.asname] = (a.name, None)
                else:
                    imports[a.name.split('.')[0]] = (a.name.split('.')[0], None)
        elif isinstance(node, ast.ImportFrom):
            src = _resolve_relative(name, is_package, node.level, node.module) if node.level else (node.module or '')
            for a in node.names:
                if a.name != '*':
                    imports[a.asname or a.name] = (src, a.name)
    for stmt in tree.body:
        if isinstance(stmt, _DEFS):
            defs[stmt.name] = stmt
            if isinstance(stmt, ast.ClassDef):
                for item in stmt.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        methods.setdefault(item.name, []).append(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        variables.add(n.id)
    return _Module(name, rel, tree, defs, variables, imports, methods)


class _Lazy(dict[str, _Module]):
    """Modules parsed on first use: the closure touches a fraction of a large tree."""

    def __init__(self, tree_root: Path, paths: dict[str, str]) -> None:
        super().__init__()
        self._root = tree_root
        self._paths = paths          # module name -> rel path
        self._bad: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: _Module | None = None) -> _Module | None:  # type: ignore[override]
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        if name in self._bad or name not in self._paths:
            return default
        mod = _load(self._root, self._paths[name], name)
        if mod is None:
            self._bad.add(name)
            return default
        self[name] = mod
        return mod

    def __getitem__(self, name: str) -> _Module:
        mod = self.get(name)
        if mod is None:
            raise KeyError(name)
        return mod


class Index:
    """Every module of the subject tree, each parsed when first needed."""

    def __init__(self, tree_root: Path, files: Iterable[str], subject_root: str = '.') -> None:
        names: dict[str, str] = {}
        self.path_to_name: dict[str, str] = {}
        for rel in sorted(files):
            name = module_name(rel, subject_root)
            if name is not None:
                names[name] = rel
                self.path_to_name[rel] = name
        self.by_name = _Lazy(tree_root, names)

    def module_at(self, rel: str) -> _Module | None:
        name = self.path_to_name.get(rel)
        return None if name is None else self.by_name.get(name)

    def _target(self, module: str, attr: str | None) -> tuple[str, str | None] | None:
        """(module, top-level name or None for the module itself), following re-exports."""
        seen: set[tuple[str, str | None]] = set()
        while (module, attr) not in seen:
            seen.add((module, attr))
            if attr is None:
                return (module, None) if module in self.by_name else None
            if f'{module}.{attr}' in self.by_name:
                return f'{module}.{attr}', None
            mod = self.by_name.get(module)
            if mod is None:
                return None
            if attr in mod.defs or attr in mod.variables:
                return module, attr
            if attr in mod.imports:
                module, attr = mod.imports[attr]
                continue
            return None
        return None

    def _symbols_of(self, module: str, attr: str | None) -> set[Symbol]:
        mod = self.by_name[module]
        if attr is None:
            return {Symbol(mod.path, MODULE)}
        if attr in mod.defs:
            return {Symbol(mod.path, attr)}
        return {Symbol(mod.path, MODULE)}

    def _chain(self, node: ast.expr) -> list[str] | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            return [node.id] + parts[::-1]
        return None

    def _resolve_chain(self, mod: _Module, chain: list[str]) -> set[Symbol] | None:
        head, rest = chain[0], chain[1:]
        if head in mod.defs:
            target: tuple[str, str | None] | None = (mod.name, head)
        elif head in mod.imports:
            target = self._target(*mod.imports[head])
        elif head in mod.variables:
            target = (mod.name, head)
        else:
            return None
        if target is None:
            return None
        module, attr = target
        # Walk attributes through submodules and module members.
        while rest and attr is None:
            nxt = self._target(module, rest[0])
            if nxt is None:
                break
            module, attr = nxt
            rest = rest[1:]
        return self._symbols_of(module, attr)

    def _referenced(self, mod: _Module, node: ast.AST) -> set[Symbol]:
        out: set[Symbol] = set()
        unresolved_attrs: set[str] = set()
        for sub in ast.walk(node):
            chain: list[str] | None = None
            if isinstance(sub, ast.Attribute):
                chain = self._chain(sub)
                unresolved_attrs.add(sub.attr)
            elif isinstance(sub, ast.Name):
                chain = [sub.id]
            elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == 'getattr'
                    and len(sub.args) >= 2 and isinstance(sub.args[1], ast.Constant)
                    and isinstance(sub.args[1].value, str)):
                unresolved_attrs.add(sub.args[1].value)
            if chain:
                got = self._resolve_chain(mod, chain)
                if got:
                    out |= got
        # obj.name on an object of unknown type: every method of that name in this module or a
        # module it imports (conservative; a class reached is reached whole anyway).
        neighbours = {mod.name}
        for m, a in mod.imports.values():
            for t in (self._target(m, None), self._target(m, a)):
                if t is not None:
                    neighbours.add(t[0])
        for name in unresolved_attrs:
            if name.startswith('__') and name.endswith('__'):
                # Dunders run implicitly on objects whose class is reached by name already
                # (construction, super() through the bases); matching them by name would pull
                # in every class of the module.
                continue
            for other in neighbours:
                om = self.by_name.get(other)
                if om is not None:
                    for cls in om.methods.get(name, ()):
                        out.add(Symbol(om.path, cls))
        return out

    def _node(self, sym: Symbol) -> ast.AST | None:
        mod = self.module_at(sym.path)
        if mod is None:
            return None
        if sym.qualname == MODULE:
            return ast.Module(body=list(module_statements(mod.tree)), type_ignores=[])
        return mod.defs.get(sym.qualname.split('.')[0])

    def closure(self, roots: Iterable[Symbol]) -> dict[Symbol, Symbol | None]:
        """Every symbol reached from ``roots``, each with the symbol that first reached it
        (None for a root)."""
        reached: dict[Symbol, Symbol | None] = {}
        todo: list[Symbol] = []
        for r in roots:
            if r not in reached:
                reached[r] = None
                todo.append(r)
        while todo:
            sym = todo.pop()
            node = self._node(sym)
            mod = self.module_at(sym.path)
            if node is None or mod is None:
                continue
            for nxt in sorted(self._referenced(mod, node), key=str):
                if nxt not in reached:
                    reached[nxt] = sym
                    todo.append(nxt)
        return reached

    def roots_in(self, paths: Iterable[str]) -> list[Symbol]:
        out = []
        for rel in paths:
            mod = self.module_at(rel)
            if mod is not None:
                out.append(Symbol(rel, MODULE))
                out.extend(Symbol(rel, name) for name in mod.defs)
        return out

    def defines(self, sym: Symbol) -> bool:
        """Whether ``sym`` (``path::qualname``) names a top-level function or class (or, with
        a dotted qualname, one inside a top-level class) of a module of the index."""
        mod = self.module_at(sym.path)
        if mod is None:
            return False
        head, _, rest = sym.qualname.partition('.')
        node = mod.defs.get(head)
        if node is None or not rest:
            return node is not None
        names = {n.name for n in getattr(node, 'body', []) if isinstance(n, _DEFS)}
        return rest.split('.')[0] in names

    def outside_root(self, reached: Iterable[Symbol], tree_root: Path, subject_root: str) -> tuple[str, str] | None:
        """The first import of a reached module that names no module under the subject root
        but a file of the repository above it (``common/fri.py`` for ``import common.fri``
        with root ``stark``): (importing file, module). The subject process has only its root
        on sys.path, so such code runs only through a sys.path edit the closure cannot see."""
        prefix = '' if subject_root in ('', '.') else subject_root.strip('/')
        if not prefix:
            return None
        ancestors = [Path(*Path(prefix).parts[:i]) for i in range(len(Path(prefix).parts))]
        for path in sorted({sym.path for sym in reached}):
            mod = self.module_at(path)
            if mod is None:
                continue
            for module, attr in sorted(mod.imports.values(), key=lambda t: (t[0], t[1] or '')):
                if not module or self._target(module, None) is not None or self._target(module, attr) is not None:
                    continue
                rel = Path(*module.split('.'))
                for up in ancestors:
                    for cand in (up / rel.with_suffix('.py'), up / rel / '__init__.py'):
                        if (tree_root / cand).is_file():
                            return path, module
        return None

    def line_of(self, sym: Symbol) -> int | None:
        mod = self.module_at(sym.path)
        if mod is None:
            return None
        if sym.qualname == MODULE:
            return 1
        node = mod.defs.get(sym.qualname.split('.')[0])
        return getattr(node, 'lineno', None)


def chain_to(reached: dict[Symbol, Symbol | None], sym: Symbol) -> list[Symbol]:
    """The path from a root to ``sym`` (root first)."""
    out = [sym]
    while (prev := reached.get(out[-1])) is not None and prev not in out:
        out.append(prev)
    return out[::-1]
