"""A connection the server drops (a restart, a failover, a session killed) is opened again: work goes on, and only
work the drop cut short fails, with DatabaseUnavailableError, while the server cannot be reached."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import psycopg
import pytest

from storage import open_store
from storage.errors import DatabaseUnavailableError
from storage.ports import Store


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def kill_sessions(admin_url: str, url: str, *, like: str = "%") -> int:
    """End every session of the database at `url` whose last statement is like `like`; return how many."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s "
                            "AND pid <> pg_backend_pid() AND query LIKE %s", (_name(url), like)).fetchall()
    return len(rows)


def allow_connections(admin_url: str, url: str, is_allowed: bool) -> None:
    """Let new sessions into the database at `url`, or refuse them (as a server that is down does)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{_name(url)}" ALLOW_CONNECTIONS {str(is_allowed).lower()}')


async def offset(store: Store) -> timedelta:
    async with store.read() as repo:
        return await repo.clock_offset()


async def set_offset(store: Store, seconds: int) -> None:
    async with store.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=seconds))


async def test_sessions_killed_between_transactions_are_opened_again_and_no_work_fails(
    pg_cluster: str, pg_url: str,
) -> None:
    store = await open_store(pg_url)
    try:
        await set_offset(store, 1)
        assert await offset(store) == timedelta(seconds=1)
        assert kill_sessions(pg_cluster, pg_url) >= 5
        for n in range(2, 6):  # every writer and reader meets its dropped connection once
            await set_offset(store, n)
            assert await offset(store) == timedelta(seconds=n)
        assert await store.ping()
    finally:
        await store.close()


async def test_a_transaction_cut_by_the_drop_fails_as_unavailable_and_the_next_one_runs(
    pg_cluster: str, pg_url: str,
) -> None:
    store = await open_store(pg_url)
    try:
        await set_offset(store, 1)
        with pytest.raises(DatabaseUnavailableError):
            async with store.unit_of_work() as repo:
                await repo.clock_offset()  # BEGIN and a read: the transaction is open on the server
                kill_sessions(pg_cluster, pg_url)
                await repo.set_clock_offset(timedelta(seconds=9))
        await set_offset(store, 3)
        assert await offset(store) == timedelta(seconds=3), "the cut transaction kept nothing"
    finally:
        await store.close()


async def test_while_the_server_refuses_work_fails_as_unavailable_and_resumes_once_it_answers(
    pg_cluster: str, pg_url: str,
) -> None:
    store = await open_store(pg_url)
    try:
        allow_connections(pg_cluster, pg_url, False)
        kill_sessions(pg_cluster, pg_url)
        for _ in range(3):
            with pytest.raises(DatabaseUnavailableError):
                await set_offset(store, 4)
            with pytest.raises(DatabaseUnavailableError):
                await offset(store)
            assert not await _pinged(store)
        allow_connections(pg_cluster, pg_url, True)
        deadline = time.monotonic() + 10
        while not await _pinged(store):
            assert time.monotonic() < deadline, "the health check never connected again"
            await asyncio.sleep(0.1)
        await set_offset(store, 5)
        assert await offset(store) == timedelta(seconds=5)
    finally:
        allow_connections(pg_cluster, pg_url, True)
        await store.close()


async def _pinged(store: Store) -> bool:
    try:
        return await store.ping()
    except DatabaseUnavailableError:
        return False


async def test_a_lost_listening_connection_listens_again_and_hears_the_others(pg_cluster: str, pg_url: str) -> None:
    one, other = await open_store(pg_url), await open_store(pg_url)
    heard = asyncio.Event()
    try:
        one.on_committed_elsewhere(heard.set)
        deadline = time.monotonic() + 10
        while kill_sessions(pg_cluster, pg_url, like="LISTEN%") == 0:
            assert time.monotonic() < deadline, "the store never listened"
            await asyncio.sleep(0.05)
        heard.clear()
        deadline = time.monotonic() + 15
        while not heard.is_set():  # heard once it listens again, then of each commit
            assert time.monotonic() < deadline, "the store never listened again"
            await set_offset(other, 6)
            await asyncio.sleep(0.2)
    finally:
        await one.close()
        await other.close()
