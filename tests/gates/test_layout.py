"""The engine's layout (issue 8.6, docs/gates.md "Layout of gates/"): packages by role, each opening
with a docstring, one module per gate, and imports that go one way only."""
from __future__ import annotations

import ast
from pathlib import Path

from gates.model import GATE_NAMES

GATES_DIR = Path(__file__).resolve().parents[2] / 'gates'

# What each part of gates/ may import (its own modules aside): the docstrings say the same.
ALLOWED = {
    'model': set(),
    'contract': {'model'},
    'vcs': {'model', 'contract'},
    'context': {'contract', 'model', 'vcs'},
    'measuring': {'model', 'context', 'contract', 'vcs'},
    'analysis': {'model', 'context', 'contract', 'vcs'},
    'reports': {'model', 'contract', 'vcs'},
    'selftest': {'model', 'context', 'contract'},
    'checks': {'model', 'context', 'contract', 'vcs', 'measuring', 'analysis', 'reports', 'selftest'},
    'session': {'model', 'context', 'contract', 'vcs', 'measuring', 'analysis', 'reports', 'selftest',
                'checks'},
    'commands': {'model', 'context', 'contract', 'vcs', 'measuring', 'analysis', 'reports', 'selftest',
                 'checks', 'session'},
    'cli': {'model', 'commands'},
    '__main__': {'cli'},
    '__init__': set(),
}


def _part(path: Path) -> str:
    rel = path.relative_to(GATES_DIR).parts
    return rel[0] if len(rel) > 1 else rel[0][:-3]


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] == 'gates':
            out += [node.module] if node.module != 'gates' else [f'gates.{a.name}' for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split('.')[0] == 'gates']
    return out


def test_every_import_goes_the_allowed_way() -> None:
    wrong = []
    for path in sorted(GATES_DIR.rglob('*.py')):
        me = _part(path)
        for module in _imports(path):
            target = module.split('.')[1] if '.' in module else '__init__'
            if target != me and target not in ALLOWED[me]:
                wrong.append(f'{path.relative_to(GATES_DIR.parent)} imports {module}')
            if me == 'checks' and target == 'checks':
                wrong.append(f'{path.relative_to(GATES_DIR.parent)} imports another gate ({module})')
    assert wrong == []


def test_no_command_imports_another() -> None:
    """What commands share lives in ``gates.session`` (or the package it belongs to), never in a
    sibling command (issue 17.6): each command module imports no ``gates.commands`` module."""
    wrong = [f'{path.relative_to(GATES_DIR.parent)} imports {module}'
             for path in sorted((GATES_DIR / 'commands').glob('*.py'))
             for module in _imports(path) if module == 'gates.commands' or module.startswith('gates.commands.')]
    assert wrong == []


def test_the_probe_child_imports_nothing_of_the_engine() -> None:
    assert _imports(GATES_DIR / 'measuring' / '_probe_child.py') == []


def test_one_module_per_gate_and_a_docstring_per_package() -> None:
    assert sorted(p.stem for p in (GATES_DIR / 'checks').glob('*.py') if p.stem != '__init__') == sorted(GATE_NAMES)
    packages = [p.parent for p in GATES_DIR.rglob('__init__.py')]
    assert {p.name for p in packages} >= {'checks', 'measuring', 'vcs', 'analysis', 'contract', 'reports',
                                          'commands', 'selftest'}
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / '__init__.py').read_text(encoding='utf-8')))
        assert doc, f'{package.relative_to(GATES_DIR.parent)}/__init__.py has no docstring'
    # No flat modules beyond the core: the CLI, the vocabulary, what a gate receives and what the
    # commands share.
    assert sorted(p.name for p in GATES_DIR.glob('*.py')) == ['__init__.py', '__main__.py', 'cli.py',
                                                            'context.py', 'model.py', 'session.py']


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    return {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}


def test_changed_path_lives_in_vcs() -> None:
    """Git's view of a change is ``vcs``'s: the context only carries it (issue 17.6)."""
    homes = [p.relative_to(GATES_DIR).as_posix() for p in sorted(GATES_DIR.rglob('*.py'))
             if 'ChangedPath' in _defined(p)]
    assert homes == ['vcs/changes.py']
    from gates.vcs.changes import ChangedPath
    assert ChangedPath.__module__ == 'gates.vcs.changes'


PROBE_POSITIONAL = {'time_run', 'proof_run', 'memory_run', 'memory_capture'}


def test_the_engine_calls_the_probe_with_a_run_request() -> None:
    """One ``RunRequest`` carries a subject run's parameters (issue 17.6); the positional form
    is kept for the scripts in benchmarks/ only, never used inside the engine."""
    wrong = []
    for path in sorted(GATES_DIR.rglob('*.py')):
        if path == GATES_DIR / 'measuring' / 'probe.py':
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Attribute) and node.attr in PROBE_POSITIONAL:
                wrong.append(f'{path.relative_to(GATES_DIR.parent)}:{node.lineno} calls probe.{node.attr}')
    assert wrong == []


def test_metric_keys_are_spelled_in_one_module() -> None:
    """A unit's metric ('unit:0+8') and key ('0+8') are made and read by gates/contract/metrics.py
    only (issue 17.6): no other module of the engine holds the prefix."""
    home = GATES_DIR / 'contract' / 'metrics.py'
    wrong = []
    for path in sorted(GATES_DIR.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if (path != home and isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node.value.startswith('unit:')):
                wrong.append(f'{path.relative_to(GATES_DIR.parent)}:{node.lineno}')
    assert wrong == []


MAX_FUNCTION_LINES = 80


def test_no_function_is_over_80_lines() -> None:
    """A function fits on a screen or two (issue 17.6; STYLE.md): from its ``def`` line to its
    last line, docstring and nested functions included, at most 80 lines."""
    long = []
    for path in sorted(GATES_DIR.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f'{path.relative_to(GATES_DIR.parent)}:{node.lineno} {node.name}: {lines} lines')
    assert long == []
