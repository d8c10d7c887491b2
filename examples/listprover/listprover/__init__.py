"""A small pure-Python prover whose trace is a Python list (docs/gates.md, "Memory on a small
prover"): the subject stagegate's memory rules are measured on (benchmarks/memory_catch_rate.py)."""
