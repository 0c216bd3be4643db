"""manifest.yml is a valid Slack app manifest and declares what the bot uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_CANDIDATES = [ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json",
                     ROOT / "docs" / "slack" / "manifest.schema.1.0.0.json"]


def _schema() -> dict:
    for path in SCHEMA_CANDIDATES:
        if path.exists():
            return json.loads(path.read_text())
    pytest.fail("Slack's manifest schema was not found")


def _manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slack_schema() -> None:
    jsonschema.validate(_manifest(), _schema())


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        (lambda m: m["display_information"].pop("name"), "missing name"),
        (lambda m: m["oauth_config"]["scopes"].update(bot="chat:write"), "scopes not a list"),
        (lambda m: m["features"]["slash_commands"][0].update(command="signoff"), "command without slash"),
    ],
)
def test_schema_rejects_broken_manifests(mutation, reason: str) -> None:
    manifest = _manifest()
    mutation(manifest)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, _schema())


def test_manifest_declares_what_the_bot_uses() -> None:
    manifest = _manifest()
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "im:write", "users:read"} <= scopes
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/signoff"]
