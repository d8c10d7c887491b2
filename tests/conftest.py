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
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling

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


@pytest.hookimpl(optionalhook=True)   # an xdist hook: without xdist (-p no:xdist) it is not called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """``-n 2`` (the README's test command, and .ci/run's) schedules with work stealing.

    xdist's default for ``-n`` (``--dist load``) hands each worker long contiguous chunks of the
    collection up front. Here that put the heavy gate tests on one worker: in a measured run gw0
    ran 2057 s of tests while gw1 was done with its 823 quick ones after 1414 s and idled for the
    last ten minutes. ``worksteal`` starts from two halves and lets an idle worker take half of
    the other's queue, so both end within a test or two of each other (replayed on that run's
    durations: 1751 s instead of 2094 s). A ``--dist`` given explicitly on the command line is
    left to xdist. This is chosen here, not in the command: .ci/run is a CI entry point, which
    the integrity gate lets change only in comments, echo lines and stronger gates runs."""
    if config.getoption('dist') != 'load' or any(str(a).startswith('--dist') for a in config.invocation_params.args):
        return None
    from xdist.scheduler import WorkStealingScheduling
    return WorkStealingScheduling(config, log)


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
