"""Suite-wide guard: the tests leave the temp folder as they found it.

The first pytest process (the xdist controller, or the only process) makes a private TMPDIR before
any test runs; xdist workers and every subprocess inherit it, so whatever the code under test puts
in "the temp folder" lands there. Workers only re-read it.
At the end of the session that folder must hold nothing but pytest's own basetemp; anything else
(a crash log, a probe folder, an exported tree) is left-over litter and fails the run with the
names of what was left. The folder is removed afterwards either way.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# The Ctrl-C tests send SIGINT to the engine and its subject processes. A suite started in the
# background by a non-interactive shell (`cmd &`, nohup) inherits SIGINT *ignored*, and an ignored
# signal stays ignored across exec, so those tests saw no KeyboardInterrupt at all (3 failures in
# a `.ci/run` launched that way, 2026-12-07). A Python handler here is reset to the default in
# every child the tests start, which then gets its KeyboardInterrupt as from a terminal.
import signal

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_KEY = pytest.StashKey[Path]()
_PYTEST_OWN = ('pytest-of-',)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, 'workerinput'):
        tempfile.tempdir = None   # a worker: the controller's TMPDIR is already in our environment
        return
    private = Path(tempfile.mkdtemp(prefix='stagegate-tests-'))
    config.stash[_KEY] = private
    os.environ['TMPDIR'] = str(private)
    # The engine's persistent store (gates/vcs/cachestore.py) of every pre-commit check the tests
    # run: a private one, removed with the session, never the user's ~/.cache/stagegate.
    os.environ['STAGEGATE_CACHE_DIR'] = str(private / f'{_PYTEST_OWN[0]}stagegate-store')
    tempfile.tempdir = None   # re-read TMPDIR on the next gettempdir()


def _litter(private: Path) -> list[str]:
    return sorted(p.name for p in private.iterdir() if not p.name.startswith(_PYTEST_OWN))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The engine's per-tree cache folders live for its process and go at exit; this process (a
    # worker too) is still running, so remove them the way exit would before looking for litter.
    treedigest = sys.modules.get('gates.measuring.treedigest')
    if treedigest is not None:
        treedigest.remove_cache_homes()
    private = session.config.stash.get(_KEY, None)
    if private is None or not private.is_dir():
        return
    left = _litter(private)
    if left:
        reporter = session.config.pluginmanager.get_plugin('terminalreporter')
        line = f'tests left {len(left)} item(s) in the temp folder: {", ".join(left[:40])}'
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)
        if session.exitstatus == 0:
            session.exitstatus = 1


def pytest_unconfigure(config: pytest.Config) -> None:
    private = config.stash.get(_KEY, None)
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)
