"""A warm numba cache for the pre-commit tier, shared between runs without trusting any run.

Measured (issue 17.2): with the per-tree private cache (``{cache}``, gates/measuring/treedigest.py)
every hook run compiles the subject's numba kernels from scratch: ~20 s of a 38 s hook at load 4
(the capabilities run imports every stage, which compiles the eagerly typed kernels), ~2 s more
in the prove. With a warm cache the same imports take ~1.5 s.

What makes sharing safe (a cache a previous run wrote must not change a later verdict):

- A slot is keyed by the content of exactly the files that can run while it is filled (the
  numba-importing modules of the subject and their static import closure, package
  ``__init__``s included), the spec's ``subject.env``, and the python, numpy, numba and
  llvmlite versions and the machine.
- A slot is filled by a *warm-up* process that imports those modules only, in a private tree
  that holds those files and nothing else: a dynamic import of any other file fails there (and
  the slot is not made). So no code outside the key, in particular no stage code under
  judgement, ever writes a slot: a slot holds what any tree with the same key files would
  compile. Subject runs get a private *copy* of the slot (their own ``{cache}``, as before); what
  they write there is never copied back.
- The store is watched by the check's tree guard around every subject run: a subject run that
  writes into it voids the check like a write into a measured tree.
- Every slot has a manifest (each file's sha256) with an HMAC under a per-user secret: a
  corrupted, truncated or foreign slot (copied from another key) is removed and rebuilt, never
  used. Limit: code the user runs outside ``gates`` with the user's rights (the candidate's
  tests) can read that secret; the tiers that decide merges and ledger rows (ci, full) never
  read the store, they keep today's private per-tree cache.

Numba specifics the seeding relies on (numba >= 0.59): with ``NUMBA_CACHE_DIR`` set, a source
file's cache lives in ``<dir>/<leaf>_<sha1(abs source folder)>``, and its index is validated by
the sha256 of the source file's content and each function's bytecode, not by a path or mtime.
A wrong guess here only makes a cold cache (slower), never a different verdict.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import hmac
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path

from gates.vcs import cachestore

FORMAT = 1
SLOTS_KEPT = 6
NUMBA_ENV = 'NUMBA_CACHE_DIR'
_SKIP_DIRS = frozenset({'.git', '.stagegate', '__pycache__', 'node_modules'})


def store_root() -> Path:
    return cachestore.store_root()


def numba_subpath(source_dir: str) -> str:
    """numba's folder name for the cache of sources in ``source_dir`` (an absolute path), as
    ``numba.core.caching._CacheLocator.get_suitable_cache_subpath`` names it."""
    return f'{os.path.split(source_dir)[-1]}_{hashlib.sha1(source_dir.encode()).hexdigest()}'


def _module_file(root: Path, dotted: str) -> list[str]:
    """The files importing ``dotted`` runs under ``root`` (ancestor ``__init__``s included)."""
    parts = dotted.split('.')
    out: list[str] = []
    for i in range(1, len(parts) + 1):
        rel = '/'.join(parts[:i])
        if (root / rel / '__init__.py').is_file():
            out.append(f'{rel}/__init__.py')
        elif (root / f'{rel}.py').is_file():
            out.append(f'{rel}.py')
            break
        elif not (root / rel).is_dir():
            break
    return out


def _imports(rel: str, tree: ast.Module) -> set[str]:
    package = rel[:-len('/__init__.py')] if rel.endswith('/__init__.py') else rel.rpartition('/')[0]
    here = package.replace('/', '.').split('.') if package else []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = here[:len(here) - (node.level - 1)] if node.level > 1 else here
                base = '.'.join(up + ([node.module] if node.module else []))
            else:
                base = node.module or ''
            if base:
                names.add(base)
                names.update(f'{base}.{a.name}' for a in node.names if a.name != '*')
    return names


def _parse(root: Path, rel: str) -> ast.Module | None:
    try:
        return ast.parse((root / rel).read_bytes(), rel)
    except (OSError, SyntaxError, ValueError):
        return None


def python_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith('.')
                             and not (Path(dirpath, d) / 'pyvenv.cfg').is_file())
        out += [Path(dirpath, f).relative_to(root).as_posix() for f in filenames if f.endswith('.py')]
    return sorted(out)


def jit_modules(root: Path, entries: Iterable[str]) -> list[str]:
    """The files that import numba in the top-level packages of the subject's entry modules
    (``module:function`` of ``subject.prove`` and the others), relative to the root: the whole
    package, since a prover may import its stages by name at run time."""
    tops = sorted({e.partition(':')[0].split('.')[0] for e in entries})
    candidates = [f for t in tops for f in (
        [f'{t}/{r}' for r in python_files(root / t)] if (root / t).is_dir()
        else [f'{t}.py'] if (root / f'{t}.py').is_file() else [])]
    found = []
    for rel in candidates:
        data = (root / rel).read_bytes()
        if b'numba' not in data:
            continue
        tree = _parse(root, rel)
        if tree is not None and any(n.split('.')[0] == 'numba' for n in _imports(rel, tree)):
            found.append(rel)
    return found


def closure(root: Path, start: Iterable[str]) -> list[str]:
    """``start`` and every file under ``root`` their static imports reach (with the packages'
    ``__init__``s). Imports the AST does not show are not followed: the warm-up then fails in
    its private tree, which holds these files only, and no slot is made."""
    seen: set[str] = set()
    todo: list[str] = []
    for rel in start:
        parts = rel[:-3].split('/')
        todo += _module_file(root, '.'.join(p for p in parts if p != '__init__')) or [rel]
        todo.append(rel)
    while todo:
        rel = todo.pop()
        if rel in seen or not (root / rel).is_file():
            continue
        seen.add(rel)
        tree = _parse(root, rel)
        if tree is None:
            continue
        for name in sorted(_imports(rel, tree)):
            todo += [f for f in _module_file(root, name) if f not in seen]
    return sorted(seen)


def module_name(rel: str) -> str:
    name = rel[:-3].replace('/', '.')
    return name.removesuffix('.__init__')


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return 'absent'


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a tree's warm slot is made from: the key, the files, the modules to import."""

    key: str
    files: tuple[str, ...]      # relative to the subject root
    modules: tuple[str, ...]    # dotted names the warm-up imports
    dirs: tuple[str, ...]       # folders (relative to the subject root) of the jit modules


def plan(root: Path, env: Mapping[str, str], entries: Iterable[str]) -> Plan | None:
    """The slot plan of the subject at ``root`` whose entry points are ``entries`` (None:
    nothing numba-compiled, or no numba cache folder in ``subject.env``)."""
    if NUMBA_ENV not in env or '{cache}' not in env[NUMBA_ENV]:
        return None
    jit = jit_modules(root, entries)
    if not jit:
        return None
    files = closure(root, jit)
    h = hashlib.sha256()
    meta = {
        'format': FORMAT, 'python': sys.version, 'implementation': sys.implementation.name,
        'machine': platform.machine(), 'platform': sys.platform,
        'versions': {d: _version(d) for d in ('numba', 'llvmlite', 'numpy')},
        'env': sorted(env.items()), 'modules': jit,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    for rel in files:
        h.update(rel.encode('utf-8', 'surrogateescape') + b'\0')
        h.update(hashlib.sha256((root / rel).read_bytes()).digest())
    dirs = tuple(sorted({rel.rpartition('/')[0] for rel in jit}))
    return Plan(h.hexdigest(), tuple(files), tuple(module_name(r) for r in jit), dirs)


class Store:
    """The persistent slots under ``root`` (``<root>/jit/<key>/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jit = root / 'jit'

    def _mac(self, body: bytes) -> str:
        return cachestore.mac(self.root, body)

    def slot(self, key: str) -> Path:
        return self.jit / key

    def valid(self, key: str) -> dict[str, str] | None:
        """The slot's files (relative path -> sha256) when its manifest is intact, names this
        key, carries our MAC and every file hashes as listed; None otherwise."""
        slot = self.slot(key)
        try:
            doc = json.loads((slot / 'manifest.json').read_text(encoding='utf-8'))
            body = json.dumps(doc['body'], sort_keys=True).encode()
            if not hmac.compare_digest(str(doc['mac']), self._mac(body)):
                return None
            inner = doc['body']
            if inner.get('format') != FORMAT or inner.get('key') != key:
                return None
            files: dict[str, str] = {str(k): str(v) for k, v in dict(inner['files']).items()}
            for rel, sha in files.items():
                if rel.startswith('/') or '..' in rel.split('/'):
                    return None
                if hashlib.sha256((slot / 'files' / rel).read_bytes()).hexdigest() != sha:
                    return None
            listed = {p.relative_to(slot / 'files').as_posix() for p in (slot / 'files').rglob('*') if p.is_file()}
            if listed != set(files):
                return None
            return files
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def discard(self, key: str) -> None:
        shutil.rmtree(self.slot(key), ignore_errors=True)

    def put(self, key: str, files: Mapping[str, bytes]) -> None:
        """Write a slot atomically (a concurrent writer of the same key wins or loses whole)."""
        self.jit.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix='.new-', dir=self.jit))
        try:
            for rel, data in files.items():
                out = tmp / 'files' / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
            body = {'format': FORMAT, 'key': key,
                    'files': {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}}
            raw = json.dumps(body, sort_keys=True).encode()
            (tmp / 'manifest.json').write_text(
                json.dumps({'body': body, 'mac': self._mac(raw)}, sort_keys=True), encoding='utf-8')
            self.discard(key)
            os.rename(tmp, self.slot(key))
        except OSError:
            pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.prune(keep=key)

    def prune(self, keep: str) -> None:
        """Keep the newest SLOTS_KEPT slots (by use)."""
        try:
            slots = sorted((p for p in self.jit.iterdir() if p.is_dir() and not p.name.startswith('.')),
                           key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for p in slots[SLOTS_KEPT:]:
            if p.name != keep:
                shutil.rmtree(p, ignore_errors=True)


def collect(cache_dir: Path, source_root: Path, the_plan: Plan) -> dict[str, bytes]:
    """What a warm-up wrote for the plan's folders: slot path (``<dir>/<file>``) -> bytes."""
    out: dict[str, bytes] = {}
    for rel_dir in the_plan.dirs:
        src = os.path.abspath(source_root / rel_dir) if rel_dir else os.path.abspath(source_root)
        folder = cache_dir / numba_subpath(src)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file() and not entry.is_symlink() and entry.suffix in ('.nbi', '.nbc'):
                out[f'{rel_dir}/{entry.name}' if rel_dir else entry.name] = entry.read_bytes()
    return out


def seed(store: Store, key: str, files: Mapping[str, str], cache_dir: Path, source_root: Path) -> int:
    """Copy a valid slot's files into a tree's private numba cache; the number copied."""
    count = 0
    for rel in files:
        rel_dir, _, name = rel.rpartition('/')
        src = os.path.abspath(source_root / rel_dir) if rel_dir else os.path.abspath(source_root)
        folder = cache_dir / numba_subpath(src)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.slot(key) / 'files' / rel, folder / name)
        count += 1
    os.utime(store.slot(key))   # recently used: pruned last
    return count


def minimal_tree(src_root: Path, dest_root: Path, files: Iterable[str]) -> None:
    """A private tree holding ``files`` only (copied from ``src_root``)."""
    for rel in files:
        out = dest_root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src_root / rel, out)
