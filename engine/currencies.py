"""ISO 4217 codes of the currencies a document may be in: those legal tender somewhere on REFERENCE_DATE.

Generated once from Babel's CLDR data (``get_territory_currencies(territory, start_date=REFERENCE_DATE,
tender=True)`` over every territory); ``tests/engine/test_currencies.py`` checks it still agrees. So it
leaves out what is no money one pays an invoice in: the codes kept for testing and "no currency"
(XTS, XXX), precious metals (XAU, XAG, XPT, XPD), funds and units of account (BOV, CHE, CHW, CLF, COU,
MXV, USN, UYI, UYW, XDR, XSU, XUA…), bond-market units (XBA…XBD) and currencies withdrawn before then
(FRF, DEM, HRK…). The engine stays free of Babel: this is plain data.
"""

from __future__ import annotations

from datetime import date

REFERENCE_DATE = date(2026, 1, 1)

CURRENCIES: frozenset[str] = frozenset({
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD",
    "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD",
    "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV",
    "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
})


def is_currency(code: str) -> bool:
    """Tell whether a code is the ISO 4217 code of a currency documents may be in."""
    return code in CURRENCIES

# ISO 4217 minor units of the currencies above that do not have two decimal places.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
                     "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_units(code: str) -> int:
    """Return how many decimal places an amount in a currency may have (ISO 4217: JPY 0, USD 2, KWD 3)."""
    return _MINOR_UNITS.get(code, 2)
