"""stagegate's gate engine: judges each step of a materialized -> streaming conversion.

The engine knows nothing of the subject (the prover) beyond what its machine spec says
(``specs/streaming-prover.yaml``, see docs/gates.md). ``gates check`` runs, in order:

- ``api``        protected APIs untouched (semgrep rules in ``rules/``);
- ``scope``      the change stays inside the stage's paths (plus shared paths);
- ``integrity``  no change can loosen the gates (gate assets are not edited with subject code);
- ``proof``      proofs byte-identical to the golden digests;
- ``memory``     the converted stage's in-stage peak heap strictly lower, no other stage higher;
- ``time``       prove time < 2x the baseline, measured side by side.

Layout (each package's ``__init__`` says what it holds):

- ``checks/``     the six gates above, one module per gate;
- ``measuring/``  running the subject isolated and measuring it (probe, its child, stats, the
                 re-measure that makes a ledger row trusted);
- ``vcs/``        git: the oracle, the change's base, private tree exports, the loop's branches;
- ``analysis/``   static analysis for the api gate (AST diff, protected symbols, reach, semgrep);
- ``contract/``   the spec (and what loosens it) and the ledger; imports only ``model``;
- ``reports/``    tables, JSON, SARIF, the HTML page, benchmark JSON, loop transcripts;
- ``commands/``   one module per ``gates`` command; ``selftest/`` the self-test corpus;
- ``model`` (Finding, Verdict, GateError, thresholds), ``context`` (what a gate receives),
  ``session`` (what the commands share: one run of the gates, from the checkout to the report)
  and ``cli`` (the only module that knows argparse) stay at the top.
"""
