"""Limits on what documents and contacts may hold: ids, decimals, text and custom fields (docs/api.md, Limits)."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

from engine.errors import InvalidDefinitionError

MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 255
MAX_MEMO_CHARS = 4000
MAX_DECIMAL_CHARS = 40
MAX_DECIMAL_EXPONENT = 30
MAX_MONEY_DECIMALS = 4
MONEY_BOUND = Decimal(10) ** 15
MAX_FIELDS = 50
MAX_FIELD_KEY_CHARS = 64
MAX_FIELD_TEXT_CHARS = 1000
MAX_FIELD_ITEMS = 100
MAX_FIELD_DEPTH = 3

# C0 controls (NUL…US), DEL, C1 controls and lone surrogates, which JSON can carry but no text should.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, but tabs and line breaks are fine in multi-line text.
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What no database stores in a text column: NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# An address as people write it: no spaces, no display name or `mailto:` around it (`<>()[]\\,;:"` are out),
# a domain of dot-separated labels, none empty (no trailing dot).
_ADDRESS_CHAR = r'[^@\s<>()\[\]\\,;:"]'
EMAIL = re.compile(rf"^{_ADDRESS_CHAR}+@(?:[^.@\s<>()\[\]\\,;:\"]+\.)+[^.@\s<>()\[\]\\,;:\"]+$")
SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def is_email(ref: str) -> bool:
    """Tell whether a string is an e-mail address (`name@domain.tld`, no spaces, nothing around it)."""
    return bool(EMAIL.match(ref))


def is_person_ref(ref: str) -> bool:
    """Tell whether a string names one person as documents do: a Slack user id or an e-mail address."""
    return bool(SLACK_ID.match(ref)) or is_email(ref)


def is_storable_text(text: str, *, allow_nul: bool = False) -> bool:
    """Tell whether every database can store `text`: no lone surrogate, and no NUL unless `allow_nul`."""
    return (_LONE_SURROGATE if allow_nul else _UNSTORABLE).search(text) is None


def unstorable_path(value: Any, *, allow_nul: bool = False) -> str | None:
    """Return the path (`a.b[2]`) of a key or string in a JSON value that is not storable text, or None."""
    if _is_surely_storable(value, allow_nul):
        return None
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str) and not is_storable_text(item, allow_nul=allow_nul):
            return path or "(body)"
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and not is_storable_text(key, allow_nul=allow_nul):
                    return path or "(body)"
                pending.append((where, child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


def _is_surely_storable(value: Any, allow_nul: bool) -> bool:
    """Tell, in one pass over the value written as JSON, that no key or string in it holds unstorable text (False:
    maybe some does, so look where)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
        text.encode()  # JSON written without ASCII escaping keeps a lone surrogate, which UTF-8 cannot encode
    except (TypeError, ValueError, RecursionError):
        return False
    return allow_nul or "\\u0000" not in text  # the escape JSON writes a NUL as


def check_storable(data: Any, what: str) -> None:
    """Raise InvalidDefinitionError when a definition holds text no database stores (a NUL, a lone surrogate)."""
    where = unstorable_path(data)
    if where is not None:
        raise InvalidDefinitionError(f"invalid {what}: {where}: holds a NUL character or a lone surrogate",
                                     [{"path": where, "message": "remove NUL characters and lone surrogates"}])


class JsonNumber(float):
    """A JSON number with a fraction or an exponent, read as a float that keeps the text it was written as: a decimal
    is read from those digits (`99999999999999.99` is no binary float)."""

    literal: str

    def __new__(cls, literal: str) -> JsonNumber:
        """Read `literal` (as `json.loads(..., parse_float=JsonNumber)` hands it over)."""
        number = super().__new__(cls, literal)
        number.literal = literal
        return number


def to_decimal(value: Any) -> Decimal:
    """Convert a JSON number or string to a finite Decimal, never through binary floats nor a huge expansion."""
    if isinstance(value, bool):
        raise ValueError("must be a decimal number, not a boolean")
    if isinstance(value, float):
        value = value.literal if isinstance(value, JsonNumber) else repr(value)
    result = value if isinstance(value, Decimal) else _parse_decimal(value)
    if not result.is_finite():
        raise ValueError("must be a finite decimal number")
    exponent_of_zero = result.as_tuple().exponent if not result else 0
    if abs(result.adjusted() if result else int(exponent_of_zero)) > MAX_DECIMAL_EXPONENT:
        raise ValueError(f"must be between 1e-{MAX_DECIMAL_EXPONENT} and 1e{MAX_DECIMAL_EXPONENT} in size")
    exponent = result.as_tuple().exponent
    return Decimal(format(result, "f")) if isinstance(exponent, int) and exponent > 0 else result


def _parse_decimal(value: Any) -> Decimal:
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else None
    if text is None:
        raise ValueError(f"{type(value).__name__} is not a decimal number")
    if len(text) > MAX_DECIMAL_CHARS:
        raise ValueError(f"a decimal number has at most {MAX_DECIMAL_CHARS} characters")
    if not text.isascii() or "_" in text:
        raise ValueError(f"{text!r} is not a decimal number: write it with the digits 0-9, without separators")
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a decimal number") from exc


def check_money(value: Decimal) -> Decimal:
    """Refuse an amount outside ±10^15 or with more than four decimal places."""
    if abs(value) >= MONEY_BOUND:
        raise ValueError("must be less than 10^15 in absolute value")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_MONEY_DECIMALS:
        raise ValueError(f"has at most {MAX_MONEY_DECIMALS} decimal places")
    return value.copy_abs() if value.is_zero() else value  # no "-0.00" on any document


def check_text(value: str, max_chars: int = MAX_TEXT_CHARS, *, multiline: bool = False) -> str:
    """Refuse text that is too long or holds control characters (tabs and line breaks only when multi-line)."""
    if len(value) > max_chars:
        raise ValueError(f"has at most {max_chars} characters")
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        raise ValueError("must not contain control characters" + (" other than tabs and line breaks" * multiline))
    return value


def check_id(value: str, *, is_new: bool = False) -> str:
    """Refuse an id that is empty, too long, has control characters, a `/` or surrounding spaces; a new one
    (`is_new`) also `<` or `>`: Slack would read `<!here>` in a message naming the document as a ping."""
    if not value or value != value.strip():
        raise ValueError("must be non-empty, without leading or trailing spaces")
    if "/" in value:
        raise ValueError("must not contain '/'")
    if is_new and ("<" in value or ">" in value):
        raise ValueError("must not contain '<' or '>'")
    return check_text(value, MAX_ID_CHARS)


def is_kept(value: Any, info: ValidationInfo) -> bool:
    """Tell whether a value is read back from storage, or left as stored by a change of other fields (context
    `{"kept": {field: value}}`): it was checked under the rules of its day, and a stricter rule must not refuse it."""
    context = info.context if isinstance(info.context, dict) else {}
    kept = context.get("kept")
    return context.get("stored") is True or (isinstance(kept, dict) and info.field_name is not None
                                             and info.field_name in kept and kept[info.field_name] == value)


def _new_id(value: str, info: ValidationInfo) -> str:
    return check_id(value, is_new=not is_kept(value, info))


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Refuse custom fields beyond the limits: count, key and text lengths, nesting, numbers."""
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"has at most {MAX_FIELDS} fields")
    for key, value in fields.items():
        if not key:
            raise ValueError("field names must be non-empty")
        check_text(key, MAX_FIELD_KEY_CHARS)
        _check_field_value(key, value, 1)
    return fields


def _check_field_value(key: str, value: Any, depth: int) -> None:
    if isinstance(value, str):
        _in_field(key, check_text, value, MAX_FIELD_TEXT_CHARS, multiline=True)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float | Decimal):
        _in_field(key, _check_number, value)
    elif isinstance(value, list | dict):
        _check_container(key, value, depth)
    else:
        raise ValueError(f"{key}: must be text, a number, true/false, null, a list or an object")


def _check_container(key: str, value: list[Any] | dict[str, Any], depth: int) -> None:
    if depth >= MAX_FIELD_DEPTH:
        raise ValueError(f"{key}: nests at most {MAX_FIELD_DEPTH} levels")
    if len(value) > MAX_FIELD_ITEMS:
        raise ValueError(f"{key}: holds at most {MAX_FIELD_ITEMS} items")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for inner, item in items:
        _in_field(key, check_text, str(inner), MAX_FIELD_KEY_CHARS)
        _check_field_value(f"{key}.{inner}", item, depth + 1)


def _check_number(value: int | float | Decimal) -> None:
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if abs(number) >= MONEY_BOUND:
        raise ValueError("must be less than 10^15 in absolute value")


def _in_field(key: str, check: Any, *args: Any, **kwargs: Any) -> None:
    try:
        check(*args, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


Id = Annotated[str, AfterValidator(check_id)]
# An id as a caller gives it to create or name a document or contact (the rules of ids stored before aside).
NewId = Annotated[str, AfterValidator(_new_id)]
Text = Annotated[str, AfterValidator(check_text)]
Memo = Annotated[str, AfterValidator(lambda value: check_text(value, MAX_MEMO_CHARS, multiline=True))]


def clean_text(value: str, max_chars: int) -> str | None:
    """Return typed text stripped, or None when it is longer than `max_chars` or holds control characters."""
    try:
        return check_text(value.strip(), max_chars, multiline=True)
    except ValueError:
        return None
