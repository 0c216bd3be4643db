"""Settings read from the environment and `.env` (SPEC §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import SettingsError
from engine.currencies import is_currency
from engine.durations import parse_duration
from engine.errors import InvalidDurationError

ENV_NAMES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "database": "SIGNOFF_DATABASE",
    "host": "SIGNOFF_HOST",
    "port": "SIGNOFF_PORT",
    "api_token": "SIGNOFF_API_TOKEN",
    "admins_csv": "SIGNOFF_ADMINS",
    "timezone": "SIGNOFF_TIMEZONE",
    "locale": "SIGNOFF_LOCALE",
    "currency": "SIGNOFF_CURRENCY",
    "tick_seconds": "SIGNOFF_TICK_SECONDS",
    "test_clock": "SIGNOFF_TEST_CLOCK",
    "smtp_url": "SIGNOFF_SMTP_URL",
    "webhook_url": "SIGNOFF_WEBHOOK_URL",
    "webhook_secret": "SIGNOFF_WEBHOOK_SECRET",
    "shutdown_s": "SIGNOFF_SHUTDOWN_S",
    "drain_s": "SIGNOFF_DRAIN_S",
    "keep_alive_s": "SIGNOFF_KEEP_ALIVE_S",
    "delivery_horizon": "SIGNOFF_DELIVERY_HORIZON",
    "outbox_retention": "SIGNOFF_OUTBOX_RETENTION",
    "archive_after": "SIGNOFF_ARCHIVE_AFTER",
    "public_url": "SIGNOFF_PUBLIC_URL",
    "migrate": "SIGNOFF_MIGRATE",
}


DEFAULT_SENDER = "signoff@localhost"
ADMIN_ID = re.compile(r"[A-Z0-9]+")  # what a Slack user id is made of (its exact shape is Slack's)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send e-mail."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    sender: str = DEFAULT_SENDER

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `smtp://user:pass@host:port?from=a@b` (or `smtps://` for implicit TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("SIGNOFF_SMTP_URL is invalid: expected smtp://user:pass@host:port")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return cls(
            host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps", sender=unquote(query.get("from", DEFAULT_SENDER)),
        )


def _env(name: str) -> AliasChoices:
    return AliasChoices(ENV_NAMES[name])


class Settings(BaseSettings):
    """Every setting of Signoff, validated."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: str | None = Field(default=None, validation_alias=_env("slack_bot_token"))
    slack_signing_secret: str | None = Field(default=None, validation_alias=_env("slack_signing_secret"))
    slack_app_token: str | None = Field(default=None, validation_alias=_env("slack_app_token"))
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias=_env("slack_api_url"))
    database: str = Field(default="./signoff.db", validation_alias=_env("database"))
    host: str = Field(default="127.0.0.1", validation_alias=_env("host"))
    port: int = Field(default=3000, ge=0, le=65535, validation_alias=_env("port"))
    api_token: str | None = Field(default=None, validation_alias=_env("api_token"))
    admins_csv: str = Field(default="", validation_alias=_env("admins_csv"))
    timezone: str = Field(default="UTC", validation_alias=_env("timezone"))
    locale: str = Field(default="en", pattern="^(en|fr)$", validation_alias=_env("locale"))
    currency: str | None = Field(default=None, validation_alias=_env("currency"))
    tick_seconds: float = Field(default=60, gt=0, le=86400, allow_inf_nan=False, validation_alias=_env("tick_seconds"))
    test_clock: bool = Field(default=False, validation_alias=_env("test_clock"))
    smtp_url: str | None = Field(default=None, validation_alias=_env("smtp_url"))
    webhook_url: str | None = Field(default=None, validation_alias=_env("webhook_url"))
    webhook_secret: str | None = Field(default=None, validation_alias=_env("webhook_secret"))
    shutdown_s: float = Field(default=10, ge=0, le=3600, allow_inf_nan=False, validation_alias=_env("shutdown_s"))
    drain_s: float = Field(default=0, ge=0, le=3600, allow_inf_nan=False, validation_alias=_env("drain_s"))
    keep_alive_s: float = Field(default=5, ge=1, le=3600, allow_inf_nan=False, validation_alias=_env("keep_alive_s"))
    delivery_horizon: str = Field(default="P1D", validation_alias=_env("delivery_horizon"))
    outbox_retention: str = Field(default="P30D", validation_alias=_env("outbox_retention"))
    archive_after: str = Field(default="P30D", validation_alias=_env("archive_after"))
    public_url: str = Field(default="", validation_alias=_env("public_url"))
    migrate: bool = Field(default=False, validation_alias=_env("migrate"))
    sandbox: bool = False

    @field_validator("delivery_horizon", "outbox_retention", "archive_after")
    @classmethod
    def _horizon_is_duration(cls, value: str) -> str:
        try:
            horizon = parse_duration(value)
        except (InvalidDurationError, OverflowError) as exc:
            raise ValueError(f"{value!r} is not an ISO 8601 duration like P1D or PT6H") from exc
        if horizon <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_shape(cls, value: str | None) -> str | None:
        if value:
            try:
                SmtpConfig.from_url(value)
            except SettingsError as exc:
                raise ValueError("expected smtp://user:pass@host:port (or smtps://), optionally ?from=ADDRESS") from exc
        return value or None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url_shape(cls, value: str | None) -> str | None:
        parts = urlsplit(value or "")
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("expected an http(s) URL like https://hooks.example.com/signoff")
        return value or None

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment):
            raise ValueError("expected an http(s) base URL like https://signoff.example.com")
        return value

    @model_validator(mode="after")
    def _public_url_default(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def delivery_horizon_s(self) -> float:
        """Return how long a message keeps being retried before it is dead-lettered, in seconds."""
        return parse_duration(self.delivery_horizon).total_seconds()

    @property
    def outbox_retention_s(self) -> float:
        """Return how long a delivered message stays in the outbox, in seconds."""
        return parse_duration(self.outbox_retention).total_seconds()

    @property
    def archive_after_s(self) -> float:
        """Return how long after its last decision a document's closed approvals are archived, in seconds."""
        return parse_duration(self.archive_after).total_seconds()

    @field_validator("database")
    @classmethod
    def _database_shape(cls, value: str) -> str:
        value = value.strip()
        path = value.removeprefix("sqlite://").removeprefix("/") if value.startswith("sqlite://") else value
        if not path:
            raise ValueError("expected a SQLite file path or a postgresql:// URL")
        if path == ":memory:" or path.startswith("file::memory:"):
            raise ValueError("an in-memory database keeps nothing and is not shared: give a file path")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL like https://slack.com/api/")
        return value

    @field_validator("admins_csv")
    @classmethod
    def _admins_are_slack_users(cls, value: str) -> str:
        wrong = [a.strip() for a in value.split(",") if a.strip() and not ADMIN_ID.fullmatch(a.strip())]
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not a Slack user id (like U01ABCDEF); separate ids with commas")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _home_currency(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not is_currency(value.upper()):
            raise ValueError("must be the ISO 4217 code of a currency in use, such as USD or EUR")
        return value.upper()

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return value

    @property
    def admins(self) -> frozenset[str]:
        """Return the Slack user ids of the admins."""
        return frozenset(a.strip() for a in self.admins_csv.split(",") if a.strip())

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return ZoneInfo(self.timezone)

    @property
    def is_socket_mode(self) -> bool:
        """Tell whether Socket Mode is used instead of HTTP."""
        return bool(self.slack_app_token)

    def check_required(self) -> None:
        """Raise SettingsError naming the first setting this mode needs but lacks."""
        if self.sandbox:
            return
        if not self.slack_bot_token:
            raise SettingsError("SLACK_BOT_TOKEN is required (the bot token xoxb-…)")
        if not self.is_socket_mode and not self.slack_signing_secret:
            raise SettingsError("SLACK_SIGNING_SECRET is required in HTTP mode")


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise SettingsError with one line naming the bad one."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = ENV_NAMES.get(field, field)
        raise SettingsError(f"{name} is invalid: {err['msg'].removeprefix('Value error, ')}") from exc
    settings.check_required()
    return settings
