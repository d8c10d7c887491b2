"""stagegate's gate engine: judges each step of a materialized -> streaming conversion.

The engine knows nothing of the subject (the prover) beyond what its machine spec says
(``specs/streaming-prover.yaml``, see docs/gates.md). ``gates check`` runs, in order:

- ``api``        protected APIs untouched (semgrep rules in ``rules/``);
- ``scope``      the change stays inside the stage's paths (plus shared paths);
- ``integrity``  no change can loosen the gates (gate assets are not edited with subject code);
- ``proof``      proofs byte-identical to the golden digests;
- ``memory``     the converted stage's in-stage peak heap strictly lower, no other stage higher;
- ``time``       prove time < 2x the baseline, measured side by side.

Modules: ``model`` (Finding, Verdict, GateError, thresholds), ``spec`` (load + validate the YAML),
``context`` (what a gate receives), ``repo`` (git), ``ledger`` (the ratchet), ``probe`` (runs the
subject in a subprocess), one module per gate, ``report`` (tables, JSON, annotations, plots) and
``cli`` (the only module that knows argparse).
"""
