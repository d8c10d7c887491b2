"""A stable content digest of a tree, and a guard that checks trees around every subject run.

The candidate runs code of its own choosing inside the probe. Nothing but this check stops it
from finding the baseline's tree on disk and slowing (or bloating) the baseline's stage, so the
engine digests each tree it measures before and after every subject run (issue 8.1).

The digest covers every regular file and symlink under the tree, by relative posix path, mode
bit "executable" and content (a symlink by its target). Skipped: ``.git`` (a worktree's
pointer file or a repository; the engine never runs subject code from it), the engine's own
outputs (``.stagegate``), and virtual environments (a folder holding ``pyvenv.cfg``): these
are not tree content, and hashing a venv around every run would cost seconds. Subject runs
write no bytecode (the probe passes ``-B``), so ``__pycache__`` folders are content like any
other file: a planted ``.pyc`` in the baseline tree is a change. The one exception is a tree
watched with ``bytecode=False``: the head tree when it is the user's checkout, where the
engine itself (an editable install) may write its own bytecode between runs, and where the
candidate could plant bytecode for nothing but its own code anyway.
"""
from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

SKIP_NAMES = frozenset({'.git', '.stagegate'})

_CACHE_ROOT: list[Path] = []


def cache_home(tree: Path) -> Path:
    """The private cache folder of ``tree``'s subject processes (spec ``subject.env``'s
    ``{cache}``): outside every tree, one per tree for the life of this engine process, removed
    at exit. A JIT that caches next to its sources would otherwise write into the measured tree.
    The guard lets a tree's cache change only during that tree's own runs."""
    if not _CACHE_ROOT:
        root = Path(tempfile.mkdtemp(prefix='stagegate-cache-'))
        atexit.register(remove_cache_homes)
        _CACHE_ROOT.append(root)
    key = hashlib.sha256(str(tree.resolve()).encode('utf-8', 'surrogateescape')).hexdigest()[:16]
    home = _CACHE_ROOT[0] / key
    home.mkdir(exist_ok=True)
    return home


def _files(root: Path, bytecode: bool) -> Iterator[tuple[str, str]]:
    """(relative posix path, digest of that entry), in sorted order."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for name in dirnames:
            full = here / name
            if name in SKIP_NAMES or (full / 'pyvenv.cfg').is_file():
                continue
            if not bytecode and name == '__pycache__':
                continue
            if full.is_symlink():
                filenames.append(name)   # a symlinked folder is hashed as a link, never followed
                continue
            keep.append(name)
        dirnames[:] = sorted(keep)
        for name in sorted(filenames):
            if name in SKIP_NAMES:
                continue
            full = here / name
            rel = full.relative_to(root).as_posix()
            yield rel, _entry(full)


def _entry(path: Path) -> str:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return 'link:' + os.readlink(path)
        if not stat.S_ISREG(info.st_mode):
            return f'special:{stat.S_IFMT(info.st_mode)}'
        h = hashlib.sha256()
        with open(path, 'rb') as fh:
            for block in iter(lambda: fh.read(1 << 20), b''):
                h.update(block)
        executable = 'x' if info.st_mode & stat.S_IXUSR else '-'
        return f'{executable}:{h.hexdigest()}'
    except OSError as e:
        # Vanished or unreadable between listing and reading: a change, stated as such.
        return f'unreadable:{e.errno}'


@dataclasses.dataclass(frozen=True)
class TreeDigest:
    root: Path
    entries: Mapping[str, str]

    @property
    def hexdigest(self) -> str:
        h = hashlib.sha256()
        for rel, entry in sorted(self.entries.items()):
            h.update(rel.encode('utf-8', 'surrogateescape') + b'\0' + entry.encode() + b'\n')
        return h.hexdigest()

    def changes(self, other: TreeDigest) -> list[str]:
        """What differs from ``self`` (before) to ``other`` (after), one short line each."""
        out = []
        for rel in sorted(set(self.entries) | set(other.entries)):
            old, new = self.entries.get(rel), other.entries.get(rel)
            if old == new:
                continue
            out.append(f'added {rel}' if old is None else f'deleted {rel}' if new is None else f'modified {rel}')
        return out


def digest(root: Path, bytecode: bool = True) -> TreeDigest:
    return TreeDigest(root, dict(_files(root, bytecode)))


def remove_cache_homes() -> None:
    """Remove every tree's cache folder (at exit; a long-lived caller may call it earlier)."""
    while _CACHE_ROOT:
        shutil.rmtree(_CACHE_ROOT.pop(), ignore_errors=True)


class TreeChanged(Exception):
    """A tree under measurement changed during (or between) subject runs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Guard:
    """The trees one check measures, each with its digest from when it was first watched.

    ``verify(when)`` recomputes every digest; a difference raises TreeChanged naming the
    tree, the run and up to five changed files. The guard then keeps failing: a tree that
    changed once cannot be trusted for the rest of the check.
    """

    def __init__(self) -> None:
        self._trees: dict[Path, tuple[str, bool, TreeDigest]] = {}
        self._caches: dict[Path, TreeDigest] = {}
        self._folders: dict[Path, tuple[str, TreeDigest]] = {}
        self.broken: str | None = None
        # The persistent warm JIT store (gates/measuring/jitcache.py), pre-commit tier only;
        # None: every tree compiles in its private cache (ci, full).
        self.jit_store: Path | None = None
        self._seeded: set[Path] = set()

    def protect(self, folder: Path, label: str) -> None:
        """Watch ``folder`` (no subject run may change it) from now on; the engine calls
        ``retake`` after its own writes there."""
        folder.mkdir(parents=True, exist_ok=True)
        self._folders[folder.resolve()] = (label, digest(folder.resolve()))

    def retake(self, folder: Path) -> None:
        key = folder.resolve()
        if key in self._folders:
            self._folders[key] = (self._folders[key][0], digest(key))

    def retake_cache(self, tree: Path) -> None:
        """The engine wrote ``tree``'s private cache itself (seeded it): the new reference."""
        key = tree.resolve()
        if key in self._caches:
            self._caches[key] = digest(cache_home(key))

    def first_seed(self, tree: Path) -> bool:
        """True once per tree: whether its private cache is still to be seeded."""
        key = tree.resolve()
        if key in self._seeded:
            return False
        self._seeded.add(key)
        return True

    def watch(self, tree: Path, label: str, bytecode: bool = True) -> None:
        key = tree.resolve()
        if key not in self._trees:
            self._trees[key] = (label, bytecode, digest(key, bytecode))
            self._caches[key] = digest(cache_home(key))

    def forget(self, tree: Path) -> None:
        self._trees.pop(tree.resolve(), None)

    def watched(self) -> list[Path]:
        return list(self._trees)

    def verify(self, when: str, running: Path | None = None, after: bool = False) -> None:
        """Every watched tree unchanged; every tree's cache unchanged too, except that after a
        run (``after``) the cache of the tree that ran (``running``) may have grown: that is
        its own JIT or bytecode cache, and it is taken as the new reference. A run that writes
        into another tree's cache is caught like a write into the tree."""
        if self.broken is not None:
            raise TreeChanged(self.broken)
        run_key = running.resolve() if running is not None else None
        for key, cache_before in list(self._caches.items()):
            cache_after = digest(cache_home(key))
            if after and key == run_key:
                self._caches[key] = cache_after
            elif cache_after.entries != cache_before.entries:
                changed = cache_before.changes(cache_after)
                self.broken = (
                    f'the private cache of tree {key} changed {when}: {", ".join(changed[:5])}; '
                    f'a subject run may write only its own tree\'s cache (the figures of this '
                    f'check are void)'
                )
                raise TreeChanged(self.broken)
        for key, (label, folder_before) in self._folders.items():
            now = digest(key)
            if now.entries != folder_before.entries:
                changed = folder_before.changes(now)
                self.broken = (
                    f'the {label} {key} changed {when}: {", ".join(changed[:5])}; a subject run '
                    f'may not write into the engine\'s caches (the figures of this check are void)'
                )
                raise TreeChanged(self.broken)
        for key, (label, bytecode, before) in self._trees.items():
            now = digest(key, bytecode)
            if now.entries != before.entries:
                changed = before.changes(now)
                shown = ', '.join(changed[:5]) + (f' and {len(changed) - 5} more' if len(changed) > 5 else '')
                self.broken = (
                    f'the {label} tree {key} changed {when}: {shown}; a subject run may not write '
                    f'into any tree the engine measures (the figures of this check are void)'
                )
                raise TreeChanged(self.broken)
