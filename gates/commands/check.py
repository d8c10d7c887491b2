"""``gates check``: build the context once, run the gates in order, report."""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import git

from gates.contract import discover
from gates.measuring import measure
from gates.vcs import repo as repo_mod
from gates.reports import report
from gates.context import CheckContext
from gates.vcs.trees import read_text
from gates.contract.ledger import read_ledger
from gates.contract.ledger import stage_under_conversion
from gates.model import GATE_NAMES
from gates.model import GateError
from gates.model import Verdict
from gates.contract.spec import load_spec

# Cheap, structural gates first; the measuring gates share the run's Measurements cache.
GATES = GATE_NAMES
DEFAULT_SPEC = 'specs/streaming-prover.yaml'   # this repository's; found by gates.contract.discover


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spec_relpath(root: Path, spec: str | None) -> str:
    """The spec's path relative to the repo root (how messages and the staged tree name it)."""
    if spec is None:
        # No --spec: pyproject's [tool.stagegate] spec, else the single specs/*.yaml (issue 8.5).
        return discover.discover(root)
    path = Path(spec).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise GateError(f'--spec {spec}: the spec must live inside the repository {root}.') from None


@contextlib.contextmanager
def prepared(
        repo: git.Repo,
        spec: str | None,
        tier: str,
        base: str | None,
        staged: bool,
        log: Callable[[str], None] = progress,
) -> Iterator[tuple[CheckContext, report.RunInfo]]:
    """The CheckContext of one run; its temporary trees are removed when the block exits."""
    root = repo_mod.root(repo)
    spec_rel = spec_relpath(root, spec)
    head = repo_mod.head_commit(repo)
    with contextlib.ExitStack() as stack:
        # The tree under judgement is a private copy (the staged index in the hook; else the
        # working tree as `git add -A` would commit it), never the checkout: nothing ignored in
        # the checkout (a hidden sitecustomize.py) is in it, and the subject runs elsewhere.
        head_tree = stack.enter_context(
            repo_mod.staged_tree(repo) if staged else repo_mod.working_export(repo),
        )
        # The spec and ledger come from the tree under judgement (the staged one in the hook).
        the_spec = load_spec(head_tree / spec_rel, spec_rel)
        ledger = read_ledger(head_tree / the_spec.ledger, the_spec.ledger)
        stage = stage_under_conversion(the_spec, ledger) if the_spec.mode == 'conversion' else (
            # Optimisation mode: nothing converts; the target stage (if any) is what the change
            # works on, so scope and api allow its paths. Ledger rows are numbered, not stages.
            None if the_spec.target is None else the_spec.stage(the_spec.target)
        )
        workloads = the_spec.tier_workloads(tier)
        # Two revisions, two roles (docs/gates.md): the oracle judges proofs and time; the
        # change's base is what api, scope and integrity compare the tree under judgement with.
        the_oracle, note = repo_mod.oracle(
            repo, the_spec.baseline_ref, read_text(head_tree, the_spec.golden), the_spec.golden,
        )
        if note:
            log(note)
        change = repo_mod.change_base(
            repo, base, staged, str(getattr(the_spec, 'main_branch', 'main')),
        )
        changed = repo_mod.changed_paths(
            repo, change.base, repo_mod.INDEX if staged else repo_mod.WORKTREE,
        )
        log(
            f'gates: oracle {the_spec.baseline_ref} = {the_oracle.sha[:12]}; change from '
            f'{change.base[:12]} ({change.how}), {len(changed)} path(s)',
        )
        base_tree = stack.enter_context(repo_mod.export(repo, change.base))
        oracle_tree = (
            base_tree if the_oracle.sha == change.base
            else stack.enter_context(repo_mod.export(repo, the_oracle.sha))
        )
        ctx = CheckContext(
            spec=the_spec,
            repo_root=root,
            base_rev=change.base,
            head_tree=head_tree,
            base_tree=base_tree,
            tier=tier,
            workloads=workloads,
            stage_under_conversion=stage,
            ledger=ledger,
            changed=changed,
            progress=log,
            oracle_rev=the_oracle.sha,
            oracle_tree=oracle_tree,
        )
        info = report.RunInfo(
            spec=spec_rel,
            tier=tier,
            base=change.base,
            head=head,
            head_tree='staged' if staged else 'worktree',
            dirty=repo_mod.is_dirty(repo),
            stage_under_conversion=None if stage is None else (stage.id, stage.name),
            mode=the_spec.mode,
            target=('the whole run' if stage is None else f'stage {stage.id} ({stage.name})')
            if the_spec.mode == 'optimisation' else '',
            accepted_stages=ledger.accepted_stages(),
            workloads=tuple(w.id for w in workloads),
            oracle_ref=the_spec.baseline_ref,
            oracle=the_oracle.sha,
            oracle_source=the_oracle.source,
            change_how=change.how,
        )
        yield ctx, info


# Gates that run no subject process in the pre-commit tier and only read the trees: they run in
# worker threads, beside the measuring gates (proof, memory, time), which run in the calling
# thread, one after the other (Ctrl-C reaches them there; their subject runs take turns anyway,
# gates/measuring/probe.py). Verdicts, their order and the report are those of a sequential run.
STATIC_GATES = frozenset({'api', 'scope', 'integrity'})
# Gates whose figures the engine's own work beside them could move: they start once the static
# gates are done.
ALONE_GATES = frozenset({'time'})


def run_gates(
        ctx: CheckContext,
        names: Sequence[str],
        runners: Mapping[str, Callable[[CheckContext], Verdict]] | None = None,
        concurrent: bool = False,
) -> tuple[list[Verdict], dict[str, float]]:
    """Run each named gate's ``run(ctx)`` (or ``runners[name]``, which accept uses for stricter
    modes); a missing gate module is a crash, never a skip. ``concurrent``: the static gates
    run in threads while the others run here; progress is printed in gate order (live for the
    first unfinished gate, held for the later ones; nothing after a gate that raised), so the
    output reads as a sequential run's (``seconds`` are each gate's own wall time, overlapping)."""
    gate_runs = [(name, (runners or {}).get(name) or _gate(name)) for name in names]
    if not concurrent or os.environ.get('STAGEGATE_SEQUENTIAL') == '1':
        verdicts = []
        seconds = {}
        for name, gate_run in gate_runs:
            ctx.progress(f'gates: {name} ...')
            verdict, seconds[name] = _timed(gate_run, ctx, name)
            ctx.progress(_done_line(name, verdict, seconds[name]))
            verdicts.append(verdict)
        return verdicts, seconds
    results: dict[str, tuple[Verdict, float] | BaseException] = {}
    printer = _InOrder([name for name, _ in gate_runs], ctx.progress)

    def one(name: str, gate_run: Callable[[CheckContext], Verdict]) -> None:
        try:
            results[name] = _timed(gate_run, dataclasses.replace(ctx, progress=printer.writer(name)), name)
        except BaseException as e:   # re-raised in the calling thread, in gate order
            results[name] = e
        outcome = results[name]
        printer.done(name, None if isinstance(outcome, BaseException) else _done_line(name, *outcome))

    # Where the tier measures (memory in it), integrity may re-measure ledger rows, i.e. run
    # subject processes under the check's one tree guard: those runs must not overlap the proof
    # gate's (a guard verifying a tree whose cache another thread's run is filling voids every
    # figure of the check). So integrity runs in a thread only in tiers that never measure.
    alone = {'integrity'} if 'memory' in names else set()
    threads = {
        name: threading.Thread(target=one, args=(name, gate_run), name=f'gate-{name}', daemon=True)
        for name, gate_run in gate_runs if name in STATIC_GATES and name not in alone
    }
    for thread in threads.values():
        thread.start()
    for name, gate_run in gate_runs:
        if name not in threads:
            if name in ALONE_GATES:
                # Nothing of the engine runs beside a timed subject run (semgrep, the integrity
                # gate's re-measures): the static gates finish first.
                for thread in threads.values():
                    thread.join()
            one(name, gate_run)
    verdicts = []
    seconds = {}
    for name, _ in gate_runs:
        if name in threads:
            threads[name].join()
        outcome = results[name]
        if isinstance(outcome, BaseException):
            raise outcome
        verdict, seconds[name] = outcome
        verdicts.append(verdict)
    return verdicts, seconds


class _InOrder:
    """Progress of gates running at once, printed as a sequential run prints it: the first
    unfinished gate's lines go out live, a later gate's wait until every gate before it is done."""

    def __init__(self, names: Sequence[str], out: Callable[[str], None]) -> None:
        self._names = list(names)
        self._out = out
        self._lock = threading.Lock()
        self._held: dict[str, list[str]] = {n: [] for n in names}
        self._finished: set[str] = set()
        self._raised: set[str] = set()
        self._at = 0
        if self._names:
            out(f'gates: {self._names[0]} ...')

    def writer(self, name: str) -> Callable[[str], None]:
        def write(line: str) -> None:
            with self._lock:
                if self._at < len(self._names) and self._names[self._at] == name:
                    self._out(line)
                else:
                    self._held[name].append(line)
        return write

    def done(self, name: str, line: str | None) -> None:
        """``name`` finished with its last line (None: it raised; a sequential run would print
        nothing more, so neither does this)."""
        with self._lock:
            if line is not None:
                self._held[name].append(line)
            else:
                self._raised.add(name)
            self._finished.add(name)
            while self._at < len(self._names):
                current = self._names[self._at]
                for held in self._held[current]:
                    self._out(held)
                self._held[current] = []
                if current not in self._finished or current in self._raised:
                    return
                self._at += 1
                if self._at < len(self._names):
                    self._out(f'gates: {self._names[self._at]} ...')


def _timed(gate_run: Callable[[CheckContext], Verdict], ctx: CheckContext, name: str) -> tuple[Verdict, float]:
    start = time.perf_counter()
    verdict = gate_run(ctx)
    elapsed = time.perf_counter() - start
    if not isinstance(verdict, Verdict):
        raise TypeError(f'gates.checks.{name}.run returned {type(verdict).__name__}, not a Verdict')
    return verdict, elapsed


def _done_line(name: str, verdict: Verdict, seconds: float) -> str:
    state = "passed" if verdict.passed else "INCONCLUSIVE" if verdict.inconclusive else "FAILED"
    return f'gates: {name} {state} ({seconds:.1f}s)'


def _gate(name: str) -> Callable[[CheckContext], Verdict]:
    module = importlib.import_module(f'gates.checks.{name}')
    gate_run: Callable[[CheckContext], Verdict] = getattr(module, 'run')
    return gate_run


def emit(
        info: report.RunInfo,
        verdicts: Sequence[Verdict],
        seconds: dict[str, float],
        as_json: bool,
        out: TextIO,
) -> None:
    if as_json:
        out.write(report.dumps(report.document(info, verdicts, seconds)))
    else:
        out.write(report.table(info, verdicts, seconds))
    # With --json, stdout is the document alone; the runner reads workflow commands on stderr too.
    report.emit_github(info, verdicts, seconds, sys.stderr if as_json else out, os.environ)


def check(
        cwd: Path,
        spec: str | None,
        tier: str,
        gate_names: Sequence[str],
        base: str | None,
        as_json: bool,
        staged: bool,
        out: TextIO,
        shard: str | None = None,
        shard_out: Path | None = None,
) -> int:
    repo = repo_mod.open_repo(cwd)
    if shard is not None and shard_out is None:
        raise GateError(f'--shard {shard}: --out FILE is required (where the partial result goes).')
    if shard is not None:
        from gates.reports.shard import parse_shard
        parse_shard(shard)
    if shard is not None and gate_names:
        raise GateError(f'--shard {shard}: --gate cannot narrow a sharded run; a shard runs its share of the whole tier.')
    with prepared(repo, spec, tier, base, staged) as (ctx, info):
        if gate_names:
            names = [g for g in GATES if g in gate_names]
        else:
            # The spec may narrow a fast local tier (never ci or full, which the loader refuses).
            names = list(ctx.spec.tier_gate_names(tier))
            skipped = [g for g in GATES if g not in names]
            if skipped:
                ctx.progress(
                    f'gates: tier {tier} runs {", ".join(names)} (spec tier_gates); '
                    f'{", ".join(skipped)} run in the ci and full tiers',
                )
        if shard is not None and shard_out is not None:
            # Issue 18: this shard's share of the tier, written as a partial result (gates/reports/shard.py).
            return run_shard(ctx, info, names, shard, shard_out, as_json, out)
        if measure.allow_warm_jit(ctx, names):
            ctx.progress(
                'gates: proof runs start from the warm JIT store (tier judges proof bytes only; '
                'STAGEGATE_JIT_CACHE=off for a cold private cache)',
            )
        verdicts, seconds = run_gates(ctx, names, concurrent=True)
        measure.flush_store(ctx)
        emit(info, verdicts, seconds, as_json, out)
    return report.exit_code(verdicts)


def run_shard(
        ctx: CheckContext,
        info: report.RunInfo,
        names: Sequence[str],
        shard_text: str,
        path: Path,
        as_json: bool,
        out: TextIO,
        purpose: str = 'check',
) -> int:
    """Run shard K/N's units of the plan (gates/reports/shard.py) and write its partial result:
    the static gates on the whole tier in shard 1, each measuring gate on the workloads it owns."""
    from gates.measuring import treedigest
    from gates.reports import shard as sharding
    shard = sharding.parse_shard(shard_text)
    owned = sharding.plan(ctx.workloads, names, shard.count)[shard.index - 1]
    # What this shard judges, digested before any subject runs (the merge compares them).
    trees = {'head': treedigest.digest(ctx.head_tree).hexdigest,
             'base': treedigest.digest(ctx.base_tree).hexdigest,
             'oracle': treedigest.digest(ctx.oracle_tree or ctx.base_tree).hexdigest}
    static = [g for g in names if g in sharding.STATIC_GATES] if shard.index == 1 else []
    units = static + [f'{g} {w}' for w, g in owned]
    ctx.progress(f'gates: shard {shard.shown()}: {", ".join(units) or "nothing to run"}')
    verdicts: list[Verdict] = []
    seconds: dict[str, float] = {}
    all_ids = [w.id for w in ctx.workloads]
    for name in names:
        if name in sharding.STATIC_GATES:
            if shard.index != 1:
                continue
            sub = ctx
        else:
            mine = tuple(w for w in ctx.workloads if (w.id, name) in owned)
            if not mine:
                continue
            sub = dataclasses.replace(ctx, workloads=mine)
        found, took = run_gates(sub, [name])
        verdicts += [sharding.strip_growth(v, all_ids) if v.gate == 'memory' else v for v in found]
        seconds.update(took)
    doc = report.document(info, verdicts, seconds)
    spec_text = read_text(ctx.head_tree, info.spec) or ''
    sharding.write(path, sharding.result(shard, purpose, doc, owned, shard.index == 1, trees, spec_text))
    # The partial table (or document) only: annotations and the job summary come from the merge.
    out.write(report.dumps(doc) if as_json else report.table(info, verdicts, seconds))
    ctx.progress(f'gates: shard {shard.shown()} written to {path}; `gates merge` gives the verdict')
    return report.exit_code(verdicts)


def json_error(message: str, out: TextIO) -> None:
    out.write(json.dumps(report.error_document(message), indent=2, sort_keys=True) + '\n')
