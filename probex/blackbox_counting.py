"""Counting the rows a black box sends to its model.

:class:`QueryCounting` gives :class:`~probex.blackbox.BlackBox` its ``n_queries`` total
(all threads, updated under a lock) and per-thread :class:`QueryCounter` blocks, and
keeps the lock and the thread-local state out of pickles.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

__all__ = ["QueryCounter", "QueryCounting"]


class QueryCounter:
    """Rows sent to a black box inside one :meth:`BlackBox.counting` block (``n``)."""

    __slots__ = ("n",)

    def __init__(self):
        self.n = 0


class QueryCounting:
    """The query counts of a black box: ``n_queries`` and :meth:`counting` blocks.

    ``_start_counting`` sets the count to 0 and makes the lock and the thread-local
    counter stacks; pickles leave both out and a restored object makes them anew.
    """

    def _start_counting(self) -> None:
        self.n_queries = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def counting(self):
        """Count the rows this thread sends to the model inside the block.

        ``with bb.counting() as counter: ...`` then ``counter.n`` is the number of rows
        queried by this thread in the block (nested blocks each count their own), while
        ``n_queries`` keeps the total over all threads.
        """
        counter = QueryCounter()
        stack = self._counters()
        stack.append(counter)
        try:
            yield counter
        finally:
            stack.remove(counter)

    def _counters(self) -> list:
        if not hasattr(self._local, "counters"):
            self._local.counters = []
        return self._local.counters

    def _count(self, n_rows: int) -> None:
        with self._lock:
            self.n_queries += int(n_rows)
        for counter in self._counters():
            counter.n += int(n_rows)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state.pop("_local", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._local = threading.local()
