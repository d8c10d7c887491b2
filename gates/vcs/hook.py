"""The git pre-commit hook ``gates install-hook`` and ``gates init`` write: it runs the
pre-commit tier on the staged tree (what the commit records), never the working tree."""
from __future__ import annotations

import shlex

MARKER = '# installed by `gates install-hook` (stagegate)'


def hook_text(python: str, spec: str | None) -> str:
    spec_args = f' --spec {shlex.quote(spec)}' if spec else ''
    return (
        '#!/bin/sh\n'
        f'{MARKER}\n'
        '# Judges the staged tree (what this commit records), not the working tree.\n'
        f'exec {shlex.quote(python)} -m gates check --tier pre-commit --staged{spec_args}\n'
    )
