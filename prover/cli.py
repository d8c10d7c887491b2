"""``prover``: prove, verify, inspect and trace sha2-chain (and fib) runs.

    prover prove --workload sha2-chain --log-t 16 --out proof.bin [--quiet]
    prover verify proof.bin            # 0 accept, 1 reject (stage and check), 2 unusable input
    prover inspect proof.bin           # statement, sections and sizes
    prover trace --workload fib --log-t 10

Exit codes: 0 success, 1 the proof was rejected, 2 unusable input (missing/truncated/garbled
file, unknown workload, log T out of range; one line on stderr, no traceback), 3 an internal
error (one line with versions), 130 interrupted. Only this module knows argparse; each command
is a plain function taking values and returning an exit code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from typing import NoReturn, Sequence

import numpy as np

EXIT_OK, EXIT_REJECT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPT = 0, 1, 2, 3, 130


class UsageError(Exception):
    """Unusable input; the message is one sentence for the user (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        raise UsageError(message)


def _err(msg: str) -> None:
    print(f"prover: {msg}", file=sys.stderr, flush=True)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


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
    from prover.pipeline import prove, stderr_progress

    w = _workload(workload, log_t)
    proof = prove(w, progress=None if quiet else stderr_progress)
    try:
        with open(out, "wb") as f:
            f.write(proof)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if not quiet:
        print(f"[prover] wrote {out}: {len(proof)} bytes", file=sys.stderr)
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
    # The statement must be the one the named workload defines, not whatever the file says.
    expected = statement_of(_workload(st.workload, st.log_t)).encode()
    try:
        verify(data, expected)
    except ProofFormatError as exc:
        raise UsageError(f"{path}: malformed proof: {exc}") from None
    except VerificationError as exc:
        print(f"REJECT {path}: stage {exc.stage}, check {exc.check!r}: {exc.detail}")
        return EXIT_REJECT
    print(f"ACCEPT {path}: {st.workload} log_t={st.log_t} output={st.output.hex()}")
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
    print(f"proof {path}: {len(data)} bytes, version 1")
    print(f"statement: {pf.statement.decode('ascii', 'replace')}")
    for k, payload in enumerate(pf.sections):
        print(f"  section {k} {names[k]:<16} offset {pf.offsets[k]:>9}  {len(payload):>9} bytes")
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
    print(json.dumps(info, indent=2))
    return EXIT_OK


def _parser() -> _Parser:
    p = _Parser(prog="prover", description="The bundled sha2-chain prover.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    pr = sub.add_parser("prove", help="prove a workload run")
    pr.add_argument("--workload", required=True)
    pr.add_argument("--log-t", type=int, required=True, dest="log_t")
    pr.add_argument("--out", required=True)
    pr.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    v = sub.add_parser("verify", help="verify a proof file")
    v.add_argument("proof")
    i = sub.add_parser("inspect", help="show a proof's statement and sections")
    i.add_argument("proof")
    t = sub.add_parser("trace", help="run the VM and describe the trace")
    t.add_argument("--workload", required=True)
    t.add_argument("--log-t", type=int, required=True, dest="log_t")
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
