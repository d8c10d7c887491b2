"""The api gate's semgrep rules: where they come from, and the rule generated from the spec.

``rules/no-materialized-in-converted-stage.yaml`` is a template: its ``$NAME`` regex is replaced
with the spec's ``protected.forbid_in_converted`` names, and its path filter is dropped (the gate
keeps its matches to the converted stages' paths itself, and drops those inside a branch only
the baseline variant takes, which a semgrep pattern cannot tell apart from its ``else``).
The names are the spec's plus every function that returns the forbidden view
(``derived_names``), so a wrapper is caught like the name it wraps.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import re
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gates.vcs import trees
from gates.context import CheckContext
from gates.model import GateError

TEMPLATE_ID = 'no-materialized-in-converted-stage'


def rules_dir(ctx: CheckContext) -> Path:
    """The base revision's rules (the base judges the head); the engine's own as a fallback."""
    for candidate in (ctx.base_tree / 'rules', Path(__file__).resolve().parents[2] / 'rules'):
        if any(candidate.glob('*.yaml')):
            return candidate
    raise GateError(
        f'no semgrep rules found in {ctx.base_tree / "rules"} (the base revision); '
        f'restore rules/ from the engine, the api gate cannot run without them.',
    )


def rules_source(ctx: CheckContext, rules: Path) -> str:
    """Where the user can read the rules the gate ran: the base revision's ``rules/`` as a git
    object name (``git show <rev>:rules/<file>``; the temporary tree is gone by the time the
    report is read), or the engine's own folder."""
    try:
        rel = rules.relative_to(ctx.base_tree)
    except ValueError:
        return str(rules)
    return f'{ctx.base_rev[:12]}:{rel.as_posix()}'


def load_rules(path: Path) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as e:
        raise GateError(f'{path}: not valid YAML ({e}); fix the rule file.') from None
    rules = doc.get('rules') if isinstance(doc, dict) else None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise GateError(f'{path}: expected a mapping with a `rules:` list (semgrep rule syntax).')
    return rules


def _set_name_regex(node: Any, regex: str) -> int:
    """Replace the regex of every ``metavariable-regex`` on ``$NAME``; returns how many."""
    count = 0
    if isinstance(node, dict):
        mv = node.get('metavariable-regex')
        if isinstance(mv, dict) and mv.get('metavariable') == '$NAME':
            mv['regex'] = regex
            count += 1
        for value in node.values():
            count += _set_name_regex(value, regex)
    elif isinstance(node, list):
        for item in node:
            count += _set_name_regex(item, regex)
    return count


def generated_rule(template: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The template with the spec's forbidden names and no path filter (the gate filters)."""
    rule: dict[str, Any] = copy.deepcopy(template)
    wanted = sorted(set(names))
    # With no names the name branch must match nothing; the chunk patterns still apply.
    regex = f'^(?:{"|".join(re.escape(n) for n in wanted)})$' if wanted else '(?!x)x'
    if _set_name_regex(rule, regex) == 0:
        raise GateError(
            f'rules/{TEMPLATE_ID}.yaml has no metavariable-regex on $NAME; the api gate '
            f'cannot put the spec\'s forbid_in_converted names into it.',
        )
    rule.pop('paths', None)
    return rule


def _branch_lines(branch: list[ast.stmt]) -> range:
    return range(branch[0].lineno, (branch[-1].end_lineno or branch[-1].lineno) + 1)


def baseline_branches(tree: Path, rel: str, baseline: str) -> set[int]:
    """Lines only the baseline variant runs: the body of ``if <x> == "<baseline>":`` and the
    ``else`` of ``if <x> != "<baseline>":``. A converted stage keeps its dense path there (the
    baseline variant must still prove), and the memory gate never runs it for the candidate.

    <x> must be what the run chooses, not something the code sets itself: an attribute
    (``ctx.backend``), a subscript (``variant["3"]``), or a parameter of the enclosing function
    (``backend``). A name the function assigns (``view = "materialized"``), a module-level name
    or a constant compared with the constant exempt nothing: those branches run for the
    candidate too, and the exemption would let the streaming path materialize unseen."""
    text = trees.read_text(tree, rel)
    try:
        module = ast.parse(text or '', rel)
    except (SyntaxError, ValueError):
        return set()
    lines: set[int] = set()

    def visit(node: ast.AST, params: frozenset[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = child.args
                names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
                visit(child, frozenset(names) - _assigned(child))
                continue
            if isinstance(child, ast.If):
                lines.update(_baseline_lines(child, baseline, params))
            visit(child, params)

    visit(module, frozenset())
    return lines


def _assigned(func: ast.AST) -> set[str]:
    """Names a function (re)binds in its own body (not in nested functions)."""
    out: set[str] = set()
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _baseline_lines(node: ast.If, baseline: str, params: frozenset[str]) -> range | tuple[()]:
    test = node.test
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return ()
    left, right = test.left, test.comparators[0]
    if isinstance(left, ast.Constant) and left.value == baseline:
        left, right = right, left
    if not (isinstance(right, ast.Constant) and right.value == baseline):
        return ()
    chosen = isinstance(left, (ast.Attribute, ast.Subscript)) or (isinstance(left, ast.Name) and left.id in params)
    if not chosen:
        return ()
    if isinstance(test.ops[0], ast.Eq):
        return _branch_lines(node.body)
    if isinstance(test.ops[0], ast.NotEq) and node.orelse:
        return _branch_lines(node.orelse)
    return ()


def _refs(node: ast.AST, local: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """Names an expression uses (``a.b(c)`` -> a, b, c), attribute names always, bare names
    only when not one of the function's ``local`` names (a parameter called ``rows`` is not
    the ``rows`` property)."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id not in local:
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == 'getattr'
                and len(sub.args) >= 2 and isinstance(sub.args[1], ast.Constant)
                and isinstance(sub.args[1].value, str)):
            out.add(sub.args[1].value)
    return out


def _locals(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names: set[str] = set()
    for sub in ast.walk(fn):      # nested functions' and lambdas' parameters included
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    return names


def _returns_forbidden(fn: ast.FunctionDef | ast.AsyncFunctionDef, forbidden: set[str], skip: set[int]) -> bool:
    """Whether ``fn`` returns (or yields) a value built from a forbidden name: its return values
    use one directly or through locals assigned from one (followed to a fixpoint)."""
    local = _locals(fn)
    tainted: set[str] = set()
    assigns: list[tuple[set[str], ast.AST]] = []
    outs: list[ast.expr] = []
    for sub in ast.walk(fn):
        if getattr(sub, 'lineno', None) in skip:
            continue
        if isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and sub.value is not None:
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            assigns.append((names, sub.value))
        elif isinstance(sub, (ast.For, ast.AsyncFor, ast.comprehension)):
            names = {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
            assigns.append((names, sub.iter))
        elif isinstance(sub, (ast.Return, ast.Yield, ast.YieldFrom)) and sub.value is not None:
            outs.append(sub.value)

    def bad(expr: ast.AST) -> bool:
        return bool(_refs(expr, local) & forbidden) or any(
            isinstance(n, ast.Name) and n.id in tainted for n in ast.walk(expr))

    changed = True
    while changed:
        changed = False
        for names, value in assigns:
            if not names <= tainted and bad(value):
                tainted |= names
                changed = True
    return any(bad(v) for v in outs)


def derived_names(
        tree: Path, files: Iterable[str], forbid: Iterable[str], baseline: str,
) -> dict[str, str]:
    """Functions, methods and properties in ``files`` that return the forbidden view, to a
    fixpoint (a wrapper of a wrapper): name -> where (``path:line``). A converted stage calling
    one gets the view as surely as calling ``materialized`` itself; returns inside a branch only
    the baseline variant takes do not count (the candidate never gets that value)."""
    forbidden = set(forbid)
    defs: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, set[int]]] = []
    for rel in sorted(set(files)):
        text = trees.read_text(tree, rel)
        try:
            module = ast.parse(text or '', rel)
        except (SyntaxError, ValueError):
            continue
        skip = baseline_branches(tree, rel, baseline)
        defs.extend((rel, n, skip) for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    found: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for rel, fn, skip in defs:
            if fn.name in forbidden or fn.name.startswith('__'):
                continue
            if _returns_forbidden(fn, forbidden, skip):
                forbidden.add(fn.name)
                found[fn.name] = f'{rel}:{fn.lineno}'
                changed = True
    return found


# -- rules parameterised by the spec --------------------------------------------------------
# The rule files name no subject: ``{{...}}`` placeholders are filled from the spec (and the
# verifier's reach on the base tree) before semgrep sees them.
#   list item '{{subject_globs}}'   -> '<package>/**' for each package the stages and protected
#                                      paths live in
#   list item '{{verifier_globs}}'  -> protected.verifier (a rule needing it is skipped without)
#   '{{subject_re}}', '{{verifier_re}}', '{{verifier_leaf_re}}', '{{prover_side_re}}',
#   '{{prover_side_leaf_re}}'       -> regex alternations of dotted modules / last components
#   a pattern-either item holding '{{protected}}' -> one copy per protected module


@dataclasses.dataclass(frozen=True)
class RuleParams:
    subject_packages: tuple[str, ...]
    verifier_globs: tuple[str, ...]
    verifier_modules: tuple[str, ...]
    protected_modules: tuple[str, ...]
    prover_side_modules: tuple[str, ...]
    # Repo-relative globs of the subject's top-level packages and modules (``stark/fri/**``,
    # ``stark/prover.py`` for subject.root ``stark``): semgrep matches a rule's paths against
    # the targets' paths relative to the tree, not to the subject root.
    subject_globs: tuple[str, ...] = ()

    def lists(self) -> dict[str, list[str]]:
        return {
            '{{subject_globs}}': list(self.subject_globs or tuple(f'{p}/**' for p in self.subject_packages)),
            '{{verifier_globs}}': list(self.verifier_globs),
        }

    def regexes(self) -> dict[str, tuple[str, ...]]:
        return {
            '{{subject_re}}': self.subject_packages,
            '{{verifier_re}}': self.verifier_modules,
            '{{verifier_leaf_re}}': tuple(dict.fromkeys(m.rsplit('.', 1)[-1] for m in self.verifier_modules)),
            '{{prover_side_re}}': self.prover_side_modules,
            '{{prover_side_leaf_re}}': tuple(dict.fromkeys(m.rsplit('.', 1)[-1] for m in self.prover_side_modules)),
        }


def glob_module(glob: str, root: str = '.') -> str | None:
    """The dotted module a path glob stands for: ``a/b/**`` -> a.b, ``a/c.py`` -> a.c."""
    prefix = '' if root in ('', '.') else root.strip('/') + '/'
    if not glob.startswith(prefix):
        return None
    g = glob[len(prefix):]
    for tail in ('/**', '/*', '/*.py', '/**/*.py'):
        if g.endswith(tail):
            g = g[:-len(tail)]
            break
    if g.endswith('.py'):
        g = g[:-3]
        if g.endswith('/__init__'):
            g = g[:-len('/__init__')]
    parts = g.split('/')
    return '.'.join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _prefix(root: str) -> str:
    return '' if root in ('', '.') else root.strip('/') + '/'


def package_glob(glob: str, root: str = '.') -> str | None:
    """The repo-relative glob of the top-level package or module a path glob lives in:
    ``stark/fri/low.py`` -> ``stark/fri/**``; ``stark/prover.py`` -> ``stark/prover.py`` (a
    module at the top of the root is a file, not a folder)."""
    mod = glob_module(glob, root)
    if mod is None:
        return None
    top = mod.split('.')[0]
    rel = glob[len(_prefix(root)):]
    return f'{_prefix(root)}{top}/**' if rel.startswith(top + '/') else f'{_prefix(root)}{top}.py'


def verifier_files(verifier_globs: Iterable[str]) -> tuple[str, ...]:
    """The ``protected.verifier`` entries that are file globs: a ``file.py::function`` entry
    names a function in a file the prover may share, so the rules (which judge whole files)
    do not treat that file as the verifier."""
    return tuple(g for g in verifier_globs if '::' not in g)


def rule_params(
        stage_globs: Iterable[str], shared_globs: Iterable[str], protected_globs: Iterable[str],
        verifier_globs: tuple[str, ...], reached_modules: Iterable[str], root: str = '.',
) -> RuleParams:
    """Placeholder values from the spec. Prover-side modules are the stages' and shared paths'
    modules inside the subject's packages, widened to the largest enclosing package the
    verifier does not reach (``prover/stages/stage3.py`` -> ``prover.stages``), minus what it
    reaches (a commitment scheme both sides use)."""
    stage_globs, shared_globs = tuple(stage_globs), tuple(shared_globs)
    # Every verifier module is protected too (its reach is protected by symbol): rebinding one
    # of its functions at run time is what no-protected-monkeypatch is for.
    verifier_mods = tuple(dict.fromkeys(
        m for g in verifier_globs if (m := glob_module(g.partition('::')[0], root))))
    protected_mods = tuple(dict.fromkeys(
        [m for g in protected_globs if (m := glob_module(g, root))] + list(verifier_mods)))
    globs = tuple(dict.fromkeys(
        p for g in stage_globs + tuple(protected_globs) if (p := package_glob(g, root))))
    packages = tuple(dict.fromkeys(
        m.split('.')[0] for g in stage_globs + tuple(protected_globs) if (m := glob_module(g, root))
    ))
    reached = set(reached_modules) | set(protected_mods)

    def is_reached(mod: str) -> bool:
        return any(r == mod or r.startswith(mod + '.') or mod.startswith(r + '.') for r in reached)

    side: list[str] = []
    for g in stage_globs + shared_globs:
        mod = glob_module(g, root)
        if mod is None or mod.split('.')[0] not in packages or is_reached(mod):
            continue
        while mod.count('.') > 1 and not is_reached(mod.rsplit('.', 1)[0]):
            mod = mod.rsplit('.', 1)[0]
        if '.' in mod and mod.count('.') >= 1:
            parent = mod.rsplit('.', 1)[0]
            if parent not in packages and not is_reached(parent):
                mod = parent
        side.append(mod)
    files = verifier_files(verifier_globs)
    file_mods = tuple(dict.fromkeys(m for g in files if (m := glob_module(g, root))))
    return RuleParams(
        packages, files, file_mods, protected_mods, tuple(dict.fromkeys(side)), globs,
    )


class _Skip(Exception):
    """A rule whose placeholders have no value for this spec (nothing to judge)."""


def _alternation(values: tuple[str, ...]) -> str:
    if not values:
        raise _Skip
    return '|'.join(re.escape(v) for v in values)


def _render(node: Any, params: RuleParams) -> Any:
    lists, regexes = params.lists(), params.regexes()
    if isinstance(node, str):
        for key, values in regexes.items():
            if key in node:
                node = node.replace(key, _alternation(values))
        if '{{' in node and '{{protected}}' not in node:
            raise GateError(f'unknown placeholder in a rule: {node!r}; the engine knows '
                            f'{", ".join(sorted(list(lists) + list(regexes) + ["{{protected}}"]))}.')
        return node
    if isinstance(node, dict):
        return {k: _render(v, params) for k, v in node.items()}
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            if isinstance(item, str) and item in lists:
                if not lists[item]:
                    raise _Skip
                out.extend(lists[item])
            elif '{{protected}}' in yaml.safe_dump(item):
                text = yaml.safe_dump(item)
                for mod in params.protected_modules:
                    out.append(_render(yaml.safe_load(text.replace('{{protected}}', mod)), params))
            else:
                out.append(_render(item, params))
        return out
    return node


def render_rule(rule: dict[str, Any], params: RuleParams) -> dict[str, Any] | None:
    """The rule with the spec's values in place of its placeholders; None when the spec gives
    it nothing to judge (no verifier declared, no protected module)."""
    try:
        rendered: dict[str, Any] = _render(copy.deepcopy(rule), params)
    except _Skip:
        return None
    return rendered


# Which spec keys a rule's path placeholder comes from (for the error when it matches nothing).
_PLACEHOLDER_KEYS = {
    '{{subject_globs}}': 'subject.root with stages[].paths and protected.paths',
    '{{verifier_globs}}': 'protected.verifier',
}


def _path_globs(rule: dict[str, Any], key: str) -> list[str]:
    paths = rule.get('paths')
    value = paths.get(key) if isinstance(paths, dict) else None
    return [str(v) for v in value] if isinstance(value, list) else []


def unmatched(
        rule: dict[str, Any], rendered: dict[str, Any], files: Iterable[str],
        match: Callable[[str, Iterable[str]], bool],
) -> str | None:
    """Why ``rendered`` (``rule`` with the spec's values) can match no file of the subject at
    all (None when some file is in its paths): its ``paths.include`` select no Python file of
    the tree, or its ``paths.exclude`` remove all they select. A rule that judges nothing
    would pass every change silently (a subject.root of a sub-folder once made every rule's
    filter miss)."""
    include, exclude = _path_globs(rendered, 'include'), _path_globs(rendered, 'exclude')
    if not include:
        return None
    selected = [f for f in files if match(f, include)]
    if selected and any(not match(f, exclude) for f in selected):
        return None
    raw = _path_globs(rule, 'include') + (_path_globs(rule, 'exclude') if selected else [])
    keys = [k for p, k in _PLACEHOLDER_KEYS.items() if p in raw] or ['its paths']
    what = 'select no Python file of the subject' if not selected else 'exclude every file they select'
    return (f'rule {rule.get("id")}: its paths ({", ".join(include)}'
            f'{"; exclude " + ", ".join(exclude) if exclude else ""}) {what}; check '
            f'{" and ".join(keys)} in the spec.')
