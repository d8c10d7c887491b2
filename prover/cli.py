"""``prover``: prove, verify, inspect and trace sha2-chain (and fib) runs.

    prover prove --workload sha2-chain --log-t 16 --out proof.bin [--quiet]
    prover verify proof.bin            # 0 accept, 1 reject (stage and check), 2 unusable input
    prover inspect proof.bin           # statement, sections and sizes
    prover trace --workload fib --log-t 10

Exit codes: 0 success, 1 the proof was rejected, 2 unusable input (missing/truncated/garbled
file, unknown workload, log T out of range, an ``--out`` that cannot be written, refused before
any work starts; one line on stderr, no traceback; a proof file that is not a regular file, or
is larger than ``MAX_PROOF_BYTES``, is refused without reading it whole), 3 an internal error
(one line with versions), 130 interrupted. Paths are printed with what the output's encoding
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
from typing import NoReturn, Sequence

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


def cmd_prove(workload: str, log_t: int, out: str, quiet: bool) -> int:
    from prover.pipeline import prove

    _check_writable(out)
    w = _workload(workload, log_t)
    proof = prove(w, progress=None if quiet else _progress)
    try:
        with open(out, "wb") as f:
            f.write(proof)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if not quiet:
        _progress(f"wrote {out}: {len(proof)} bytes")
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
    names = ["commit", "constraints", "cross-cycle", "lookups", "registers", "RAM", "bytecode",
             "claim reduction", "openings"]
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
            return cmd_prove(args.workload, args.log_t, args.out, args.quiet)
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
