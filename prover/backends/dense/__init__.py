"""Dense (linear-space) backend: every table is materialized as a numpy array.

- ``sumcheck``: ``EqSumcheckProver`` (generic eq-weighted), ``ProductSumcheckProver``,
  ``SplitEq`` (Gruen's split eq, shared by the fast provers).
- ``gkr``: ``prove_fraction_sum`` for ``prover.sumcheck.gkr``.
- ``quadratic`` (``QuadraticZeroCheck`` over ``relations.constraints``) and ``reduction``
  (``SumOfProductsProver``): stage-side provers kept by the stage engineers.
"""
