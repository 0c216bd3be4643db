"""Render budgets for admin-written templates: wall time, output, loop steps and the size of what they build.

Every operation that could make a template slow or huge is checked *before* it runs (powers, repetitions,
ranges, widths given to filters and methods, concatenations) and the clock is read at each of them, so a
render stops within about its time budget whether or not it prints anything.
"""

from __future__ import annotations

import math
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

from jinja2 import Template, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from messages.bidi import without_bidi_controls
from messages.errors import TemplateBudgetError


@dataclass(frozen=True)
class Limits:
    """What one render of an admin-written template may spend."""

    seconds: float = 0.1  # of the render's own CPU time
    output_chars: int = 40_000
    size: int = 40_000
    bits: int = 4_096
    range_items: int = 10_000
    steps: int = 20_000


LIMITS = Limits()
CLOCK_EVERY = 32
CONTAINERS = (list, tuple, dict, set, frozenset)
SIZED = (str, *CONTAINERS)
WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "format", "batch", "slice", "truncate"})
WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


class Mrkdwn(str):
    """Text that is already Slack mrkdwn (the admin's own words, a mention): printed as it is."""

    __slots__ = ()


class Budget:
    """What one render has spent so far, refusing to go past its limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.thread_time() + limits.seconds  # the render's own CPU: a busy machine does not count
        self.steps = 0
        self.printed = 0
        self.output = 0
        self._unchecked = 0

    def check_time(self) -> None:
        """Refuse once the render has spent more CPU time than its budget (the clock, a system call, is read every
        CLOCK_EVERY checks: a runaway loop is still stopped within a few steps of its budget)."""
        self._unchecked += 1
        if self._unchecked < CLOCK_EVERY:
            return
        self._unchecked = 0
        if time.thread_time() > self.deadline:
            raise TemplateBudgetError(f"rendering takes more than {round(self.limits.seconds * 1000)} ms", "time")

    def step(self, count: int = 1) -> None:
        """Count loop steps (all loops of the render together) and read the clock."""
        self.steps += count
        if self.steps > self.limits.steps:
            raise TemplateBudgetError(f"more than {self.limits.steps} loop steps", "loop")
        self.check_time()

    def print(self, chars: int) -> None:
        """Count characters printed by the template, wherever they go (output, `set` blocks, macros)."""
        self.printed += chars
        if self.printed > self.limits.output_chars:
            raise TemplateBudgetError(f"more than {self.limits.output_chars} characters", "output")
        self.check_time()

    def emit(self, chunk: str) -> None:
        """Count one chunk of the final output as it is produced."""
        self.output += len(chunk)
        if self.output > self.limits.output_chars:
            raise TemplateBudgetError(f"more than {self.limits.output_chars} characters", "output")
        self.check_time()


_CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def limits() -> Limits:
    """Return the limits of the render under way (the defaults outside one)."""
    budget = _CURRENT.get()
    return budget.limits if budget is not None else LIMITS


def tick(count: int = 0) -> None:
    """Read the clock of the render under way and count loop steps (nothing outside a render)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.step(count)


def measure(value: Any, limit: int) -> int:
    """Return the characters and items a value holds, counting no further than just past `limit`."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, CONTAINERS):
        return 1
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        total += 1 + (len(item) if isinstance(item, str) else 0)
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, CONTAINERS):
            stack += list(item)
    return total


def check_size(value: Any, what: str = "a value") -> Any:
    """Refuse a text or collection larger than the size budget; return it otherwise."""
    limit = limits().size
    if isinstance(value, SIZED) and measure(value, limit) > limit:
        raise TemplateBudgetError(f"{what} larger than {limit} characters or items", "size")
    return value


def _sizes(values: Iterable[Any]) -> int:
    limit = limits().size
    return sum(measure(v, limit) for v in values if isinstance(v, SIZED))


def check_sizes(values: Iterable[Any], what: str) -> None:
    """Refuse when values together hold more than the size budget."""
    if _sizes(values) > limits().size:
        raise TemplateBudgetError(f"{what} larger than {limits().size} characters or items", "size")


def check_power(base: Any, exponent: Any) -> None:
    """Refuse an integer power whose result would have more bits than the budget, before computing it."""
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 0 or abs(base) <= 1:
        return
    if math.log2(abs(base)) * exponent > limits().bits:
        raise TemplateBudgetError(f"{base} ** {exponent} would have more than {limits().bits} bits", "power")


def check_product(left: Any, right: Any) -> None:
    """Refuse a product of integers or a repetition of a text or list that would be too large."""
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > limits().bits:
            raise TemplateBudgetError(f"a product of more than {limits().bits} bits", "power")
        return
    sequence, times = (left, right) if _is_int(right) else (right, left)
    if _is_int(times) and isinstance(sequence, SIZED) and measure(sequence, limits().size) * times > limits().size:
        raise TemplateBudgetError(f"repeating a value {times} times makes more than {limits().size} "
                                      "characters or items", "repetition")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else 10**9


def _brace_specs(text: str) -> list[str]:
    if "{" not in text:
        return []
    try:
        return [spec for _, field, spec, _ in string.Formatter().parse(text) if field is not None and spec]
    except ValueError:
        return []


def format_widths(text: str) -> tuple[int, bool]:
    """Return the largest width or precision a format string asks for and whether an argument gives one."""
    widest, dynamic = 0, False
    for match in PERCENT_SPEC.finditer(text):
        for group in match.groups():
            dynamic = dynamic or group == "*"
            widest = max(widest, _number(group)) if group and group != "*" else widest
    for spec in _brace_specs(text):
        dynamic = dynamic or "{" in spec
        widest = max([widest, *(_number(d) for d in re.findall(r"\d+", spec))])
    return widest, dynamic


def check_format(text: Any, arguments: Iterable[Any]) -> None:
    """Refuse formatting (`%`, `format`, `str.format`, gettext) that asks for a huge width or precision."""
    if not isinstance(text, str):
        return
    arguments = list(arguments)
    widest, dynamic = format_widths(text)
    if dynamic:
        widest = max([widest, *(abs(a) for a in arguments if _is_int(a))])
    if widest > limits().size:
        raise TemplateBudgetError(f"a width or precision of {widest} (at most {limits().size})", "size")
    check_sizes([text, *arguments], "formatting")


def check_widths(name: str, arguments: Iterable[Any]) -> None:
    """Refuse a width-like integer argument larger than the size budget."""
    widest = max([0, *(abs(a) for a in arguments if _is_int(a))])
    if widest > limits().size:
        raise TemplateBudgetError(f"{name}({widest}) asks for more than {limits().size}", "size")


def _grown_replace(text: Any, old: Any = "", new: Any = "", *_: Any, **__: Any) -> int:
    text, old, new = str(text), str(old), str(new)
    return len(text) + (text.count(old) if old else len(text) + 1) * len(new)


def _grown_wordwrap(text: Any, width: Any = 79, *_: Any, wrapstring: Any = None, **__: Any) -> int:
    text = str(text)
    return len(text) + (len(text) // max(int(width), 1) + 1) * len(str(wrapstring or "\n"))


def _grown_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(value)
    return len(text) + (text.count("\n") + 1) * (int(width) if _is_int(width) else len(str(width)))


def _grown_join(items: Any, separator: Any = "", *_: Any, **__: Any) -> int:
    if not isinstance(items, CONTAINERS):
        return 0
    return _sizes(items) + len(items) * len(str(separator))


def _grown_str_join(separator: Any, items: Any = (), *_: Any, **__: Any) -> int:
    return _grown_join(items, separator)


def _grown_tabs(value: Any, tabsize: Any = 8, *_: Any, **__: Any) -> int:
    text = str(value)
    return len(text) + text.count("\t") * (int(tabsize) if _is_int(tabsize) else 8)


FILTER_GROWTH: dict[str, Callable[..., int]] = {
    "replace": _grown_replace, "wordwrap": _grown_wordwrap, "indent": _grown_indent, "join": _grown_join,
}
METHOD_GROWTH: dict[str, Callable[..., int]] = {
    "replace": _grown_replace, "join": _grown_str_join, "expandtabs": _grown_tabs,
}


def check_growth(name: str, grow: Callable[..., int] | None, value: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
    """Refuse a filter or method whose result would be larger than the size budget, before running it."""
    if grow is None:
        return
    try:
        size = grow(value, *args, **kwargs)
    except (TypeError, ValueError, OverflowError):
        return
    if size > limits().size:
        raise TemplateBudgetError(f"{name} would make {size} characters (at most {limits().size})", "size")


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter so that it checks its arguments and its result against the budget."""
    skip = 0 if getattr(func, "jinja_pass_arg", None) is None else 1

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        value, rest = (args[skip], args[skip + 1:]) if len(args) > skip else (None, ())
        check_filter_call(name, value, rest, kwargs)
        return check_size(func(*args, **kwargs), f"the result of {name}")

    return guarded


def check_filter_call(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check a filter's arguments before it runs."""
    if name in WIDTH_FILTERS:
        check_widths(name, [*args, *kwargs.values()])
    if name == "format":
        check_format(value, [*args, *kwargs.values()])
    check_growth(name, FILTER_GROWTH.get(name), value, args, kwargs)
    check_sizes([value, *args, *kwargs.values()], f"the input of {name}")


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check a call from a template (a method, a macro, a global) before it runs."""
    name = str(getattr(obj, "__name__", ""))
    owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
    if isinstance(owner, str):
        if name in WIDTH_METHODS:
            check_widths(name, [*args, *kwargs.values()])
        if name in ("format", "format_map"):
            values = args[0].values() if name == "format_map" and args and isinstance(args[0], dict) else ()
            check_format(owner, [*args, *kwargs.values(), *values])
        check_growth(name, METHOD_GROWTH.get(name), owner, args, kwargs)
    elif "gettext" in name:
        for text in args:
            check_format(text, kwargs.values())
    if not name.startswith("budget_"):
            check_sizes([*args, *kwargs.values()], f"the arguments of {name or 'a call'}")


def budget_range(*args: int) -> range:
    """`range` for templates: at most `range_items` numbers."""
    tick()
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:
        count = limits().range_items + 1
    if count > limits().range_items:
        raise TemplateBudgetError(f"a range of {count} numbers (at most {limits().range_items})", "loop")
    return numbers


def budget_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterate a `for` loop, counting each step against the render's loop budget."""
    for item in iterable:
        tick(1)
        yield item


def budget_concat(*parts: Any) -> str:
    """The `~` operator: refuse before joining when the parts together are too large."""
    tick()
    check_sizes(parts, "a joined text")
    return "".join(map(str, parts))


def budget_data(text: str) -> Mrkdwn:
    """Literal text the admin wrote, routed through `finalize` so that it is counted (never escaped)."""
    return Mrkdwn(text)


class _Guard(NodeTransformer):
    """Route loops, `~` and literal output of a parsed template through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        """Count every step of a loop."""
        self.generic_visit(node)
        node.iter = _call("budget_iter", [node.iter], node.lineno)  # type: ignore[list-item]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        """Check the size of a `~` before joining."""
        self.generic_visit(node)
        return _call("budget_concat", list(node.nodes), node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        """Count literal text too (printed in loops, it adds up)."""
        self.generic_visit(node)
        node.nodes = [_call("budget_data", [n], n.lineno) if isinstance(n, nodes.TemplateData) else n
                      for n in node.nodes]
        return node


def _call(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    if any(isinstance(a, nodes.TemplateData) for a in args):
        args = [nodes.Const(a.data, lineno=lineno) if isinstance(a, nodes.TemplateData) else a for a in args]
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), args, [], None, None, lineno=lineno)


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox for admin-written templates: nothing they do can exceed the render budget."""

    intercepted_binops = frozenset({"**", "*", "+", "%"})
    budget_iter = staticmethod(budget_iter)
    budget_concat = staticmethod(budget_concat)
    budget_data = staticmethod(budget_data)

    def __init__(self, *, escape: Callable[[str], str] | None = None, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.escape_text = escape
        self.globals["range"] = budget_range
        self.globals.pop("lipsum", None)

    def guard_filters(self) -> None:
        """Wrap every filter (call once all filters are registered)."""
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Guard().visit(tree)
        return tree

    def _finalize(self, value: Any) -> str:
        """Print a value (a field a document leaves empty, None, prints as nothing), counted and escaped, without
        bidirectional-text controls."""
        if value is None:
            return ""
        text = without_bidi_controls(value if isinstance(value, str) else str(check_size(value, "a printed value")))
        budget = _CURRENT.get()
        if budget is not None:
            budget.print(len(text))
        if self.escape_text is None or isinstance(value, Mrkdwn):
            return text
        return self.escape_text(text)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Check `**`, `*`, `+` and `%` before computing them."""
        tick()
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_product(left, right)
        elif operator == "+":
            check_sizes([left, right], "a sum")
        else:
            check_format(left, right.values() if isinstance(right, dict) else
                         right if isinstance(right, tuple) else [right])
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Check a call's arguments before it runs and its result after."""
        tick()
        check_call(obj, args, kwargs)
        return check_size(super().call(context, obj, *args, **kwargs), "the result of a call")

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Read the clock at each attribute read too (loops without output still read something)."""
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Read the clock at each item read too."""
        tick()
        return super().getitem(obj, argument)


def compile_within(env: BudgetedEnvironment, source: str, budget: Limits = LIMITS) -> Template:
    """Compile a template under a budget (constant folding runs filters at compile time)."""
    token = _CURRENT.set(Budget(budget))
    try:
        return env.from_string(source)
    finally:
        _CURRENT.reset(token)


def render_within(template: Template, context: dict[str, Any], budget: Limits = LIMITS) -> str:
    """Render a template, streaming its output, refusing as soon as a budget is exceeded."""
    spending = Budget(budget)
    token = _CURRENT.set(spending)
    chunks = template.generate(**context)
    try:
        out = []
        for chunk in chunks:
            spending.emit(chunk)
            out.append(chunk)
        return "".join(out)
    finally:
        chunks.close()  # type: ignore[attr-defined]
        _CURRENT.reset(token)
