"""Rules that match behaviour, not names (issue 8, item 4): in a converted stage, anything that
returns the materialized view is caught, through an alias or a wrapper (a new method on the
shared witness module, or a helper in the stage), with real semgrep on throw-away repos."""
from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import convert_stage
from conftest import write_files
from structural_helpers import rendered
from structural_helpers import run_gate

STAGE0 = 'toyprover/stages/stage0.py'
WITNESS = 'toyprover/witness.py'

WITNESS_TEXT = textwrap.dedent('''\
    """The toy's witness: a materialized view and a chunked one."""


    class Witness:
        def __init__(self, rows):
            self._rows = rows

        def materialized(self, names):
            return {n: list(self._rows) for n in names}

        def chunks(self, names, size=4):
            for start in range(0, len(self._rows), size):
                yield start, {n: self._rows[start:start + size] for n in names}
''')

SHARED = 'shared_paths: [tests/**, README.md, docs/**, toyprover/witness.py]\n'


def _subject(tmp_path: Path) -> tuple[TinyRepo, str]:
    tiny = build_tiny_subject(tmp_path, shared_paths=SHARED)
    write_files(tiny.path, {WITNESS: WITNESS_TEXT})
    base = commit_all(tiny.path, 'witness: the shared view')
    convert_stage(tiny.path, 0)           # offered as streaming: every line is judged
    return tiny, base


def _append(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.write_text(path.read_text() + text)


def _line(repo: Path, rel: str, needle: str) -> int:
    return next(i + 1 for i, t in enumerate((repo / rel).read_text().splitlines()) if needle in t)


def test_streaming_reads_pass_and_are_not_wrappers(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _append(tiny.path, STAGE0, '\n\ndef fold(witness, names):\n    total = 0\n'
                               '    for _, chunk in witness.chunks(names):\n        total += len(chunk)\n'
                               '    return total\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert verdict.passed, rendered(verdict)
    assert verdict.details['wrappers_of_forbidden'] == {}


def test_an_alias_of_the_materialized_view_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _append(tiny.path, STAGE0, '\n\ndef peek(witness, names):\n    m = witness.materialized\n    return m(names)\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    assert [(f.file, f.line) for f in verdict.findings] == [
        (STAGE0, _line(tiny.path, STAGE0, 'm = witness.materialized')),
    ], rendered(verdict)


def test_a_new_method_on_the_shared_witness_that_returns_the_view_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _append(tiny.path, WITNESS, '\n    def everything(self, names):\n        view = self.materialized(names)\n'
                                '        return view\n')
    _append(tiny.path, STAGE0, '\n\ndef peek(witness, names):\n    return witness.everything(names)\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    (finding,) = verdict.findings            # witness.py itself is no converted stage
    assert (finding.file, finding.line) == (STAGE0, _line(tiny.path, STAGE0, 'witness.everything(names)'))
    assert f'`everything`, defined at {WITNESS}:{_line(tiny.path, WITNESS, "def everything")}' in finding.message
    # `peek` returns the view too (a wrapper of the wrapper): its callers would be caught.
    assert verdict.details['wrappers_of_forbidden'] == {
        'everything': f'{WITNESS}:{_line(tiny.path, WITNESS, "def everything")}',
        'peek': f'{STAGE0}:{_line(tiny.path, STAGE0, "def peek")}',
    }


def test_a_helper_in_the_stage_and_a_wrapper_of_it_fail(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _append(tiny.path, STAGE0, textwrap.dedent('''\


        def _all(witness):
            return witness.materialized(['x0'])


        def _outer(witness):
            cols = _all(witness)
            return cols


        def use(witness):
            return len(_outer(witness))
    '''))
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    got = {f.line for f in verdict.findings if f.file == STAGE0}
    assert {_line(tiny.path, STAGE0, "return witness.materialized(['x0'])"),
            _line(tiny.path, STAGE0, 'cols = _all(witness)'),
            _line(tiny.path, STAGE0, 'return len(_outer(witness))')} <= got, rendered(verdict)
