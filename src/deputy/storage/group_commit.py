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

:class:`AsyncGroupCommit` is the same for requests on an event loop: they await a future instead
of holding a thread, and one writer thread per store writes the batches (the HTTP token endpoint).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
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
        done: list[tuple[R | None, BaseException | None]] = outcomes(self._write, [p.item for p in batch])
        for pending, (result, error) in zip(batch, done, strict=True):
            pending.result, pending.error = result, error


def outcomes(write: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[tuple[R | None, BaseException | None]]:
    """``write(items)`` as one transaction: each item's result or error. A failed batch is retried
    one by one (a bad write fails only its own item), unless the store is unavailable."""
    try:
        return [(result, None) for result in write(items)]
    except BaseException as exc:  # noqa: BLE001 - handed to the requests it concerns
        if len(items) == 1 or isinstance(exc, TemporarilyUnavailable):
            return [(None, exc)] * len(items)
    singles: list[tuple[R | None, BaseException | None]] = []
    for item in items:
        try:
            singles.append((write([item])[0], None))
        except BaseException as single:  # noqa: BLE001
            singles.append((None, single))
    return singles


async def outcomes_async(
    write: Callable[[Sequence[T]], Awaitable[list[R]]], items: Sequence[T]
) -> list[tuple[R | None, BaseException | None]]:
    """:func:`outcomes` for a write that is awaited."""
    try:
        return [(result, None) for result in await write(items)]
    except Exception as exc:  # noqa: BLE001 - handed to the requests it concerns
        if len(items) == 1 or isinstance(exc, TemporarilyUnavailable):
            return [(None, exc)] * len(items)
    singles: list[tuple[R | None, BaseException | None]] = []
    for item in items:
        try:
            singles.append(((await write([item]))[0], None))
        except Exception as single:  # noqa: BLE001
            singles.append((None, single))
    return singles


def in_thread(write: Callable[[Sequence[T]], list[R]], writer: Executor) -> Callable[[Sequence[T]], Awaitable[list[R]]]:
    """A blocking ``write`` awaited on the loop, run by ``writer`` (one thread: batches in order)."""

    def run(items: Sequence[T]) -> Awaitable[list[R]]:
        return asyncio.get_running_loop().run_in_executor(writer, write, items)

    return run


class AsyncGroupCommit(Generic[T, R]):
    """``await submit(item)`` on one event loop: items queue while a batch is being written; the
    next batch takes everything queued. ``write`` is awaited for one batch at a time (an async
    driver, or a blocking write run by one thread: :func:`in_thread`)."""

    def __init__(self, write: Callable[[Sequence[T]], Awaitable[list[R]]], max_batch: int = 64) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._draining = False
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
                self.batches += 1
                self.items += len(batch)
                results = await outcomes_async(self._write, [i for i, _ in batch])
                for (_, future), (result, error) in zip(batch, results, strict=True):
                    if future.done():
                        continue  # the request was cancelled (client gone); its write stands
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result)  # type: ignore[arg-type]
        finally:
            self._draining = False
