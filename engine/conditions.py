"""The condition language of workflows, rules and groups: validation and compiled evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from engine.currencies import is_currency
from engine.dates import days_between, local_date, require_aware
from engine.errors import InvalidDefinitionError
from engine.facts import field_type
from engine.records import ApprovalStatus, DocStatus, EmailStatus, RecordType, Source, to_decimal


class Op(StrEnum):
    """Operators a condition applies to a field; day counts use the company-local calendar."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"
    IN_GROUP = "in_group"
    DUE_WITHIN_DAYS = "due_within_days"
    OVERDUE_BY_DAYS = "overdue_by_days"
    DAYS_SINCE_AT_LEAST = "days_since_at_least"
    DAYS_SINCE_AT_MOST = "days_since_at_most"
    DAYS_UNTIL_AT_LEAST = "days_until_at_least"
    DAYS_UNTIL_AT_MOST = "days_until_at_most"
    BEFORE_TODAY = "before_today"
    ON_OR_BEFORE_TODAY = "on_or_before_today"
    IS_TODAY = "is_today"
    ON_OR_AFTER_TODAY = "on_or_after_today"
    AFTER_TODAY = "after_today"


OP_DESCRIPTIONS: dict[Op, str] = {
    Op.EQ: "equals the value",
    Op.NE: "differs from the value (true when the field is empty)",
    Op.GT: "greater than the value",
    Op.GTE: "greater than or equal to the value",
    Op.LT: "less than the value",
    Op.LTE: "less than or equal to the value",
    Op.BETWEEN: "between [low, high], both included",
    Op.IN: "one of the listed values",
    Op.NOT_IN: "none of the listed values (true when the field is empty)",
    Op.CONTAINS: "contains the text, ignoring case",
    Op.STARTS_WITH: "starts with the text, ignoring case",
    Op.IS_EMPTY: "has no value",
    Op.IS_NOT_EMPTY: "has a value",
    Op.IN_GROUP: "the customer or vendor belongs to the named contact group",
    Op.DUE_WITHIN_DAYS: "the date is between today and N days from today",
    Op.OVERDUE_BY_DAYS: "the date is past, by at least N days (and at least one)",
    Op.DAYS_SINCE_AT_LEAST: "the date is N or more days ago",
    Op.DAYS_SINCE_AT_MOST: "the date is today or in the last N days",
    Op.DAYS_UNTIL_AT_LEAST: "the date is N or more days ahead",
    Op.DAYS_UNTIL_AT_MOST: "the date is today or in the next N days",
    Op.BEFORE_TODAY: "the date is before today",
    Op.ON_OR_BEFORE_TODAY: "the date is today or earlier",
    Op.IS_TODAY: "the date is today",
    Op.ON_OR_AFTER_TODAY: "the date is today or later",
    Op.AFTER_TODAY: "the date is after today",
}

_OP_NAMES = frozenset(op.value for op in Op)
_EQUALITY = frozenset({Op.EQ, Op.NE})
_MEMBERSHIP = frozenset({Op.IN, Op.NOT_IN})
_ORDERING = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN})
_TEXT = frozenset({Op.CONTAINS, Op.STARTS_WITH})
_PRESENCE = frozenset({Op.IS_EMPTY, Op.IS_NOT_EMPTY})
DAY_COUNT_OPS = frozenset(
    {
        Op.DUE_WITHIN_DAYS,
        Op.OVERDUE_BY_DAYS,
        Op.DAYS_SINCE_AT_LEAST,
        Op.DAYS_SINCE_AT_MOST,
        Op.DAYS_UNTIL_AT_LEAST,
        Op.DAYS_UNTIL_AT_MOST,
    }
)
TODAY_OPS = frozenset(
    {Op.BEFORE_TODAY, Op.ON_OR_BEFORE_TODAY, Op.IS_TODAY, Op.ON_OR_AFTER_TODAY, Op.AFTER_TODAY}
)
DATE_OPS = DAY_COUNT_OPS | TODAY_OPS

OPS_BY_TYPE: dict[str, frozenset[Op]] = {
    "string": _EQUALITY | _MEMBERSHIP | _TEXT | _PRESENCE | {Op.IN_GROUP},
    "enum": _EQUALITY | _MEMBERSHIP | _PRESENCE,
    "decimal": _EQUALITY | _MEMBERSHIP | _ORDERING | _PRESENCE,
    "date": _EQUALITY | _MEMBERSHIP | _ORDERING | _PRESENCE | DATE_OPS,
    "datetime": _EQUALITY | _ORDERING | _PRESENCE | DATE_OPS,
    "bool": _EQUALITY | _PRESENCE,
    "any": _EQUALITY | _MEMBERSHIP | _ORDERING | _TEXT | _PRESENCE,
}

GROUP_FIELDS = frozenset({"customer", "vendor", "customer.id", "vendor.id"})

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "type": tuple(member.value for member in RecordType),
    "status": tuple(member.value for member in DocStatus),
    "email_status": tuple(member.value for member in EmailStatus),
    "source": tuple(member.value for member in Source),
    "approval_status": tuple(member.value for member in ApprovalStatus),
}

MAX_LIST_ITEMS = 1000
MAX_TEXT_LENGTH = 1000
MAX_DAYS = 36600
MAX_CONDITIONS = 100
_CONTAINERS = (list, tuple, dict, set, frozenset)


class _Problem(Exception):
    """A condition is invalid at `where` (field, op, value or value[i])."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message



def _is_day_value(value: Any) -> bool:
    """Tell whether a normalized value (or the first of a list) is a plain calendar date."""
    if isinstance(value, list | tuple):
        return bool(value) and _is_day_value(value[0])
    return isinstance(value, date) and not isinstance(value, datetime)


def _parse_string(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} takes a text value")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"text is longer than {MAX_TEXT_LENGTH} characters")
    return value


def _parse_enum(name: str, value: Any) -> str:
    allowed = ENUM_VALUES.get(name, ())
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{value!r} is not a valid {name}; expected one of {', '.join(allowed)}")
    return allowed[allowed.index(value)]


def _parse_decimal(name: str, value: Any) -> Decimal:
    if value is None or isinstance(value, (*_CONTAINERS, date)):
        raise ValueError(f"{name} takes a decimal number such as \"5000\" or \"12.50\"")
    return to_decimal(value)


def _parse_date(name: str, value: Any) -> date:
    if _is_day_value(value):
        return cast(date, value)
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} takes an ISO date such as 2026-12-20") from None


def _read_moment(value: Any) -> date | datetime | None:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        if len(value.strip()) <= 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _parse_datetime(name: str, value: Any) -> date | datetime:
    moment = _read_moment(value)
    if moment is None or (isinstance(moment, datetime) and moment.utcoffset() is None):
        raise ValueError(
            f"{name} takes an ISO date (2026-12-20) or a date-time with its offset "
            "(2026-12-20T09:00:00+01:00)"
        )
    return moment


def _parse_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} takes true or false")
    return value


def _parse_any(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _scalar_of(_parse_string(name, value))
    if isinstance(value, int | float | Decimal):
        return to_decimal(value)
    raise ValueError(f"{name} takes text, a number or true/false")


_SCALAR_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "string": _parse_string,
    "enum": _parse_enum,
    "decimal": _parse_decimal,
    "date": _parse_date,
    "datetime": _parse_datetime,
    "bool": _parse_bool,
    "any": _parse_any,
}


def _scalar(name: str, kind: str, op: Op, value: Any, where: str) -> Any:
    """Parse one operand for the field's type, or raise a _Problem located at `where`."""
    parse = _parse_decimal if kind == "any" and op in _ORDERING else _SCALAR_PARSERS[kind]
    try:
        parsed = parse(name, value)
    except (TypeError, ValueError) as exc:
        raise _Problem(where, str(exc)) from None
    return parsed.upper() if name == "currency" and isinstance(parsed, str) else parsed  # as documents store it


def _unknown_currencies(op: Op, value: Any) -> list[str]:
    """Return where a currency condition names a code ISO 4217 does not know (it would never match)."""
    if op in _TEXT:
        return []
    values = value if isinstance(value, list) else [value]
    return [f"value[{i}]" if isinstance(value, list) else "value"
            for i, code in enumerate(values) if isinstance(code, str) and not is_currency(code)]


def _no_value(name: str, kind: str, op: Op, value: Any) -> None:
    if value is not None:
        raise _Problem("value", f"{op} takes no value")


def _one_value(name: str, kind: str, op: Op, value: Any) -> Any:
    if value is None:
        raise _Problem("value", f"{op} needs a value; use is_empty to test for no value")
    return _scalar(name, kind, op, value, "value")


def _list_value(name: str, kind: str, op: Op, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple) or not value:
        raise _Problem("value", f"{op} needs a non-empty list of values")
    if len(value) > MAX_LIST_ITEMS:
        raise _Problem("value", f"{op} takes at most {MAX_LIST_ITEMS} values")
    return [_scalar(name, kind, op, item, f"value[{i}]") for i, item in enumerate(value)]


def _pair_value(name: str, kind: str, op: Op, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _Problem("value", "between needs a list of two values: [low, high]")
    low, high = (_scalar(name, kind, op, item, f"value[{i}]") for i, item in enumerate(value))
    if _is_day_value(low) != _is_day_value(high):
        raise _Problem("value", "both bounds must be dates, or both date-times")
    if low > high:
        raise _Problem("value", "the low bound is greater than the high bound")
    return [low, high]


def _text_value(name: str, kind: str, op: Op, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Problem("value", f"{op} needs a non-empty text value")
    return str(_scalar(name, "string", op, value, "value"))


def _group_value(name: str, kind: str, op: Op, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem("value", "in_group needs the name of a contact group")
    return value.strip()


def _day_count(name: str, kind: str, op: Op, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DAYS:
        raise _Problem("value", f"{op} needs a whole number of days from 0 to {MAX_DAYS}")
    return value


_ValueParser: TypeAlias = Callable[[str, str, Op, Any], Any]

_VALUE_PARSERS: dict[Op, _ValueParser] = {
    **dict.fromkeys(_EQUALITY | {Op.GT, Op.GTE, Op.LT, Op.LTE}, _one_value),
    **dict.fromkeys(_MEMBERSHIP, _list_value),
    **dict.fromkeys(_TEXT, _text_value),
    **dict.fromkeys(_PRESENCE | TODAY_OPS, _no_value),
    **dict.fromkeys(DAY_COUNT_OPS, _day_count),
    Op.BETWEEN: _pair_value,
    Op.IN_GROUP: _group_value,
}



def _unknown_field(name: Any) -> _Problem:
    if not isinstance(name, str) or not name:
        return _Problem("field", "required: the name of a record or contact field")
    return _Problem(
        "field",
        f"unknown field {name!r}; use a record field such as amount or due_date, "
        "customer.<field>, vendor.<field> or fields.<custom name>",
    )


def _kind_of(name: Any) -> str:
    kind = field_type(name) if isinstance(name, str) else None
    if kind is None:
        raise _unknown_field(name)
    return kind


def _check_op(name: str, kind: str, op: Op) -> None:
    if op is Op.IN_GROUP and name not in GROUP_FIELDS:
        raise _Problem("op", "in_group applies to customer or vendor only")
    if op not in OPS_BY_TYPE[kind]:
        allowed = ", ".join(sorted(OPS_BY_TYPE[kind] - {Op.IN_GROUP}))
        raise _Problem("op", f"{op} does not apply to {kind} field {name!r}; use one of {allowed}")


def _normalize(name: Any, op: Any, value: Any) -> Any:
    """Return the value parsed for the field's type, or raise a _Problem."""
    kind = _kind_of(name)
    if not _is_op_name(op):
        raise _Problem("op", f"unknown op {op!r}; expected one of {', '.join(Op)}")
    _check_op(name, kind, Op(op))
    return _VALUE_PARSERS[Op(op)](name, kind, Op(op), value)


def _is_op_name(op: Any) -> bool:
    return isinstance(op, str) and op in _OP_NAMES


def _detail(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def _value_error(problem: _Problem) -> ValueError:
    located = problem.where in ("field", "op", "value")
    return ValueError(problem.message if located else f"{problem.where}: {problem.message}")


class Condition(BaseModel):
    """One test `{field, op, value}`; the value is parsed for the field's type on creation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Op
    value: Any = Field(default=None, validate_default=True)

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str) -> str:
        try:
            _kind_of(name)
        except _Problem as problem:
            raise _value_error(problem) from None
        return name

    @field_validator("op")
    @classmethod
    def _op_fits_field(cls, op: Op, info: ValidationInfo) -> Op:
        name = info.data.get("field")
        try:
            if name is not None:
                _check_op(name, _kind_of(name), op)
        except _Problem as problem:
            raise _value_error(problem) from None
        return op

    @field_validator("value")
    @classmethod
    def _parse_value(cls, value: Any, info: ValidationInfo) -> Any:
        name, op = info.data.get("field"), info.data.get("op")
        if name is None or op is None:
            return value
        try:
            return _VALUE_PARSERS[op](name, _kind_of(name), op, value)
        except _Problem as problem:
            raise _value_error(problem) from None


def _shape_problems(item: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(item, Mapping):
        return [_detail(path, "must be an object with field, op and value")]
    problems = [
        _detail(f"{path}.{key}", "unknown key; a condition has field, op and value")
        for key in item
        if key not in ("field", "op", "value")
    ]
    if not isinstance(item.get("field"), str) or field_type(item["field"]) is None:
        problems.append(_detail(f"{path}.field", _unknown_field(item.get("field")).message))
    if not _is_op_name(item.get("op")):
        message = f"unknown op {item.get('op')!r}; expected one of {', '.join(Op)}"
        problems.append(_detail(f"{path}.op", message))
    return problems


def _as_mapping(cond: Condition | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(cond, Condition):
        return {"field": cond.field, "op": cond.op, "value": cond.value}
    return cond


def validate_condition(cond: Condition | Mapping[str, Any], path: str) -> list[dict[str, str]]:
    """Return the problems of one condition as `{path, message}` items (empty when valid)."""
    item = _as_mapping(cond)
    problems = _shape_problems(item, path)
    if problems:
        return problems
    try:
        value = _normalize(item["field"], item["op"], item.get("value"))
    except _Problem as problem:
        return [_detail(f"{path}.{problem.where}", problem.message)]
    if item["field"] != "currency":
        return []
    return [_detail(f"{path}.{where}", "not an ISO 4217 currency code such as EUR")
            for where in _unknown_currencies(Op(item["op"]), value)]


def validate_conditions(
    conditions: Sequence[Condition | Mapping[str, Any]], path: str = "conditions"
) -> list[dict[str, str]]:
    """Return the problems of a condition list, each located as `path[i].field|op|value`."""
    return [
        detail
        for i, cond in enumerate(conditions)
        for detail in validate_condition(cond, f"{path}[{i}]")
    ]


def _raise_for(details: list[dict[str, str]]) -> None:
    if details:
        first = details[0]
        raise InvalidDefinitionError(
            f"invalid condition at {first['path']}: {first['message']}", details
        )


def parse_conditions(raw: Any, path: str = "conditions") -> list[Condition]:
    """Parse a JSON/YAML list of conditions or raise InvalidDefinitionError with field paths."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        _raise_for([_detail(path, "must be a list of {field, op, value} objects")])
    if len(raw) > MAX_CONDITIONS:
        _raise_for([_detail(path, f"at most {MAX_CONDITIONS} conditions")])
    _raise_for(validate_conditions(raw, path))
    return [item if isinstance(item, Condition) else Condition.model_validate(item) for item in raw]



_UTC_ZONE = ZoneInfo("UTC")


def _empty_groups() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What conditions read besides facts: the local date, the instant and group members."""

    today: date
    now: datetime
    groups: Mapping[str, frozenset[str]] = field(default_factory=_empty_groups)
    tz: ZoneInfo = _UTC_ZONE

    def __post_init__(self) -> None:
        require_aware(self.now, "now")

    @classmethod
    def at(
        cls, now: datetime, tz: ZoneInfo, groups: Mapping[str, Iterable[str]] | None = None
    ) -> EvalContext:
        """Build the context of an aware `now` in the company time zone."""
        members = {name: frozenset(ids) for name, ids in (groups or {}).items()}
        return cls(local_date(now, tz), now, MappingProxyType(members), tz)


Predicate: TypeAlias = Callable[[Mapping[str, Any], EvalContext], bool]



def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, _CONTAINERS) and not value)


def _as_aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _number_of(value: Any) -> int | Decimal | None:
    """Read a custom-field value as a number: numbers and numeric text count, booleans do not."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    if isinstance(value, int | Decimal):
        return value
    try:
        return to_decimal(value)
    except ValueError:
        return None


def _scalar_of(value: Any) -> Any:
    """Read a custom-field value for equality: as a number when it reads as one."""
    number = _number_of(value)
    return value if number is None else number


def _folded(value: Any) -> str | tuple[str, ...] | None:
    """Read a fact as text for contains / starts_with: a list-valued custom field as the texts of its items."""
    if isinstance(value, list | tuple):
        return tuple(item.casefold() for item in value if isinstance(item, str))
    return value.casefold() if isinstance(value, str) else None


def _scalars_of(value: Any) -> Any:
    """Read a custom-field value for equality and membership: each item of a list as `_scalar_of` reads it."""
    return tuple(_scalar_of(item) for item in value) if isinstance(value, list | tuple) else _scalar_of(value)


def _has_text(subject: str | tuple[str, ...] | None, text: str, is_prefix: bool) -> bool:
    """Tell whether a text (or one item of a list) contains, or starts with, a folded text."""
    items = subject if isinstance(subject, tuple) else (() if subject is None else (subject,))
    return any(item.startswith(text) if is_prefix else text in item for item in items)


def _has_member(subject: Any, values: tuple[Any, ...]) -> bool:
    """Tell whether a value (or one item of a list) is among the listed values."""
    items = subject if isinstance(subject, tuple) else (subject,)
    return any(item in values for item in items)


def _local_day_in(tz: ZoneInfo) -> Callable[[Any], date | None]:
    def local_day(value: Any) -> date | None:
        return None if value is None else _as_aware(value).astimezone(tz).date()

    return local_day


def _local_ordinal_in(tz: ZoneInfo) -> Callable[[Any], int | None]:
    def local_ordinal(value: Any) -> int | None:
        return None if value is None else _as_aware(value).astimezone(tz).toordinal()

    return local_ordinal


# Templates only ever receive generated identifiers (k0, c0, x0…) and the fixed method
# suffixes below; field names and values reach the generated function as bound arguments.
_GUARD = "(({x} := {get}) is not None and "
_TEMPLATES: dict[Op, str] = {
    Op.EQ: "{get} == {c}",
    Op.NE: "{get} != {c}",
    Op.IN: "{get} in {c}",
    Op.NOT_IN: "{get} not in {c}",
    Op.GT: _GUARD + "{s} > {c})",
    Op.GTE: _GUARD + "{s} >= {c})",
    Op.LT: _GUARD + "{s} < {c})",
    Op.LTE: _GUARD + "{s} <= {c})",
    Op.BETWEEN: _GUARD + "{lo} <= {s} <= {hi})",
    Op.CONTAINS: _GUARD + "{c} in {s})",
    Op.STARTS_WITH: _GUARD + "{s}.startswith({c}))",
    Op.IN_GROUP: "{get} in ctx.groups.get({c}, _NO_MEMBERS)",
    Op.DUE_WITHIN_DAYS: _GUARD + "0 <= {s} - _t <= {c})",
    Op.OVERDUE_BY_DAYS: _GUARD + "_t - {s} >= {c})",
    Op.DAYS_SINCE_AT_LEAST: _GUARD + "_t - {s} >= {c})",
    Op.DAYS_SINCE_AT_MOST: _GUARD + "0 <= _t - {s} <= {c})",
    Op.DAYS_UNTIL_AT_LEAST: _GUARD + "{s} - _t >= {c})",
    Op.DAYS_UNTIL_AT_MOST: _GUARD + "0 <= {s} - _t <= {c})",
    Op.BEFORE_TODAY: _GUARD + "{s} < _t)",
    Op.ON_OR_BEFORE_TODAY: _GUARD + "{s} <= _t)",
    Op.IS_TODAY: _GUARD + "{s} == _t)",
    Op.ON_OR_AFTER_TODAY: _GUARD + "{s} >= _t)",
    Op.AFTER_TODAY: _GUARD + "{s} > _t)",
}
_PRESENCE_TEMPLATES: dict[tuple[Op, str], str] = {
    (Op.IS_EMPTY, "text"): '(({x} := {get}) is None or {x}.strip() == "")',
    (Op.IS_NOT_EMPTY, "text"): '(({x} := {get}) is not None and {x}.strip() != "")',
    (Op.IS_EMPTY, "value"): "{get} is None",
    (Op.IS_NOT_EMPTY, "value"): "{get} is not None",
    (Op.IS_EMPTY, "any"): "_is_blank({get})",
    (Op.IS_NOT_EMPTY, "any"): "not _is_blank({get})",
}
_PRESENCE_FAMILY = {"string": "text", "enum": "text", "any": "any"}
# A custom field may hold a list: these hold when one of its items does.
_ANY_TEMPLATES: dict[Op, str] = {
    Op.CONTAINS: "_has_text({get}, {c}, False)",
    Op.STARTS_WITH: "_has_text({get}, {c}, True)",
    Op.IN: "_has_member({get}, {c})",
    Op.NOT_IN: "not _has_member({get}, {c})",
}
_ROLES = ("k", "c", "lo", "hi", "cv", "x")


def _template(op: Op, kind: str) -> str:
    if op in _PRESENCE:
        return _PRESENCE_TEMPLATES[(op, _PRESENCE_FAMILY.get(kind, "value"))]
    if kind == "any" and op in _ANY_TEMPLATES:
        return _ANY_TEMPLATES[op]
    return _TEMPLATES[op]


def _operands(cond: Condition, kind: str) -> dict[str, Any]:
    op, value = cond.op, cond.value
    if op is Op.BETWEEN:
        return {"lo": value[0], "hi": value[1]}
    if op in _MEMBERSHIP:
        return {"c": tuple(value) if kind == "any" else frozenset(value)}
    if op in _TEXT:
        return {"c": value.casefold()}
    if op is Op.OVERDUE_BY_DAYS:
        return {"c": max(value, 1)}
    return {} if value is None else {"c": value}


def _method(cond: Condition, kind: str) -> str:
    """Return the method call that turns a typed fact into the compared subject, if any."""
    if cond.op in DATE_OPS and kind == "date":
        return ".toordinal()"
    if cond.op in _TEXT and kind in ("string", "enum"):
        return ".casefold()"
    return ""


def _converter(cond: Condition, kind: str, tz: ZoneInfo) -> Callable[[Any], Any] | None:
    if cond.op in _PRESENCE or cond.op is Op.IN_GROUP or _method(cond, kind):
        return None
    if cond.op in DATE_OPS:
        return _local_ordinal_in(tz)
    if cond.op in _TEXT:
        return _folded
    if kind == "any":
        return _number_of if cond.op in _ORDERING else _scalars_of if cond.op in _MEMBERSHIP else _scalar_of
    if kind == "datetime" and _is_day_value(cond.value):
        return _local_day_in(tz)
    return None


def _piece(index: int, cond: Condition, tz: ZoneInfo) -> tuple[str, dict[str, Any]]:
    """Return one condition's expression text and the constants it refers to by name."""
    kind = field_type(cond.field) or "any"
    bound: dict[str, Any] = {"k": cond.field, **_operands(cond, kind)}
    converter = _converter(cond, kind, tz)
    if converter is not None:
        bound["cv"] = converter
    names = {role: f"{role}{index}" for role in _ROLES}
    get = f"facts.get(k{index})"
    get = f"cv{index}({get})" if converter is not None else get
    subject = f"x{index}{_method(cond, kind)}"
    text = _template(cond.op, kind).format(get=get, s=subject, **names)
    return text, {names[role]: constant for role, constant in bound.items()}


def _source(texts: list[str], params: Iterable[str], uses_today: bool) -> str:
    lines = [f"def _bind({', '.join(params)}):", "    def is_match(facts, ctx):"]
    if uses_today:
        lines.append("        _t = ctx.today.toordinal()")
    lines.append(f"        return {' and '.join(texts) or 'True'}")
    lines.append("    return is_match")
    return "\n".join(lines)


def _generate(conditions: Sequence[Condition], tz: ZoneInfo) -> Predicate:
    constants: dict[str, Any] = {}
    texts = []
    for index, cond in enumerate(conditions):
        text, bound = _piece(index, cond, tz)
        texts.append(text)
        constants.update(bound)
    uses_today = any(cond.op in DATE_OPS for cond in conditions)
    namespace: dict[str, Any] = {
        "__builtins__": {},
        "_is_blank": _is_blank,
        "_has_text": _has_text,
        "_has_member": _has_member,
        "_NO_MEMBERS": frozenset(),
    }
    exec(compile(_source(texts, constants, uses_today), "<conditions>", "exec"), namespace)
    return cast(Predicate, namespace["_bind"](**constants))


_CACHE: dict[tuple[Any, ...], Predicate] = {}
_CACHE_LIMIT = 4096


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ("list", tuple(_frozen(item) for item in value))
    try:
        hash(value)
    except TypeError:
        return ("unhashable", repr(value))
    return (type(value).__name__, value)


def condition_key(conditions: Sequence[Condition]) -> tuple[Any, ...]:
    """Return a stable, hashable key of a condition list."""
    return tuple((cond.field, str(cond.op), _frozen(cond.value)) for cond in conditions)


def _revalidated(conditions: Sequence[Condition]) -> list[Condition]:
    _raise_for(validate_conditions(conditions))
    return [
        Condition.model_construct(field=c.field, op=Op(c.op), value=_normalize(*_triple(c)))
        for c in conditions
    ]


def _triple(cond: Condition) -> tuple[str, Op, Any]:
    return cond.field, cond.op, cond.value


def compile_conditions(conditions: Sequence[Condition], *, tz: ZoneInfo) -> Predicate:
    """Return a fast predicate `(facts, ctx) -> bool` that holds when every condition holds."""
    key = (tz, condition_key(conditions))
    predicate = _CACHE.get(key)
    if predicate is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        predicate = _CACHE[key] = _generate(_revalidated(conditions), tz)
    return predicate


def evaluate(conditions: Sequence[Condition], facts: Mapping[str, Any], ctx: EvalContext) -> bool:
    """Tell whether every condition holds for the facts, using the compiled cache."""
    return compile_conditions(conditions, tz=ctx.tz)(facts, ctx)



def _reference_day(raw: Any, tz: ZoneInfo) -> date:
    if isinstance(raw, datetime):
        return local_date(_as_aware(raw), tz)
    return cast(date, raw)


def _reference_subject(cond: Condition, kind: str, raw: Any, ctx: EvalContext) -> Any:
    if cond.op in DATE_OPS:
        return days_between(ctx.today, _reference_day(raw, ctx.tz))
    if cond.op in _TEXT and isinstance(raw, list):
        return tuple(item.casefold() for item in raw if isinstance(item, str))
    if cond.op in _TEXT:
        return raw.casefold() if isinstance(raw, str) else None
    if kind == "any" and cond.op in _MEMBERSHIP and isinstance(raw, list):
        return tuple(_reference_any(cond, item) for item in raw)
    if kind == "any":
        return _reference_any(cond, raw)
    if kind == "datetime" and _is_day_value(cond.value):
        return _reference_day(raw, ctx.tz)
    return raw


def _reference_any(cond: Condition, raw: Any) -> Any:
    number = None if isinstance(raw, bool) else _reference_number(raw)
    return number if number is not None or cond.op in _ORDERING else raw


def _reference_number(raw: Any) -> Decimal | None:
    if not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        number = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


_REFERENCE_TESTS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: lambda s, v: bool(s == v),
    Op.IN: lambda s, v: any(x == item for x in (s if isinstance(s, tuple) else (s,)) for item in v),
    Op.GT: lambda s, v: bool(s > v),
    Op.GTE: lambda s, v: bool(s >= v),
    Op.LT: lambda s, v: bool(s < v),
    Op.LTE: lambda s, v: bool(s <= v),
    Op.BETWEEN: lambda s, v: bool(v[0] <= s and s <= v[1]),
    Op.CONTAINS: lambda s, v: any(v.casefold() in x for x in (s if isinstance(s, tuple) else (s,))),
    Op.STARTS_WITH: lambda s, v: any(x[: len(v.casefold())] == v.casefold() for x in (s if isinstance(s, tuple)
                                                                                       else (s,))),
    Op.DUE_WITHIN_DAYS: lambda days, n: 0 <= days <= n,
    Op.OVERDUE_BY_DAYS: lambda days, n: -days >= n and days < 0,
    Op.DAYS_SINCE_AT_LEAST: lambda days, n: -days >= n,
    Op.DAYS_SINCE_AT_MOST: lambda days, n: 0 <= -days <= n,
    Op.DAYS_UNTIL_AT_LEAST: lambda days, n: days >= n,
    Op.DAYS_UNTIL_AT_MOST: lambda days, n: 0 <= days <= n,
    Op.BEFORE_TODAY: lambda days, _: days < 0,
    Op.ON_OR_BEFORE_TODAY: lambda days, _: days <= 0,
    Op.IS_TODAY: lambda days, _: days == 0,
    Op.ON_OR_AFTER_TODAY: lambda days, _: days >= 0,
    Op.AFTER_TODAY: lambda days, _: days > 0,
}
_NEGATED = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN}


def _is_reference_match(cond: Condition, facts: Mapping[str, Any], ctx: EvalContext) -> bool:
    raw = facts.get(cond.field)
    if cond.op in _PRESENCE:
        return _is_blank(raw) == (cond.op is Op.IS_EMPTY)
    if cond.op is Op.IN_GROUP:
        return raw is not None and raw in ctx.groups.get(cond.value, frozenset())
    kind = field_type(cond.field) or "any"
    subject = None if raw is None else _reference_subject(cond, kind, raw, ctx)
    if cond.op in _NEGATED:
        return subject is None or not _REFERENCE_TESTS[_NEGATED[cond.op]](subject, cond.value)
    return subject is not None and _REFERENCE_TESTS[cond.op](subject, cond.value)


def evaluate_reference(
    conditions: Sequence[Condition], facts: Mapping[str, Any], ctx: EvalContext
) -> bool:
    """Evaluate conditions one at a time without compiling; slow, used to check the compiler."""
    return all(_is_reference_match(cond, facts, ctx) for cond in _revalidated(conditions))
