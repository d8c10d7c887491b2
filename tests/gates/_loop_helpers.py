"""Helpers of the loop tests: a toy repository whose pre-commit tier runs the structural gates
and the proof gate (as the real spec's does), scripted agents, and a snapshot of the user's
repository to compare before and after a loop."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import _SPEC_BLOCKS
from conftest import TinyRepo
from conftest import build_tiny_subject
from conftest import git

FAST_TIERS = _SPEC_BLOCKS['tiers'] + 'tier_gates:\n  pre-commit: [api, scope, integrity, proof]\n'


def loop_subject(tmp_path: Path) -> TinyRepo:
    return build_tiny_subject(tmp_path, tiers=FAST_TIERS)


# Reads the markdown feedback ($GATES_FEEDBACK) and checks stdin carries the same text. First
# iteration: converts stage 0 and also edits a file outside its scope; later: reverts every path
# the scope gate named, from the loop's starting commit.
SCOPE_THEN_FIX = textwrap.dedent('''\
    import os, re, subprocess, sys
    text = open(os.environ['GATES_FEEDBACK'], encoding='utf-8').read()
    print('stdin-ok' if sys.stdin.read() == text else 'stdin-differs')
    if 'None yet: this is the first iteration.' in text:
        p = 'toyprover/stages/stage0.py'
        src = open(p).read().replace("SUPPORTED = ('materialized',)",
                                     "SUPPORTED = ('materialized', 'streaming')")
        open(p, 'w').write(src)
        with open('toyprover/backends/common.py', 'a') as fh:
            fh.write('# tuned while at it\\n')
    else:
        for path in re.findall(r'^- ([\\w/.]+): scope: ', text, re.M):
            subprocess.run(['git', 'checkout', os.environ['GATES_START_COMMIT'], '--', path], check=True)
            print('reverted', path)
''')

# Passes every gate without converting anything: appends a comment to stage 0 (in scope).
COMMENT_ONLY = textwrap.dedent('''\
    with open('toyprover/stages/stage0.py', 'a') as fh:
        fh.write('# tidied up, nothing converted\\n')
''')

# Converts stage 0 (offers the streaming backend), and nothing else.
CONVERT_STAGE0 = textwrap.dedent('''\
    p = 'toyprover/stages/stage0.py'
    src = open(p).read().replace("SUPPORTED = ('materialized',)",
                                 "SUPPORTED = ('materialized', 'streaming')")
    open(p, 'w').write(src)
''')

# Alternates between two out-of-scope edits: A, B, A, ... (the third attempt repeats the first).
ALTERNATE = textwrap.dedent('''\
    import os
    k = int(os.environ['GATES_ITERATION'])
    src = open('toyprover/backends/common.py').read().split('# variant')[0]
    open('toyprover/backends/common.py', 'w').write(src + '# variant ' + 'AB'[(k - 1) % 2] + '\\n')
''')

# Edits stage 0 in scope (the edit is kept), says so in a file the test watches, then hangs.
HANG_ON_SECOND = textwrap.dedent('''\
    import os, time
    k = int(os.environ['GATES_ITERATION'])
    with open('toyprover/stages/stage0.py', 'a') as fh:
        fh.write(f'# attempt {k}\\n')
    with open('toyprover/backends/common.py', 'a') as fh:
        fh.write(f'# out of scope {k}\\n')
    if k >= 2:
        open(os.environ['MARKER'], 'w').write('hanging')
        time.sleep(600)
''')


def agent_cmd(tmp_path: Path, name: str, source: str) -> str:
    script = tmp_path / f'{name}.py'
    script.write_text(source, encoding='utf-8')
    return f'{sys.executable} {script}'


def snapshot(repo: Path) -> dict[str, str]:
    """Everything a loop must leave alone: branches and HEAD, the index, the working tree
    (tracked, modified and untracked files, byte for byte)."""
    files = {}
    for rel in git(repo, 'ls-files', '-z', '--cached', '--others', '--exclude-standard').split('\0'):
        if rel and (repo / rel).is_file():
            files[rel] = (repo / rel).read_bytes().hex()
    return {
        'head': git(repo, 'symbolic-ref', 'HEAD'),
        # Every branch but the loop's own (whichever branch the fixture checks out).
        'branches': '\n'.join(
            line for line in git(repo, 'for-each-ref', '--format=%(refname) %(objectname)',
                                 'refs/heads/').splitlines()
            if not line.startswith('refs/heads/gates-loop/')),
        'index': git(repo, 'ls-files', '--stage'),
        'status': git(repo, 'status', '--porcelain', '--untracked-files=all'),
        'files': repr(sorted(files.items())),
        'worktrees': git(repo, 'worktree', 'list', '--porcelain'),
    }


def gates_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(('GIT_', 'GITHUB_'))}


def run_loop(repo: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        (sys.executable, '-m', 'gates', 'loop', *args), cwd=repo, env=gates_env(),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False,
    )
