"""Shipped templates are compiled once per machine and kept for the next process; a cache that fails never stops a
message, and templates compiled to print differently never share it."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2 import FileSystemLoader

from messages.render import TEMPLATE_DIR, QuietBytecodeCache, _environment

TEXT = "approval_closed_email_subject.txt.j2"


def test_a_cache_that_cannot_be_read_or_written_only_compiles_again(tmp_path: Path) -> None:
    env = _environment("en", ZoneInfo("UTC"), FileSystemLoader(str(TEMPLATE_DIR)), True)
    env.bytecode_cache = QuietBytecodeCache(str(tmp_path / "missing"))
    assert env.get_template(TEXT) is not None
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    env = _environment("en", ZoneInfo("UTC"), FileSystemLoader(str(TEMPLATE_DIR)), True)
    env.bytecode_cache = QuietBytecodeCache(str(garbled))
    env.get_template(TEXT)
    for kept in garbled.iterdir():
        kept.write_bytes(b"not bytecode")
    env = _environment("en", ZoneInfo("UTC"), FileSystemLoader(str(TEMPLATE_DIR)), True)
    env.bytecode_cache = QuietBytecodeCache(str(garbled))
    assert env.get_template(TEXT) is not None


@pytest.mark.parametrize("shown", [True, False])
def test_each_way_of_printing_values_has_its_own_compiled_templates(shown: bool) -> None:
    ours = _environment("en", ZoneInfo("UTC"), None, shown).bytecode_cache
    other = _environment("en", ZoneInfo("UTC"), None, not shown).bytecode_cache
    assert isinstance(ours, QuietBytecodeCache) and isinstance(other, QuietBytecodeCache)
    assert ours.pattern != other.pattern

