"""``gates``: the only module that knows argparse; the one place that maps outcomes to exit codes.

0 all gates passed, 1 a gate failed, 2 unusable input (GateError), 3 internal crash (a short
report with versions; the traceback goes to a file), 130 Ctrl-C (after temporary trees are
removed by their context managers).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import platform
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from gates.model import GATE_NAMES
from gates.model import GateError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPT = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='gates', description='Judge each step of a materialized -> streaming conversion.',
    )
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    # In this order in `gates --help`.
    _add_judging(sub)
    _add_bookkeeping(sub)
    _add_tools(sub)
    return parser


def _with_spec(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument('--spec', help='the machine spec (default: [tool.stagegate] spec in pyproject.toml, else the single specs/*.yaml)')
    return p


def _add_judging(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """check, merge, accept: the commands that judge a change."""
    check = _with_spec(sub.add_parser('check', help='run the gates on the working tree'))
    check.add_argument('--tier', default='ci', help='workload tier from the spec (default: ci)')
    check.add_argument(
        '--gate', action='append', choices=GATE_NAMES, default=[], metavar='NAME',
        help=f'run only this gate (repeatable; one of {", ".join(GATE_NAMES)}; default: all)',
    )
    check.add_argument(
        '--base', metavar='REF',
        help='judge the change since the merge-base of REF and HEAD (default: GITHUB_BASE_REF in a '
             'pull request, else the upstream branch, else main; proofs are always judged against '
             "the spec's baseline ref)",
    )
    check.add_argument('--json', action='store_true', help='print a JSON document on stdout')
    check.add_argument(
        '--staged', action='store_true',
        help='judge the staged index instead of the working tree (the pre-commit hook does)',
    )
    check.add_argument(
        '--shard', metavar='K/N',
        help="run only shard K of N of the tier (static gates in shard 1, each measuring gate's "
             'workloads split by cost) and write a partial result to --out; `gates merge` '
             'combines the N results into the verdict',
    )
    check.add_argument('--out', metavar='FILE', help='with --shard: where the partial result goes '
                                                     '(outside the checkout: it would be judged)')
    merge = _with_spec(sub.add_parser('merge', help='combine the partial results of `gates check --shard`'))
    merge.add_argument('results', nargs='+', metavar='RESULT', help='every shard\'s --out file')
    merge.add_argument('--json', action='store_true', help='print a JSON document on stdout')
    accept = _with_spec(sub.add_parser('accept', help='run the full tier and record the stage'))
    accept.add_argument(
        '--base', metavar='REF',
        help='judge the change since the merge-base of REF and HEAD (default: as gates check)',
    )
    accept.add_argument(
        '--from', dest='from_results', nargs='+', default=[], metavar='RESULT',
        help='record the row from the results of `gates check --tier full --shard K/N` of HEAD '
             '(every shard) instead of running the tier here',
    )


def _add_bookkeeping(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """status, protected, next, audit, install-hook, freeze, rebaseline: the ledger, the oracle
    and what the gates protect."""
    _with_spec(sub.add_parser('status', help='stages, accepted or not, with ledger figures'))
    prot = _with_spec(sub.add_parser('protected', help="protected paths and symbols, with the verifier's reach"))
    prot.add_argument('--json', action='store_true', help='print a JSON document on stdout')
    nxt = _with_spec(sub.add_parser('next', help='the stage under conversion and its brief'))
    nxt.add_argument(
        '--format', choices=('text', 'agent'), default='text',
        help='text: the brief for people (default); agent: the full instructions for a coding agent',
    )
    audit = _with_spec(sub.add_parser('audit', help='re-measure a ledger row at its commit'))
    audit.add_argument('row', nargs='?', type=int, help='row index (default: the last row)')
    audit.add_argument(
        '--workload', action='append', default=[], metavar='ID',
        help="re-measure only this workload of the row (repeatable; default: all the row's)",
    )
    hook = _with_spec(sub.add_parser('install-hook', help='install the git pre-commit hook'))
    hook.add_argument('--force', action='store_true', help='overwrite a foreign pre-commit hook')
    fr = _with_spec(sub.add_parser('freeze', help='write the golden digests from the baseline ref'))
    fr.add_argument('--ref', default=None, help='the baseline revision (default: the spec\'s baseline.ref)')
    fr.add_argument('--force', action='store_true', help='overwrite digests that differ (a new baseline)')
    fr.add_argument('--noise-runs', type=int, default=None, metavar='N',
                    help='also measure the baseline\'s memory N times (N >= 2) at the ci workloads and '
                         'record each figure\'s spread as memory_noise')
    reb = _with_spec(sub.add_parser(
        'rebaseline', help='a new oracle: tag, golden digests, spec version, ledger reset, one commit',
    ))
    reb.add_argument('ref', metavar='REF', help='the commit whose prover becomes the new baseline')
    reb.add_argument('--reason', required=True, help='why the oracle changes (recorded in the golden digests)')
    reb.add_argument(
        '--reset-ledger', action='store_true',
        help='discard the accepted rows (refused without it while the ledger has rows)',
    )
    reb.add_argument('--tag', default=None, help="tag to create or move (default: the spec's baseline.ref)")


def _add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """report, init, selftest, loop."""
    rep = _with_spec(sub.add_parser('report', help='markdown + HTML report with plots'))
    rep.add_argument('--out', default='out/report', help='output folder (default: out/report)')
    rep.add_argument(
        '--bench', action='append', default=[], metavar='JSON',
        help='benchmark JSON file(s) to plot absolute prove times from (repeatable)',
    )
    rep.add_argument(
        '--check', action='append', default=[], metavar='JSON',
        help='a `gates check --json` document (e.g. of --tier full) to plot the baseline and '
             'candidate figures from (repeatable)',
    )
    rep.add_argument(
        '--points', action='append', default=[], metavar='JSON',
        help='extra whole-run peaks measured outside the gates (e.g. a benchmark at a size no tier '
             'runs), drawn as marked points on the whole-run plot: a JSON list of {"series": str, '
             '"x": number (the size, T), "whole_bytes": int, "source": str} (repeatable)',
    )
    ini = sub.add_parser('init', help='a spec skeleton, an empty ledger, the rules and the hook for a new prover')
    ini.add_argument('--kind', required=True, choices=('python', 'command'),
                     help='python: module:function entry points; command: an argv (any language)')
    ini.add_argument('--spec', help='where to write the spec (default: specs/stagegate.yaml)')
    ini.add_argument('--name', help="the subject's name (default: the repository folder's)")
    ini.add_argument('--adapter', default='stagegate_adapter', metavar='MODULE',
                     help='--kind python: the module the entry points are in (default: stagegate_adapter)')
    st = sub.add_parser('selftest', help='run an engine over the self-test corpus of known changes')
    st.add_argument('--engine', metavar='PATH',
                    help='the folder holding the engine to judge (default: the running one)')
    st.add_argument('--case', action='append', default=[], metavar='NAME', help='only this case (repeatable)')
    st.add_argument('--json', action='store_true', help='print a JSON document on stdout')
    lp = _with_spec(sub.add_parser('loop', help='drive a coding agent: implement, check, fix, accept'))
    lp.add_argument('--agent', required=True, metavar='CMD',
                    help='shell command run once per iteration in a worktree of the loop branch; '
                         'it reads the feedback file named by $GATES_FEEDBACK (also on stdin)')
    lp.add_argument('--tier', default='pre-commit',
                    help='tier each attempt is checked on (default: pre-commit)')
    lp.add_argument('--max-iterations', type=int, default=5, metavar='N',
                    help='stop after N attempts (default: 5)')
    lp.add_argument('--until', choices=('accepted', 'check'), default='accepted',
                    help='accepted (default): succeed only when `gates accept` records the stage '
                         '(a passing check that does not convert ends "checked, not converted", '
                         'exit 5); check: succeed when the check passes')
    lp.add_argument('--accept', action=argparse.BooleanOptionalAction, default=None,
                    help='with --until check: run `gates accept` after a passing attempt is '
                         'fast-forwarded (default: no); --until accepted always accepts')
    lp.add_argument('--transcript', metavar='DIR',
                    help='folder for the transcript and feedback files '
                         '(default: <git dir>/gates-loop/<stamp>)')
    lp.add_argument('--base', help="base revision each check judges against (default: the check's)")
    lp.add_argument('--json', action='store_true', help='print a JSON summary on stdout; no progress')


def _dispatch(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    # Imported per command so that a broken gate module cannot break `gates status`.
    if args.command == 'check':
        from gates.commands.check import check
        if args.out is not None and args.shard is None:
            raise GateError(f'--out {args.out}: only a sharded run writes a result file; add --shard K/N.')
        return check(
            cwd, args.spec, args.tier, args.gate, args.base, args.json, args.staged, sys.stdout,
            args.shard, None if args.out is None else Path(args.out).resolve(),
        )
    if args.command == 'merge':
        from gates.commands.merge import merge
        return merge([Path(r) for r in args.results], args.json, sys.stdout)
    if args.command == 'accept':
        from gates.commands.accept import accept
        if args.from_results:
            return accept(cwd, args.spec, args.base, sys.stdout, [Path(r) for r in args.from_results])
        return accept(cwd, args.spec, args.base, sys.stdout)
    if args.command == 'status':
        from gates.commands.status import status
        return status(cwd, args.spec, sys.stdout)
    if args.command == 'next':
        if args.format == 'agent':
            from gates.commands.status import next_agent
            return next_agent(cwd, args.spec, sys.stdout)
        from gates.commands.status import next_stage
        return next_stage(cwd, args.spec, sys.stdout)
    if args.command == 'protected':
        from gates.commands.protected import protected
        return protected(cwd, args.spec, args.json, sys.stdout)
    if args.command == 'loop':
        from gates.commands.loop import loop
        return loop(
            cwd, args.spec, args.agent, args.tier, args.max_iterations, args.accept, args.json,
            Path(args.transcript).resolve() if args.transcript else None, sys.stdout, args.base,
            args.until,
        )
    if args.command == 'audit':
        from gates.commands.audit import audit
        return audit(cwd, args.spec, args.row, sys.stdout, tuple(args.workload))
    if args.command == 'install-hook':
        from gates.commands.install_hook import install_hook
        return install_hook(cwd, args.spec, args.force, sys.stdout)
    if args.command == 'freeze':
        from gates.commands.freeze import freeze
        return freeze(cwd, args.spec, args.ref, args.force, sys.stdout, args.noise_runs)
    if args.command == 'rebaseline':
        from gates.commands.rebaseline import rebaseline
        return rebaseline(
            cwd, args.spec, args.ref, args.reason, args.reset_ledger, args.tag, sys.stdout,
        )
    if args.command == 'init':
        from gates.commands.init import init
        return init(cwd, args.kind, args.spec, args.name, args.adapter, sys.stdout)
    if args.command == 'selftest':
        from gates.commands.selftest import selftest
        return selftest(Path(args.engine) if args.engine else None, args.case, args.json, sys.stdout)
    if args.command == 'report':
        from gates.commands.report import report
        return report(cwd, args.spec, Path(args.out), [Path(b) for b in args.bench], sys.stdout,
                      [Path(c) for c in args.check], [Path(p) for p in args.points])
    raise AssertionError(f'unhandled command {args.command}')  # argparse guarantees the choice


def _versions() -> str:
    parts = [f'python {platform.python_version()}', platform.platform()]
    for dist in ('stagegate', 'GitPython', 'PyYAML', 'memray', 'semgrep', 'numpy'):
        try:
            parts.append(f'{dist} {importlib.metadata.version(dist)}')
        except importlib.metadata.PackageNotFoundError:
            parts.append(f'{dist} missing')
    return ', '.join(parts)


def _crash(exc: BaseException) -> int:
    with tempfile.NamedTemporaryFile(
            'w', prefix='stagegate-crash-', suffix='.log', delete=False, encoding='utf-8',
    ) as log:
        log.write(f'versions: {_versions()}\nargv: {sys.argv}\n\n')
        log.write(''.join(traceback.format_exception(exc)))
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame of our own code says more than importlib's or a library's.
    ours = [f for f in frames if f'{Path(__file__).parent}' in f.filename] or frames
    at = f' at {ours[-1].filename}:{ours[-1].lineno}' if ours else ''
    print(
        f'gates: internal error (a bug in stagegate, not a gate verdict): '
        f'{type(exc).__name__}: {exc}{at}\n'
        f'gates: versions: {_versions()}\n'
        f'gates: full traceback in {log.name}',
        file=sys.stderr,
    )
    return EXIT_CRASH


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    # A cancelled CI job sends SIGTERM: turn it into the KeyboardInterrupt path so worktrees are
    # removed and probe process groups killed exactly as on Ctrl-C.
    raise KeyboardInterrupt


class _QuietPipe(io.TextIOBase):
    """stdout or stderr that a closed reader (``gates next | head -1``, ``gates check 2>&1 |
    head -1``) cannot turn into a crash: on the first EPIPE the stream is pointed at /dev/null,
    the command runs to its end and exits with the status a normal run has. A reader that stopped
    reading has said it wants nothing more."""

    def __init__(self, inner: io.TextIOBase) -> None:
        super().__init__()
        self._inner = inner
        self.closed_by_reader = False

    def _quiet(self) -> None:
        self.closed_by_reader = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._inner.fileno())
        finally:
            os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._inner.write(text)
        except BrokenPipeError:
            self._quiet()
            return len(text)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except BrokenPipeError:
            self._quiet()
            # What was buffered now goes to /dev/null, so the shutdown flush cannot fail again.
            self._inner.flush()

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def writable(self) -> bool:
        return True


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    # Both streams: a closed stderr (`gates check 2>&1 | head -1`) must not turn a verdict into an
    # exit 1 or an "internal error" with a crash log; progress and errors then go nowhere.
    real = {name: getattr(sys, name) for name in ('stdout', 'stderr')}
    pipes = {name: _QuietPipe(stream) for name, stream in real.items() if isinstance(stream, io.TextIOBase)}
    for name, pipe in pipes.items():
        setattr(sys, name, pipe)
    try:
        code = _dispatch(args)
        sys.stdout.flush()
        return code
    except GateError as e:
        if args.command in ('check', 'merge') and args.json:
            from gates.commands.check import json_error
            json_error(str(e), sys.stdout)
        print(f'gates: error: {e}', file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print('gates: interrupted; temporary trees removed', file=sys.stderr)
        return EXIT_INTERRUPT
    except Exception as e:
        return _crash(e)
    finally:
        signal.signal(signal.SIGTERM, previous)
        for name, pipe in pipes.items():
            pipe.flush()
            setattr(sys, name, real[name])


if __name__ == '__main__':
    raise SystemExit(main())
