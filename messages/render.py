"""Render shipped templates to Block Kit JSON and user-written templates to text, sandboxed."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import ChainableUndefined, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from messages.errors import RenderError, TemplateInvalidError
from messages.i18n import translations

TEMPLATE_DIR = Path(__file__).parent / "templates"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
LOCALES = {"en": "en_US", "fr": "fr_FR"}


def escape_mrkdwn(text: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: Any, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis."""
    text = str(text)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


class Formatter:
    """Locale- and time-zone-aware formatting of money, numbers and dates."""

    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        self.babel_locale = LOCALES.get(locale, "en_US")
        self.tz = tz

    def money(self, amount: Any, currency: str = "USD") -> str:
        """Format a decimal amount in a currency: `€12,500.00` or `12 500,00 €`."""
        if amount is None or amount == "":
            return "—"
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        return str(format_currency(value, currency, locale=self.babel_locale))

    def number(self, value: Any) -> str:
        """Format a number for the locale."""
        return str(format_decimal(value, locale=self.babel_locale))

    def day(self, value: Any) -> str:
        """Format a date (or datetime, in the company zone) as a medium date."""
        if value is None or value == "":
            return "—"
        if isinstance(value, str):
            value = date.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return str(format_date(value, format="medium", locale=self.babel_locale))

    def moment(self, value: datetime | None) -> str:
        """Format an aware datetime in the company zone."""
        if value is None:
            return "—"
        return str(format_datetime(value.astimezone(self.tz), format="medium", locale=self.babel_locale))


def slack_user(ref: Any) -> str:
    """Mention a Slack user id as `<@U…>`; show anything else (an e-mail) as plain text."""
    text = str(ref)
    return f"<@{text}>" if SLACK_USER_ID.match(text) else escape_mrkdwn(text)


def _jsonq(value: Any, limit: int = 3000) -> str:
    return json.dumps(truncate(escape_mrkdwn("" if value is None else value), limit), ensure_ascii=False)


def _plainq(value: Any, limit: int = 3000) -> str:
    return json.dumps(truncate("" if value is None else value, limit), ensure_ascii=False)


def _environment(locale: str, tz: ZoneInfo, loader: FileSystemLoader | None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=loader, undefined=StrictUndefined, autoescape=False,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    fmt = Formatter(locale, tz)
    env.filters.update(
        money=lambda amount, currency="USD": fmt.money(amount, currency),
        number=fmt.number, day=fmt.day, moment=fmt.moment,
        q=_jsonq, plain=_plainq, slack_user=slack_user, mrkdwn=escape_mrkdwn, truncate_to=truncate,
    )
    return env


@lru_cache(maxsize=8)
def _shipped(locale: str, timezone: str) -> SandboxedEnvironment:
    return _environment(locale, ZoneInfo(timezone), FileSystemLoader(str(TEMPLATE_DIR)))


@lru_cache(maxsize=8)
def _user(locale: str, timezone: str) -> SandboxedEnvironment:
    env = _environment(locale, ZoneInfo(timezone), None)
    env.undefined = ChainableUndefined
    return env


class Renderer:
    """Renders every shipped message, modal and Home view, and user-written templates."""

    def __init__(self, locale: str = "en", timezone: str = "UTC") -> None:
        self.locale = locale
        self.timezone = timezone
        self.fmt = Formatter(locale, ZoneInfo(timezone))

    def json(self, name: str, **context: Any) -> Any:
        """Render a shipped `.json.j2` template and parse it."""
        text = _shipped(self.locale, self.timezone).get_template(name).render(**context)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise RenderError(f"{name} rendered invalid JSON: {exc}") from exc

    def text(self, name: str, **context: Any) -> str:
        """Render a shipped plain-text template."""
        return _shipped(self.locale, self.timezone).get_template(name).render(**context).strip()

    def user_text(self, source: str, **context: Any) -> str:
        """Render an admin-written template in the sandbox; raise TemplateInvalidError when it fails."""
        env = _user(self.locale, self.timezone)
        try:
            return env.from_string(source).render(**context)
        except TemplateSyntaxError as exc:
            raise TemplateInvalidError(f"line {exc.lineno}: {exc.message}", exc.lineno) from exc
        except (TemplateError, ArithmeticError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateInvalidError(f"cannot render: {exc}") from exc


def check_user_template(source: str, sample: dict[str, Any], renderer: Renderer | None = None) -> str | None:
    """Return None when a user template compiles and renders on sample data, else the problem."""
    try:
        (renderer or Renderer()).user_text(source, **sample)
    except TemplateInvalidError as exc:
        return str(exc)
    return None
