"""A French installation shows and creates catalog templates in French, and starts with French defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.catalog import DEFAULT_SLUGS, catalog, default_workflow_id, find_template
from messages.catalog_text import localized
from tests.messages.english import english_words
from tests.support.harness import Harness, running_signoff

ADMIN = "U0ADMIN"


def french(slug: str) -> Any:
    template = find_template(slug)
    assert template is not None
    return localized(template, "fr")


def stored_definition(workflow: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in workflow.items() if k not in ("id", "created_at", "updated_at", "warnings")}


async def test_templates_are_listed_shown_and_created_in_french(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr") as signoff:
        listed = (await signoff.api.get("/api/v1/templates")).json()["templates"]
        assert [(t["title"], t["description"]) for t in listed] == [
            (french(t.slug).title, french(t.slug).description) for t in catalog()]
        assert all(english_words(t["title"] + " " + t["description"], allowed=["Operations", "IT"]) == []
                   for t in listed)
        shown = (await signoff.api.get("/api/v1/templates/payment-due-reminder")).json()
        assert shown["definition"] == french("payment-due-reminder").definition.model_dump(mode="json")
        created = await signoff.post("/api/v1/templates/payment-due-reminder/create", {"to": ["#ar"]})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == "Rappel d’échéance de paiement" and body["description"].startswith("Écrit aux clients")
        assert body["actions"][0]["subject"].startswith("Rappel\u00a0: la facture {{ record.id }}")
        assert body["actions"][0]["body"].startswith("Bonjour {{ contact.name")
        renamed = await signoff.post("/api/v1/templates/invoice-approval/create", {"name": "Nos factures"})
        assert renamed.json()["name"] == "Nos factures"


async def run(signoff: Harness, text: str) -> None:
    reply = await signoff.link.command(ADMIN, "/signoff", text)
    assert reply.status == 200


async def test_the_slack_template_list_and_modal_are_french(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr") as signoff:
        await run(signoff, "templates customer-email")
        listing = signoff.workspace.ephemerals(ADMIN)[-1].all_text()
        assert french("payment-due-reminder").title in listing and "Payment due reminder" not in listing
        await run(signoff, "new payment-due-reminder")
        [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
        shown = json.dumps(modal, ensure_ascii=False)
        action = french("payment-due-reminder").definition.actions[0]
        assert json.dumps(action.subject, ensure_ascii=False)[1:-1] in shown and "Hello" not in shown
        assert french("payment-due-reminder").title in shown and "Payment due reminder" not in shown


async def test_a_french_company_starts_with_french_defaults_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    async with running_signoff(path, locale="fr") as first:
        workflows = (await first.api.get("/api/v1/workflows")).json()["workflows"]
        assert [w["id"] for w in workflows] == [default_workflow_id(s) for s in DEFAULT_SLUGS]
        for slug, stored in zip(DEFAULT_SLUGS, workflows, strict=True):
            assert stored_definition(stored) == french(slug).definition.model_dump(mode="json")
        assert (await first.api.delete(f"/api/v1/workflows/{workflows[0]['id']}")).status_code == 204
    async with running_signoff(path, locale="fr") as second:
        [kept] = (await second.api.get("/api/v1/workflows")).json()["workflows"]
        assert stored_definition(kept) == french(DEFAULT_SLUGS[1]).definition.model_dump(mode="json")


async def test_defaults_turn_french_where_nobody_changed_their_words(tmp_path: Path) -> None:
    path = tmp_path / "switched.db"
    async with running_signoff(path) as english:
        first_id = default_workflow_id(DEFAULT_SLUGS[0])
        data = stored_definition((await english.api.get(f"/api/v1/workflows/{first_id}")).json())
        data["actions"][0]["message"] = "Facture fournisseur {{ record.id }} à payer"
        assert (await english.put(f"/api/v1/workflows/{first_id}", data)).status_code == 200
    async with running_signoff(path, locale="fr") as switched:
        first, second = (await switched.api.get("/api/v1/workflows")).json()["workflows"]
        assert first["name"] == french(DEFAULT_SLUGS[0]).title
        assert first["actions"][0]["message"] == "Facture fournisseur {{ record.id }} à payer"
        assert stored_definition(second) == french(DEFAULT_SLUGS[1]).definition.model_dump(mode="json")
