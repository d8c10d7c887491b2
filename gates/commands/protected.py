"""``gates protected``: what the api gate protects, and why.

The protected paths, the symbols the spec declares (``protected.symbols``) and every symbol the
verifier's code reaches (``protected.verifier``, ``gates.analysis.reach``), each with its file, line and
the call chain from the verifier that reaches it. Computed on the working tree as it is, so a
user sees what an edit would touch before making it; the api gate computes the same from the
base revision of a change.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from gates.vcs import repo as repo_mod
from gates.session import load
from gates.analysis.protected import WHOLE
from gates.analysis.protected import protection


def protected(cwd: Path, spec: str | None, as_json: bool, out: TextIO) -> int:
    the_spec, _ledger = load(cwd, spec)
    root = repo_mod.root(repo_mod.open_repo(cwd))
    entries = protection(
        root, the_spec.protected_symbols, the_spec.verifier_paths, the_spec.protected_paths,
        the_spec.subject.root,
    )
    if as_json:
        doc = {
            'paths': list(the_spec.protected_paths),
            'verifier': list(the_spec.verifier_paths),
            'symbols': [
                {'symbol': str(e.symbol), 'file': e.symbol.path, 'line': e.line, 'why': e.why(),
                 'chain': [str(s) for s in e.chain]}
                for e in entries
            ],
        }
        out.write(json.dumps(doc, indent=2) + '\n')
        return 0
    out.write(f'{the_spec.name}: protected code (the api gate fails on any edit of it)\n\n')
    out.write('paths:\n')
    for glob in the_spec.protected_paths:
        out.write(f'  {glob}\n')
    if not the_spec.verifier_paths:
        out.write('\nno protected.verifier in the spec: the verifier\'s reach is not computed\n')
    out.write(f'\nsymbols ({len(entries)}; outside the paths above):\n')
    for e in entries:
        where = f'{e.symbol.path}:{e.line}' if e.line else e.symbol.path
        name = 'whole file' if e.symbol.qualname == WHOLE else e.symbol.qualname
        out.write(f'  {where:<40} {name}\n      {e.why()}\n')
    return 0
