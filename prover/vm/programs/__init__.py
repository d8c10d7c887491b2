"""Programs for the VM, each a module with a cached ``program()`` and its RAM conventions.

- ``sha2_chain``: SHA-256 applied N times to a 32-byte message (the benchmark workload);
- ``fib``: fib(n) mod 2^32, small and fast for tests.

Each module names its ``INPUT``/``OUTPUT`` regions and gives ``ram_input(...)`` and an
``expected_output(...)`` computed without the VM. Sits in ``prover.vm`` above the assembler.
"""
