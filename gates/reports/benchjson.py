"""Benchmark records in pytest-benchmark's JSON layout, so its ``compare`` and plotting tools
read them, plus a ``stagegate`` block with the gate's own figures (see benchmarks/README.md).

Like pytest-benchmark's storage, every file carries the machine, the commit and its dirty flag;
unlike it, the file is never the reference for a later run (ratios are measured in one run).
"""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import git

from gates.vcs import repo as gitrepo
from gates.model import GateError

SCHEMA = 1
# The pytest-benchmark storage format these files follow (its readers check no more than this).
FORMAT_VERSION = '5.1.0'


def machine_info() -> dict[str, Any]:
    """pytest-benchmark's machine_info keys (cpu from /proc when there is one)."""
    return {
        'node': platform.node(),
        'processor': platform.processor(),
        'machine': platform.machine(),
        'python_compiler': platform.python_compiler(),
        'python_implementation': platform.python_implementation(),
        'python_implementation_version': platform.python_version(),
        'python_version': platform.python_version(),
        'python_build': list(platform.python_build()),
        'release': platform.release(),
        'system': platform.system(),
        'cpu': {'count': os.cpu_count(), 'brand_raw': _cpu_brand()},
    }


def _cpu_brand() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as fh:
            for line in fh:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def tool_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {'python': platform.python_version()}
    for dist in ('numpy', 'memray'):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def commit_info(repo_root: Path) -> dict[str, Any]:
    """pytest-benchmark's commit_info keys for the checkout at ``repo_root``."""
    repo = gitrepo.open_repo(repo_root)
    commit = repo.head.commit
    try:
        branch = repo.active_branch.name
    except TypeError:   # gitpython's way of saying "detached HEAD"
        branch = '(detached head)'
    return {
        'id': commit.hexsha,
        'time': commit.committed_datetime.isoformat(),
        'author_time': commit.authored_datetime.isoformat(),
        'dirty': gitrepo.is_dirty(repo),
        'project': repo_root.name,
        'branch': branch,
    }


def write(
        out_dir: Path,
        repo_root: Path,
        benchmarks: Sequence[Mapping[str, Any]],
        stagegate: Mapping[str, Any],
) -> Path:
    """Write one run's records; the name sorts by time, like pytest-benchmark's storage."""
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        commit = commit_info(repo_root)
    except (git.GitError, ValueError, GateError):
        commit = {'id': 'unversioned', 'time': None, 'author_time': None, 'dirty': True,
                  'project': repo_root.name, 'branch': '(unknown)'}
    doc = {
        'machine_info': machine_info(),
        'commit_info': commit,
        'benchmarks': list(benchmarks),
        'datetime': now.isoformat(),
        'version': FORMAT_VERSION,
        'stagegate': {'schema': SCHEMA, 'tools': tool_versions(), **stagegate},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    dirty = '_dirty' if commit['dirty'] else ''
    path = out_dir / f'{now.strftime("%Y%m%dT%H%M%S")}_{str(commit["id"])[:12]}{dirty}_time.json'
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n', encoding='utf-8')
    os.replace(tmp, path)
    return path
