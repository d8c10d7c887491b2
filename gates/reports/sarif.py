"""SARIF 2.1.0 for GitHub code scanning: the api gate's findings, one result per finding.

Written by the engine rather than by ``semgrep --sarif-output`` so that the findings semgrep
cannot see (deleted or renamed protected files, AST edits of protected functions) are uploaded
too, with the same rule ids the report shows.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.model import Finding

SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json'


def document(
        findings: Sequence[tuple[str, Finding]],
        rules: Mapping[str, str],
        tool_version: str,
) -> dict[str, Any]:
    """``findings`` are (rule id, finding); ``rules`` maps every rule id to its description."""
    results = []
    for rule_id, f in findings:
        result: dict[str, Any] = {
            'ruleId': rule_id,
            'level': 'error',
            'message': {'text': f.message},
        }
        if f.file is not None:
            region = {'startLine': f.line} if f.line is not None else None
            physical: dict[str, Any] = {'artifactLocation': {'uri': f.file}}
            if region is not None:
                physical['region'] = region
            result['locations'] = [{'physicalLocation': physical}]
        results.append(result)
    return {
        '$schema': SCHEMA,
        'version': '2.1.0',
        'runs': [{
            'tool': {'driver': {
                'name': 'stagegate-api',
                'version': tool_version,
                'rules': [
                    {'id': rid, 'shortDescription': {'text': text[:1000] or rid}}
                    for rid, text in sorted(rules.items())
                ],
            }},
            'results': results,
        }],
    }


def write(path: Path, doc: Mapping[str, Any]) -> None:
    """Atomically; the folder gets a ``.gitignore`` of ``*`` so the file never shows up as a change."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / '.gitignore'
    if not ignore.exists():
        ignore.write_text('*\n', encoding='utf-8')
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + '\n', encoding='utf-8')
    os.replace(tmp, path)
