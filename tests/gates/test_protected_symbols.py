"""Protection by symbol and the verifier's reach (issue 8, item 4), on real throw-away repos.

The toy's verifier (a protected path) calls a Merkle-branch check in an unprotected file; the
spec names the verifier (``protected.verifier``), so everything it reaches is protected too, by
symbol: weakening the check fails, editing its unprotected neighbour passes.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import commit_all
from conftest import git
from conftest import write_files
from gates.analysis.protected import protection
from gates.analysis.reach import MODULE
from structural_helpers import gates_cli
from structural_helpers import rendered
from structural_helpers import run_gate

MERKLE = 'toyprover/merkle.py'
COMMON = 'toyprover/backends/common.py'

MERKLE_TEXT = textwrap.dedent('''\
    """Merkle branches: the prover builds them, the verifier checks them."""
    from hashlib import sha256

    DEPTH_LIMIT = 32


    def _hash_pair(left, right):
        return sha256(left + right).digest()


    def check_branch(leaf, branch, root):
        if len(branch) > DEPTH_LIMIT:
            return False
        node = leaf
        for sibling in branch:
            node = _hash_pair(node, sibling)
        return node == root


    def build_branch(leaves):
        """Prover side: not reached by the verifier."""
        return [sha256(x).digest() for x in leaves]
''')

PROTECTED = textwrap.dedent('''\
    protected:
      paths: [toyprover/verifier.py, toyprover/proof.py]
      forbid_in_converted: [materialized]
      verifier: [toyprover/verifier.py]
      symbols: ["toyprover/backends/common.py::body"]
''')


def _subject(tmp_path: Path) -> tuple[TinyRepo, str]:
    """The toy with a verifier that checks one Merkle branch; returns (repo, base commit)."""
    tiny = build_tiny_subject(tmp_path, protected=PROTECTED)
    repo = tiny.path
    write_files(repo, {MERKLE: MERKLE_TEXT})
    verifier = repo / 'toyprover/verifier.py'
    text = verifier.read_text()
    text = text.replace('from toyprover.backends import common\n',
                        'from toyprover.backends import common\nfrom toyprover import merkle\n')
    text = text.replace("    return True, 'ok'\n",
                        "    if not merkle.check_branch(b'x', [], b'x'):\n"
                        "        return False, 'branch'\n    return True, 'ok'\n")
    verifier.write_text(text)
    return tiny, commit_all(repo, 'verifier: check a Merkle branch (helper in an unprotected file)')


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text, (old, rel)
    path.write_text(text.replace(old, new, 1))


def _line(repo: Path, rel: str, needle: str) -> int:
    return next(i + 1 for i, t in enumerate((repo / rel).read_text().splitlines()) if needle in t)


def test_the_closure_reaches_the_helper_and_its_callees_not_the_prover_side(tmp_path: Path) -> None:
    tiny, _ = _subject(tmp_path)
    entries = protection(tiny.path, ['toyprover/backends/common.py::body'], ('toyprover/verifier.py',),
                         ('toyprover/verifier.py', 'toyprover/proof.py'))
    got = {str(e.symbol) for e in entries}
    assert {f'{MERKLE}::check_branch', f'{MERKLE}::_hash_pair', f'{MERKLE}::{MODULE}',
            f'{COMMON}::body'} <= got
    assert f'{MERKLE}::build_branch' not in got
    assert not any(s.startswith('toyprover/stages/') for s in got)
    why = next(e for e in entries if str(e.symbol) == f'{MERKLE}::_hash_pair').why()
    assert 'check_branch' in why and 'toyprover/verifier.py::verify' in why


def test_weakening_a_helper_the_verifier_reaches_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _edit(tiny.path, MERKLE, '        node = _hash_pair(node, sibling)\n', '        node = root\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    (finding,) = verdict.findings
    # astdiff names the first differing statement of the function: the loop holding the edit.
    assert (finding.file, finding.line) == (MERKLE, _line(tiny.path, MERKLE, 'for sibling in branch'))
    assert 'check_branch' in finding.message and 'reached by the verifier' in finding.message


def test_a_transitive_callee_weakened_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _edit(tiny.path, MERKLE, '    return sha256(left + right).digest()\n', '    return left\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    assert [(f.file, f.line) for f in verdict.findings] == [(MERKLE, _line(tiny.path, MERKLE, 'return left'))]


def test_helper_moved_into_an_unprotected_file_and_weakened_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    repo = tiny.path
    write_files(repo, {'toyprover/branches.py': 'def check_branch(leaf, branch, root):\n    return True\n'})
    text = (repo / MERKLE).read_text()
    start = text.index('def check_branch(')
    end = text.index('def build_branch(')
    (repo / MERKLE).write_text(
        text[:start].replace('from hashlib import sha256\n',
                             'from hashlib import sha256\n\nfrom toyprover.branches import check_branch\n')
        + text[end:],
    )
    commit_all(repo, 'merkle: move the branch check')
    verdict = run_gate(repo, 'api', base=base)
    assert not verdict.passed, rendered(verdict)
    assert any(f.file == MERKLE and 'check_branch' in f.message and 'removed' in f.message
               for f in verdict.findings), rendered(verdict)


def test_rebinding_a_name_a_protected_symbol_calls_fails(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    write_files(tiny.path, {'toyprover/weak.py': 'class sha256:\n    def __init__(self, b): pass\n'
                                                  '    def digest(self): return b""\n'})
    _edit(tiny.path, MERKLE, 'from hashlib import sha256\n', 'from toyprover.weak import sha256\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert not verdict.passed
    assert {f.file for f in verdict.findings} == {MERKLE}
    assert any('`sha256`' in f.message and 'imported' in f.message for f in verdict.findings), rendered(verdict)


def test_unprotected_neighbour_in_the_same_file_passes(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    _edit(tiny.path, MERKLE, '    return [sha256(x).digest() for x in leaves]\n',
          '    # A tuple now: callers only iterate.\n    return tuple(sha256(x).digest() for x in leaves)\n')
    # A new import for the prover side is fine too: imports are judged by the names protected code uses.
    _edit(tiny.path, MERKLE, 'from hashlib import sha256\n', 'import itertools\nfrom hashlib import sha256\n')
    verdict = run_gate(tiny.path, 'api', base=base)
    assert verdict.passed, rendered(verdict)
    assert verdict.details['protected_symbols'] >= 4


def test_declared_symbol_edit_fails_and_its_neighbour_passes(tmp_path: Path) -> None:
    tiny, base = _subject(tmp_path)
    repo = tiny.path
    _edit(repo, COMMON, "    return int(params.get('row_bytes', 1024))\n", "    return int(params.get('row_bytes', 2048))\n")
    assert run_gate(repo, 'api', base=base).passed
    _edit(repo, COMMON, '    return digest + hashlib.sha256(digest).digest()\n', '    return digest + digest\n')
    verdict = run_gate(repo, 'api', base=base)
    assert not verdict.passed
    (finding,) = verdict.findings
    assert (finding.file, finding.line) == (COMMON, _line(repo, COMMON, 'return digest + digest'))
    assert f'{COMMON}::body' in finding.message


def test_gates_protected_lists_the_closure(tmp_path: Path) -> None:
    tiny, _ = _subject(tmp_path)
    r = gates_cli(tiny.path, 'protected', '--json')
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    listed = {e['symbol']: e for e in doc['symbols']}
    assert listed[f'{MERKLE}::_hash_pair']['line'] == _line(tiny.path, MERKLE, 'def _hash_pair')
    assert 'check_branch' in listed[f'{MERKLE}::_hash_pair']['why']
    assert listed[f'{COMMON}::body']['why'] == 'declared in protected.symbols'
    assert doc['paths'] == ['toyprover/verifier.py', 'toyprover/proof.py']
    text = gates_cli(tiny.path, 'protected')
    assert text.returncode == 0 and f'{MERKLE}:' in text.stdout and 'check_branch' in text.stdout
    assert git(tiny.path, 'status', '--porcelain') == ''
