"""Which rule matches a change brings in, and which it only carries over from its base.

The api gate judges what a change does. In a stage the candidate still runs with the baseline
backend, the stage's own dense code (``ctx.witness.materialized(...)``) is expected and was
there before the change; reporting it on every edit of the file made a comment, a renamed local
or a ``ruff format`` fail. So in such a file a match is *pre-existing* when the base version of
the same file has a match of the same rule in the same function or class (same qualified name),
counted: the head may keep as many as the base had there, no more. Once the stage is offered
with the candidate's backend, every line is judged again (the gate does not call this then).

Why match by content here and not ``semgrep --baseline-commit``: that option needs the user's
repository and a clean working tree (it aborts on unstaged changes, which the pre-commit tier
judges), whereas the gate scans exported trees; and semgrep keys a match on the matched code, so
renaming the local passed to the call makes it "new". Keying on (rule, file, enclosing
qualname) with a count survives comments, local renames and reformatting, and still reports a
second call added next to the first, or a call moved into another function.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclasses.dataclass(frozen=True)
class Hit:
    """One line of one rule's matches in one file (several semgrep matches on a line are one)."""

    rule_id: str
    path: str           # repo-relative, same in both trees
    line: int
    snippet: str        # the longest matched text on that line


def scopes_by_line(text: str) -> dict[int, str]:
    """Line -> innermost enclosing ``Class.function`` qualified name ('' at module level).
    A file that does not parse maps nothing (every line is then at module level)."""
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, str] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                name = f'{prefix}.{child.name}' if prefix else child.name
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[line] = name   # visited outer first, so inner scopes overwrite
                walk(child, name)
            else:
                walk(child, prefix)

    walk(module, '')
    return out


def normalized(snippet: str) -> str:
    """Matched code with the layout a formatter may change taken out (whitespace, and the
    trailing comma it adds when it explodes a call)."""
    return re.sub(r',\)', ')', re.sub(r'\s+', '', snippet))


def _key(hit: Hit, scopes: dict[int, str]) -> tuple[str, str, str]:
    return hit.rule_id, hit.path, scopes.get(hit.line, '')


def carried_over(
        head: Sequence[Hit], base: Iterable[Hit], head_text: dict[str, str], base_text: dict[str, str],
) -> set[tuple[str, str, int]]:
    """(rule, path, line) of the head hits the base already had in the same scope."""
    head_scopes = {p: scopes_by_line(t) for p, t in head_text.items()}
    base_scopes = {p: scopes_by_line(t) for p, t in base_text.items()}
    budget: Counter[tuple[str, str, str]] = Counter()
    snippets: dict[tuple[str, str, str], Counter[str]] = {}
    for hit in base:
        key = _key(hit, base_scopes.get(hit.path, {}))
        budget[key] += 1
        snippets.setdefault(key, Counter())[normalized(hit.snippet)] += 1
    groups: dict[tuple[str, str, str], list[Hit]] = {}
    for hit in sorted(head, key=lambda h: (h.path, h.line)):
        groups.setdefault(_key(hit, head_scopes.get(hit.path, {})), []).append(hit)
    out: set[tuple[str, str, int]] = set()
    for key, hits in groups.items():
        left = budget.get(key, 0)
        same = snippets.get(key, Counter())
        rest = []
        # First the hits whose code the base has verbatim (a comment or a reformat nearby),
        # then, while the base's count allows, the ones that differ (a renamed argument).
        for hit in hits:
            text = normalized(hit.snippet)
            if left > 0 and same[text] > 0:
                same[text] -= 1
                left -= 1
                out.add((hit.rule_id, hit.path, hit.line))
            else:
                rest.append(hit)
        for hit in rest:
            if left <= 0:
                break
            left -= 1
            out.add((hit.rule_id, hit.path, hit.line))
    return out
