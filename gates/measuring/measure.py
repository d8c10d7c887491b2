"""What the proof, memory and time gates share: which variant really runs, which tree is the
baseline, and probe runs cached for the length of one ``gates check`` (``ctx.measurements``).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path

from gates.measuring import probe
from gates.vcs import cachestore
from gates.vcs import repo as gitrepo
from gates.measuring import treedigest
from gates.measuring.request import RunRequest
from gates.context import CheckContext
from gates.contract.spec import Spec
from gates.contract.spec import Workload


OUTPUT = '.stagegate'
# Subject runs start from a warm, shared JIT cache (gates/measuring/jitcache.py) only when the
# command put this key in ``ctx.measurements`` before the first run: ``gates check`` on the
# pre-commit tier with no gate but api, scope, integrity and proof (proof bytes, never figures).
WARM_JIT = ('warm-jit',)
WARM_JIT_TIERS = frozenset({'pre-commit'})
WARM_JIT_GATES = frozenset({'api', 'scope', 'integrity', 'proof'})


def allow_warm_jit(ctx: CheckContext, gate_names: Collection[str]) -> bool:
    """Let this check's subject runs start from the warm JIT store when it judges proof bytes
    only (the pre-commit tier without memory or time); returns whether it did."""
    ok = ctx.tier in WARM_JIT_TIERS and set(gate_names) <= WARM_JIT_GATES
    if ok:
        ctx.measurements.put(WARM_JIT, True)
    return ok


def output_dir(repo_root: Path, name: str) -> Path:
    """``<repo>/.stagegate/<name>``, created, with a ``.gitignore`` of ``*`` in ``.stagegate``:
    the gates' own outputs must never show up as untracked changes that the scope gate would
    then judge, whatever the project's .gitignore says."""
    top = repo_root / OUTPUT
    path = top / name
    path.mkdir(parents=True, exist_ok=True)
    ignore = top / '.gitignore'
    if not ignore.is_file():
        ignore.write_text('*\n', encoding='utf-8')
    return path


def stage_ids(spec: Spec) -> list[int]:
    return [s.id for s in spec.stages]


def request(
        spec: Spec, tree: Path, workload: Workload, variant: Mapping[str, str],
        watch: treedigest.Guard | None = None,
) -> RunRequest:
    """The probe's request for ``workload`` of ``spec``'s subject run from ``tree`` with
    ``variant``, every stage of the spec reported, under the tree guard ``watch`` (if any)."""
    return RunRequest(
        spec.subject, tree, workload.id, workload.params, variant, stage_ids(spec), guard=watch,
    )


def variant_key(variant: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(variant.items()))


def persistent_store(ctx: CheckContext) -> Path | None:
    """The persistent store (gates/vcs/cachestore.py) when this check may use it (see
    ``allow_warm_jit``), else None: the gate computes everything afresh."""
    if ctx.measurements.peek(WARM_JIT) is not True or os.environ.get('STAGEGATE_JIT_CACHE', 'on') == 'off':
        return None
    return cachestore.store_root()


def pending_writes(ctx: CheckContext) -> list[tuple[str, str, object]]:
    """Store entries a gate computed; written by ``flush_store`` once every gate has finished
    (no subject run in flight, so the guard watching the store never sees an engine write)."""
    return ctx.measurements.get(('store-pending',), list)


def flush_store(ctx: CheckContext) -> int:
    store = persistent_store(ctx)
    pending = pending_writes(ctx)
    if store is None:
        return 0
    for kind, key, value in pending:
        cachestore.put(store, kind, key, value)
    for kind in sorted({kind for kind, _, _ in pending}):
        cachestore.prune(store, kind)
    count = len(pending)
    pending.clear()
    return count


def guard(ctx: CheckContext) -> treedigest.Guard:
    """The check's tree guard (one per ``gates check``), watching the head tree from its first
    use; every subject run verifies all the trees it watches before and after (issue 8.1)."""
    found = ctx.measurements.get(('tree-guard',), treedigest.Guard)
    store = persistent_store(ctx)
    if store is not None and found.jit_store is None:
        # Only proof bytes are judged then; time and memory (ci, full) keep a cold private
        # cache per tree, so no figure depends on what an earlier run compiled. From the first
        # subject run on, no subject run may write into the store.
        cachestore.secret(store)
        found.jit_store = store
        found.protect(store, 'stagegate cache store')
    # The head tree is the user's checkout unless the CLI exported it: the engine's own
    # bytecode may appear there, and nothing but the candidate's own code reads it.
    found.watch(ctx.head_tree, 'candidate', bytecode=False)
    # The other trees from the same first use, before any subject has run: watched only when a
    # gate first measured in them, a candidate that ran earlier (the proof gate's) could edit
    # them once, unseen, and every figure after would be taken against its edit.
    if ctx.oracle_tree is not None:
        found.watch(ctx.oracle_tree, 'baseline')
        found.watch(ctx.base_tree, 'base')
    return found


def capabilities(ctx: CheckContext, tree: Path) -> dict[str, list[str]] | None:
    return ctx.measurements.get(
        ('capabilities', str(tree)),
        lambda: probe.capabilities(ctx.spec.subject, tree, guard=guard(ctx)),
    )


def effective(ctx: CheckContext, tree: Path, wanted: Mapping[str, str]) -> dict[str, str]:
    """``wanted`` as the tree's subject can run it (unsupported backends fall back to the
    baseline backend): a stage "converted" in the ledger but not offered runs materialized."""
    return probe.effective_variant(wanted, capabilities(ctx, tree), ctx.spec.baseline_variant)


def candidate_variant(ctx: CheckContext) -> dict[str, str]:
    return effective(ctx, ctx.head_tree, ctx.candidate_variant())


@contextlib.contextmanager
def baseline_tree(ctx: CheckContext) -> Iterator[Path]:
    """A tree of the baseline ref (the oracle): ``ctx.oracle_tree`` (exported once per run by
    ``gates check``), else ``ctx.base_tree`` when it is that commit, else an export of it."""
    watch = guard(ctx)
    if ctx.oracle_tree is not None:
        watch.watch(ctx.oracle_tree, 'baseline')
        yield ctx.oracle_tree
        return
    repo = gitrepo.open_repo(ctx.repo_root)
    wanted = gitrepo.resolve(repo, ctx.spec.baseline_ref)
    if gitrepo.resolve(repo, ctx.base_rev) == wanted:
        watch.watch(ctx.base_tree, 'baseline')
        yield ctx.base_tree
        return
    with gitrepo.worktree(repo, wanted) as tree:
        watch.watch(tree, 'baseline')
        try:
            yield tree
        finally:
            watch.forget(tree)


def proof(ctx: CheckContext, tree: Path, workload: Workload, variant: Mapping[str, str]) -> probe.ProofRun:
    key = ('proof', str(tree), workload.id, variant_key(variant))

    def measure() -> probe.ProofRun:
        ctx.progress(f'proof {workload.id}: prove in {tree}')
        return probe.proof(request(ctx.spec, tree, workload, variant, guard(ctx)))

    return ctx.measurements.get(key, measure)


def candidate_proof(ctx: CheckContext, workload: Workload) -> tuple[dict[str, str], probe.ProofRun]:
    """The candidate variant and its proof in the head tree. When the head's capabilities are
    not known yet (the first workload), one prove process finds them and proves the variant
    they allow, and the capabilities are cached for the other gates (the api gate waits for
    them rather than starting a process of its own); otherwise ``candidate_variant`` and
    ``proof``. Same runs, same bytes, one interpreter start fewer."""
    subject = ctx.spec.subject
    tree = ctx.head_tree
    caps_key = ('capabilities', str(tree))
    if (caps_key in ctx.measurements or subject.kind != 'python' or not subject.capabilities
            or not (subject.verify and subject.sections)):
        variant = candidate_variant(ctx)
        return variant, proof(ctx, tree, workload, variant)
    found: list[tuple[dict[str, str], probe.ProofRun]] = []

    def both() -> dict[str, list[str]] | None:
        ctx.progress(f'proof {workload.id}: prove in {tree}')
        caps, variant, run = probe.proof_with_capabilities(
            request(ctx.spec, tree, workload, ctx.candidate_variant(), guard(ctx)),
            ctx.spec.baseline_variant,
        )
        found.append((variant, run))
        return caps

    ctx.measurements.get(caps_key, both)
    if not found:       # another gate asked for the capabilities first
        variant = candidate_variant(ctx)
        return variant, proof(ctx, tree, workload, variant)
    variant, run = found[0]
    ctx.measurements.put(('proof', str(tree), workload.id, variant_key(variant)), run)
    return variant, run


def memory(
        ctx: CheckContext,
        tree: Path,
        workload: Workload,
        variant: Mapping[str, str],
        capture_dir: Path,
        label: str,
) -> probe.MemoryRun:
    key = ('memory', str(tree), workload.id, variant_key(variant))
    return ctx.measurements.get(key, lambda: probe.memory(
        request(ctx.spec, tree, workload, variant, guard(ctx)), capture_dir,
        label=label, progress=ctx.progress, measure=ctx.spec.budgets.memory.measure,
    ))
