"""A ``TraceSource`` that counts replays: how the streaming stages' tests count their passes."""

from __future__ import annotations

import numpy as np

from prover.tracer import Tracer


class CountingTracer:
    """A ``TraceSource`` around a real tracer that counts the chunks each replay regenerates."""

    def __init__(self, inner: Tracer) -> None:
        self.inner = inner
        self.T, self.chunk_log, self.num_chunks = inner.T, inner.chunk_log, inner.num_chunks
        self.replayed = np.zeros(inner.num_chunks, dtype=np.int64)
        self.order: list[int] = []

    def run(self):  # type: ignore[no-untyped-def]
        return self.inner.run()

    def replay(self, i: int):  # type: ignore[no-untyped-def]
        self.replayed[i] += 1
        self.order.append(i)
        return self.inner.replay(i)

    def replay_span(self, first: int, count: int):  # type: ignore[no-untyped-def]
        self.replayed[first : first + count] += 1
        self.order.extend(range(first, first + count))
        return self.inner.replay_span(first, count)

    def final_state(self):  # type: ignore[no-untyped-def]
        return self.inner.final_state()
