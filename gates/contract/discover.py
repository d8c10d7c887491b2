"""Spec discovery (issue 8.5): which spec a ``gates`` command judges when ``--spec`` is not given.

In order: a ``[tool.stagegate]`` table in the repository's ``pyproject.toml`` naming it
(``spec = "path/to/spec.yaml"``), else the single ``specs/*.yaml`` of the repository. Several
candidates and no pyproject entry are unusable input: one line lists them and says how to choose.
Discovery reads the checkout (where the user runs the command); the spec itself is then read
from the tree under judgement, as before.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from gates.model import GateError

PYPROJECT = 'pyproject.toml'
SPECS_GLOB = 'specs/*.yaml'


def from_pyproject(root: Path) -> str | None:
    """``tool.stagegate.spec`` of ``<root>/pyproject.toml`` (repo-relative posix), or None."""
    path = root / PYPROJECT
    if not path.is_file():
        return None
    try:
        doc = tomllib.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise GateError(f'{PYPROJECT}: cannot read it ({e}); fix the file or pass --spec PATH.') from None
    tool = doc.get('tool')
    table = tool.get('stagegate') if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict) or 'spec' not in table:
        raise GateError(f'{PYPROJECT}: [tool.stagegate]: spec: missing; add spec = "specs/NAME.yaml".')
    spec = table['spec']
    if not isinstance(spec, str) or not spec.strip():
        raise GateError(f'{PYPROJECT}: [tool.stagegate]: spec: expected a path string, got {spec!r}.')
    rel = Path(spec)
    if rel.is_absolute() or '..' in rel.parts:
        raise GateError(f'{PYPROJECT}: [tool.stagegate]: spec: {spec!r} must be a path inside the '
                        f'repository, relative to it (e.g. "specs/NAME.yaml").')
    return rel.as_posix()


def discover(root: Path) -> str:
    """The repo-relative path of the spec to use (see the module docstring)."""
    named = from_pyproject(root)
    if named is not None:
        return named
    found = sorted(p.relative_to(root).as_posix() for p in root.glob(SPECS_GLOB) if p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise GateError(f'no spec found: {SPECS_GLOB} is empty and {PYPROJECT} has no [tool.stagegate] '
                        f'spec; pass --spec PATH or add [tool.stagegate] spec = "PATH" to {PYPROJECT}.')
    raise GateError(f'several specs found ({", ".join(found)}); choose one with --spec PATH or '
                    f'[tool.stagegate] spec = "PATH" in {PYPROJECT}.')
