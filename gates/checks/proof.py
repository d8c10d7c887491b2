"""The proof gate: the candidate's proofs are byte-identical to the baseline's golden digests,
and the verifier accepts them.

For every workload of the tier the head tree proves with the candidate variant (the accepted
stages and the stage under conversion on the candidate backend, where the subject offers it).
Its sha256 and size must equal ``spec.golden``'s entry. On a mismatch the baseline ref's proof
is rebuilt (a tree of the baseline ref, baseline variant) and the first differing byte is
located in the baseline's section layout, so the finding names the stage that broke identity.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.measuring import measure
from gates.context import CheckContext
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.measuring.probe import ProbeFailed
from gates.measuring.probe import ProofRun
from gates.contract.spec import Workload

GATE = 'proof'


@dataclasses.dataclass(frozen=True)
class Digest:
    sha256: str
    size: int


def load_golden(path: Path, display: str) -> dict[str, Digest]:
    """``{"schema": 1, "baseline_commit": ..., "workloads": {id: {"sha256", "size"}}}``."""
    try:
        doc = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise GateError(f'{display}: golden digests not found; restore the file from git.') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GateError(f'{display}: cannot read the golden digests ({e}); restore the file from git.') from None
    workloads = doc.get('workloads') if isinstance(doc, dict) and doc.get('schema') == 1 else None
    if not isinstance(workloads, dict):
        raise GateError(f'{display}: expected {{"schema": 1, "workloads": {{...}}}}; restore the file from git.')
    out = {}
    for wid, entry in workloads.items():
        sha = entry.get('sha256') if isinstance(entry, dict) else None
        size = entry.get('size') if isinstance(entry, dict) else None
        if not isinstance(sha, str) or len(sha) != 64 or not isinstance(size, int) or isinstance(size, bool):
            raise GateError(f'{display}: workloads.{wid}: expected {{"sha256": <64 hex>, "size": <int>}}.')
        out[str(wid)] = Digest(sha.lower(), size)
    return out


def first_difference(a: bytes, b: bytes) -> int | None:
    """The first offset where ``a`` and ``b`` differ (a length difference counts); None if equal."""
    if a == b:
        return None
    limit = min(len(a), len(b))
    # Compare in blocks first: proofs can be megabytes, a byte loop in Python is slow.
    block = 4096
    start = 0
    while start < limit and a[start:start + block] == b[start:start + block]:
        start += block
    for i in range(start, min(start + block, limit)):
        if a[i] != b[i]:
            return i
    return limit


def section_at(sections: Sequence[tuple[int, int, int]], offset: int) -> tuple[int, int] | None:
    """(stage, offset within its section) of the byte at ``offset``; None outside every section."""
    for stage, start, length in sections:
        if start <= offset < start + length:
            return stage, offset - start
    return None


def _where(ctx: CheckContext, sections: Sequence[tuple[int, int, int]] | None, offset: int) -> tuple[int | None, str]:
    if sections is None:
        return None, 'the subject declares no section layout'
    hit = section_at(sections, offset)
    if hit is None:
        return None, 'outside every stage section (header or trailing bytes)'
    stage, inner = hit
    name = next((s.name for s in ctx.spec.stages if s.id == stage), '?')
    return stage, f'in stage {stage} ({name}), byte {inner} of its section'


def _locate(ctx: CheckContext, workload: Workload, candidate: ProofRun, golden: Digest) -> list[Finding]:
    """Rebuild the baseline proof and name the first differing byte and its stage."""
    findings = []
    with measure.baseline_tree(ctx) as base:
        try:
            baseline = measure.proof(ctx, base, workload, ctx.baseline_variant())
        except ProbeFailed as e:
            return [Finding(GATE, f'cannot rebuild the baseline proof to locate the difference: {e.message}',
                            workload=workload.id)]
    if (baseline.sha256, baseline.size) != (golden.sha256, golden.size):
        findings.append(Finding(
            GATE, f'the baseline ref ({ctx.spec.baseline_ref}) itself proves sha256 '
                  f'{baseline.sha256[:12]} ({baseline.size} B), not the golden {golden.sha256[:12]} '
                  f'({golden.size} B): the golden file is stale or the baseline is not deterministic',
            workload=workload.id,
        ))
    offset = first_difference(baseline.proof, candidate.proof)
    if offset is None:
        return findings
    stage, where = _where(ctx, baseline.sections, offset)
    findings.append(Finding(
        GATE, f'proof differs from the baseline at byte offset {offset} {where}; candidate '
              f'{candidate.size} B sha256 {candidate.sha256[:12]}, golden {golden.size} B sha256 '
              f'{golden.sha256[:12]}',
        workload=workload.id, stage=stage, figure=float(offset),
    ))
    return findings


def check_workload(
        ctx: CheckContext, workload: Workload, golden: Mapping[str, Digest], golden_display: str,
) -> tuple[list[Finding], dict[str, Any]]:
    expected = golden.get(workload.id)
    try:
        variant, candidate = measure.candidate_proof(ctx, workload)
    except ProbeFailed as e:
        return [Finding(GATE, f'the candidate prove failed: {e.message}', workload=workload.id)], {
            'error': e.message, 'log': e.log,
        }
    details: dict[str, Any] = {
        'variant': variant, 'sha256': candidate.sha256, 'size': candidate.size,
        'verify': {'ok': candidate.verify_ok, 'message': candidate.verify_message},
    }
    findings = []
    if candidate.verify_ok is False:
        findings.append(Finding(
            GATE, f'the verifier rejects the candidate proof: {candidate.verify_message}',
            workload=workload.id,
        ))
    if expected is None:
        findings.append(Finding(
            GATE, f'no golden digest for workload {workload.id} in {golden_display}: the golden '
                  f'digests are the sha256 and size of the baseline ref ({ctx.spec.baseline_ref}) '
                  f'proof with every stage {ctx.spec.baseline_variant}, recorded by the lead (gate '
                  f'asset); this gate never writes them',
            file=golden_display, workload=workload.id,
        ))
        return findings, details
    details['golden'] = {'sha256': expected.sha256, 'size': expected.size}
    if (candidate.sha256, candidate.size) != (expected.sha256, expected.size):
        findings += _locate(ctx, workload, candidate, expected)
    return findings, details


def run(ctx: CheckContext, golden_path: Path | None = None) -> Verdict:
    """Judge every workload of the tier; the golden file defaults to ``spec.golden`` in the
    checkout the spec was read from (``ctx.repo_root``)."""
    display = ctx.spec.golden
    golden = load_golden(golden_path or ctx.repo_root / ctx.spec.golden, display)
    findings: list[Finding] = []
    details: dict[str, Any] = {}
    for workload in ctx.workloads:
        found, details[workload.id] = check_workload(ctx, workload, golden, display)
        findings += found
    return Verdict.from_findings(GATE, findings, {'workloads': details})
