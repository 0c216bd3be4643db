"""PostgreSQL's migrations: the same schema, seeded rows and trigger behaviour as SQLite's, applied once and safely."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import storage.schema as shared_schema
from storage.errors import MigrationError, MigrationNeededError, SchemaTooNewError
from storage.postgres import schema
from storage.postgres.schema import MIGRATION_LOCK, migrate, migrations
from storage.sqlite import db as sqlite_db
from storage.sqlite.db import _statements
from storage.sqlite.db import migrations as sqlite_migrations

LATEST = migrations()[-1][0]
# A time stamp as the databases write them (strftime(...) || '000+00:00' in SQLite, to_char(...) in PostgreSQL).
NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
T1, T2, T3, T4 = (f"2026-01-0{day}T09:00:00+00:00" for day in range(1, 5))
PG_TYPES = {"text": "TEXT", "integer": "INTEGER", "bigint": "INTEGER", "double precision": "REAL", "bytea": "BLOB"}

Row = tuple[Any, ...]


# -- the two databases -------------------------------------------------------------------------------------------


def sqlite_database(path: Path, version: int = LATEST) -> sqlite3.Connection:
    """Open a SQLite database at `path` migrated to `version`, as Signoff's SQLite backend migrates it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (0)")
    sqlite_upgrade(conn, version)
    return conn


def sqlite_upgrade(conn: sqlite3.Connection, version: int) -> None:
    """Apply the SQLite migrations newer than the database's, up to `version`."""
    current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    for _number, script in sqlite_migrations()[current:version]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("UPDATE schema_version SET version = ?", (version,))


async def pg_database_at(url: str, version: int) -> None:
    """Leave the PostgreSQL database at `url` as a Signoff of schema `version` left it."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for _number, script in migrations()[:version]:
            await conn.execute(script.encode())
        await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to a database migrated to the latest schema."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await migrate(conn, migrate=True)
        yield conn


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A SQLite database migrated to the latest schema."""
    conn = sqlite_database(tmp_path / "signoff.db")
    yield conn
    conn.close()


class Both:
    """The same plain SQL (`?` placeholders) run on SQLite and on PostgreSQL."""

    def __init__(self, lite: sqlite3.Connection, pg: psycopg.AsyncConnection[Any]) -> None:
        self.lite, self.pg = lite, pg

    async def run(self, statement: str, params: Row = ()) -> None:
        """Run `statement` on both databases."""
        self.lite.execute(statement, params)
        await self.pg.execute(statement.replace("?", "%s").encode(), params)

    async def rows(self, query: str) -> tuple[list[Row], list[Row]]:
        """Return the rows of `query` on SQLite, then on PostgreSQL."""
        cursor = await self.pg.execute(query.encode())
        return [tuple(row) for row in self.lite.execute(query)], [tuple(row) for row in await cursor.fetchall()]


@pytest.fixture
def both(lite: sqlite3.Connection, pg: psycopg.AsyncConnection[Any]) -> Both:
    """A SQLite and a PostgreSQL database, both migrated to the latest schema."""
    return Both(lite, pg)


async def pg_version(url: str) -> int:
    """Return the version recorded in the database at `url`."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await schema.schema_version(conn)


# -- schema introspection ----------------------------------------------------------------------------------------


def sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    """Return the names of SQLite's tables, but its own."""
    return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")]


def sqlite_schema(conn: sqlite3.Connection) -> dict[str, Any]:
    """Describe SQLite's tables: columns, primary key, unique keys, indexes, triggers."""
    described: dict[str, Any] = {table: sqlite_table(conn, table) for table in sqlite_tables(conn)}
    described["triggers"] = set(conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
    return described


def sqlite_table(conn: sqlite3.Connection, table: str) -> dict[str, Any]:
    """Describe one SQLite table (a primary key column is NOT NULL, as in PostgreSQL)."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    indexes = conn.execute(f"PRAGMA index_list({table})").fetchall()
    return {
        "columns": [(name, kind, bool(notnull or pk), default) for _cid, name, kind, notnull, default, pk in info],
        "primary_key": tuple(column[1] for column in sorted(info, key=lambda c: c[5]) if column[5]),
        "unique": {sqlite_index_columns(conn, name) for _s, name, _u, origin, _p in indexes if origin == "u"},
        "indexes": {name: (sqlite_index_keys(conn, name), bool(unique), bool(partial))
                    for _s, name, unique, _o, partial in indexes if not name.startswith("sqlite_autoindex_")},
    }


def sqlite_index_columns(conn: sqlite3.Connection, index: str) -> tuple[str, ...]:
    """Return the columns of a SQLite index."""
    return tuple(row[2] for row in conn.execute(f"PRAGMA index_info({index})"))


def sqlite_index_keys(conn: sqlite3.Connection, index: str) -> tuple[tuple[str | None, bool], ...]:
    """Return the keys of a SQLite index: (column, or None for an expression; descending)."""
    return tuple((row[2], bool(row[3])) for row in conn.execute(f"PRAGMA index_xinfo({index})") if row[5])


# SQLite's implicit rowid, which some tables are read in the order of, is an explicit identity column there.
SQLITE_ROWID = "rowid"
PG_COLUMNS = """
SELECT column_name, data_type, is_nullable = 'NO', regexp_replace(column_default, '::[a-z ]+$', '')
FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position"""
PG_KEYS = """
SELECT c.constraint_type, c.constraint_name, k.column_name
FROM information_schema.table_constraints c
JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
WHERE c.table_schema = 'public' AND c.table_name = %s AND c.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
ORDER BY c.constraint_name, k.ordinal_position"""
PG_INDEXES = """
SELECT x.relname, a.attname, pg_index_column_has_property(i.indexrelid, k.n, 'desc'), i.indisunique,
       i.indpred IS NOT NULL
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS k (n)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.n - 1]
WHERE t.relname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                                     AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u'))
ORDER BY x.relname, k.n"""
PG_TRIGGERS = """
SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"""


async def pg_schema(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """Describe PostgreSQL's tables as sqlite_schema describes SQLite's."""
    cursor = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    described: dict[str, Any] = {row[0]: await pg_table(conn, row[0]) for row in await cursor.fetchall()}
    described["triggers"] = set(await pg_rows(conn, PG_TRIGGERS))
    return described


async def pg_rows(conn: psycopg.AsyncConnection[Any], query: str, *params: Any) -> list[Row]:
    """Return the rows of `query`."""
    cursor = await conn.execute(query.encode(), params)
    return [tuple(row) for row in await cursor.fetchall()]


async def pg_table(conn: psycopg.AsyncConnection[Any], table: str) -> dict[str, Any]:
    """Describe one PostgreSQL table (its constraints' own indexes are its keys, not indexes)."""
    columns = [(name, PG_TYPES[kind], notnull, default) for name, kind, notnull, default
               in await pg_rows(conn, PG_COLUMNS, table) if name != SQLITE_ROWID]
    keys = await pg_keys(conn, table)
    return {
        "columns": columns,
        "primary_key": next((cols for (kind, _), cols in keys.items() if kind == "PRIMARY KEY"), ()),
        "unique": {cols for (kind, _), cols in keys.items() if kind == "UNIQUE"},
        "indexes": await pg_indexes(conn, table),
    }


async def pg_keys(conn: psycopg.AsyncConnection[Any], table: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Return the columns of each primary key and unique constraint of `table`, by (type, name)."""
    keys: dict[tuple[str, str], tuple[str, ...]] = {}
    for kind, name, column in await pg_rows(conn, PG_KEYS, table):
        keys[kind, name] = (*keys.get((kind, name), ()), column)
    return keys


async def pg_indexes(conn: psycopg.AsyncConnection[Any], table: str) -> dict[str, Any]:
    """Describe the indexes of `table` as sqlite_table does: (keys, unique, partial) by name."""
    keys: dict[str, tuple[tuple[str | None, bool], ...]] = {}
    flags: dict[str, tuple[bool, bool]] = {}
    for name, column, desc, unique, partial in await pg_rows(conn, PG_INDEXES, table):
        keys[name] = (*keys.get(name, ()), (column, desc))
        flags[name] = (unique, partial)
    return {name: (keys[name], *flags[name]) for name in keys}


# -- rows --------------------------------------------------------------------------------------------------------


def normal(value: Any) -> Any:
    """A stored value as compared: JSON parsed (key order and spacing differ), a time stamp of now as '<now>'."""
    if isinstance(value, str) and NOW.fullmatch(value):
        return "<now>"
    if isinstance(value, str) and value[:1] in ("{", "["):
        return normal(json.loads(value))
    if isinstance(value, dict):
        return {key: normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normal(item) for item in value]
    return value


def normal_rows(rows: list[Row]) -> list[Row]:
    """Return `rows` normalised and sorted."""
    return sorted((tuple(normal(value) for value in row) for row in rows), key=repr)


async def assert_same_rows(lite: sqlite3.Connection, pg: psycopg.AsyncConnection[Any]) -> None:
    """Assert that every table holds the same rows in both databases."""
    for table in sqlite_tables(lite):
        cursor = await pg.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
        in_pg = normal_rows([tuple(row) for row in await cursor.fetchall()])
        assert in_pg == normal_rows(lite.execute(f"SELECT * FROM {table}").fetchall()), table


# -- 1. a new database -------------------------------------------------------------------------------------------


def test_the_migrations_are_sqlites_numbers_and_names() -> None:
    names = {path.name for path in Path(schema.__file__).parent.joinpath("migrations").glob("*.sql")}
    assert names == {path.name for path in Path(sqlite_db.__file__).parent.joinpath("migrations").glob("*.sql")}
    assert [number for number, _ in migrations()] == list(range(1, LATEST + 1))


@pytest.mark.parametrize("numbers", [["0001", "0003"], ["0001", "0001"], ["0002"]])
def test_gaps_and_duplicates_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numbers: list[str]) -> None:
    for i, number in enumerate(numbers):
        tmp_path.joinpath(f"{number}_step_{i}.sql").write_text("SELECT 1;")
    monkeypatch.setattr(shared_schema.resources, "files", lambda _package: tmp_path)
    with pytest.raises(MigrationError, match="numbered"):
        shared_schema.numbered_migrations("storage.postgres.migrations")


async def test_a_new_database_is_migrated_to_the_latest_version_once(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        assert await migrate(conn, migrate=False) == LATEST
        assert await pg_rows(conn, "SELECT version FROM schema_version") == [(LATEST,)]
        before = await pg_schema(conn), await pg_rows(conn, "SELECT * FROM workflows_version")
        assert await migrate(conn, migrate=False) == LATEST
        assert await pg_rows(conn, "SELECT version FROM schema_version") == [(LATEST,)]
        assert (await pg_schema(conn), await pg_rows(conn, "SELECT * FROM workflows_version")) == before


# -- 2. parity with SQLite ---------------------------------------------------------------------------------------


async def test_the_schema_is_sqlites(lite: sqlite3.Connection, pg: psycopg.AsyncConnection[Any]) -> None:
    in_sqlite, in_pg = sqlite_schema(lite), await pg_schema(pg)
    assert sorted(in_pg) == sorted(in_sqlite)
    for table in in_sqlite:
        assert in_pg[table] == in_sqlite[table], table


async def test_the_seeded_rows_are_sqlites(lite: sqlite3.Connection, pg: psycopg.AsyncConnection[Any]) -> None:
    await assert_same_rows(lite, pg)
    ids = await pg_rows(pg, "SELECT id FROM workflows ORDER BY id")
    assert ids == [("wf_default_bill_payment_reminder",), ("wf_default_unsent_invoice_reminder",)]
    [(seeded_at,)] = await pg_rows(pg, "SELECT defaults_seeded_at FROM company")
    assert NOW.fullmatch(seeded_at)


OLD_ROWS: list[tuple[str, Row]] = [
    ("INSERT INTO approval_requests (id, record_type, record_id, workflow_id, status, current_step, steps, created_at, "
     "step_started_at) VALUES (?, 'invoice', 'inv-1', 'wf', ?, ?, ?, ?, ?)", params)
    for params in [
        ("r1", "pending", 0, '[{"index":0,"approvers":["U1","U2"]},{"index":1,"approvers":["U3"]}]', T1, T2),
        ("r2", "pending", 1, '[{"index":0,"approvers":["U1"]},{"index":1,"approvers":["U3","U3",null]}]', T1, T3),
        ("r3", "approved", 0, '[{"index":0,"approvers":["U4"]}]', T1, T1),
    ]
] + [
    ("INSERT INTO records VALUES (?, ?, 'none', ?, ?, ?)", ("invoice", "i1", '{"created_by":"U1"}', T1, T2)),
    ("INSERT INTO records VALUES (?, ?, 'none', ?, ?, ?)", ("bill", "b1", "{}", T1, T3)),
    ("INSERT INTO workflow_runs (id, workflow_id, workflow_name, record_type, record_id, cause, outcome, actions, at) "
     "VALUES ('run1', 'wf', 'W', 'bill', 'b1', 'scheduled', 'fired', '[]', ?)", (T1,)),
] + [
    ("INSERT INTO reminder_tasks (run_id, assignee, workflow_id, record_type, record_id, text, created_at) "
     "VALUES ('run1', ?, 'wf', 'bill', ?, 'pay', ?)", params)
    for params in [("U1", "b1", T1), ("U1", "b1", T2), ("U2", "b1", T3), ("U1", "b2", T4)]
] + [
    ("INSERT INTO workflows VALUES (?, 'bill', ?, ?, ?)", (wf_id, json.dumps(data), T1, T1))
    for wf_id, data in [
        ("wf_a", {"status": "draft", "enabled": True, "name": "enabled by an admin"}),
        ("wf_b", {"status": "draft", "enabled": True, "name": "never enabled"}),
        ("wf_c", {"status": "draft", "enabled": False}),
        ("wf_d", {"status": "published", "enabled": True}),
    ]
] + [
    ("INSERT INTO audit (at, action, subject_type, subject_id) VALUES (?, 'workflow_enabled', 'workflow', 'wf_a')",
     (T1,)),
]


async def test_data_migrations_change_old_rows_as_sqlites(tmp_path: Path, pg_url: str) -> None:
    lite = sqlite_database(tmp_path / "old.db", version=5)
    await pg_database_at(pg_url, 5)
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as pg:
        for statement, params in OLD_ROWS:
            await Both(lite, pg).run(statement, params)
        sqlite_upgrade(lite, LATEST)
        assert await migrate(pg, migrate=True) == LATEST
        await assert_same_rows(lite, pg)
        assert len(await pg_rows(pg, "SELECT * FROM request_approvers")) == 3
        assert await pg_rows(pg, "SELECT version FROM workflows_version") == [(3,)]
    lite.close()


async def test_reminder_settings_saved_before_their_since_count_as_saved_at_the_upgrade(tmp_path: Path,
                                                                                       pg_url: str) -> None:
    lite = sqlite_database(tmp_path / "old.db", version=21)
    await pg_database_at(pg_url, 21)
    settings = ("INSERT INTO scheduler_settings (name, data, updated_at) VALUES ('invoice_reminders', ?, ?)",
                ('{"enabled": true, "schedules": [{"offset_days": 3}]}', T1))
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as pg:
        await Both(lite, pg).run(*settings)
        sqlite_upgrade(lite, 22)
        assert await migrate(pg, migrate=True) == LATEST
        (in_pg,), (in_sqlite,) = await pg_rows(pg, "SELECT data FROM scheduler_settings"), lite.execute(
            "SELECT data FROM scheduler_settings").fetchall()
    for data in (json.loads(in_pg[0]), json.loads(in_sqlite[0])):
        assert data["enabled"] is True and NOW.fullmatch(data["since"]), data
    lite.close()


# -- 3. triggers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE audit SET actor = 'someone'", "DELETE FROM audit WHERE seq = 1", "DELETE FROM audit",
])
async def test_the_audit_is_append_only(both: Both, statement: str) -> None:
    await both.run("INSERT INTO audit (at, action, subject_type, subject_id) VALUES (?, 'made', 'record', 'r1')", (T1,))
    with pytest.raises(sqlite3.IntegrityError, match="audit is append-only"):
        both.lite.execute(statement)
    with pytest.raises(psycopg.errors.RaiseException, match="audit is append-only"):
        await both.pg.execute(statement.encode())
    lite_rows, pg_rows_ = await both.rows("SELECT seq, actor FROM audit")
    assert lite_rows == pg_rows_ == [(1, None)]


async def test_an_audit_line_leaves_only_once_its_subject_is_archived(both: Both) -> None:
    for subject in ("r1", "r2"):
        await both.run("INSERT INTO audit (at, action, subject_type, subject_id) VALUES (?, 'made', 'record', ?)",
                       (T1, subject))
    await both.run("INSERT INTO archived_subjects (subject_type, subject_id, part) VALUES ('record', 'r2', 1)", ())
    both.lite.execute("DELETE FROM audit WHERE subject_id = 'r2'")
    await both.pg.execute(b"DELETE FROM audit WHERE subject_id = 'r2'")
    with pytest.raises(sqlite3.IntegrityError, match="audit is append-only"):
        both.lite.execute("DELETE FROM audit")
    with pytest.raises(psycopg.errors.RaiseException, match="audit is append-only"):
        await both.pg.execute(b"DELETE FROM audit")
    lite_rows, pg_rows_ = await both.rows("SELECT seq, subject_id FROM audit")
    assert lite_rows == pg_rows_ == [(1, "r1")]


WORKFLOW = "INSERT INTO workflows (id, record_type, data, created_at, updated_at) VALUES (?, 'bill', '{}', ?, ?)"
WORKFLOW_WRITES: list[tuple[str, Row, int, str]] = [  # statement, parameters, bumps, changed_at after
    (WORKFLOW, ("wf_x", T1, T1), 1, T1),
    (WORKFLOW + " ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at", ("wf_x", T1, T2), 1, T2),
    ("UPDATE workflows SET updated_at = ? WHERE id = ?", (T3, "wf_x"), 1, T3),
    ("UPDATE workflows SET updated_at = ? WHERE id = ?", (T4, "no such workflow"), 0, T3),
    ("UPDATE workflows SET updated_at = ?", (T4,), 3, T4),
    ("DELETE FROM workflows WHERE id = ?", ("wf_x",), 1, "<now>"),
    ("DELETE FROM workflows WHERE id LIKE ?", ("wf_default_%",), 2, "<now>"),
]


async def test_every_write_to_workflows_bumps_the_version(both: Both) -> None:
    version = 1
    for statement, params, bumps, changed_at in WORKFLOW_WRITES:
        await both.run(statement, params)
        version += bumps
        in_sqlite, in_pg = await both.rows("SELECT id, version, changed_at FROM workflows_version")
        assert normal_rows(in_pg) == normal_rows(in_sqlite) == [(1, version, changed_at)], statement


REQUEST = ("INSERT INTO approval_requests (id, record_type, record_id, workflow_id, status, current_step, steps, "
           "created_at, step_started_at) VALUES (?, 'invoice', 'i1', 'wf', ?, 0, '[]', ?, ?)")
RECORD = ("INSERT INTO records (type, id, approval_status, data, created_at, updated_at) "
          "VALUES (?, ?, 'none', '{}', ?, ?)")
DUE_WORK_STATEMENTS: list[tuple[str, Row]] = [
    (REQUEST, ("r1", "pending", T1, T1)),
    (REQUEST, ("r2", "approved", T1, T1)),
    ("UPDATE approval_requests SET step_started_at = ? WHERE id = ?", (T2, "r1")),
    ("UPDATE due_work SET next_due_at = ?, lease_owner = 'sweeper', lease_until = ? WHERE subject_id = ?",
     (T4, T4, "r1")),
    ("UPDATE approval_requests SET version = version + 1 WHERE id = ?", ("r1",)),
    ("UPDATE approval_requests SET steps = '[{}]' WHERE id = ?", ("r1",)),
    ("UPDATE due_work SET next_due_at = ? WHERE subject_id = ?", (T4, "r1")),
    ("UPDATE approval_requests SET current_step = 1, step_started_at = ? WHERE id = ?", (T3, "r1")),
    ("UPDATE approval_requests SET status = 'pending' WHERE id = ?", ("r2",)),
    ("UPDATE approval_requests SET status = 'approved', decided_at = ? WHERE id = ?", (T3, "r1")),
    ("UPDATE approval_requests SET status = 'rejected' WHERE id = ?", ("r1",)),
    (REQUEST + " ON CONFLICT (id) DO UPDATE SET status = excluded.status", ("r1", "pending", T1, T1)),
    ("DELETE FROM approval_requests WHERE id = ?", ("r2",)),
    (RECORD, ("invoice", "i1", T1, T1)),
    (RECORD, ("bill", "b1", T1, T1)),
    ("UPDATE records SET updated_at = ?", (T2,)),
    (RECORD + " ON CONFLICT (type, id) DO UPDATE SET updated_at = excluded.updated_at", ("invoice", "i1", T1, T3)),
    (RECORD + " ON CONFLICT (type, id) DO UPDATE SET updated_at = excluded.updated_at", ("invoice", "i2", T1, T4)),
    ("DELETE FROM records WHERE type = ?", ("bill",)),
    ("DELETE FROM records WHERE id = ?", ("i1",)),
    ("UPDATE records SET type = 'bill' WHERE id = ?", ("i2",)),
    (RECORD, ("invoice", "i3", T1, T1)),
]


async def test_due_work_follows_requests_and_invoices_as_in_sqlite(both: Both) -> None:
    seen = set()
    for statement, params in DUE_WORK_STATEMENTS:
        await both.run(statement, params)
        in_sqlite, in_pg = await both.rows("SELECT * FROM due_work ORDER BY kind, subject_id")
        assert in_pg == in_sqlite, (statement, params)
        seen.update(in_pg)
    assert {(kind, subject) for kind, subject, *_ in seen} == {
        ("approval", "r1"), ("approval", "r2"), ("invoice", "i1"), ("invoice", "i2"), ("invoice", "i3"),
    }


async def test_a_vote_that_leaves_the_step_open_does_not_plan_the_request_again(both: Both) -> None:
    await both.run(REQUEST, ("r1", "pending", T1, T1))
    await both.run("UPDATE due_work SET next_due_at = ? WHERE subject_id = ?", (T4, "r1"))
    await both.run("UPDATE approval_requests SET version = version + 1, reason = NULL WHERE id = ?", ("r1",))
    for rows in await both.rows("SELECT next_due_at FROM due_work WHERE subject_id = 'r1'"):
        assert rows == [(T4,)]
    await both.run("UPDATE approval_requests SET steps = '[{}]' WHERE id = ?", ("r1",))
    for rows in await both.rows("SELECT next_due_at FROM due_work WHERE subject_id = 'r1'"):
        assert rows == [(T1,)]


async def test_a_clicks_payload_is_compressed_with_lz4_and_requests_update_in_place(
        pg: psycopg.AsyncConnection[Any]) -> None:
    await pg.execute("INSERT INTO inbox (identity, kind, body, status, received_s) VALUES ('c1', 'click', "
                     "repeat('payload=', 1000), 'queued', 0)")
    assert await pg_rows(pg, "SELECT pg_column_compression(body) FROM inbox") == [("lz4",)]
    options = await pg_rows(pg, "SELECT reloptions FROM pg_class WHERE relname = 'approval_requests'")
    assert options == [(["fillfactor=80"],)]


@pytest.mark.parametrize(("statement", "params"), [
    ("INSERT INTO company (id, name) VALUES (2, 'other')", ()),
    ("INSERT INTO workflows_version (id, version, changed_at) VALUES (2, 1, ?)", (T1,)),
    ("INSERT INTO shared_clock (id, offset_us) VALUES (2, 0)", ()),
    ("INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ('t', 'root', 'h', ?)", (T1,)),
    ("INSERT INTO votes (request_id, step_index, approver, decision, at) VALUES ('no', 0, 'U1', 'approve', ?)", (T1,)),
    ("INSERT INTO contact_groups (id, name, kind, data, created_at, updated_at) VALUES ('g2', 'G', 'k', '{}', ?, ?)",
     (T1, T1)),
])
async def test_constraints_refuse_as_in_sqlite(both: Both, statement: str, params: Row) -> None:
    await both.run("INSERT INTO contact_groups VALUES ('g1', 'G', 'k', '{}', ?, ?)", (T1, T1))
    with pytest.raises(sqlite3.IntegrityError):
        both.lite.execute(statement, params)
    with pytest.raises(psycopg.errors.IntegrityError):
        await both.pg.execute(statement.replace("?", "%s").encode(), params)


# -- 4. older and newer databases --------------------------------------------------------------------------------


async def test_an_older_database_is_refused_then_migrated_when_told(pg_url: str, lite: sqlite3.Connection) -> None:
    await pg_database_at(pg_url, LATEST - 2)
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        with pytest.raises(MigrationNeededError, match="signoff migrate"):
            await migrate(conn, migrate=False)
        assert await pg_version(pg_url) == LATEST - 2
        assert await migrate(conn, migrate=True) == LATEST
        assert await pg_version(pg_url) == LATEST
        assert await pg_schema(conn) == sqlite_schema(lite)


async def test_a_database_of_a_newer_signoff_is_refused(pg_url: str) -> None:
    await pg_database_at(pg_url, LATEST)
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute("UPDATE schema_version SET version = %s", (LATEST + 1,))
        for told in (False, True):
            with pytest.raises(SchemaTooNewError, match=str(LATEST + 1)):
                await migrate(conn, migrate=told)
    assert await pg_version(pg_url) == LATEST + 1


async def test_a_failing_migration_is_named_and_nothing_is_kept(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [*migrations()[:1], (2, "CREATE TABLE half_done (a INTEGER); SELECT * FROM no_such_table;")]
    monkeypatch.setattr(schema, "migrations", lambda: broken)
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        with pytest.raises(MigrationError, match="migration 0002 failed"):
            await migrate(conn, migrate=True)
        names = await pg_rows(conn, "SELECT to_regclass(name) FROM unnest(%s::text[]) AS name",
                              ["schema_version", "records", "half_done"])
    assert names == [(None,), (None,), (None,)]


# -- 5. concurrent migrations ------------------------------------------------------------------------------------


async def wait_for_waiters(conn: psycopg.AsyncConnection[Any], count: int) -> None:
    """Return once `count` sessions wait for an advisory lock in the database of `conn` (fail after 10 s)."""
    deadline = time.monotonic() + 10
    query = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    while (await pg_rows(conn, query))[0][0] < count:
        assert time.monotonic() < deadline, "the migrations never waited for the lock"


async def test_concurrent_migrations_apply_once(pg_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as holder:
        await holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        conns = [await psycopg.AsyncConnection.connect(pg_url) for _ in range(2)]
        tasks = [asyncio.create_task(migrate(conn, migrate=False)) for conn in conns]
        await wait_for_waiters(holder, 2)
        await holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        assert await asyncio.gather(*tasks) == [LATEST, LATEST]
        for conn in conns:
            await conn.close()
        assert await pg_rows(holder, "SELECT version FROM schema_version") == [(LATEST,)]
        assert await pg_rows(holder, "SELECT count(*) FROM workflows") == [(2,)]
