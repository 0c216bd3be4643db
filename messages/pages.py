"""Render shipped HTML pages (`*.html.j2`): sandboxed, autoescaped, in the company locale."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from messages.bidi import without_bidi_controls
from messages.i18n import translations
from messages.render import TEMPLATE_DIR, Formatter


@lru_cache(maxsize=8)
def _pages(locale: str, timezone: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined, autoescape=True,
        finalize=without_bidi_controls,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale"] = locale
    fmt = Formatter(locale, ZoneInfo(timezone))
    env.filters.update(money=lambda amount, currency="USD": fmt.money(amount, currency), day=fmt.day,
                       moment=fmt.moment, number=fmt.number)
    return env


def render_page(name: str, locale: str = "en", timezone: str = "UTC", **context: Any) -> str:
    """Render a shipped HTML page; every value inserted is escaped."""
    return _pages(locale, timezone).get_template(name).render(**context)
