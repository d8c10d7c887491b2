"""Streaming (O(sqrt T) space) provers: each stage's messages byte-identical to the dense backend's.

- ``commit``: the trace commitment of stage 0 built in one pass over replayed chunks, and the
  prover data stage 8 opens without a materialized matrix.
- ``zerocheck``: stage 1's zero-check in three passes (a window of the first j rounds on the
  {0, 1, inf}^j grid, the hand-off of T / 2^j-entry tables to the dense prover, the values at
  the final point).

Imports ``prover.field``, ``prover.pcs`` (and, for the zero-check, ``prover.mle``, the relations'
constraint data and the dense prover that finishes it); reads the trace through the witness's
chunked view (``prover.witness.WitnessSource.chunk``), never its materialized one.
"""

from __future__ import annotations

from prover.backends.streaming.commit import (
    ChunkSource,
    StreamingProverData,
    commit_columns,
)
from prover.backends.streaming.zerocheck import StreamingQuadraticZeroCheck, window_for

__all__ = ["ChunkSource", "StreamingProverData", "StreamingQuadraticZeroCheck", "commit_columns", "window_for"]
