"""What stage 0 commits and stage 8 opens: the trace batch and the multiplicity polynomials.

- the trace batch: the 64 ``columns.COLUMNS``, T entries each, one Ligero batch (m = 64);
- ``MULT_ORDER``: m_instr (lookup table, 2^19), m_rangeB (register timestamp limbs, 2^11),
  m_rangeM (RAM timestamp limbs, 2^11), m_bc (program rows, 2^log_n); each its own commitment
  (m = 1), committed, absorbed and opened in this order.

Public names: ``MULT_ORDER``, ``mult_log_sizes``. Sits in ``relations``.
"""

from __future__ import annotations

from prover.relations import fingerprints, lookup_table
from prover.relations.layout import BytecodeTable

MULT_ORDER: tuple[str, ...] = ("m_instr", "m_rangeB", "m_rangeM", "m_bc")


def mult_log_sizes(bytecode: BytecodeTable) -> dict[str, int]:
    """Variable count of each multiplicity polynomial (public: fixed by the program)."""
    return {
        "m_instr": lookup_table.LOG_SIZE,
        "m_rangeB": fingerprints.RANGE_BITS,
        "m_rangeM": fingerprints.RANGE_BITS,
        "m_bc": bytecode.log_n,
    }
