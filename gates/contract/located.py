"""YAML read with line numbers: typed accessors that fail with ``file:line: key: what; what to do``.

yaml's composer keeps each node's mark, so every key path maps to its line; a missing key points
at the closest enclosing key that exists. Duplicate keys (which yaml silently collapses) fail.
"""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import NoReturn

import yaml

from gates.model import GateError

KeyPath = tuple[str | int, ...]


def dotted(key: KeyPath) -> str:
    out = ''
    for part in key:
        if isinstance(part, int):
            out += f'[{part}]'
        else:
            out += f'.{part}' if out else part
    return out or 'the top level'


class Checker:
    """Reads typed values out of the constructed document, failing with file:line: key."""

    def __init__(self, display: str, data: Any, lines: dict[KeyPath, int]) -> None:
        self.display = display
        self.data = data
        self.lines = lines

    def line(self, key: KeyPath) -> int:
        # A missing key points at the closest enclosing key that exists.
        for n in range(len(key), 0, -1):
            if key[:n] in self.lines:
                return self.lines[key[:n]]
        return 1

    def fail(self, key: KeyPath, what: str) -> NoReturn:
        raise GateError(f'{self.display}:{self.line(key)}: {dotted(key)}: {what}')

    def get(self, key: KeyPath) -> Any:
        value = self.data
        for part in key:
            value = value[part]
        return value

    def has(self, key: KeyPath) -> bool:
        return key in self.lines

    def mapping(self, key: KeyPath, allowed: Iterable[str]) -> Mapping[str, Any]:
        value = self.get(key) if key else self.data
        if not isinstance(value, dict):
            self.fail(key, f'expected a mapping, got {show(value)}; see docs/gates.md for the layout.')
        allowed = tuple(allowed)
        for k in value:
            if k not in allowed:
                self.fail(
                    key + (k,) if isinstance(k, str) else key,
                    f'unknown key; expected one of {", ".join(allowed)} (check the spelling).',
                )
        return value

    def required(self, key: KeyPath) -> Any:
        if not self.has(key):
            self.fail(key, 'missing; add it (see docs/gates.md).')
        return self.get(key)

    def string(self, key: KeyPath, default: str | None = None) -> str:
        if default is not None and not self.has(key):
            return default
        value = self.required(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f'expected a non-empty string, got {show(value)}.')
        return value

    def strings(self, key: KeyPath, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if default is not None and not self.has(key):
            return default
        value = self.required(key)
        if not isinstance(value, list):
            self.fail(key, f'expected a list of strings, got {show(value)}; write [a, b].')
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(key + (i,), f'expected a non-empty string, got {show(item)}.')
        return tuple(value)

    def globs(self, key: KeyPath, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.strings(key, default)
        for i, glob in enumerate(value):
            if glob.startswith('/') or '..' in glob.split('/') or '\\' in glob:
                self.fail(
                    key + (i,),
                    f'glob {glob!r} must be a repo-relative posix path; drop the leading "/" or "..".',
                )
        return value

    def number(
            self, key: KeyPath, what: str, ok: Callable[[float], bool], *, integer: bool = False,
    ) -> float:
        value = self.required(key)
        kinds = (int,) if integer else (int, float)
        if not isinstance(value, kinds) or isinstance(value, bool) or not ok(value):
            self.fail(key, f'expected {what}, got {show(value)}.')
        return float(value)


# yaml's own words for the common slips, and what it expected in the spec's terms.
_HINTS = {
    'mapping values are not allowed here':
        "expected 'key: value' to start a new line at this indentation; look for a missing ':' "
        'in the line above or a wrong indentation',
    "could not find expected ':'": "expected 'key: value'",
}


def syntax_error(display: str, e: yaml.MarkedYAMLError) -> str:
    """``file:line:col: YAML syntax error: <what yaml expected or found>``: the parser's own
    words name what was expected (``expected ':'``, ``expected <block end>``); where it
    started the construct it could not finish is added when that is another line."""
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else 1
    col = mark.column + 1 if mark is not None else 1
    problem = (e.problem or 'unreadable').strip()
    what = f'{e.context.strip()}, {problem}' if e.context else problem
    hint = _HINTS.get(problem)
    if hint:
        what += f' ({hint})'
    started = ''
    if e.context_mark is not None and e.problem_mark is not None and e.context_mark.line != e.problem_mark.line:
        started = f' (the construct began at line {e.context_mark.line + 1})'
    return f'{display}:{line}:{col}: YAML syntax error: {what}{started}; fix the syntax there.'


def show(value: Any) -> str:
    if isinstance(value, bool):
        # In the spec's own words: YAML spells it true/false, Python's True would confuse.
        return f'{str(value).lower()} (a yes/no value)'
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return 'nothing (null)'
    if isinstance(value, dict):
        return 'a mapping'
    if isinstance(value, list):
        return 'a list'
    return repr(value)


def _walk(node: yaml.Node, key: KeyPath, lines: dict[KeyPath, int], display: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            name = knode.value
            line = knode.start_mark.line + 1
            if name in seen:
                raise GateError(
                    f'{display}:{line}: {dotted(key + (name,))}: duplicate key; keep only one.',
                )
            seen.add(name)
            lines[key + (name,)] = line
            _walk(vnode, key + (name,), lines, display)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[key + (i,)] = item.start_mark.line + 1
            _walk(item, key + (i,), lines, display)


def compose(text: str, display: str) -> Checker:
    """Parse YAML text into a Checker; ``display`` is the file name errors show."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise GateError(f'{display}:1: the file is empty; start from the example in docs/gates.md.')
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines, display)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        raise GateError(syntax_error(display, e)) from None
    finally:
        loader.dispose()
    return Checker(display, data, lines)
