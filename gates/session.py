"""What the commands share: one run of the gates, from the checkout to the report.

- ``spec_relpath``, ``load``: the spec a command judges (``--spec``, else discovered) and its ledger;
- ``prepared``: the ``CheckContext`` of one run and its report header; its private trees are
  removed when the block exits (also on error and Ctrl-C);
- ``run_gates``: the named gates in order (the static ones in worker threads beside the
  measuring ones, progress printed as a sequential run prints it);
- ``emit``: the table or the JSON document, and the GitHub annotations;
- ``RUNNERS``, ``figures``, ``workload_details``: the strict memory gate accept and audit run,
  and the ledger figures out of the passing verdicts (accept records them, audit compares them).

Here so that no command imports another (issue 17.6). May import every package but ``commands``
and the CLI: the commands build on it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import TextIO

import git

from gates.contract import discover
from gates.contract import metrics
from gates.contract.ledger import Ledger
from gates.contract.ledger import WorkloadFigures
from gates.contract.ledger import read_ledger
from gates.contract.ledger import stage_under_conversion
from gates.contract.spec import Spec
from gates.contract.spec import Stage
from gates.contract.spec import load_spec
from gates.context import CheckContext
from gates.model import GateError
from gates.model import Verdict
from gates.reports import report
from gates.vcs import repo as repo_mod
from gates.vcs.trees import read_text


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


def load(cwd: Path, spec: str | None) -> tuple[Spec, Ledger]:
    """The spec and the ledger as the checkout has them (the commands that judge nothing)."""
    root = repo_mod.root(repo_mod.open_repo(cwd))
    spec_rel = spec_relpath(root, spec)
    the_spec = load_spec(root / spec_rel, spec_rel)
    return the_spec, read_ledger(root / the_spec.ledger, the_spec.ledger)


def _working_stage(spec: Spec, ledger: Ledger) -> Stage | None:
    """The stage the change works on: in conversion mode the stage under conversion; in
    optimisation mode nothing converts, and the target stage (if any) is what scope and api
    allow the paths of. Ledger rows are then numbered, not stages."""
    if spec.mode == 'conversion':
        return stage_under_conversion(spec, ledger)
    return None if spec.target is None else spec.stage(spec.target)


def _run_info(
        repo: git.Repo, ctx: CheckContext, spec_rel: str, head: str, staged: bool,
        oracle: repo_mod.Oracle, change: repo_mod.Change,
) -> report.RunInfo:
    """The report's header of the run ``ctx`` is."""
    spec, stage = ctx.spec, ctx.stage_under_conversion
    return report.RunInfo(
        spec=spec_rel,
        tier=ctx.tier,
        base=change.base,
        head=head,
        head_tree='staged' if staged else 'worktree',
        dirty=repo_mod.is_dirty(repo),
        stage_under_conversion=None if stage is None else (stage.id, stage.name),
        mode=spec.mode,
        target=('the whole run' if stage is None else f'stage {stage.id} ({stage.name})')
        if spec.mode == 'optimisation' else '',
        accepted_stages=ctx.ledger.accepted_stages(),
        workloads=tuple(w.id for w in ctx.workloads),
        oracle_ref=spec.baseline_ref,
        oracle=oracle.sha,
        oracle_source=oracle.source,
        change_how=change.how,
    )


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
        stage = _working_stage(the_spec, ledger)
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
        yield ctx, _run_info(repo, ctx, spec_rel, head, staged, the_oracle, change)


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


def _memory_strict(ctx: CheckContext) -> Verdict:
    # Imported here: accept and audit need the gate's strict mode (the stage must really be
    # converted), and a broken gate module must not break the commands that run no gate.
    from gates.checks import memory
    return memory.run(ctx, require_conversion=True)


RUNNERS: Mapping[str, Callable[[CheckContext], Verdict]] = {'memory': _memory_strict}


def workload_details(verdicts: Sequence[Verdict], gate: str, wid: str) -> Mapping[str, Any]:
    """The figures ``gate``'s verdict holds for workload ``wid`` (a crash when it has none)."""
    for v in verdicts:
        if v.gate == gate:
            found = v.details.get('workloads', {}).get(wid)
            if isinstance(found, Mapping):
                return found
    raise RuntimeError(f'the {gate} verdict has no figures for workload {wid}')


def figures(verdicts: Sequence[Verdict], workload_ids: Sequence[str]) -> dict[str, WorkloadFigures]:
    """The ledger figures of each workload, out of the passing verdicts' details."""
    out = {}
    for wid in workload_ids:
        proof = workload_details(verdicts, 'proof', wid)
        memory = workload_details(verdicts, 'memory', wid)['candidate']
        timing = workload_details(verdicts, 'time', wid)
        out[wid] = WorkloadFigures(
            stage_peaks={str(k): int(v) for k, v in memory['stage_peaks'].items()},
            whole_run_peak=int(memory['whole_run_peak']),
            time_ratio_total=float(timing['ratio_total']),
            time_ratio_stages={str(k): float(v) for k, v in timing['ratio_stages'].items()},
            proof_sha256=str(proof['sha256']),
            # the time gate names a unit 'unit:0+8'; the row keeps '0+8'
            time_ratio_units={metrics.key_of(str(k)): float(v)
                              for k, v in (timing.get('ratio_units') or {}).items()},
        )
    return out
