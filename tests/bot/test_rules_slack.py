"""Groups and rules from Slack: `/signoff group …` and `/signoff rule …` are for admins, with a clear refusal."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.validation import validate_message
from bot.sandbox.workspace import Message
from tests.support.harness import Harness

ADMIN, MEMBER = "U0ADMIN", "U01AAA"
RULES_YAML = """rules:
  - name: Air France is travel
    status: published
    conditions: [{field: vendor, op: eq, value: V-AIR}]
    results: {category: Travel}
"""


async def run(h: Harness, user: str, text: str) -> Message:
    before = len(h.workspace.ephemerals(user))
    reply = await h.link.command(user, "/signoff", text)
    assert reply.status == 200
    shown = h.workspace.ephemerals(user)
    assert len(shown) == before + 1, f"/signoff {text} showed nothing"
    assert validate_message(shown[-1].blocks, shown[-1].text) == []
    return shown[-1]


async def groups(h: Harness) -> list[dict[str, Any]]:
    return list((await h.api.get("/api/v1/groups")).json()["groups"])


async def rules(h: Harness) -> list[dict[str, Any]]:
    return list((await h.api.get("/api/v1/rules")).json()["rules"])


async def customers(h: Harness, *ids: str) -> None:
    for cid in ids:
        assert (await h.put(f"/api/v1/contacts/customer/{cid}", {"name": cid})).status_code == 200


@pytest.mark.parametrize("text", ["group create vips customer C1", "group add vips C2", "group remove vips C1",
                                  "group delete vips", f"rule apply {RULES_YAML}", "rule publish r1",
                                  "rule unpublish r1", "rule delete r1"])
async def test_a_non_admin_cannot_change_groups_or_rules_from_slack(signoff: Harness, text: str) -> None:
    await customers(signoff, "C1", "C2")
    vips = {"name": "vips", "kind": "customer", "members": ["C1"]}
    assert (await signoff.post("/api/v1/groups", vips)).status_code == 201
    before = (await groups(signoff), await rules(signoff))
    answer = (await run(signoff, MEMBER, text)).all_text()
    assert "Only Signoff admins" in answer and "nothing was changed" in answer
    assert (await groups(signoff), await rules(signoff)) == before


async def test_an_admin_creates_changes_and_deletes_groups_from_slack(signoff: Harness) -> None:
    await customers(signoff, "C1", "C2")
    assert "is created. It has 1 member." in (await run(signoff, ADMIN, "group create vips customer C1")).all_text()
    [group] = await groups(signoff)
    assert (group["name"], group["kind"], group["members"]) == ("vips", "customer", ["C1"])
    assert "It has 2 members." in (await run(signoff, ADMIN, "group add vips C2")).all_text()
    assert (await groups(signoff))[0]["members"] == ["C1", "C2"]
    assert "It has 1 member." in (await run(signoff, ADMIN, "group remove vips C1")).all_text()
    unknown = (await run(signoff, ADMIN, "group add vips C-NOPE")).all_text()
    assert "did not work" in unknown and (await groups(signoff))[0]["members"] == ["C2"]
    assert "is deleted" in (await run(signoff, ADMIN, "group delete vips")).all_text()
    assert await groups(signoff) == []
    assert "Usage" in (await run(signoff, ADMIN, "group create vips planets")).all_text()


async def test_an_admin_applies_publishes_and_deletes_rules_from_slack(signoff: Harness) -> None:
    assert "Rules saved: Air France is travel" in (await run(signoff, ADMIN, f"rule apply {RULES_YAML}")).all_text()
    [rule] = await rules(signoff)
    assert rule["status"] == "published"
    assert "is unpublished" in (await run(signoff, ADMIN, f"rule unpublish {rule['id']}")).all_text()
    assert (await rules(signoff))[0]["status"] == "draft"
    assert "is published" in (await run(signoff, ADMIN, f"rule publish {rule['id']}")).all_text()
    assert "is deleted" in (await run(signoff, ADMIN, f"rule delete {rule['id']}")).all_text()
    assert await rules(signoff) == []
