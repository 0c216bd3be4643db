"""A pipeline's statements reach PostgreSQL together: the TCP socket is corked while they are written, and never
left corked (which would hold the next statement back)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg
import pytest

from storage import open_store
from storage.postgres.connection import PgConnection, set_corked, tcp_family
from storage.postgres.db import PgDatabase
from storage.sql.connection import UnexpectedRowsError


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PgDatabase]:
    opened = await open_store(pg_url)
    assert isinstance(opened, PgDatabase)
    yield opened
    await opened.close()


def is_corked(conn: PgConnection) -> bool:
    with socket.socket(fileno=os.dup(conn.pg.pgconn.socket)) as sock:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))


def connection(repo: object) -> PgConnection:
    conn = cast(Any, repo).conn
    assert isinstance(conn, PgConnection)
    return conn


async def test_a_tcp_connection_is_corked_only_while_a_pipeline_is_written(store: PgDatabase) -> None:
    async with store.unit_of_work() as repo:
        conn = connection(repo)
        await conn.write("CREATE TABLE t (n integer)")
        for n in range(20):
            await conn.write("INSERT INTO t (n) VALUES (?)", (n,))
        assert not is_corked(conn)
        assert [row[0] for row in await (await conn.execute("SELECT count(*) FROM t")).fetchall()] == [20]
        assert not is_corked(conn)
    assert not is_corked(conn)


async def test_a_failed_pipeline_leaves_the_socket_uncorked(store: PgDatabase) -> None:
    with pytest.raises(UnexpectedRowsError):
        async with store.unit_of_work() as repo:
            conn = connection(repo)
            await conn.write("CREATE TABLE u (n integer)")
            await conn.write("DELETE FROM u", expect_rows=1)
    assert not is_corked(conn)
    assert [row[0] for row in await (await conn.execute("SELECT 1")).fetchall()] == [1]


async def test_corking_applies_to_tcp_sockets_only(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url) as tcp:
        assert tcp_family(tcp.pgconn.socket) == socket.AF_INET
        directory = (await (await tcp.execute("SHOW unix_socket_directories")).fetchone() or [""])[0]
    port = urlsplit(pg_url).port
    local = await psycopg.AsyncConnection.connect(pg_url, host=directory.split(",")[0], port=port, autocommit=True)
    assert tcp_family(local.pgconn.socket) is None
    conn = PgConnection(local)
    await conn.begin_immediate()
    await conn.write("CREATE TEMP TABLE v (n integer)")
    await conn.write("INSERT INTO v (n) VALUES (?)", (1,))
    assert [row[0] for row in await (await conn.execute("SELECT count(*) FROM v")).fetchall()] == [1]
    await conn.commit()
    await conn.close()


def test_set_corked_sets_and_clears_the_option_and_keeps_the_descriptor_open() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        set_corked(sock.fileno(), socket.AF_INET, True)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 1
        set_corked(sock.fileno(), socket.AF_INET, False)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
        os.fstat(sock.fileno())
