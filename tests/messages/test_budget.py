"""Admin-written templates render within a budget, and the data they insert into Slack text is escaped."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from messages.budget import format_widths, measure
from messages.errors import MessagesError, TemplateBudgetError, TemplateInvalidError
from messages.render import Renderer, check_user_template

CONTEXT: dict[str, Any] = {
    "record": {"id": "INV-1", "amount": Decimal("12500.00"), "memo": "first", "n": 3},
    "contact": {"name": "ACME"},
}

# (template, the budget it exceeds — "a|b": the first one reached on a busy machine); each would take seconds or
# gigabytes without a budget
BOMBS = [
    ("{{ (9**(9**7)) % 10 }}", "power"),
    ("{{ 9 ** (9 ** 9) }}", "power"),
    ("{{ 2 ** 5000 }}", "power"),
    ("{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}", "power"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loop|time"),
    ("{% for i in range(200) %}{% for j in range(200) %}{% for k in range(200) %}{{ '' }}{% endfor %}"
     "{% endfor %}{% endfor %}", "loop|time"),
    ("{% for i in range(10**12) %}{% endfor %}", "loop"),
    ("{{ range(10**9) | list | length }}", "loop"),
    ("{{ 'x' * 10**9 }}", "repetition"),
    ("{{ 10**9 * 'x' }}", "repetition"),
    ("{{ ([1, 2] * 10**8) | length }}", "repetition"),
    ("{{ 'x' | center(10**9) }}", "size"),
    ("{{ 'x' | center(1000000000) }}", "size"),
    ("{{ 'x' | indent(10**9) }}", "size"),
    ("{{ 'a\\nb\\nc' | indent('y' * 30000) }}", "size"),
    ("{{ 'x' | wordwrap(10**9) }}", "size"),
    ("{{ ('ab' * 15000) | wordwrap(1) }}", "size"),
    ("{{ '%1000000000d' | format(1) }}", "size"),
    ("{{ '%*d' | format(10**9, 1) }}", "size"),
    ("{{ '%.999999999f' % 1.5 }}", "size"),
    ("{{ '{:>1000000000}'.format(1) }}", "size"),
    ("{{ '{:>{w}}'.format(1, w=10**9) }}", "size"),
    ("{{ 'x'.ljust(10**9) }}", "size"),
    ("{{ 'x'.zfill(10**9) }}", "size"),
    ("{{ ('\t' * 1000).expandtabs(1000) }}", "size"),
    ("{{ ('a' * 1000) | replace('a', 'b' * 1000) }}", "size"),
    ("{{ ('a' * 1000).replace('', 'b' * 1000) }}", "size"),
    ("{{ _('%(n)1000000000d', n=1) }}", "size"),
    ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "size"),
    ("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "size"),
    ("{% set ns = namespace(l=[0]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "size"),
    ("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
     "size"),
    ("{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(64) %}{% set s %}{{ ns.s }}{{ ns.s }}{% endset %}"
     "{% set ns.s = s %}{% endfor %}", "output"),
    ("{% macro twice(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x') %}"
     "{% for i in range(64) %}{% set ns.s = twice(ns.s) %}{% endfor %}", "output"),
    ("{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}", "output"),
    ("{% for i in range(10000) %}0123456789{% endfor %}", "output"),
    # no output at all, and no loop steps counted below the first level: only the clock stops it
    ("{% for i in range(10000) recursive %}{% if loop.depth < 4 %}{{ loop(range(10000)) }}{% endif %}{% endfor %}",
     "time"),
]


@pytest.mark.parametrize(("source", "budget"), BOMBS)
def test_bombs_are_refused_fast_naming_the_budget_and_line(source: str, budget: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateBudgetError) as caught:
        Renderer().user_text("Hello\n" + source, **CONTEXT)
    assert time.perf_counter() - started < 0.5
    error = caught.value
    assert error.budget in budget.split("|"), str(error)
    assert error.line == 2 and str(error).startswith(f"line 2: over the {error.budget} budget: ")
    assert isinstance(error, TemplateInvalidError) and isinstance(error, MessagesError)


@pytest.mark.parametrize("slack", [False, True])
def test_a_bomb_in_slack_text_is_refused_too(slack: bool) -> None:
    renderer = Renderer()
    render = renderer.slack_text if slack else renderer.user_text
    started = time.perf_counter()
    with pytest.raises(TemplateBudgetError):
        render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", **CONTEXT)
    assert time.perf_counter() - started < 0.5


def test_the_save_time_check_names_the_line_and_budget() -> None:
    problem = check_user_template("ok\n\n{{ 'x' * 10**9 }}", CONTEXT)
    assert problem is not None and problem.startswith("line 3: over the repetition budget: ")


# (template, text): ordinary templates keep working inside the budget
FINE = [
    ("{{ record.id }} for {{ record.amount | money('EUR') }}", "INV-1 for €12,500.00"),
    ("{{ 2 ** 10 }} {{ 2 ** 4000 > 0 }} {{ 3 * 4 }} {{ 'ab' * 3 }} {{ [0] * 2 }}", "1024 True 12 ababab [0, 0]"),
    ("{% for i in range(record.n) %}{{ i }}{% endfor %}", "012"),
    ("{{ range(100) | sum }} {{ 'x' | center(5) }}|", "4950   x  |"),
    ("{{ '%05.1f' | format(3.14159) }} {{ '{:>6}'.format('ab') }} {{ 'id: %s' % record.id }}",
     "003.1     ab id: INV-1"),
    ("{{ record.memo ~ '!' }} {{ record.memo + '?' }} {{ (record.memo | upper).ljust(7, '.') }}",
     "first! first? FIRST.."),
    ("{{ 'a,b' | replace(',', ', ') }} {{ ['x', 'y'] | join(' & ') }}", "a, b x & y"),
    ("{% for x in [1, 2] %}{% for y in [3, 4] %}{{ x * y }} {% endfor %}{% endfor %}", "3 4 6 8 "),
    ("{% set s %}{{ record.id }}{% endset %}{{ s | lower }}", "inv-1"),
    ("{{ nope.deeper }}|{{ record.missing }}|", "||"),
]


@pytest.mark.parametrize(("source", "text"), FINE)
def test_ordinary_templates_render(source: str, text: str) -> None:
    assert Renderer().user_text(source, **CONTEXT) == text


def test_many_ordinary_renders_stay_within_budget() -> None:
    source = "{% for i in range(2000) %}{{ i }} {% endfor %}"
    for _ in range(50):
        assert Renderer().user_text(source, **CONTEXT).startswith("0 1 2")


DATA = {"memo": "<@U01BBB> <!channel> <!here|here> <https://evil.example|click> & *x*", "name": "Tom & <Jerry>"}


@pytest.mark.parametrize(
    ("source", "slack", "plain"),
    [
        ("{{ record.memo }}", "&lt;@U01BBB&gt; &lt;!channel&gt; &lt;!here|here&gt; &lt;https://evil.example|click&gt; "
         "&amp; *x*", DATA["memo"]),
        ("Hi <!here>, *{{ contact.name }}* owes", "Hi <!here>, *Tom &amp; &lt;Jerry&gt;* owes",
         "Hi <!here>, *Tom & <Jerry>* owes"),
        ("{{ 'U01AAA' | slack_user }} {{ contact.name | mrkdwn }}", "<@U01AAA> Tom &amp; &lt;Jerry&gt;",
         "<@U01AAA> Tom &amp; &lt;Jerry&gt;"),
        ("{{ '<' ~ contact.name ~ '>' }}", "&lt;Tom &amp; &lt;Jerry&gt;&gt;", "<Tom & <Jerry>>"),
        ("{% for w in record.memo.split()[:2] %}[{{ w }}]{% endfor %}", "[&lt;@U01BBB&gt;][&lt;!channel&gt;]",
         "[<@U01BBB>][<!channel>]"),
    ],
)
def test_data_is_escaped_in_slack_text_only(source: str, slack: str, plain: str) -> None:
    context = {"record": {"memo": DATA["memo"]}, "contact": {"name": DATA["name"]}}
    assert Renderer().slack_text(source, **context) == slack
    assert Renderer().user_text(source, **context) == plain


@pytest.mark.parametrize(
    ("text", "widest", "dynamic"),
    [("%s and %d", 0, False), ("%(n)12.3f", 12, False), ("%*d", 0, True), ("100% 50000 units", 50000, False),
     ("{:>20}", 20, False), ("{:{w}}", 0, True), ("{0[1]}", 0, False), ("{", 0, False), ("%" + "9" * 5000 + "d",
                                                                                            10**9, False)],
)
def test_format_widths(text: str, widest: int, dynamic: bool) -> None:
    assert format_widths(text) == (widest, dynamic)


def test_measure_stops_early_on_shared_structures() -> None:
    value: list[Any] = [1]
    for _ in range(64):
        value = [value, value]
    started = time.perf_counter()
    assert measure(value, 1000) > 1000
    assert time.perf_counter() - started < 0.1
    assert measure({"a": "xyz", "b": [1, 2]}, 1000) == 12
