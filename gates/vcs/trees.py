"""The base revision's side of a check, for the structural gates (api, scope, integrity).

The tree under judgement may edit its own spec; the base's copy is what the change is judged
against (docs/gates.md: in CI the base revision's engine and assets judge the head).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gates.contract.ledger import Ledger
from gates.contract.ledger import parse_ledger
from gates.contract.spec import Spec
from gates.contract.spec import load_spec


class Sides(Protocol):
    """What these functions read of a check (``gates.context.CheckContext`` has it): the tree
    under judgement's spec and accepted stages, and the base's tree. A protocol, so that ``vcs``
    builds on the contract alone and the context can build on ``vcs``."""

    @property
    def spec(self) -> Spec: ...

    @property
    def base_tree(self) -> Path: ...

    def accepted_stages(self) -> tuple[int, ...]: ...


def read_text(tree: Path, rel: str) -> str | None:
    """The file's text, or None when the tree does not have it."""
    path = tree / rel
    if not path.is_file():
        return None
    return path.read_text(encoding='utf-8', errors='surrogateescape')


def base_spec(ctx: Sides) -> Spec | None:
    """The spec as the base revision has it; None when the base has no spec yet."""
    path = ctx.base_tree / ctx.spec.path
    if not path.is_file():
        return None
    return load_spec(path, ctx.spec.path)


def base_ledger(ctx: Sides, spec: Spec) -> Ledger:
    """The base revision's ledger (empty when the base has none yet)."""
    text = read_text(ctx.base_tree, spec.ledger)
    if text is None:
        return Ledger(spec.ledger, ())
    return parse_ledger(text, f'{spec.ledger} (base)')


def newly_accepted(ctx: Sides, spec: Spec) -> tuple[int, ...]:
    """Stages whose ledger rows this change adds (converted within the change itself)."""
    before = set(base_ledger(ctx, spec).accepted_stages())
    return tuple(s for s in ctx.accepted_stages() if s not in before)
