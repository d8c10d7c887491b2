"""``prover``: prove, verify, inspect and trace sha2-chain (and fib) runs.

    prover prove --workload sha2-chain --log-t 16 --out proof.bin [--quiet] [--report]
                 [--backend materialized|streaming] [--variant 0=streaming,3=materialized,...]
    prover verify proof.bin            # 0 accept, 1 reject (stage and check), 2 unusable input
    prover inspect proof.bin           # statement, sections and sizes
    prover trace --workload fib --log-t 10

Exit codes: 0 success, 1 the proof was rejected, 2 unusable input (missing/truncated/garbled
file, unknown workload, log T out of range, an ``--out`` that cannot be written, refused before
any work starts; one line on stderr, no traceback; a proof file that is not a regular file, or
is larger than ``MAX_PROOF_BYTES``, is refused without reading it whole), 3 an internal error
(one line with versions), 130 interrupted. ``--backend``/``--variant`` choose each stage's
backend (the proof bytes are the same whatever the choice); ``--report`` prints each stage's
time and peak RSS, read from the kernel's counters (no tracing), after the proof is written. Paths are printed with what the output's encoding
cannot show escaped (``\\udcff``, ``\\xe9``), never as a crash. A closed stdout (``prover inspect p.bin | head -1``) ends the output
quietly with the exit status of a normal run. Only this module knows argparse; each command is
a plain function taking values and returning an exit code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import stat
import sys
import time
from collections.abc import Mapping, Sequence
from typing import NoReturn

import numpy as np

EXIT_OK, EXIT_REJECT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPT = 0, 1, 2, 3, 130
# The largest proof file read: the prover writes ~1.9 MB at log T 20 and grows like sqrt(T) (log T
# 21 is its maximum), so 64 MiB is far above any proof it writes and far below what hurts to read.
MAX_PROOF_BYTES = 64 << 20


class UsageError(Exception):
    """Unusable input; the message is one sentence for the user (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        raise UsageError(message)


def _silence(stream: object) -> None:
    """Point a closed stream's descriptor at /dev/null, so the rest of the run (and the
    interpreter's flush at exit) writes nowhere instead of raising BrokenPipeError again."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _printable(text: str, stream: object) -> str:
    """``text`` as ``stream`` can encode it: a file name in another encoding (or with
    surrogate-escaped bytes) is shown escaped rather than crashing the command."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding, "replace")
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


def _say(text: str) -> None:
    """One line on stdout; a reader that went away (``| head -1``) is not an error."""
    try:
        print(_printable(text, sys.stdout), flush=True)
    except BrokenPipeError:
        _silence(sys.stdout)


def _err(msg: str) -> None:
    try:
        print(_printable(f"prover: {msg}", sys.stderr), file=sys.stderr, flush=True)
    except BrokenPipeError:
        _silence(sys.stderr)


def _progress(msg: str) -> None:
    # Progress is informative only: a closed stderr must not stop the proof being written.
    try:
        print(_printable(f"[prover] {msg}", sys.stderr), file=sys.stderr, flush=True)
    except BrokenPipeError:
        _silence(sys.stderr)


def _check_writable(path: str) -> None:
    """Refuse an output path that cannot take the proof, before minutes of proving."""
    if os.path.isdir(path):
        raise UsageError(f"--out {path} is a directory; name a file, e.g. {os.path.join(path, 'proof.bin')}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--out {path}: folder {parent} does not exist; create it or choose another path")
    existed = os.path.exists(path)
    try:
        # Append mode neither truncates an existing file nor writes to it.
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UsageError(f"--out {path} cannot be written ({exc.strerror or exc}); choose another path") from None
    if not existed:
        os.unlink(path)


def _read(path: str) -> bytes:
    """The proof file's bytes: a regular file of at most ``MAX_PROOF_BYTES``, read no further.

    Opened without blocking (a FIFO with no writer would hang a plain open) and judged on the open
    descriptor, so a device (``/dev/zero``), a FIFO or a directory is refused before any read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not a regular file; give the proof file `prover prove` wrote")
        if info.st_size > MAX_PROOF_BYTES:
            raise UsageError(f"{path} has {info.st_size} bytes, more than any proof "
                             f"({MAX_PROOF_BYTES} at most); give the proof file `prover prove` wrote")
        try:
            data = f.read(MAX_PROOF_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PROOF_BYTES:   # it grew while being read
        raise UsageError(f"{path} is larger than any proof ({MAX_PROOF_BYTES} bytes at most)")
    return data


def _workload(name: str, log_t: int):  # type: ignore[no-untyped-def]
    from prover.relations.layout import MAX_LOG_T
    from prover.workloads import WORKLOADS, WorkloadError, build

    if name not in WORKLOADS:
        raise UsageError(f"unknown workload {name!r}; choose one of {', '.join(sorted(WORKLOADS))}")
    spec = WORKLOADS[name]
    hi = min(spec.max_log_t, MAX_LOG_T)
    if not spec.min_log_t <= log_t <= hi:
        raise UsageError(f"{name}: --log-t {log_t} is outside the supported range {spec.min_log_t}..{hi}")
    try:
        return build(name, log_t)
    except WorkloadError as exc:
        raise UsageError(str(exc)) from None


STAGE_NAMES = ("commit", "constraints", "helpers", "lookups", "registers", "RAM", "bytecode",
               "claim reduction", "openings")
# prover.stages.common.BACKENDS, spelled here so that `prover --help` does not import the field
# and numba (0.07 s against 0.43 s of imports); a test holds the two equal.
BACKEND_CHOICES = ("materialized", "streaming")


def _capabilities() -> dict[str, list[str]]:
    from prover.probe import capabilities

    return capabilities()


def _variant(backend: str, variant_text: str | None, caps: Mapping[str, list[str]]) -> dict[str, str]:
    """Each stage's backend: ``backend`` for every stage that offers it (the others stay
    materialized), then the explicit ``--variant STAGE=BACKEND,...`` entries on top; a bad entry
    is one sentence naming the key, the value and what is allowed."""
    chosen = {k: (backend if backend in offered else "materialized") for k, offered in caps.items()}
    if variant_text is None:
        return chosen
    seen: set[str] = set()
    stages = f"{min(caps, key=int)}..{max(caps, key=int)}"
    for entry in variant_text.split(","):
        key, eq, value = (part.strip() for part in entry.partition("="))
        if not eq or not key or not value:
            raise UsageError(f"--variant entry {entry!r} is not STAGE=BACKEND; write e.g. "
                             f"--variant 0=streaming,3=materialized (stages {stages})")
        if key not in caps:
            raise UsageError(f"--variant {key}={value}: {key!r} is not a stage; stages are {stages}")
        if key in seen:
            raise UsageError(f"--variant {key}={value}: stage {key} is named twice; name each stage once")
        seen.add(key)
        if value not in BACKEND_CHOICES:
            raise UsageError(f"--variant {key}={value}: {value!r} is not a backend; "
                             f"stage {key} offers {', '.join(caps[key])}")
        if value not in caps[key]:
            raise UsageError(f"--variant {key}={value}: stage {key} ({STAGE_NAMES[int(key)]}) does not offer "
                             f"{value}; it offers {', '.join(caps[key])}")
        chosen[key] = value
    return chosen


def _describe_variant(chosen: Mapping[str, str]) -> str:
    streaming = [k for k, b in chosen.items() if b == "streaming"]
    materialized = [k for k, b in chosen.items() if b != "streaming"]
    if not streaming:
        return "backends: every stage materialized (the baseline)"
    if not materialized:
        return "backends: every stage streaming"
    return (f"backends: stages {', '.join(streaming)} streaming; "
            f"{', '.join(materialized)} materialized")


_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_kib(field: str) -> int | None:
    """``VmHWM`` / ``VmRSS`` of this process in KiB (Linux), None where there is no procfs."""
    try:
        with open(_STATUS, "rb") as f:
            for line in f:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    """Reset this process's RSS high-water mark (Linux >= 4.0: "5" to clear_refs)."""
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


class StageMeter:
    """An ``Observer`` recording each stage's wall time and peak RSS without tracing: the
    kernel's RSS high-water mark is reset at stage entry and read at exit, so the figure is the
    largest resident set the process had during the stage (interpreter, numpy, numba included).
    Where the mark cannot be reset, each figure is the process's peak so far (``per_stage``
    False). Reading ``/proc/self/status`` costs tens of microseconds per stage."""

    def __init__(self) -> None:
        self.per_stage = _reset_hwm()
        self.start = time.perf_counter()
        self.setup_time = 0.0
        self.setup_peak = 0
        self.entry_rss: dict[int, int] = {}
        self.peak: dict[int, int] = {}
        self.time: dict[int, float] = {}
        self.whole_time = 0.0
        self.whole_peak = 0
        self._t = 0.0
        self._between = 0   # the peak of the gaps between stages (trace, setup, encoding)

    def enter(self, stage: int) -> None:
        now = time.perf_counter()
        peak = _peak_kib()
        if stage == 0:
            self.setup_time, self.setup_peak = now - self.start, peak
        self._between = max(self._between, peak)
        self.entry_rss[stage] = _status_kib("VmRSS") or 0
        if self.per_stage:
            _reset_hwm()
        self._t = time.perf_counter()

    def exit(self, stage: int) -> None:
        self.time[stage] = time.perf_counter() - self._t
        self.peak[stage] = _peak_kib()
        if self.per_stage:
            _reset_hwm()

    def finish(self) -> None:
        self.whole_time = time.perf_counter() - self.start
        self._between = max(self._between, _peak_kib())
        self.whole_peak = max([self._between, *self.peak.values()])


def _report(meter: StageMeter, chosen: Mapping[str, str], proof: bytes, label: str, out: str) -> None:
    from prover.proof import decode_proof

    sections = decode_proof(proof).sections

    def mib(kib: int) -> str:
        return f"{kib / 1024:.1f}"

    _say(f"report: {label}")
    if meter.per_stage:
        _say("peak RSS during the stage: the kernel's RSS high-water mark (VmHWM), reset at stage entry")
        _say("  (/proc/self/clear_refs) and read at its exit. It includes the interpreter, numpy and numba,")
        _say("  and what earlier stages freed but malloc keeps for reuse during a proof (prover.runtime);")
        _say("  'growth' (peak minus RSS at entry) is what the stage itself added. No tracing overhead.")
    else:
        _say("peak RSS SO FAR, not per stage: the RSS high-water mark could not be reset here")
        _say("  (/proc/self/clear_refs not writable), so each figure is the process's peak up to that")
        _say("  stage's end. It includes the interpreter, numpy and numba.")
    head = (f"{'stage':<19} {'backend':<12} {'time (s)':>9} {'peak RSS (MiB)':>15} "
            f"{'RSS at entry':>13} {'growth':>8} {'section (B)':>12}")
    _say(head)
    _say("-" * len(head))
    _say(f"{'setup + trace':<19} {'':<12} {meter.setup_time:>9.3f} {mib(meter.setup_peak):>15}")
    for k in sorted(meter.time):
        entry = meter.entry_rss.get(k, 0)
        growth = max(0, meter.peak[k] - entry) if meter.per_stage else None
        _say(f"{k} {STAGE_NAMES[k]:<17} {chosen[str(k)]:<12} {meter.time[k]:>9.3f} {mib(meter.peak[k]):>15} "
             f"{mib(entry):>13} {('+' + mib(growth)) if growth is not None else '':>8} {len(sections[k]):>12}")
    _say("-" * len(head))
    stages_time = sum(meter.time.values())
    _say(f"{'stages 0-8':<19} {'':<12} {stages_time:>9.3f} {'':>15} {'':>13} {'':>8} "
         f"{sum(len(s) for s in sections):>12}")
    _say(f"{'whole run':<19} {'':<12} {meter.whole_time:>9.3f} {mib(meter.whole_peak):>15} "
         f"{'':>13} {'':>8} {len(proof):>12}")
    _say(f"proof: {len(proof)} bytes ({len(proof) / 1024:.1f} KiB), written to {out}")


def cmd_prove(workload: str, log_t: int, out: str, quiet: bool, backend: str = "materialized",
              variant: str | None = None, report: bool = False) -> int:
    from prover.pipeline import prove

    chosen = _variant(backend, variant, _capabilities())
    _check_writable(out)
    w = _workload(workload, log_t)
    start = time.perf_counter()

    def progress(msg: str) -> None:  # the pipeline's lines, with the seconds since the start
        _progress(f"{time.perf_counter() - start:7.2f}s {msg}")

    if not quiet:
        progress(_describe_variant(chosen))
    meter = StageMeter() if report else None
    proof = prove(w, variant=chosen, observer=meter, progress=None if quiet else progress)
    if meter is not None:
        meter.finish()
    try:
        with open(out, "wb") as f:
            f.write(proof)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if not quiet:
        progress(f"wrote {out}: {len(proof)} bytes")
    if meter is not None:
        label = (f"{w.name} log T {w.log_t} (T = {w.T}, n = {w.n}), --backend {backend}"
                 + (f" --variant {variant}" if variant else ""))
        _report(meter, chosen, proof, label, out)
    return EXIT_OK


def cmd_verify(path: str) -> int:
    from prover.pipeline import statement_of
    from prover.proof import ProofFormatError, decode_proof
    from prover.relations.layout import Statement, StatementError
    from prover.verifier import VerificationError, verify

    data = _read(path)
    try:
        st = Statement.decode(decode_proof(data).statement)
    except (ProofFormatError, StatementError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    except RecursionError:
        # json.loads recurses per nesting level; no canonical statement nests at all
        raise UsageError(f"{path}: the statement is nested too deeply to be a statement") from None
    # The statement must be the one the named workload defines, not whatever the file says.
    expected = statement_of(_workload(st.workload, st.log_t)).encode()
    try:
        verify(data, expected)
    except ProofFormatError as exc:
        raise UsageError(f"{path}: malformed proof: {exc}") from None
    except VerificationError as exc:
        _say(f"REJECT {path}: stage {exc.stage}, check {exc.check!r}: {exc.detail}")
        return EXIT_REJECT
    _say(f"ACCEPT {path}: {st.workload} log_t={st.log_t} output={st.output.hex()}")
    return EXIT_OK


def cmd_inspect(path: str) -> int:
    from prover.proof import ProofFormatError, decode_proof

    data = _read(path)
    try:
        pf = decode_proof(data)
    except ProofFormatError as exc:
        raise UsageError(f"{path}: {exc}") from None
    names = STAGE_NAMES
    _say(f"proof {path}: {len(data)} bytes, version 1")
    _say(f"statement: {pf.statement.decode('ascii', 'replace')}")
    for k, payload in enumerate(pf.sections):
        _say(f"  section {k} {names[k]:<16} offset {pf.offsets[k]:>9}  {len(payload):>9} bytes")
    return EXIT_OK


def cmd_trace(workload: str, log_t: int) -> int:
    from prover.pipeline import chunk_log_for
    from prover.tracer import Tracer
    from prover.workloads import describe

    w = _workload(workload, log_t)
    tracer = Tracer(w.program, w.ram_init, w.T, chunk_log_for(log_t))
    h = hashlib.sha256()
    for chunk in tracer.run():
        for name in sorted(chunk):
            h.update(name.encode())
            h.update(np.ascontiguousarray(chunk[name], dtype="<i8").tobytes())
    fs = tracer.final_state()
    info = describe(w)
    info["vm_halt_cycles"] = fs.halt_cycles
    info["trace_sha256"] = h.hexdigest()
    _say(json.dumps(info, indent=2))
    return EXIT_OK


def _workloads_help() -> str:
    from prover.relations.layout import MAX_LOG_T
    from prover.workloads import WORKLOADS

    lines = ["workloads (--workload NAME, --log-t N: the trace has T = 2^N rows):"]
    for name, spec in sorted(WORKLOADS.items()):
        lines.append(f"  {name:<11} {spec.summary}; log T {spec.min_log_t}..{min(spec.max_log_t, MAX_LOG_T)}")
    return "\n".join(lines)


def _workload_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workload", required=True, metavar="NAME",
                   help="the program to run: sha2-chain (SHA-256 chain) or fib (Fibonacci); see below")
    p.add_argument("--log-t", type=int, required=True, dest="log_t", metavar="N",
                   help="trace length T = 2^N rows; the workload is sized to fill it (range below)")


def _parser() -> _Parser:
    epilog = _workloads_help()
    fmt = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog="prover", description="The bundled sumcheck prover: prove, verify, inspect and "
                "trace runs of the sha2-chain and fib workloads.", epilog=epilog, formatter_class=fmt)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser, metavar="COMMAND",
                         title="commands", help="`prover COMMAND --help` for its options")
    pr = sub.add_parser("prove", help="prove a workload run and write the proof file",
                        description="Prove one run of a workload and write the proof bytes to --out.",
                        epilog=epilog + "\n\nexample: prover prove --workload fib --log-t 10 --out fib.bin",
                        formatter_class=fmt)
    _workload_args(pr)
    pr.add_argument("--out", required=True, metavar="FILE",
                    help="where to write the proof (a file; refused before proving if it cannot be written)")
    pr.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    pr.add_argument("--backend", choices=BACKEND_CHOICES, default="materialized",
                    help="materialized (default, the baseline): every stage materialized; streaming: "
                    "every stage that offers streaming streams, the others stay materialized (one "
                    "stderr line names them). The proof bytes are the same either way")
    pr.add_argument("--variant", metavar="K=B,...",
                    help="explicit per-stage backends on top of --backend, e.g. "
                    "0=streaming,3=materialized (stages 0..8; B is materialized or streaming, "
                    "where the stage offers it)")
    pr.add_argument("--report", action="store_true",
                    help="after proving, print per stage (and for the whole run) the time in seconds, "
                    "the peak RSS during the stage and the section size, then the proof size (stdout)")
    v = sub.add_parser("verify", help="verify a proof file",
                       description="Verify a proof against the statement its workload defines: exit 0 "
                       "ACCEPT, 1 REJECT (stage and check named), 2 unusable file.")
    v.add_argument("proof", metavar="FILE", help="a proof written by `prover prove`")
    i = sub.add_parser("inspect", help="show a proof's statement and sections",
                       description="Print a proof's size, statement and its nine sections (offset, length).")
    i.add_argument("proof", metavar="FILE", help="a proof written by `prover prove`")
    t = sub.add_parser("trace", help="run the VM and describe the trace",
                       description="Run the workload's program on the VM and print the trace's "
                       "description as JSON (cycles, halt, trace digest).",
                       epilog=epilog, formatter_class=fmt)
    _workload_args(t)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.cmd == "prove":
            return cmd_prove(args.workload, args.log_t, args.out, args.quiet, args.backend,
                             args.variant, args.report)
        if args.cmd == "verify":
            return cmd_verify(args.proof)
        if args.cmd == "inspect":
            return cmd_inspect(args.proof)
        return cmd_trace(args.workload, args.log_t)
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:
        # A reader that went away mid-output: end quietly, as the command would have.
        _silence(sys.stdout)
        return EXIT_OK
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPT
    except Exception as exc:  # noqa: BLE001 - the one place a crash becomes an exit code
        _err(
            f"internal error: {type(exc).__name__}: {exc} "
            f"(python {platform.python_version()}, numpy {np.__version__})"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
