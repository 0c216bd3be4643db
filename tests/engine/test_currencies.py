"""The engine's currency list is plain data: it must agree with Babel's CLDR data on its reference date."""

from __future__ import annotations

from babel.core import get_global
from babel.numbers import get_territory_currencies, list_currencies

from engine.currencies import CURRENCIES, REFERENCE_DATE, is_currency, minor_units


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


def test_minor_units_are_iso_4217s_and_never_fewer_than_cldr_shows() -> None:
    fractions = get_global("currency_fractions")
    for code in CURRENCIES:
        shown = fractions.get(code, fractions["DEFAULT"])[0]
        assert minor_units(code) >= shown, code
        assert minor_units(code) in (0, 2, 3), code
    assert [minor_units(code) for code in ("USD", "EUR", "JPY", "KRW", "CLP", "KWD", "BHD", "TND", "IQD", "HUF")] == [
        2, 2, 0, 0, 0, 3, 3, 3, 3, 2]
