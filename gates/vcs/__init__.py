"""Git: the repository and the trees a check judges.

- ``changes``: ``ChangedPath``, one path a change touches (what ``CheckContext.changed`` holds);
- ``repo``: the oracle, the change's base, changed paths, private tree exports (never a
  worktree of the user's repository);
- ``trees``: the base revision's side of a check for the structural gates (its spec, ledger);
- ``loopgit``: ``gates loop``'s branch, refs and fast-forward, and its process plumbing;
- ``hook``: the text of the git pre-commit hook the engine installs;
- ``cachestore``: the persistent store under the user's cache folder (entries keyed by git
  object ids and tool versions, MAC'd, validated on read).

May import ``model`` and ``contract``: the context builds on ``vcs``, never the other way
(``trees`` reads a check through a protocol).
"""
