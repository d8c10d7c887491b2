"""The engine's persistent store under the user's cache folder, and its JSON entries.

Where: ``$STAGEGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/stagegate``, else ``~/.cache/stagegate``.
Used only by checks that judge proof bytes and static rules (``gates check --tier pre-commit``,
gates/measuring/measure.py ``allow_warm_jit``); ci and full never read it.

An entry is keyed by what determines it (git object ids of the content it was computed from,
the rules' digest, tool versions); it holds that key, its value and an HMAC under a per-user
secret (``secret``, mode 0600). ``get`` returns a value only when the file parses, names the
same key and carries a valid MAC: a corrupted, truncated or foreign entry (another key's file
copied over) is a miss, recomputed and rewritten, never a verdict. The check's tree guard
watches the store around every subject run, so code under judgement that writes here during a
check voids that check. Limit: code the user runs with the user's rights outside ``gates`` can
read the secret; that is why ci and full do not use the store.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1
# Entries kept per kind: the tree guard digests the whole store around every subject run, so it
# must stay small; the oldest (by last write) go first.
KEEP_PER_KIND = 400


def store_root() -> Path:
    explicit = os.environ.get('STAGEGATE_CACHE_DIR')
    if explicit:
        return Path(explicit)
    xdg = os.environ.get('XDG_CACHE_HOME')
    return (Path(xdg) if xdg else Path.home() / '.cache') / 'stagegate'


def git_blob_sha(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def secret(root: Path) -> bytes:
    """The store's MAC key (made once, 32 random bytes, mode 0600)."""
    path = root / 'secret'
    try:
        data = path.read_bytes()
        if len(data) == 32:
            return data
    except OSError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    tmp = root / f'.secret-{os.getpid()}-{secrets.token_hex(4)}'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as fh:
        fh.write(data)
    os.replace(tmp, path)
    return data


def mac(root: Path, body: bytes) -> str:
    return hmac.new(secret(root), body, hashlib.sha256).hexdigest()


def key_of(*parts: object) -> str:
    """A key from JSON-able parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _path(root: Path, kind: str, key: str) -> Path:
    return root / kind / key[:2] / f'{key}.json'


def get(root: Path, kind: str, key: str) -> Any | None:
    """The value stored under ``key`` (None on a miss or an entry that does not validate)."""
    try:
        doc = json.loads(_path(root, kind, key).read_text(encoding='utf-8'))
        body = doc['body']
        raw = json.dumps(body, sort_keys=True).encode()
        if not hmac.compare_digest(str(doc['mac']), mac(root, raw)):
            return None
        if body.get('format') != FORMAT or body.get('kind') != kind or body.get('key') != key:
            return None
        return body['value']
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def put(root: Path, kind: str, key: str, value: Any) -> None:
    """Store ``value`` (JSON-able) atomically; a failure to write is only a lost cache entry."""
    body = {'format': FORMAT, 'kind': kind, 'key': key, 'value': value}
    raw = json.dumps(body, sort_keys=True).encode()
    path = _path(root, kind, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.new-', dir=path.parent)
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            json.dump({'body': body, 'mac': mac(root, raw)}, fh, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def prune(root: Path, kind: str, keep: int = KEEP_PER_KIND) -> int:
    """Remove all but the ``keep`` newest entries of ``kind``; how many went."""
    folder = root / kind
    try:
        entries = sorted(folder.glob('*/*.json'), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return 0
    gone = 0
    for path in entries[keep:]:
        try:
            path.unlink()
            gone += 1
        except OSError:
            pass
    return gone
