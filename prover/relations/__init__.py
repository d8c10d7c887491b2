"""The statement the prover proves and the verifier checks: shared, side-neutral definitions.

Nothing here is prover strategy; every module is data plus the formulas both sides evaluate.
- ``layout``: the public ``Statement`` (canonical JSON), RAM size, the program's
  ``BytecodeTable``, ``FinalState``;
- ``columns``: the 64 committed trace columns (``COLUMNS`` order = the stage-0 batch) and the
  vectorized builder rows -> columns (with the ``tamper`` test hook);
- ``constraints``: the stage-1 per-cycle constraints (evaluated on column arrays by the prover and
  on claimed values by the verifier) and the stage-2 cross-cycle relation;
- ``lookup_table``, ``fingerprints``: the instruction table and the logUp leaves of stages 3-6;
- ``claims``: the stage-7 batching of evaluation claims;
- ``commitments``: what stage 0 commits and stage 8 opens (multiplicity order and sizes).

Sits above ``field``/``mle`` (and ``vm`` for the ISA and programs), below ``backends``, ``stages``
and ``verifier``. Protected: changing anything here changes the protocol (docs/protocol.md).
"""
