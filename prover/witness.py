"""The witness source: the one door between the stages and the trace.

It turns trace rows into named field columns with a *builder* supplied by the caller (the
relations package owns it; this module never names a column) and offers two views:

- materialized: ``materialize_rows()`` runs the tracer once and keeps all T rows (the baseline
  pipeline does this before stage 0); ``materialized(names)`` builds the requested columns,
  length T, from those cached rows;
- chunked: ``chunk(i, names)`` / ``chunks(names, order)`` regenerate chunk i with
  ``tracer.replay(i)`` (never from the cache) and build its columns, in order or any order;
  ``span(first, count, names)`` does the same for count consecutive chunks in one block.

Public names: ``WitnessSource``, ``TraceSource`` (what a tracer must offer), ``ColumnBuilder``
(what a builder must look like), ``WitnessError``. Sits above ``tracer``; any object following
``TraceSource`` can be plugged in.
"""

from __future__ import annotations

import inspect
from typing import Callable, Collection, Iterable, Iterator, Mapping, Protocol

import numpy as np

__all__ = ["WitnessSource", "TraceSource", "ColumnBuilder", "WitnessError"]


class WitnessError(Exception):
    """The builder or the tracer broke the witness contract (missing column, wrong shape, ...)."""


class TraceSource(Protocol):
    """A trace of T rows in ``num_chunks`` chunks of 2^chunk_log rows, replayable per chunk."""

    T: int
    chunk_log: int
    num_chunks: int

    def run(self) -> Iterable[Mapping[str, np.ndarray]]: ...

    def replay(self, i: int) -> Mapping[str, np.ndarray]: ...


class ColumnBuilder(Protocol):
    """rows of one chunk (or all T rows) starting at ``start_cycle`` -> named uint64 columns.

    ``names`` (optional keyword) asks for a subset; None means every column. A builder without
    a ``names`` parameter still works: the source computes everything and keeps what was asked.
    """

    def __call__(self, rows: Mapping[str, np.ndarray], start_cycle: int,
                 names: Collection[str] | None = None) -> Mapping[str, np.ndarray]: ...


Columns = dict[str, np.ndarray]


def _accepts_names(builder: Callable[..., object]) -> bool:
    try:
        params = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return False
    return any(p.name == "names" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class WitnessSource:
    """Rows from ``tracer`` -> columns by ``builder``, as a materialized or a chunked view."""

    def __init__(self, tracer: TraceSource, builder: Callable[..., Mapping[str, np.ndarray]]) -> None:
        self.tracer = tracer
        self.builder = builder
        self.T = int(tracer.T)
        self.chunk_log = int(tracer.chunk_log)
        self.chunk_size = 1 << self.chunk_log
        self.num_chunks = int(tracer.num_chunks)
        if self.num_chunks * self.chunk_size != self.T:
            raise WitnessError(f"tracer shape: {self.num_chunks} chunks of {self.chunk_size} rows != T = {self.T}")
        self._builder_filters = _accepts_names(builder)
        self._rows: dict[str, np.ndarray] | None = None

    # -- materialized view ------------------------------------------------------------------
    def materialize_rows(self) -> dict[str, np.ndarray]:
        """Run the tracer once (first call only) and keep all T rows; returns them."""
        if self._rows is None:
            rows: dict[str, np.ndarray] = {}
            count = 0
            for i, chunk in enumerate(self.tracer.run()):
                self._check_rows(chunk, i)
                if i >= self.num_chunks:
                    raise WitnessError(f"tracer.run() yielded more than {self.num_chunks} chunks")
                if not rows:  # preallocate once: no second copy of the trace while concatenating
                    rows = {name: np.empty(self.T, dtype=col.dtype) for name, col in chunk.items()}
                if set(chunk) != set(rows):
                    raise WitnessError(f"tracer chunk {i}: fields {sorted(chunk)} differ from {sorted(rows)}")
                sl = slice(i * self.chunk_size, (i + 1) * self.chunk_size)
                for name, col in chunk.items():
                    rows[name][sl] = col
                count += 1
            if count != self.num_chunks:
                raise WitnessError(f"tracer.run() yielded {count} chunks, expected {self.num_chunks}")
            self._rows = rows
        return self._rows

    @property
    def rows(self) -> dict[str, np.ndarray]:
        """The cached trace rows (materialized on first use)."""
        return self.materialize_rows()

    @property
    def rows_materialized(self) -> bool:
        return self._rows is not None

    def drop_rows(self) -> None:
        """Forget the cached rows (the chunked view never needed them)."""
        self._rows = None

    def materialized(self, names: Collection[str] | None = None) -> Columns:
        """The requested columns (None: all), uint64 arrays of length T, from the cached rows.

        Columns are not cached: each call builds them afresh, so a stage holds only what it asked for.
        """
        return self._build(self.materialize_rows(), 0, names, self.T)

    # -- chunked view -----------------------------------------------------------------------
    def chunk(self, i: int, names: Collection[str] | None = None) -> Columns:
        """Columns of chunk i (rows i*C .. (i+1)*C - 1), regenerated by ``tracer.replay(i)``."""
        if not 0 <= i < self.num_chunks:
            raise IndexError(f"chunk {i} outside [0, {self.num_chunks})")
        rows = self.tracer.replay(i)
        self._check_rows(rows, i)
        return self._build(rows, i * self.chunk_size, names, self.chunk_size)

    def span(self, first: int, count: int, names: Collection[str] | None = None) -> Columns:
        """Columns of chunks first .. first + count - 1 as one block of count * C rows, built by
        one builder call over rows regenerated from checkpoint ``first`` (never from the cache).

        The tracer's ``replay_span`` is used when it has one; otherwise the chunks are replayed
        one by one and their rows joined. Same columns as ``chunk`` of each, concatenated."""
        if count < 1 or not 0 <= first or first + count > self.num_chunks:
            raise IndexError(f"chunks {first} .. {first + count - 1} outside [0, {self.num_chunks})")
        length = count * self.chunk_size
        many = getattr(self.tracer, "replay_span", None)
        if many is not None:
            rows = many(first, count)
        else:
            parts = [self.tracer.replay(first + j) for j in range(count)]
            for j, part in enumerate(parts):
                self._check_rows(part, first + j)
            rows = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
        for name, col in rows.items():
            if col.shape != (length,):
                raise WitnessError(f"tracer span {first}+{count}: row field {name!r} has shape {col.shape}, "
                                   f"expected ({length},)")
        return self._build(rows, first * self.chunk_size, names, length)

    def chunks(self, names: Collection[str] | None = None,
               order: Iterable[int] | None = None) -> Iterator[tuple[int, Columns]]:
        """(i, columns of chunk i) for i in ``order`` (default 0 .. num_chunks-1)."""
        for i in (range(self.num_chunks) if order is None else order):
            yield i, self.chunk(int(i), names)

    # -- internals --------------------------------------------------------------------------
    def _check_rows(self, rows: Mapping[str, np.ndarray], i: int) -> None:
        for name, col in rows.items():
            if col.shape != (self.chunk_size,):
                raise WitnessError(f"tracer chunk {i}: row field {name!r} has shape {col.shape}, "
                                   f"expected ({self.chunk_size},)")

    def _build(self, rows: Mapping[str, np.ndarray], start: int, names: Collection[str] | None,
               length: int) -> Columns:
        wanted = None if names is None else list(dict.fromkeys(names))
        if self._builder_filters:
            built = self.builder(rows, start, names=wanted)
        else:
            built = self.builder(rows, start)
        keys = list(built) if wanted is None else wanted
        out: Columns = {}
        for name in keys:
            if name not in built:
                raise WitnessError(f"the builder did not produce column {name!r} (rows from cycle {start})")
            col = built[name]
            if not isinstance(col, np.ndarray) or col.dtype != np.uint64 or col.shape != (length,):
                shape = getattr(col, "shape", None)
                dtype = getattr(col, "dtype", type(col).__name__)
                raise WitnessError(f"column {name!r}: expected uint64 of shape ({length},), got {dtype} {shape}")
            out[name] = col
        return out
