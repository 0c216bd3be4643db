"""Settings: defaults, validation, and start-up refusing a bad setting with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.settings import load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SIGNOFF_TIMEZONE", "SIGNOFF_LOCALE",
                 "SIGNOFF_PORT", "SIGNOFF_TICK_SECONDS", "SIGNOFF_ADMINS", "SIGNOFF_DATABASE", "SIGNOFF_ARCHIVE_AFTER",
                 "SIGNOFF_OUTBOX_RETENTION", "SIGNOFF_SMTP_URL", "SIGNOFF_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert (settings.database, settings.host, settings.port, settings.timezone, settings.locale) == (
        "./signoff.db", "127.0.0.1", 3000, "UTC", "en")
    assert settings.slack_api_url == "https://slack.com/api/" and settings.tick_seconds == 60
    assert not settings.is_socket_mode and settings.admins == frozenset()
    assert settings.archive_after_s == settings.outbox_retention_s == 30 * 86400


def test_admins_and_socket_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("SIGNOFF_ADMINS", "U1, U2,,")
    settings = load_settings()
    assert settings.is_socket_mode and settings.admins == frozenset({"U1", "U2"})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({**BASE, "SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({**BASE, "SIGNOFF_TIMEZONE": "Mars/Olympus"}, "SIGNOFF_TIMEZONE"),
        ({**BASE, "SIGNOFF_LOCALE": "de"}, "SIGNOFF_LOCALE"),
        ({**BASE, "SIGNOFF_PORT": "seventy"}, "SIGNOFF_PORT"),
        ({**BASE, "SIGNOFF_TICK_SECONDS": "0"}, "SIGNOFF_TICK_SECONDS"),
        ({**BASE, "SLACK_APP_TOKEN": "nope"}, "SLACK_APP_TOKEN"),
        ({**BASE, "SIGNOFF_OUTBOX_RETENTION": "30 days"}, "SIGNOFF_OUTBOX_RETENTION"),
        ({**BASE, "SIGNOFF_ARCHIVE_AFTER": "P0D"}, "SIGNOFF_ARCHIVE_AFTER"),
        ({**BASE, "SIGNOFF_ARCHIVE_AFTER": "month"}, "SIGNOFF_ARCHIVE_AFTER"),
        ({**BASE, "SIGNOFF_ARCHIVE_AFTER": "P99999999999D"}, "SIGNOFF_ARCHIVE_AFTER"),
        ({**BASE, "SIGNOFF_SMTP_URL": "http://x"}, "SIGNOFF_SMTP_URL"),
        ({**BASE, "SIGNOFF_SMTP_URL": "smtp://"}, "SIGNOFF_SMTP_URL"),
        ({**BASE, "SIGNOFF_SMTP_URL": "smtp://mail.example.com:99999"}, "SIGNOFF_SMTP_URL"),
        ({**BASE, "SIGNOFF_WEBHOOK_URL": "notaurl"}, "SIGNOFF_WEBHOOK_URL"),
        ({**BASE, "SIGNOFF_WEBHOOK_URL": "ftp://hooks.example.com/x"}, "SIGNOFF_WEBHOOK_URL"),
        ({**BASE, "SIGNOFF_DATABASE": ""}, "SIGNOFF_DATABASE"),
        ({**BASE, "SIGNOFF_DATABASE": "sqlite:///"}, "SIGNOFF_DATABASE"),
        ({**BASE, "SIGNOFF_DATABASE": ":memory:"}, "SIGNOFF_DATABASE"),
        ({**BASE, "SIGNOFF_TICK_SECONDS": "inf"}, "SIGNOFF_TICK_SECONDS"),
        ({**BASE, "SIGNOFF_TICK_SECONDS": "1e308"}, "SIGNOFF_TICK_SECONDS"),
        ({**BASE, "SLACK_API_URL": "notaurl"}, "SLACK_API_URL"),
        ({**BASE, "SIGNOFF_ADMINS": "U01ADA,bad id"}, "SIGNOFF_ADMINS"),
        ({**BASE, "SIGNOFF_DRAIN_S": "-1"}, "SIGNOFF_DRAIN_S"),
        ({**BASE, "SIGNOFF_DRAIN_S": "nan"}, "SIGNOFF_DRAIN_S is invalid: Input should be a finite number"),
        ({**BASE, "SIGNOFF_SHUTDOWN_S": "inf"}, "SIGNOFF_SHUTDOWN_S is invalid: Input should be a finite number"),
        ({**BASE, "SIGNOFF_KEEP_ALIVE_S": "0"}, "SIGNOFF_KEEP_ALIVE_S"),
        ({**BASE, "SIGNOFF_KEEP_ALIVE_S": "nan"}, "SIGNOFF_KEEP_ALIVE_S is invalid: Input should be a finite number"),
    ],
)
def test_bad_or_missing_setting_is_named(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


@pytest.mark.parametrize("host", ["999.1.1.1", "no.such.host.invalid"])
def test_an_address_it_cannot_listen_on_stops_run_with_one_line(tmp_path: Path, host: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIGNOFF_HOST": host, "SIGNOFF_PORT": "0", **BASE}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.strip().splitlines() if " WARNING " not in line]
    assert len(lines) == 1 and "SIGNOFF_HOST" in lines[0] and host in lines[0], result.stderr[-2000:]


def test_settings_are_read_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nSLACK_SIGNING_SECRET=x\nSIGNOFF_LOCALE=fr\n")
    settings = load_settings()
    assert settings.slack_bot_token == "xoxb-from-file" and settings.locale == "fr"


def test_run_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIGNOFF_TIMEZONE": "Nowhere/Land", **BASE}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SIGNOFF_TIMEZONE" in lines[0]


@pytest.mark.parametrize(("database", "says"), [
    ("/nonexistent/dir/x.db", "cannot open the SQLite database /nonexistent/dir/x.db"),
    ("postgresql://signoff:s3cret@127.0.0.1:1/signoff", "cannot connect to PostgreSQL at "
                                                         "postgresql://signoff:***@127.0.0.1:1/signoff"),
    ("postgresql://signoff@127.0.0.1:1/signoff?password=s3cret&sslmode=disable",
     "postgresql://signoff@127.0.0.1:1/signoff?password=***&sslmode=disable"),
    ("postgresql://signoff@127.0.0.1:1/signoff?sslmode=bogus", "cannot connect to PostgreSQL"),
])
def test_a_database_that_cannot_be_opened_stops_run_with_one_line(tmp_path: Path, database: str, says: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIGNOFF_DATABASE": database, **BASE}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "s3cret" not in result.stderr, result.stderr[-2000:]
