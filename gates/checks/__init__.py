"""The six gates, one module per gate; each has ``run(ctx: CheckContext) -> Verdict``.

- ``api``: protected code is untouched (AST diff, protected symbols, the verifier's reach) and the
  semgrep rules hold;
- ``scope``: the change touches only the allowed paths (the stage under conversion's, or the
  optimisation target's) and the shared paths;
- ``integrity``: no change loosens the gates (assets, the ledger's provenance, the spec's
  ratchet, trusted rows, the self-test corpus);
- ``proof``: the candidate's proofs are byte-identical to the golden digests and verify;
- ``memory``: in-stage and whole-run peaks against the reference;
- ``time``: the candidate/baseline time ratio, from interleaved fresh-process pairs.

``gates check`` finds a gate by name here (``gates.checks.<name>``). A gate may import every
package but ``commands`` (and the CLI); no gate imports another gate.
"""
