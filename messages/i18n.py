"""Message catalogs: gettext translations compiled from the shipped `.po` files."""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=8)
def translations(locale: str, domain: str = "messages") -> gettext.NullTranslations:
    """Return gettext translations for a locale and domain, compiled in memory from its `.po` catalog."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
