"""Finds English left in text meant to be French: words that are common in English and never French."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# Frequent English words that are not French words (nor names, ids or codes Signoff shows).
_WORDS = """
the and not no yes is are was were be been being has have had do does did will would can could should must may
might shall this that these those there here what which who whom whose when where why how you your yours we
our they their them he she his her it its my of to in at by for with from into onto over under about after
before between during without within all any some each every more most less least only also just than then too
very approve approved approval approvals approver approvers reject rejected rejection request requests
requested pending waiting reminder reminders remind reminded send sending overdue today tomorrow yesterday
invoice invoices bill bills expense expenses payment payments customer customers vendor vendors amount rule
rules group groups member members name names subject body please thanks thank regards kind dear hello hi new
edit delete save cancel close submit open show hide back next previous more day days week weeks month months
hour hours year years every never always step steps decision decisions reason reasons nothing something
someone everyone nobody anyone people person team channel channels field fields value values enabled disabled
draft published status created updated changed added removed deleted error errors failed failure invalid
required missing unknown allowed only
"""
ENGLISH = frozenset(_WORDS.split())
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Slack markup, links, mentions, ids and template expressions are not words a reader reads.
NOT_PROSE = re.compile(r"<[^>]*>|https?://\S+|\{\{.*?\}\}|\{%.*?%\}|`[^`]*`|:[a-z0-9_+-]+:|\b[A-Z]+[-_][\w-]+\b")


def english_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """Return the English words of a text (lower-cased, in order), leaving out those `allowed` (data, names)."""
    for value in sorted(allowed, key=len, reverse=True):
        if value:
            text = text.replace(value, " ")
    prose = NOT_PROSE.sub(" ", text)
    return [w for w in (m.group(0).lower().split("'")[0] for m in WORD.finditer(prose)) if w in ENGLISH]


VISIBLE_KEYS = frozenset({"text", "alt_text", "placeholder", "title", "label", "submit", "close", "hint",
                          "fallback", "initial_value", "confirm", "deny", "description"})


def visible_strings(shown: Any, key: str | None = None) -> Iterator[str]:
    """Yield what a reader sees in rendered Block Kit JSON (texts, labels, placeholders), or the text itself."""
    if isinstance(shown, str):
        if key is None or key in VISIBLE_KEYS:
            yield shown
    elif isinstance(shown, Mapping):
        for name, value in shown.items():
            yield from visible_strings(value, name)
    elif isinstance(shown, list | tuple):
        for value in shown:
            yield from visible_strings(value, key)
