"""Streaming (O(sqrt T) space) provers: each stage's messages byte-identical to the dense backend's.

- ``commit``: the trace commitment of stage 0 built in one pass over replayed chunks, and the
  prover data stage 8 opens without a materialized matrix.

Imports ``prover.field`` and ``prover.pcs`` only; reads the trace through the witness's
chunked view (``prover.witness.WitnessSource.chunk``), never its materialized one.
"""

from __future__ import annotations

from prover.backends.streaming.commit import ChunkSource, StreamingProverData, commit_columns

__all__ = ["ChunkSource", "StreamingProverData", "commit_columns"]
