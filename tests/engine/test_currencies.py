"""The engine's currency list is plain data: it must agree with Babel's CLDR data on its reference date."""

from __future__ import annotations

from babel.core import get_global
from babel.numbers import get_territory_currencies, list_currencies

from engine.currencies import CURRENCIES, REFERENCE_DATE, is_currency


def test_the_list_is_babels_tender_currencies_on_the_reference_date() -> None:
    tender: set[str] = set()
    for territory in get_global("territory_currencies"):
        tender |= set(get_territory_currencies(territory, start_date=REFERENCE_DATE, tender=True))
    assert tender == CURRENCIES
    assert CURRENCIES.issubset(list_currencies())


def test_codes_that_are_no_money_to_pay_in_are_left_out() -> None:
    left_out = {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD",
                "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "FRF", "DEM", "BTC"}
    assert not left_out & CURRENCIES
    assert all(is_currency(code) for code in ("USD", "EUR", "GBP", "JPY", "CHF", "XOF", "XAF", "XPF", "XCD"))
