"""The bundled sha2-chain prover: a staged sumcheck/GKR prover over BabyBear.

Rooms in dependency order (nothing imports upward; docs/protocol.md is the contract):
- ``field`` (+ ``field_ref``): BabyBear F and E = F[X]/(X^4 - 11), numpy-vectorized; the only
  place modular arithmetic is written.
- ``mle``: multilinear tables and their evaluations (eq, next, identity) on the little-endian cube.
- ``transcript``: SHA-256 Fiat-Shamir with labelled absorbs.
- ``sumcheck``: the sumcheck and fraction-sum (logUp-GKR) protocols, verifier side and proof formats.
- ``pcs``: the Ligero polynomial commitment.
- ``relations``: trace columns and per-cycle constraints.
- ``tracer`` / ``witness``: the VM run and the committed columns.
- ``backends``: the provers (``backends.dense``: linear-space sumcheck and GKR provers).
- ``stages``: one module per proof section, stage 0..8.
- ``verifier``: replays the transcript and checks every section.
"""
