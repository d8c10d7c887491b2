"""``gates install-hook``: a git pre-commit hook running the pre-commit tier on the staged tree."""
from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import TextIO

from gates.model import GateError
from gates.session import spec_relpath
from gates.vcs import repo as repo_mod
from gates.vcs.hook import MARKER
from gates.vcs.hook import hook_text

def install_hook(cwd: Path, spec: str | None, force: bool, out: TextIO) -> int:
    repo = repo_mod.open_repo(cwd)
    hooks_path = repo.git.config('--get', 'core.hooksPath', with_exceptions=False).strip()
    if hooks_path:
        raise GateError(
            f'core.hooksPath is set ({hooks_path}); git would not run a hook in .git/hooks. '
            f'Unset it (`git config --unset core.hooksPath`) or call `gates check --tier '
            f'pre-commit --staged` from your hook manager.',
        )
    hook = Path(repo.git.rev_parse('--git-path', 'hooks/pre-commit').strip())
    if not hook.is_absolute():
        hook = repo_mod.root(repo) / hook
    if hook.exists() and MARKER not in hook.read_text(encoding='utf-8', errors='replace') and not force:
        raise GateError(
            f'{hook} exists and was not written by gates; move it away or pass --force '
            f'to overwrite it.',
        )
    hook.parent.mkdir(parents=True, exist_ok=True)
    spec_rel = None if spec is None else spec_relpath(repo_mod.root(repo), spec)
    hook.write_text(hook_text(sys.executable, spec_rel), encoding='utf-8')
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    out.write(f'gates: installed {hook}\n')
    return 0
