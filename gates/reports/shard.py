"""Sharded runs of a tier (issue 18): the plan, the partial result files, and their merge.

**The plan.** A tier's work is units ``(workload, gate)`` for the measuring gates (proof,
memory, time) plus the static gates (api, scope, integrity), which run once, in shard 1, on the
whole tier. Each unit is self-contained: the time gate judges ratios of interleaved pairs that
one runner measures, memray heap figures do not depend on the machine, and the memory gate's
growth fit over all sizes (the only figure that spans workloads) is made by the merge from the
shards' per-workload peaks. A unit costs ``2^log_t x GATE_WEIGHT[gate]`` (a workload without
``log_t`` counts as 2^16): the spec records no cost, prove time grows about linearly in T, and
the weights say that memory (ten fresh processes per tree) and time (at least six interleaved
pairs) cost about four proves. The static gates are a fixed ``STATIC_COST`` in shard 1. Units
are assigned greedily, longest first, each to the least loaded shard (ties: tier order, gate
order, lowest shard), so every runner derives the same plan from the spec and N.

**The result file** (``gates check --shard K/N --out FILE``): JSON holding the shard's ``check
--json`` document, its units, the digests of the trees it judged (head, change base, oracle;
gates/measuring/treedigest.py), the engine digest (sha256 over the installed ``gates`` package's
files), the oracle sha, the spec text, and ``digest``: sha256 over the canonical JSON of all the
rest. The digest detects a corrupted, truncated, edited-by-mistake or mixed-up file; it is NOT a
signature against a malicious author: there is no secret (a key would have to live in the
repository or the runner that also runs the code under judgement), so anyone who can write the
file can recompute it. Results are trusted as much as the runners that wrote them.

**The merge** (``gates merge FILE...``, ``gates accept --from FILE...``) refuses, one line each,
exit 2: an unreadable or tampered file, a missing or duplicate shard, shards of different
counts, heads, trees, oracles, engines, tiers, specs, or units other than the plan's. It gives
the verdicts, JSON and summary an unsharded run gives: per gate, the owning shards' findings and
details in tier order, and the memory gate's growth fit made again over every workload.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gates.contract.spec import Spec
from gates.contract.spec import Workload
from gates.contract.spec import parse_spec
from gates.model import GATE_NAMES
from gates.model import Finding
from gates.model import GateError
from gates.model import Verdict
from gates.reports.report import RunInfo

KIND = 'stagegate-shard-result'
FORMAT = 1
STATIC_GATES = ('api', 'scope', 'integrity')
MEASURING_GATES = ('proof', 'memory', 'time')
GATE_WEIGHT = {'proof': 1, 'memory': 4, 'time': 4}
DEFAULT_LOG_T = 16
STATIC_COST = 1 << DEFAULT_LOG_T
_SHARD = re.compile(r'^([0-9]+)/([0-9]+)$')

# judge_growth(spec, workloads, peaks, candidate_variant) -> (findings, notes, fitted): the memory
# gate's own fit (gates.checks.memory), passed in by the command (reports never import a gate).
GrowthFit = Callable[
    [Spec, Sequence[Workload], Mapping[str, Mapping[int, int]], Mapping[str, str]],
    tuple[list[Finding], list[str], dict[str, Any]],
]


@dataclasses.dataclass(frozen=True)
class Shard:
    index: int      # 1-based
    count: int

    def shown(self) -> str:
        return f'{self.index}/{self.count}'


def parse_shard(text: str) -> Shard:
    match = _SHARD.match(text.strip())
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise GateError(f'--shard {text}: expected K/N with 1 <= K <= N (e.g. --shard 2/5).')
    return Shard(int(match.group(1)), int(match.group(2)))


def unit_cost(workload: Workload, gate: str) -> int:
    log_t = workload.params.get('log_t')
    size = 1 << (log_t if isinstance(log_t, int) and not isinstance(log_t, bool) and 0 <= log_t < 63
                 else DEFAULT_LOG_T)
    return size * GATE_WEIGHT[gate]


def plan(workloads: Sequence[Workload], gates: Sequence[str], count: int) -> list[list[tuple[str, str]]]:
    """Per shard (index 0 = shard 1), its measuring units (workload id, gate), in tier order."""
    order = {w.id: i for i, w in enumerate(workloads)}
    units = [(w, g) for w in workloads for g in MEASURING_GATES if g in gates]
    units.sort(key=lambda u: (-unit_cost(u[0], u[1]), order[u[0].id], GATE_NAMES.index(u[1])))
    load = [0] * count
    if any(g in gates for g in STATIC_GATES):
        load[0] = STATIC_COST
    owned: list[list[tuple[str, str]]] = [[] for _ in range(count)]
    for w, g in units:
        k = min(range(count), key=lambda i: (load[i], i))
        load[k] += unit_cost(w, g)
        owned[k].append((w.id, g))
    for units_k in owned:
        units_k.sort(key=lambda u: (order[u[0]], GATE_NAMES.index(u[1])))
    return owned


def engine_digest() -> str:
    """sha256 over the running engine's package files (path and content; no bytecode)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob('*')):
        if not path.is_file() or '__pycache__' in path.parts or path.suffix in ('.pyc', '.pyo'):
            continue
        h.update(path.relative_to(root).as_posix().encode() + b'\0')
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b'\n')
    return h.hexdigest()


def _canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(',', ':'), default=str).encode('utf-8')


def content_digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in content.items() if k != 'digest'})).hexdigest()


def result(
        shard: Shard,
        purpose: str,
        document: Mapping[str, Any],
        units: Sequence[tuple[str, str]],
        static: bool,
        trees: Mapping[str, str],
        spec_text: str,
) -> dict[str, Any]:
    """The partial result of one shard, with its digest."""
    content: dict[str, Any] = {
        'kind': KIND,
        'format': FORMAT,
        'purpose': purpose,
        'shard': {'index': shard.index, 'count': shard.count},
        'units': [list(u) for u in units],
        'static': static,
        'head': document.get('head'),
        'tier': document.get('tier'),
        'oracle': (document.get('oracle') or {}).get('sha'),
        'trees': dict(trees),
        'engine': engine_digest(),
        'spec_text': spec_text,
        'document': dict(document),
    }
    content['digest'] = content_digest(content)
    return content


def write(path: Path, content: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1, sort_keys=True, default=str) + '\n', encoding='utf-8')


@dataclasses.dataclass(frozen=True)
class Loaded:
    path: Path
    content: Mapping[str, Any]

    @property
    def index(self) -> int:
        return int(self.content['shard']['index'])

    @property
    def count(self) -> int:
        return int(self.content['shard']['count'])


def read(path: Path) -> Loaded:
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
    except OSError as e:
        raise GateError(f'{path}: cannot be read ({e.strerror}); pass the result files the shards wrote.') from None
    except (ValueError, UnicodeDecodeError) as e:
        raise GateError(f'{path}: not a JSON shard result ({e}); pass the file `gates check --shard K/N --out FILE` wrote.') from None
    if not isinstance(content, dict) or content.get('kind') != KIND:
        raise GateError(f'{path}: kind: expected {KIND!r}; pass the file `gates check --shard K/N --out FILE` wrote.')
    if content.get('format') != FORMAT:
        raise GateError(f'{path}: format: {content.get("format")!r}, this engine reads {FORMAT}; '
                        f'run every shard with the same engine.')
    if content.get('digest') != content_digest(content):
        raise GateError(f'{path}: digest: {str(content.get("digest"))[:16]}... does not match its content '
                        f'(corrupted, edited or truncated); run that shard again.')
    shard = content.get('shard')
    doc = content.get('document')
    if (not isinstance(shard, dict) or not isinstance(shard.get('index'), int)
            or not isinstance(shard.get('count'), int) or not 1 <= shard['index'] <= shard['count']
            or not isinstance(doc, dict) or not isinstance(doc.get('verdicts'), list)):
        raise GateError(f'{path}: shard/document: malformed; run that shard again.')
    return Loaded(path, content)


# What every shard of one run must share, and how a mismatch is named.
_SAME: tuple[tuple[str, Callable[[Mapping[str, Any]], Any], str], ...] = (
    ('head', lambda c: c.get('head'), 'heads'),
    ('trees.head', lambda c: c['trees'].get('head'), 'head trees'),
    ('trees.base', lambda c: c['trees'].get('base'), 'change bases'),
    ('oracle', lambda c: c.get('oracle'), 'oracles'),
    ('trees.oracle', lambda c: c['trees'].get('oracle'), 'oracle trees'),
    ('engine', lambda c: c.get('engine'), 'engines'),
    ('tier', lambda c: c.get('tier'), 'tiers'),
    ('spec_text', lambda c: c.get('spec_text'), 'specs'),
    ('purpose', lambda c: c.get('purpose'), 'purposes'),
)


def validate(loaded: Sequence[Loaded]) -> Spec:
    """The spec of a complete, consistent set of shards (GateError, one line, otherwise)."""
    if not loaded:
        raise GateError('gates merge: no result files given; pass every shard\'s --out file.')
    first = loaded[0]
    for other in loaded[1:]:
        if other.count != first.count:
            raise GateError(f'{other.path}: shard {other.index}/{other.count}, but {first.path} is shard '
                            f'{first.index}/{first.count}: shards of different counts; run every shard with the same N.')
    for key, get, what in _SAME:
        for other in loaded[1:]:
            if get(other.content) != get(first.content):
                raise GateError(f'{other.path}: {key} differs from {first.path}: shards of different {what} '
                                f'cannot be merged; run every shard on the same commit with the same engine.')
    seen: dict[int, Path] = {}
    for one in loaded:
        if one.index in seen:
            raise GateError(f'{one.path}: shard {one.index}/{one.count} is a duplicate of {seen[one.index]}; '
                            f'pass each shard once.')
        seen[one.index] = one.path
    missing = [k for k in range(1, first.count + 1) if k not in seen]
    if missing:
        shown = ', '.join(f'{k}/{first.count}' for k in missing)
        raise GateError(f'shard {shown} missing: {len(loaded)} of {first.count} result files given; '
                        f'pass every shard\'s --out file (a shard that crashed must run again).')
    display = str(first.content['document'].get('spec') or 'spec')
    spec = parse_spec(str(first.content['spec_text']), f'{display} (in {first.path})')
    tier = str(first.content['tier'])
    gates = spec.tier_gate_names(tier)
    expected = plan(spec.tier_workloads(tier), gates, first.count)
    for one in loaded:
        units = [tuple(u) for u in one.content.get('units', [])]
        if units != expected[one.index - 1] or bool(one.content.get('static')) != (one.index == 1):
            raise GateError(f'{one.path}: units: shard {one.index}/{one.count} judged {units}, the plan '
                            f'gives {expected[one.index - 1]}; run the shards with this engine.')
    return spec


def verdict_of(raw: Mapping[str, Any]) -> Verdict:
    return Verdict(
        str(raw['gate']), bool(raw['passed']),
        tuple(Finding(**f) for f in raw.get('findings', ())),
        dict(raw.get('details') or {}), bool(raw.get('inconclusive', False)),
    )


def strip_growth(verdict: Verdict, workload_ids: Sequence[str]) -> Verdict:
    """A shard's memory verdict without a growth fit over its own subset of sizes: only the
    per-workload findings, notes and summary (the merge fits over every workload)."""
    ids = set(workload_ids)
    growth = verdict.details.get('growth') or {}
    fitted = {f'stage {k}' for k in (growth.get('stages') or {})} if isinstance(growth, Mapping) else set()

    def is_fit(line: str) -> bool:
        return ' grows as T^' in line and any(line.startswith(s + ' (') for s in fitted)

    findings = tuple(f for f in verdict.findings
                     if not (f.workload is not None and f.workload not in ids and ',' in f.workload))
    details = {k: v for k, v in verdict.details.items() if k != 'growth'}
    for key in ('notes', 'summary'):
        if isinstance(details.get(key), list):
            details[key] = [line for line in details[key] if not (isinstance(line, str) and is_fit(line))]
    passed = verdict.passed or (not findings and not verdict.inconclusive)
    return Verdict(verdict.gate, passed, findings, details, verdict.inconclusive)


def _dedup(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _tier_index(line: Any, wids: Sequence[str]) -> int:
    """Where a 'wid: ...' line goes in tier order (-1: lines about no workload come first)."""
    if isinstance(line, str):
        for i, wid in enumerate(wids):
            if line.startswith(wid + ':') or line.startswith(wid + ' '):
                return i
    return -1


def merge(
        loaded: Sequence[Loaded],
        spec: Spec,
        growth: GrowthFit,
) -> tuple[dict[str, Any], list[Verdict], dict[str, float]]:
    """(shard 1's document header, merged verdicts in gate order, seconds summed per gate)."""
    by_index = sorted(loaded, key=lambda one: one.index)
    tier = str(by_index[0].content['tier'])
    workloads = spec.tier_workloads(tier)
    wids = [w.id for w in workloads]
    owner: dict[tuple[str, str], int] = {}
    per_shard: dict[int, dict[str, Verdict]] = {}
    seconds: dict[str, float] = {}
    for one in by_index:
        for wid, gate in one.content['units']:
            owner[(wid, gate)] = one.index
        per_shard[one.index] = {}
        for raw in one.content['document']['verdicts']:
            v = verdict_of(raw)
            per_shard[one.index][v.gate] = v
            seconds[v.gate] = seconds.get(v.gate, 0.0) + float(raw.get('seconds', 0.0))
    out: list[Verdict] = []
    for gate in spec.tier_gate_names(tier):
        if gate in STATIC_GATES:
            found = per_shard[1].get(gate)
            if found is None:
                raise GateError(f'{by_index[0].path}: shard 1 holds no {gate} verdict; run it again.')
            out.append(found)
            continue
        out.append(_merge_measuring(gate, workloads, wids, owner, per_shard, spec, growth, by_index))
    return dict(by_index[0].content['document']), out, seconds


def _merge_measuring(
        gate: str,
        workloads: Sequence[Workload],
        wids: Sequence[str],
        owner: Mapping[tuple[str, str], int],
        per_shard: Mapping[int, Mapping[str, Verdict]],
        spec: Spec,
        growth: GrowthFit,
        loaded: Sequence[Loaded],
) -> Verdict:
    parts: list[Verdict] = []
    for k in _dedup([owner[(w, gate)] for w in wids]):
        v = per_shard[k].get(gate)
        if v is None:
            path = next(one.path for one in loaded if one.index == k)
            raise GateError(f'{path}: shard {k} owns {gate} work but holds no {gate} verdict; run it again.')
        parts.append(strip_growth(v, wids) if gate == 'memory' else v)
    findings: list[Finding] = []
    details_w: dict[str, Any] = {}
    for wid in wids:
        v = per_shard[owner[(wid, gate)]][gate]
        part = strip_growth(v, wids) if gate == 'memory' else v
        findings += [f for f in part.findings if f.workload == wid]
        if wid in (part.details.get('workloads') or {}):
            details_w[wid] = part.details['workloads'][wid]
    findings = _dedup([f for p in parts for f in p.findings if f.workload not in wids]) + findings
    details: dict[str, Any] = {}
    for p in parts:
        for key, value in p.details.items():
            if key == 'workloads':
                continue
            if isinstance(value, list):
                details[key] = _dedup(list(details.get(key, [])) + value)
            elif key not in details:
                details[key] = value
    for key in ('notes', 'summary'):
        if isinstance(details.get(key), list):
            details[key] = sorted(details[key], key=lambda line: _tier_index(line, wids))
    details['workloads'] = details_w
    if gate == 'memory':
        peaks = {wid: {int(k): int(x) for k, x in d['candidate']['stage_peaks'].items()}
                 for wid, d in details_w.items() if isinstance(d, Mapping) and 'candidate' in d}
        variant: Mapping[str, str] = next((d['candidate']['variant'] for d in details_w.values()
                        if isinstance(d, Mapping) and 'candidate' in d), {})
        grown, notes, fitted = growth(spec, workloads, peaks, variant)
        findings += grown
        details['notes'] = list(details.get('notes', [])) + notes
        details['summary'] = list(details.get('summary', [])) + notes
        if fitted:
            details['growth'] = fitted
    if gate == 'time':
        inconclusive = bool(findings) and all(p.passed or p.inconclusive for p in parts)
        details['inconclusive'] = inconclusive
        jsons = _dedup([p.details.get('json') for p in parts if p.details.get('json')])
        details['json'] = jsons[0] if len(jsons) == 1 else jsons
        return Verdict(gate, not findings, tuple(findings), details, inconclusive=inconclusive)
    return Verdict.from_findings(gate, findings, details)


def info_of(doc: Mapping[str, Any]) -> RunInfo:
    """The RunInfo a shard's document was written from (every shard of a run shares it)."""
    stage = doc.get('stage_under_conversion')
    oracle = doc.get('oracle') or {}
    change = doc.get('change') or {}
    return RunInfo(
        spec=str(doc.get('spec')), tier=str(doc.get('tier')), base=str(doc.get('base')),
        head=str(doc.get('head')), head_tree=str(doc.get('head_tree')), dirty=bool(doc.get('dirty')),
        stage_under_conversion=None if not isinstance(stage, dict) else (int(stage['id']), str(stage['name'])),
        accepted_stages=tuple(int(s) for s in doc.get('accepted_stages') or ()),
        workloads=tuple(str(w) for w in doc.get('workloads') or ()),
        oracle_ref=str(oracle.get('ref', '')), oracle=str(oracle.get('sha', '')),
        oracle_source=str(oracle.get('source', 'ref')), change_how=str(change.get('how', '')),
        mode=str(doc.get('mode', 'conversion')), target=str(doc.get('target') or ''),
    )


@dataclasses.dataclass(frozen=True)
class Merged:
    loaded: tuple[Loaded, ...]
    spec: Spec
    info: RunInfo
    verdicts: list[Verdict]
    seconds: dict[str, float]

    def content(self, key: str) -> Any:
        return self.loaded[0].content.get(key)


def combine(paths: Sequence[Path], growth: GrowthFit) -> Merged:
    """Read, check and merge the result files (GateError, one line, on any refusal)."""
    loaded = tuple(read(p) for p in paths)
    spec = validate(loaded)
    doc, verdicts, seconds = merge(loaded, spec, growth)
    return Merged(tuple(sorted(loaded, key=lambda one: one.index)), spec, info_of(doc), verdicts, seconds)
