"""Group commit: the writes of concurrent requests share one transaction, and one disk sync.

Every issued token must be durable (its lineage record and its audit event committed) before its
response is sent. A commit costs a disk sync, and audit appends are serialised across processes,
so one transaction per token caps the whole service at about one token per sync. Here a thread
that wants to write joins a queue; the first one becomes the *leader*, writes everything queued
(up to ``max_batch``) in one transaction, and wakes the others with their own results. Nobody
returns before the transaction holding its write has committed: the durability promise is the
same as one transaction per token, only cheaper. Under light load a batch is one write.

If a batch fails, each write in it is retried on its own, so that one bad write (a constraint
violation, say) fails only its own request — unless the store is unavailable, when every request
in the batch gets that answer at once (no retries against a database that is down).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from deputy.errors import TemporarilyUnavailable

T = TypeVar("T")
R = TypeVar("R")


class _Pending(Generic[T, R]):
    __slots__ = ("item", "done", "lead", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # woken to lead the next batch rather than with a result
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """``write(items)`` writes all items in one transaction and returns one result per item."""

    def __init__(self, write: Callable[[Sequence[T]], list[R]], max_batch: int = 64) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[_Pending[T, R]] = []
        self._lock = threading.Lock()
        self._leading = False
        self.batches = 0
        self.items = 0

    def submit(self, item: T) -> R:
        pending: _Pending[T, R] = _Pending(item)
        with self._lock:
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
        while not lead:
            pending.done.wait()
            if not pending.lead:
                break
            pending.lead, lead = False, True
            pending.done.clear()
        if lead:
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Write one batch, then hand the lead to the oldest waiter (or give it up)."""
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
        try:
            self._write_batch(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False
            for pending in batch:
                pending.done.set()

    def _write_batch(self, batch: list[_Pending[T, R]]) -> None:
        self.batches += 1
        self.items += len(batch)
        try:
            results = self._write([p.item for p in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to the requests it concerns
            if len(batch) == 1 or isinstance(exc, TemporarilyUnavailable):
                for pending in batch:
                    pending.error = exc
                return
            for pending in batch:  # one by one: a bad write fails only its own request
                try:
                    pending.result = self._write([pending.item])[0]
                except BaseException as single:  # noqa: BLE001
                    pending.error = single
            return
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
