"""What the gates are held to: the spec, and the record of what was accepted.

- ``spec``: load and validate the machine spec (schema 1, docs/gates.md);
- ``located``: YAML with line numbers, for one-line ``file:line: key: ...`` errors;
- ``discover``: which spec a command judges without ``--spec``;
- ``loosening``: which edits of the spec and the golden digests loosen a gate;
- ``noise``: the subject's measured memory noise (the golden file's ``memory_noise``);
- ``metrics``: the time budget's metric keys ('total', a stage id, 'unit:0+8'), defined once;
- ``ledger``: the ratchet (``specs/ledger.json``), one row per accepted stage or optimisation;
- ``focus``: what a change works on, in either mode (the stage under conversion, or the
  optimisation's target and the ledger row the next accept records).

Imports only ``gates.model``: everything else builds on the contract, it builds on nothing.
"""
