"""SIGNOFF_PUBLIC_URL: the base of the links in approval e-mails."""

from __future__ import annotations

import pytest

from bot.errors import SettingsError
from bot.settings import load_settings


def test_defaults_to_the_listen_address() -> None:
    assert load_settings(sandbox=True, host="10.0.0.5", port=8080).public_url == "http://10.0.0.5:8080"


def test_a_trailing_slash_is_dropped() -> None:
    assert load_settings(sandbox=True, public_url="https://signoff.example.com/").public_url == (
        "https://signoff.example.com")


@pytest.mark.parametrize("url", ["ftp://signoff.example.com", "signoff.example.com", "https://x.example/?a=1"])
def test_a_bad_url_names_the_setting(url: str) -> None:
    with pytest.raises(SettingsError, match="SIGNOFF_PUBLIC_URL"):
        load_settings(sandbox=True, public_url=url)
