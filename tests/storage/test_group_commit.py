"""Group commit: concurrent writes share transactions, each caller gets its own result or error."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from deputy.errors import TemporarilyUnavailable
from deputy.storage.group_commit import GroupCommit


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
