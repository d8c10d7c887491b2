"""How ``gates check`` reports: a readable table, a JSON document, GitHub annotations.

JSON document (``gates check --json``, schema 1; also described in docs/gates-json.md)::

    {
      "schema": 1,
      "exit_code": 0 | 1 | 2,            # 2: unusable input, then only "error" is meaningful
      "passed": true | false,
      "error": null | "<one sentence>",
      "spec": "specs/streaming-prover.yaml",
      "tier": "ci",
      "base": "<sha the change starts from>",       # = change.base (kept for old readers)
      "head": "<HEAD sha>",
      "oracle": {"ref": "stagegate-baseline", "sha": "<sha>", "source": "ref" | "golden"},
      "change": {"base": "<sha>", "how": "merge-base with main"},
      "head_tree": "worktree" | "staged",
      "dirty": false,
      "stage_under_conversion": {"id": 0, "name": "commit"} | null,   # null in optimisation mode
      "mode": "conversion" | "optimisation",
      "target": null | "stage 2 (openings)" | "the whole run",    # optimisation mode only
      "accepted_stages": [0, ...],
      "workloads": ["sha2-16", ...],
      "verdicts": [
        {"gate": "api" | "scope" | "integrity" | "proof" | "memory" | "time",
         "passed": true | false,
         "findings": [{"gate": str, "message": str, "file": str | null, "line": int | null,
                       "workload": str | null, "stage": int | null, "figure": float | null}],
         "details": {...gate-specific figures...},
         "seconds": float}
      ],
      "machine": {"platform": str, "cpu_count": int, "python": str},
      "tools": {"python": str, "numpy": str | null, "memray": str | null, "semgrep": str | null}
    }

Under GitHub Actions (``GITHUB_ACTIONS=true``) every finding also becomes a workflow command
(``::error file=F,line=L,title=gates/GATE::message``; on stderr with ``--json`` so that stdout
is the document alone) and a markdown summary is appended to ``$GITHUB_STEP_SUMMARY``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import TextIO

from gates.contract.ledger import machine_info
from gates.contract.ledger import tool_versions
from gates.model import Finding
from gates.model import Verdict

SCHEMA = 1


def human_bytes(n: float) -> str:
    """A byte count as people read it: '512 B', '1.5 MiB' (every report and command message)."""
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024
    return f'{n:.1f} GiB'


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What the report says about the run besides the verdicts."""

    spec: str
    tier: str
    base: str
    head: str
    head_tree: str                    # 'worktree' | 'staged'
    dirty: bool
    stage_under_conversion: tuple[int, str] | None
    accepted_stages: tuple[int, ...]
    workloads: tuple[str, ...]
    oracle_ref: str = ''              # the spec's baseline.ref
    oracle: str = ''                  # the oracle commit (sha)
    oracle_source: str = 'ref'        # 'ref', or 'golden' when the tag was missing
    change_how: str = ''              # where the change's base came from (one phrase)
    mode: str = 'conversion'          # the spec's mode
    target: str = ''                  # optimisation mode: 'stage 2 (openings)' or 'the whole run'


def focus_phrase(info: RunInfo) -> str:
    """The header's one phrase for what the change works on."""
    if info.mode == 'optimisation':
        return f'optimisation of {info.target}'
    if info.stage_under_conversion is None:
        return 'all stages accepted'
    return f'stage {info.stage_under_conversion[0]} ({info.stage_under_conversion[1]})'


def revisions(info: RunInfo) -> str:
    """The header's two revisions: what the proofs are judged against, and where the change starts."""
    via = ' via the golden digests' if info.oracle_source == 'golden' else ''
    oracle = f'oracle {info.oracle_ref} {info.oracle[:12]}{via}' if info.oracle else 'oracle ?'
    how = f' ({info.change_how})' if info.change_how else ''
    return f'{oracle}; change from {info.base[:12]}{how}'


EXIT_INCONCLUSIVE = 4


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """0 every gate passed, 1 a gate failed, 4 none failed but a verdict is inconclusive."""
    if all(v.passed for v in verdicts):
        return 0
    return EXIT_INCONCLUSIVE if all(v.passed or v.inconclusive for v in verdicts) else 1


def table(info: RunInfo, verdicts: Sequence[Verdict], seconds: Mapping[str, float]) -> str:
    stage = focus_phrase(info)
    lines = [
        f'gates check: {stage}, tier {info.tier} [{", ".join(info.workloads)}], '
        f'head {info.head[:12]} ({info.head_tree}{", dirty" if info.dirty else ""})',
        f'  {revisions(info)}',
        '',
    ]
    width = max((len(v.gate) for v in verdicts), default=4)
    for v in verdicts:
        mark = 'Passed' if v.passed else 'Inconclusive' if v.inconclusive else 'Failed'
        took = seconds.get(v.gate)
        took_s = f'  ({took:.1f}s)' if took is not None else ''
        lines.append(f'{v.gate:.<{width + 3}}{mark}{took_s}')
        for f in v.findings:
            lines.append(f'    - {f.render()}')
        # Figures a gate states in every report, pass or fail (details['summary']: lines).
        lines.extend(f'    * {line}' for line in v.details.get('summary', ()))
    lines.append('')
    failed = [v.gate for v in verdicts if not v.passed]
    lines.append(f'FAILED: {", ".join(failed)}' if failed else 'All gates passed.')
    return '\n'.join(lines) + '\n'


def document(
        info: RunInfo,
        verdicts: Sequence[Verdict],
        seconds: Mapping[str, float],
) -> dict[str, Any]:
    code = exit_code(verdicts)
    return {
        'schema': SCHEMA,
        'exit_code': code,
        'passed': code == 0,
        'error': None,
        'spec': info.spec,
        'tier': info.tier,
        'base': info.base,
        'head': info.head,
        'oracle': {'ref': info.oracle_ref, 'sha': info.oracle, 'source': info.oracle_source},
        'change': {'base': info.base, 'how': info.change_how},
        'head_tree': info.head_tree,
        'dirty': info.dirty,
        'stage_under_conversion': (
            None if info.stage_under_conversion is None or info.mode == 'optimisation'
            else {'id': info.stage_under_conversion[0], 'name': info.stage_under_conversion[1]}
        ),
        'mode': info.mode,
        'target': info.target if info.mode == 'optimisation' else None,
        'accepted_stages': list(info.accepted_stages),
        'workloads': list(info.workloads),
        'verdicts': [
            {**v.to_dict(), 'seconds': round(seconds.get(v.gate, 0.0), 3)} for v in verdicts
        ],
        'machine': machine_info(),
        'tools': tool_versions(),
    }


def error_document(message: str) -> dict[str, Any]:
    return {'schema': SCHEMA, 'exit_code': 2, 'passed': False, 'error': message, 'verdicts': []}


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + '\n'


def _escape_data(text: str) -> str:
    # GitHub workflow commands: %, CR and LF must be escaped in the message...
    return text.replace('%', '%25').replace('\r', '%0D').replace('\n', '%0A')


def _escape_property(text: str) -> str:
    # ...and additionally ':' and ',' in properties.
    return _escape_data(text).replace(':', '%3A').replace(',', '%2C')


def annotation(finding: Finding) -> str:
    props = []
    if finding.file is not None:
        props.append(f'file={_escape_property(finding.file)}')
        if finding.line is not None:
            props.append(f'line={finding.line}')
    props.append(f'title={_escape_property("gates/" + finding.gate)}')
    message = finding.render() if finding.file is None else finding.message
    extra = []
    if finding.stage is not None:
        extra.append(f'stage {finding.stage}')
    if finding.workload is not None:
        extra.append(f'workload {finding.workload}')
    if finding.file is not None and extra:
        message += f' [{", ".join(extra)}]'
    return f'::error {",".join(props)}::{_escape_data(message)}'


def summary_markdown(info: RunInfo, verdicts: Sequence[Verdict], seconds: Mapping[str, float]) -> str:
    stage = focus_phrase(info)
    out = [
        f'## gates check: {"passed" if exit_code(verdicts) == 0 else "FAILED"}',
        '',
        f'{stage}; tier `{info.tier}` ({", ".join(info.workloads)}); head `{info.head[:12]}`; '
        f'{revisions(info)}',
        '',
        '| gate | result | findings | seconds |',
        '|---|---|---|---|',
    ]
    for v in verdicts:
        found = '<br>'.join(f.render().replace('|', '\\|') for f in v.findings) or ''
        out.append(
            f'| {v.gate} | {"✅ passed" if v.passed else "❌ failed"} | {found} | '
            f'{seconds.get(v.gate, 0.0):.1f} |',
        )
    return '\n'.join(out) + '\n'


def emit_github(
        info: RunInfo,
        verdicts: Sequence[Verdict],
        seconds: Mapping[str, float],
        out: TextIO,
        environ: Mapping[str, str],
) -> None:
    """Annotations on ``out`` and the job summary, when running under GitHub Actions."""
    if environ.get('GITHUB_ACTIONS') != 'true':
        return
    for v in verdicts:
        for f in v.findings:
            out.write(annotation(f) + '\n')
    summary = environ.get('GITHUB_STEP_SUMMARY')
    if summary:
        with open(summary, 'a', encoding='utf-8') as fh:
            fh.write(summary_markdown(info, verdicts, seconds))
