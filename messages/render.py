"""Render shipped templates to Block Kit JSON and user-written templates to text, sandboxed."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    ChainableUndefined,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    meta,
    pass_context,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from engine.currencies import minor_units
from engine.limits import SLACK_ID
from messages.bidi import may_hold_bidi_controls, shown_without_bidi_controls, without_bidi_controls
from messages.budget import BudgetedEnvironment, Mrkdwn, compile_within, render_within
from messages.errors import RenderError, TemplateBudgetError, TemplateInvalidError
from messages.i18n import translations

TEMPLATE_DIR = Path(__file__).parent / "templates"
LOCALES = {"en": "en_US", "fr": "fr_FR"}
DOCUMENT_NAMES = ("record", "invoice", "document")
RENDERS_NOTHING = "renders to nothing on a sample document: check the names it uses"
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


CODE_BEFORE_DIGIT = re.compile(r"^(-?[A-Za-z]+)(?=\d)")
ENTITIES = ("&amp;", "&lt;", "&gt;")
ENTITY_START = re.compile(r"&[a-z]{0,3}$")


def escape_mrkdwn(text: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(value: Any, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis; never inside an escaped `&amp;`, `&lt;` or
    `&gt;` (half of one would show as `&l…`)."""
    text = str(value)
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    if (partial := ENTITY_START.search(head)) and text.startswith(ENTITIES, partial.start()):
        head = head[: partial.start()]
    return head + "…"


class Formatter:
    """Locale- and time-zone-aware formatting of money, numbers and dates."""

    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        self.babel_locale = LOCALES.get(locale, "en_US")
        self.tz = tz
        self.moment_pattern = str(Locale.parse(self.babel_locale).datetime_formats["medium"])  # "{1}, {0}"
        # Babel loads a locale's data on first use: load it now, so no render budget is charged with it.
        self.money(Decimal("1"), "EUR")
        self.moment(datetime(2026, 1, 1, tzinfo=UTC))
        self.number(1)

    def money(self, amount: Any, currency: str = "USD", rounded: bool = False) -> str:
        """Format a decimal amount in a currency: `€12,500.00` or `12 500,00 €`; never rounded (an amount with
        more decimals than the currency's shows them all) unless `rounded` (a converted amount)."""
        if amount is None or amount == "":
            return "—"
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        if rounded:  # half up, as accounts round: €1.01 at 0.5 is $0.51
            value = value.quantize(Decimal(1).scaleb(-minor_units(currency)), ROUND_HALF_UP)
        text = str(format_currency(value, currency, locale=self.babel_locale, decimal_quantization=rounded))
        return CODE_BEFORE_DIGIT.sub("\\1\u00a0", text)  # CLDR's currency spacing: `CHF 2,000.05`, not `CHF2,000.05`

    def number(self, value: Any) -> str:
        """Format a number for the locale, every digit it has (an exchange rate of 0.0066667 is not 0.007)."""
        return str(format_decimal(value, locale=self.babel_locale, decimal_quantization=False))

    def day(self, value: Any) -> str:
        """Format a date (or datetime, in the company zone) as a medium date."""
        if value is None or value == "":
            return "—"
        if isinstance(value, str):
            value = date.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return str(format_date(value, format="medium", locale=self.babel_locale))

    def moment(self, value: datetime | None, zone: bool = False) -> str:
        """Format an aware datetime in the company zone: its date, and its time to the minute (with the zone's
        abbreviation when `zone`: for readers who may live elsewhere, such as an outside approver)."""
        if value is None:
            return "—"
        local = value.astimezone(self.tz)
        day = format_date(local, format="medium", locale=self.babel_locale)
        time = format_time(local, format="short", locale=self.babel_locale)
        text = self.moment_pattern.replace("{1}", str(day)).replace("{0}", str(time))
        return f"{text} {local.tzname()}" if zone and local.tzname() else text


def document_currency(context: Mapping[str, Any]) -> str:
    """Return the currency of the document a template speaks of (`record`, `invoice`), else USD."""
    for name in DOCUMENT_NAMES:
        document = context.get(name)
        found = document.get("currency") if isinstance(document, Mapping) else getattr(document, "currency", None)
        if isinstance(found, str) and CURRENCY_CODE.match(found):
            return found
    return "USD"


def slack_user(ref: Any) -> str:
    """Mention a Slack user id as `<@U…>`; show anything else (an e-mail) as plain text."""
    text = str(ref)
    return f"<@{text}>" if SLACK_ID.match(text) else escape_mrkdwn(text)


BLANK_RUN = re.compile(r"\n\s*\n(\s*\n)+")


def tight(value: Any) -> str:
    """Return text people typed without its runs of blank lines (one is kept) or surrounding blank space."""
    return BLANK_RUN.sub("\n\n", str(value).strip())


def quoted(value: Any) -> str:
    """Quote text people typed in a plain-text e-mail: each line after `> `, runs of blank lines made one, so that
    nothing in it passes for the e-mail's own lines."""
    return "\n".join(f"> {line}".rstrip() for line in tight(value).splitlines())


def _jsonq(value: Any, limit: int = 3000) -> str:
    return json.dumps(truncate(escape_mrkdwn("" if value is None else value), limit), ensure_ascii=False)


def _plainq(value: Any, limit: int = 3000) -> str:
    return json.dumps(truncate("" if value is None else value, limit), ensure_ascii=False)


class QuietBytecodeCache(FileSystemBytecodeCache):
    """Shipped templates compiled once per machine, kept for the next process (whose first message then renders at
    once); a cache that cannot be read or written is only skipped: it never stops a message."""

    def load_bytecode(self, bucket: Bucket) -> None:
        """Load a compiled template when the cache has it."""
        with contextlib.suppress(OSError, ValueError, EOFError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep a compiled template for the next process, when the cache can be written."""
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


@lru_cache(maxsize=2)
def _bytecode_cache(shown: bool) -> QuietBytecodeCache | None:
    """Return the compiled-template cache of this user (in the temporary folder) for one kind of environment (how
    values are printed is compiled in), or None when there can be none."""
    try:
        return QuietBytecodeCache(pattern=f"__signoff_{'shown' if shown else 'json'}_%s.cache")
    except (OSError, RuntimeError):
        return None


def _environment(locale: str, tz: ZoneInfo, loader: FileSystemLoader | None, shown: bool) -> SandboxedEnvironment:
    """A shipped templates' environment; a `shown` one (plain text: e-mails, notes) prints every value without
    bidirectional-text controls (Block Kit JSON drops them from its texts once parsed: ids in values stay whole).
    Shipped templates never change while the process runs: they are not checked again on each use."""
    env = SandboxedEnvironment(loader=loader, finalize=without_bidi_controls if shown else None, auto_reload=False,
                               bytecode_cache=_bytecode_cache(shown), **_OPTIONS)
    _install(env, locale, tz)
    return env


_OPTIONS: dict[str, Any] = {"undefined": StrictUndefined, "autoescape": False, "extensions": ["jinja2.ext.i18n"],
                            "trim_blocks": True, "lstrip_blocks": True}


def _install(env: SandboxedEnvironment, locale: str, tz: ZoneInfo) -> None:
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale"] = locale  # English defaults of coded problems are shown only to English readers
    fmt = Formatter(locale, tz)

    @pass_context
    def money(context: Context, amount: Any, currency: str | None = None, rounded: bool = False) -> str:
        return fmt.money(amount, currency or document_currency(context), rounded)

    env.filters.update(
        money=money,
        number=fmt.number, day=fmt.day, moment=fmt.moment,
        q=_jsonq, plain=_plainq, slack_user=slack_user, mrkdwn=escape_mrkdwn, truncate_to=truncate, quoted=quoted,
        tight=tight,
    )


@lru_cache(maxsize=8)
def _shipped(locale: str, timezone: str, shown: bool = False) -> SandboxedEnvironment:
    return _environment(locale, ZoneInfo(timezone), FileSystemLoader(str(TEMPLATE_DIR)), shown)


@lru_cache(maxsize=8)
def _user(locale: str, timezone: str, slack: bool = False, strict: bool = False) -> BudgetedEnvironment:
    """The sandbox of admin-written templates: budgeted; for Slack, data is escaped for mrkdwn. A name or field
    nothing has prints as nothing, but `strict` (checking a template on sample data) refuses it."""
    undefined = StrictUndefined if strict else ChainableUndefined
    env = BudgetedEnvironment(escape=escape_mrkdwn if slack else None, **{**_OPTIONS, "undefined": undefined})
    _install(env, locale, ZoneInfo(timezone))
    env.filters.update(slack_user=lambda ref: Mrkdwn(slack_user(ref)), mrkdwn=lambda text: Mrkdwn(escape_mrkdwn(text)))
    env.guard_filters()
    return env


@lru_cache(maxsize=512)
def _compiled(env: BudgetedEnvironment, source: str) -> Template:
    return compile_within(env, source)


def template_line(exc: BaseException) -> int | None:
    """Return the template line a rendering error was raised on, read from its traceback."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Renderer:
    """Renders every shipped message, modal and Home view, and user-written templates."""

    def __init__(self, locale: str = "en", timezone: str = "UTC", home_currency: str | None = None) -> None:
        self.locale = locale
        self.timezone = timezone
        self.home_currency = home_currency
        self.fmt = Formatter(locale, ZoneInfo(timezone))

    def json(self, name: str, **context: Any) -> Any:
        """Render a shipped `.json.j2` template and parse it (every template knows `home_currency`: the company's
        currency, or None)."""
        text = _shipped(self.locale, self.timezone).get_template(name).render(home_currency=self.home_currency,
                                                                             **context)
        try:
            return shown_without_bidi_controls(json.loads(text)) if may_hold_bidi_controls(text) else json.loads(text)
        except json.JSONDecodeError as exc:
            raise RenderError(f"{name} rendered invalid JSON: {exc}") from exc

    def text(self, name: str, **context: Any) -> str:
        """Render a shipped plain-text template."""
        return _shipped(self.locale, self.timezone, True).get_template(name).render(
            home_currency=self.home_currency, **context).strip()

    def unknown_names(self, source: str, known: Iterable[str]) -> list[str]:
        """Return the top-level names an admin-written template reads that are neither `known` nor built in (a
        misspelt `{{ comapny.name }}` would render as nothing); [] when it does not parse (rendering says why)."""
        env = _user(self.locale, self.timezone)
        try:
            names = meta.find_undeclared_variables(env.parse(source))
        except TemplateSyntaxError:
            return []
        return sorted(names - set(known) - set(env.globals))

    def user_text(self, source: str, **context: Any) -> str:
        """Render an admin-written template as plain text (e-mail), sandboxed and within its budget."""
        return self._user_render(_user(self.locale, self.timezone), source, context)

    def strict_problem(self, source: str, sample: Mapping[str, Any]) -> str | None:
        """Return the first field a template reads that the sample does not have (a misspelt `{{ record.amout }}`
        would print nothing for everyone), or None; custom `fields` a document may lack are not counted."""
        try:
            self._user_render(_user(self.locale, self.timezone, strict=True), source, _open_fields(sample))
        except TemplateInvalidError as exc:
            missing = NO_ATTRIBUTE.search(str(exc))
            return f"unknown field {missing.group(1)!r}" + (f" (line {exc.line})" if exc.line else "") if missing \
                else None
        return None

    def slack_text(self, source: str, **context: Any) -> str:
        """Render an admin-written template for Slack: data it inserts is escaped for mrkdwn, the rest kept."""
        return self._user_render(_user(self.locale, self.timezone, True), source, context)

    @staticmethod
    def _user_render(env: BudgetedEnvironment, source: str, context: dict[str, Any]) -> str:
        """Render in the sandbox; raise TemplateInvalidError (TemplateBudgetError when over budget) on failure."""
        try:
            return render_within(_compiled(env, source), context)
        except TemplateSyntaxError as exc:
            raise TemplateInvalidError(f"line {exc.lineno}: {exc.message}", exc.lineno) from exc
        except TemplateBudgetError as exc:
            raise exc.at_line(template_line(exc)) from None
        except RecursionError as exc:
            raise TemplateInvalidError("cannot render: too many nested calls", template_line(exc)) from exc
        except Exception as exc:  # whatever an admin's template raises is reported, never propagated
            raise TemplateInvalidError(f"cannot render: {exc}", template_line(exc)) from exc


NO_ATTRIBUTE = re.compile(r"has no attribute '([^']{1,100})'")


class _OpenFields(dict[str, Any]):
    """A document's custom fields while a template is checked: one the sample lacks may be on real documents."""

    def __missing__(self, key: str) -> ChainableUndefined:
        return ChainableUndefined(name=key)


def _open_fields(value: Any) -> Any:
    """Return sample data with every `fields` mapping open (see _OpenFields)."""
    if not isinstance(value, Mapping):
        return value
    return {key: _OpenFields(item) if key == "fields" and isinstance(item, Mapping) else _open_fields(item)
            for key, item in value.items()}


def describe(exc: TemplateInvalidError) -> str:
    """Return a template problem as an admin reads it, with its line when known."""
    text = str(exc)
    return f"line {exc.line}: {text}" if exc.line and not text.startswith("line ") else text


def check_user_template(source: str, sample: dict[str, Any], renderer: Renderer | None = None) -> str | None:
    """Return None when a user template compiles and renders on sample data to some text, else the problem (with
    its line)."""
    renderer = renderer or Renderer()
    try:
        rendered = renderer.user_text(source, **sample)
    except TemplateInvalidError as exc:
        return describe(exc)
    unknown = renderer.unknown_names(source, sample)
    if unknown:
        return f"unknown name {unknown[0]!r} (a template knows {', '.join(sorted(sample))})"
    if (missing := renderer.strict_problem(source, sample)) is not None:
        return missing
    return None if rendered.strip() else RENDERS_NOTHING


def non_blank(text: str, what: str) -> str:
    """Return a rendered text that says something; raise TemplateInvalidError when it is blank."""
    if not text.strip():
        raise TemplateInvalidError(f"the {what} renders to nothing")
    return text
