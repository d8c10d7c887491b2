"""The proof gate on the toy subject: real git worktrees, real subprocesses."""
from __future__ import annotations

import json

import pytest
from conftest import TinyRepo
from conftest import convert_stage
from gate_helpers import toy_context

from gates.checks import proof
from gates.model import GateError


def test_identical_proofs_pass(tiny_subject: TinyRepo) -> None:
    with toy_context(tiny_subject.path, tier='full') as ctx:
        verdict = proof.run(ctx)
    assert verdict.passed, [f.render() for f in verdict.findings]
    for wid in ('toy-12', 'toy-13'):
        got = verdict.details['workloads'][wid]
        assert got['sha256'] == tiny_subject.golden['workloads'][wid]['sha256']
        assert got['verify']['ok'] is True


def test_a_converted_stage_with_identical_bytes_passes(tiny_subject: TinyRepo) -> None:
    convert_stage(tiny_subject.path, 0)
    with toy_context(tiny_subject.path) as ctx:
        verdict = proof.run(ctx)
    assert verdict.passed, [f.render() for f in verdict.findings]
    assert verdict.details['workloads']['toy-12']['variant']['0'] == 'streaming'


def test_a_tampered_converted_stage_fails_naming_offset_and_stage(tiny_subject: TinyRepo) -> None:
    convert_stage(tiny_subject.path, 0, tamper=True)   # flips the first byte of section 0
    with toy_context(tiny_subject.path) as ctx:
        verdict = proof.run(ctx)
    assert not verdict.passed
    located = [f for f in verdict.findings if 'byte offset' in f.message]
    assert len(located) == 1
    assert located[0].workload == 'toy-12' and located[0].stage == 0
    assert 'byte offset 10 ' in located[0].message and located[0].figure == 10.0


def test_a_one_byte_change_in_a_later_stage_names_that_stage(tiny_subject: TinyRepo) -> None:
    # Stage 2 stays materialized, but its code now flips byte 5 of its 64-byte section.
    stage2 = tiny_subject.path / 'toyprover/stages/stage2.py'
    stage2.write_text(stage2.read_text().replace(
        "        return materialized.compute(2, params)",
        "        out = materialized.compute(2, params)\n"
        "        return out[:5] + bytes([out[5] ^ 0x80]) + out[6:]",
    ))
    with toy_context(tiny_subject.path, tier='full') as ctx:
        verdict = proof.run(ctx)
    assert not verdict.passed
    located = {f.workload: f for f in verdict.findings if 'byte offset' in f.message}
    assert sorted(located) == ['toy-12', 'toy-13']
    for finding in located.values():
        # Sections: header 5 bytes, then (stage, u32 length, 64-byte body) x 3 -> stage 2 at 148.
        assert finding.stage == 2
        assert 'byte offset 153 in stage 2 (openings), byte 5 of its section' in finding.message
    rejected = [f for f in verdict.findings if 'verifier rejects' in f.message]
    assert {f.workload for f in rejected} == {'toy-12', 'toy-13'}


def test_a_missing_golden_digest_fails_and_says_where_it_comes_from(tiny_subject: TinyRepo) -> None:
    golden = tiny_subject.path / 'specs/golden.json'
    doc = json.loads(golden.read_text())
    del doc['workloads']['toy-12']
    golden.write_text(json.dumps(doc))
    with toy_context(tiny_subject.path) as ctx:
        verdict = proof.run(ctx)
    assert not verdict.passed
    (finding,) = verdict.findings
    assert finding.workload == 'toy-12' and finding.file == 'specs/golden.json'
    assert 'no golden digest for workload toy-12' in finding.message
    assert 'stagegate-baseline' in finding.message


def test_a_corrupt_golden_file_is_unusable_input(tiny_subject: TinyRepo) -> None:
    (tiny_subject.path / 'specs/golden.json').write_text('{"schema": 1, "workloads": {"toy-12": {}}}')
    with toy_context(tiny_subject.path) as ctx, pytest.raises(GateError, match='workloads.toy-12'):
        proof.run(ctx)


def test_first_difference_and_section_lookup() -> None:
    a = bytes(10_000)
    assert proof.first_difference(a, a) is None
    assert proof.first_difference(a, a[:9_000]) == 9_000
    b = bytearray(a)
    b[8_193] = 1
    assert proof.first_difference(a, bytes(b)) == 8_193
    assert proof.section_at([(0, 5, 10), (1, 15, 10)], 15) == (1, 0)
    assert proof.section_at([(0, 5, 10)], 2) is None
