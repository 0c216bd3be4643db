"""Statements rewritten for PostgreSQL so that one statement serves any number of values."""

from __future__ import annotations

from typing import Any

import pytest

from storage.postgres.connection import PgConnection, as_one_statement, columnar, packed, translate

EIGHT = ",".join("?" * 8)


@pytest.mark.parametrize(
    ("sql", "values", "expected"),
    [
        (f"SELECT * FROM t WHERE a=? AND id IN ({EIGHT}) AND c=?", ["x", *"abcdefgh", "y"],
         ("SELECT * FROM t WHERE a=? AND id = ANY(?) AND c=?", ["x", list("abcdefgh"), "y"])),
        (f"DELETE FROM t WHERE id NOT IN ({EIGHT})", list("abcdefgh"),
         ("DELETE FROM t WHERE id <> ALL(?)", [list("abcdefgh")])),
        (f"SELECT * FROM t WHERE id IN ({EIGHT})", list(range(8)),
         (f"SELECT * FROM t WHERE id IN ({EIGHT})", list(range(8)))),
        ("SELECT * FROM t WHERE id IN (?,?)", ["a", "b"], ("SELECT * FROM t WHERE id IN (?,?)", ["a", "b"])),
    ],
)
def test_long_lists_of_strings_become_one_array(sql: str, values: list[Any], expected: tuple[str, list[Any]]) -> None:
    assert packed(sql, values) == expected


@pytest.mark.parametrize(
    ("sql", "values", "expected"),
    [
        ("INSERT INTO t (a, b) VALUES (?,?),(?,?) ON CONFLICT DO NOTHING RETURNING a", ["x", 1, "y", 2],
         ("INSERT INTO t (a, b) SELECT * FROM unnest(?::text[], ?::bigint[]) ON CONFLICT DO NOTHING RETURNING a",
          [["x", "y"], [1, 2]])),
        ("WITH d (id, at) AS (VALUES (?,?), (?,?)) UPDATE o SET s=? FROM d", [1, "a", 2.5, "b", "S"],
         ("WITH d (id, at) AS (SELECT * FROM unnest(?::float8[], ?::text[])) UPDATE o SET s=? FROM d",
          [[1, 2.5], ["a", "b"], "S"])),
        ("INSERT INTO t (a, b) VALUES (?,?),(?,?)", ["x", None, "y", None], None),
        ("INSERT INTO t (a, b) VALUES (?,?),(?,?)", ["x", 1, "y", "2"], None),
        ("INSERT INTO t (a, b) VALUES (?,?)", ["x", 1], None),
    ],
)
def test_many_rows_become_one_array_per_column(
    sql: str, values: list[Any], expected: tuple[str, list[Any]] | None,
) -> None:
    assert columnar(sql, values) == (expected or (sql, values))


@pytest.mark.parametrize(
    ("sql", "batch", "expected"),
    [
        ("INSERT INTO t (a, b) VALUES (?,?) ON CONFLICT DO NOTHING", [("x", 1), ("y", None)],
         ("INSERT INTO t (a, b) SELECT * FROM unnest(?::text[], ?::bigint[]) ON CONFLICT DO NOTHING",
          [["x", "y"], [1, None]])),
        ("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a=excluded.a", [("x",), ("y",)], None),
        ("UPDATE t SET a=? WHERE b=?", [("x", "y"), ("z", "w")], None),
        ("INSERT INTO t (a) VALUES (?)", [("x",)], None),
    ],
)
def test_a_one_row_insert_of_many_rows_is_one_statement(
    sql: str, batch: list[tuple[Any, ...]], expected: tuple[str, list[Any]] | None,
) -> None:
    assert as_one_statement(sql, batch) == expected


def test_integers_among_floats_are_sent_as_floats() -> None:
    _, values = columnar("INSERT INTO t (a) VALUES (?),(?)", [1, 2.5])
    assert [type(v) for v in values[0]] == [float, float]


async def test_rows_sent_as_binary_arrays_read_back_exactly(pg_url: str) -> None:
    conn = await PgConnection.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE t (a float8, b bigint, c text)")
        rows = [(1, 2, 'quote " brace {} comma , backslash \\'), (2.5, None, None), (None, 10**15, "é\u2028🙂 NULL")]
        await conn.execute("INSERT INTO t (a, b, c) VALUES (?,?,?),(?,?,?),(?,?,?)", [v for r in rows for v in r])
        assert [tuple(r) for r in await conn.execute_fetchall("SELECT a, b, c FROM t ORDER BY a NULLS LAST")] == rows
        assert "%b::text[]" in translate(columnar("INSERT INTO t (c) VALUES (?),(?)", ["x", "y"])[0])
    finally:
        await conn.close()
