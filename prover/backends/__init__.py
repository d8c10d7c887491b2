"""Provers: how a stage's sumchecks and fraction sums are computed.

- ``dense``: linear-space provers over materialized tables (the baseline backend).
- ``streaming`` (later): sqrt(T)-space provers producing byte-identical messages.

Backends import ``field``, ``mle``, ``sumcheck`` and ``transcript`` only; stages pick one.
"""
