"""`signoff migrate` brings an older database up to date; `signoff run` refuses one until it is (or told to)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.cli.main import main
from storage import open_store
from storage.errors import MigrationNeededError, SchemaTooNewError
from storage.schema import check_schema_version
from storage.sqlite.db import _statements, migrations

LATEST = migrations()[-1][0]


def older_database(path: Path, version: int) -> str:
    """Create a database as a Signoff of schema `version` left it; return its path."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for _number, script in migrations()[:version]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    finally:
        conn.close()
    return str(path)


def version_of(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize(("current", "migrate", "refused"), [
    (0, False, None), (0, True, None), (LATEST, False, None), (LATEST - 1, True, None),
    (LATEST - 1, False, MigrationNeededError), (1, False, MigrationNeededError),
    (LATEST + 1, True, SchemaTooNewError), (LATEST + 1, False, SchemaTooNewError),
])
def test_which_schema_versions_open(current: int, migrate: bool, refused: type[Exception] | None) -> None:
    if refused is None:
        check_schema_version(current, LATEST, migrate)
    else:
        with pytest.raises(refused, match=str(current)):
            check_schema_version(current, LATEST, migrate)


async def test_an_older_database_is_refused_then_migrated_when_told(tmp_path: Path) -> None:
    path = older_database(tmp_path / "old.db", LATEST - 2)
    with pytest.raises(MigrationNeededError, match="signoff migrate"):
        await open_store(path, migrate=False)
    assert version_of(path) == LATEST - 2
    store = await open_store(path, migrate=True)
    await store.close()
    assert version_of(path) == LATEST


def test_migrate_checks_then_migrates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = older_database(tmp_path / "old.db", LATEST - 3)
    monkeypatch.setenv("SIGNOFF_DATABASE", path)
    assert main(["migrate", "--check"]) == 1
    assert f"at version {LATEST - 3}, this Signoff needs {LATEST}" in capsys.readouterr().err
    assert version_of(path) == LATEST - 3
    assert main(["migrate"]) == 0
    assert f"from version {LATEST - 3} to {LATEST}" in capsys.readouterr().out
    assert main(["migrate", "--check"]) == 0
    assert f"up to date (version {LATEST})" in capsys.readouterr().out


def test_run_refuses_an_older_database_with_the_way_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = older_database(tmp_path / "old.db", LATEST - 1)
    monkeypatch.setenv("SIGNOFF_DATABASE", path)
    monkeypatch.setenv("SIGNOFF_PORT", "0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "signoff migrate" in err and "SIGNOFF_MIGRATE=true" in err
    assert version_of(path) == LATEST - 1


def test_admin_commands_refuse_an_older_database_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = older_database(tmp_path / "old.db", LATEST - 1)
    assert main(["workflows", "export", "--database", path]) == 2
    assert "signoff migrate" in capsys.readouterr().err
    assert version_of(path) == LATEST - 1


async def test_start_up_told_to_migrate_migrates(tmp_path: Path) -> None:
    from bot.runtime import build_runtime
    from bot.settings import Settings

    path = older_database(tmp_path / "old.db", LATEST - 1)
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret="secret",  # type: ignore[call-arg]
                        database=path, port=0, migrate=True)
    runtime = await build_runtime(settings)
    await runtime.close()
    assert version_of(path) == LATEST


def test_check_refuses_an_empty_postgresql_database_and_writes_nothing(
    pg_cluster: str, capsys: pytest.CaptureFixture[str],
) -> None:
    import uuid

    import psycopg

    from tests.support.postgres import fresh_database

    url = fresh_database(pg_cluster, f"empty_{uuid.uuid4().hex}")
    assert main(["migrate", "--check", "--database", url]) == 2
    assert "no Signoff schema" in capsys.readouterr().err
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'").fetchone() == (0,)
    assert main(["migrate", "--database", url]) == 0
    assert main(["migrate", "--check", "--database", url]) == 0
    assert f"up to date (version {LATEST})" in capsys.readouterr().out
