"""Group commit: concurrent writes share transactions, each caller gets its own result or error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from deputy.errors import TemporarilyUnavailable
from deputy.storage.group_commit import AsyncGroupCommit, GroupCommit, in_thread


class Boom(Exception):
    pass


def test_concurrent_writes_are_batched_and_each_gets_its_own_result() -> None:
    written: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.005)  # a disk sync
        written.append(list(items))
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(group.submit, range(200)))
    assert results == [i * 10 for i in range(200)]
    assert sorted(i for batch in written for i in batch) == list(range(200))  # each exactly once
    assert group.batches < 100  # they did share
    assert max(len(b) for b in written) <= 64


def test_nobody_returns_before_the_write_holding_its_item_is_done() -> None:
    done: set[int] = set()
    lock = threading.Lock()

    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.002)
        with lock:
            done.update(items)
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)

    def submit(i: int) -> bool:
        group.submit(i)
        with lock:
            return i in done

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert all(pool.map(submit, range(120)))


def test_a_failing_item_fails_alone() -> None:
    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.002)
        if 13 in items:
            raise Boom("unlucky")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(write)

    def submit(i: int) -> int | str:
        try:
            return group.submit(i)
        except Boom:
            return "failed"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(submit, range(40)))
    assert results == [("failed" if i == 13 else i) for i in range(40)]


def test_a_single_write_error_reaches_its_caller() -> None:
    def write(items: Sequence[int]) -> list[int]:
        raise Boom("store down")

    group: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(Boom):
        group.submit(1)
    with pytest.raises(Boom):  # and the group is usable again afterwards
        group.submit(2)


def test_an_unavailable_store_fails_the_batch_without_retrying_each_write() -> None:
    calls: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        time.sleep(0.01)
        raise TemporarilyUnavailable("store_unavailable", "connection refused")

    group: GroupCommit[int, int] = GroupCommit(write)

    def submit(i: int) -> str:
        try:
            group.submit(i)
        except TemporarilyUnavailable:
            return "unavailable"
        return "written"

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(submit, range(32))) == {"unavailable"}
    assert sum(calls) == 32  # every write was tried once, in some batch: no retries one by one


# AsyncGroupCommit: the same promises for requests awaiting on an event loop.


def _run_async(group: AsyncGroupCommit[int, int], items: Sequence[int]) -> list[object]:
    async def one(i: int) -> object:
        try:
            return await group.submit(i)
        except Exception as exc:  # noqa: BLE001 - the test compares outcomes
            return type(exc).__name__

    async def main() -> list[object]:
        return list(await asyncio.gather(*(one(i) for i in items)))

    return asyncio.run(main())


def test_async_submits_are_batched_written_by_one_thread_and_each_gets_its_own_result() -> None:
    written: list[list[int]] = []
    threads: set[str] = set()

    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.005)
        threads.add(threading.current_thread().name)
        written.append(list(items))
        return [i * 10 for i in items]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer") as writer:
        group: AsyncGroupCommit[int, int] = AsyncGroupCommit(in_thread(write, writer))
        assert _run_async(group, range(200)) == [i * 10 for i in range(200)]
    assert sorted(i for batch in written for i in batch) == list(range(200))  # each exactly once
    assert [i for batch in written for i in batch] == list(range(200))  # in submission order
    assert group.batches < 100 and max(len(b) for b in written) <= 64
    assert len(threads) == 1 and threads.pop().startswith("writer")


def test_async_nobody_is_answered_before_the_write_holding_its_item_committed() -> None:
    committed: set[int] = set()

    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.002)
        committed.update(items)
        return list(items)

    async def main(group: AsyncGroupCommit[int, int]) -> list[bool]:
        async def one(i: int) -> bool:
            await group.submit(i)
            return i in committed

        return list(await asyncio.gather(*(one(i) for i in range(120))))

    with ThreadPoolExecutor(max_workers=1) as writer:
        assert all(asyncio.run(main(AsyncGroupCommit(in_thread(write, writer)))))


def test_async_a_failing_item_fails_alone_and_an_unavailable_store_fails_all_at_once() -> None:
    def write(items: Sequence[int]) -> list[int]:
        time.sleep(0.002)
        if 13 in items:
            raise Boom("unlucky")
        return list(items)

    with ThreadPoolExecutor(max_workers=1) as writer:
        results = _run_async(AsyncGroupCommit(in_thread(write, writer)), range(40))
    assert results == [("Boom" if i == 13 else i) for i in range(40)]

    calls: list[int] = []

    def down(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        raise TemporarilyUnavailable("store_unavailable", "connection refused")

    with ThreadPoolExecutor(max_workers=1) as writer:
        assert set(_run_async(AsyncGroupCommit(in_thread(down, writer)), range(32))) == {"TemporarilyUnavailable"}
    assert sum(calls) == 32  # no retries one by one against a store that is down


def test_async_a_cancelled_request_does_not_stop_the_others_or_lose_its_write() -> None:
    written: list[int] = []
    release = threading.Event()

    def write(items: Sequence[int]) -> list[int]:
        release.wait(5)
        written.extend(items)
        return list(items)

    async def main(group: AsyncGroupCommit[int, int]) -> list[int]:
        first = asyncio.ensure_future(group.submit(1))
        others = [asyncio.ensure_future(group.submit(i)) for i in (2, 3)]
        await asyncio.sleep(0.01)
        first.cancel()  # the client went away while its batch was being written
        release.set()
        return list(await asyncio.gather(*others))

    with ThreadPoolExecutor(max_workers=1) as writer:
        assert asyncio.run(main(AsyncGroupCommit(in_thread(write, writer)))) == [2, 3]
    assert sorted(written) == [1, 2, 3]  # the cancelled request's write still happened, once
