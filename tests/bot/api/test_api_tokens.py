"""API tokens: the token's role decides what a REST caller may do; writes are audited with its name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cli.main import main
from bot.core.tokens import create_token
from tests.support.harness import Harness, running_signoff

INVOICE = {"amount": "120.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0REQ"}
WORKFLOW = {"name": "Leads approve", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]}


@pytest.fixture
async def tokens(signoff: Harness) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One API client per role, each with its own stored token."""
    clients = {}
    for role in ("admin", "integration", "read"):
        token = await create_token(signoff.db, f"{role}-bot", role, datetime.now(UTC))
        clients[role] = httpx.AsyncClient(base_url=signoff.runtime.url, timeout=30,
                                          headers={"Authorization": f"Bearer {token}"})
    yield clients
    for client in clients.values():
        await client.aclose()


async def fingerprint(signoff: Harness) -> dict[str, Any]:
    """Every row of the tables a REST write can touch."""
    async with signoff.db.read() as repo:
        return {table: [tuple(r) for r in await repo._all(f"SELECT * FROM {table}")]
                for table in ("records", "contacts", "workflows", "audit", "contact_groups", "company", "outbox")}


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


async def test_a_read_token_reads_everything_and_writes_nothing(
    signoff: Harness, tokens: dict[str, httpx.AsyncClient]
) -> None:
    assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).status_code == 200
    read = tokens["read"]
    for path in ("/api/v1/records", "/api/v1/records/invoice/INV-1", "/api/v1/workflows", "/api/v1/groups",
                 "/api/v1/rules", "/api/v1/outbox", "/api/v1/company"):
        assert (await read.get(path)).status_code == 200, path
    before = await fingerprint(signoff)
    assert_forbidden(await read.put("/api/v1/records/invoice/INV-2", json=INVOICE))
    assert_forbidden(await read.post("/api/v1/records/invoice/INV-1/submit", json={}))
    assert_forbidden(await read.post("/api/v1/workflows", json=WORKFLOW))
    assert_forbidden(await read.put("/api/v1/company", json={"name": "Evil"}))
    assert await fingerprint(signoff) == before


async def test_an_integration_token_writes_documents_and_contacts_only(
    signoff: Harness, tokens: dict[str, httpx.AsyncClient]
) -> None:
    erp = tokens["integration"]
    assert (await erp.put("/api/v1/contacts/customer/C-ACME", json={"name": "Acme"})).status_code == 200
    assert (await erp.put("/api/v1/records/invoice/INV-1", json=INVOICE)).status_code == 200
    assert (await erp.get("/api/v1/records?type=invoice")).json()["records"][0]["id"] == "INV-1"
    assert (await erp.get("/api/v1/records/invoice/INV-1/audit")).status_code == 200
    assert (await erp.get("/api/v1/records/invoice/INV-1/prefills")).status_code == 200
    before = await fingerprint(signoff)
    assert_forbidden(await erp.post("/api/v1/workflows", json=WORKFLOW))
    assert_forbidden(await erp.get("/api/v1/workflows"))
    assert_forbidden(await erp.post("/api/v1/groups", json={"name": "g", "kind": "people"}))
    assert_forbidden(await erp.post("/api/v1/records/invoice/INV-1/remind", json={}))
    assert await fingerprint(signoff) == before


async def test_an_admin_token_does_everything(signoff: Harness, tokens: dict[str, httpx.AsyncClient]) -> None:
    admin = tokens["admin"]
    assert (await admin.post("/api/v1/workflows", json=WORKFLOW)).status_code == 201
    group = await admin.post("/api/v1/groups", json={"name": "leads", "kind": "people", "members": ["U01AAA"]})
    assert group.status_code == 201
    assert (await admin.delete(f"/api/v1/groups/{group.json()['id']}")).status_code == 204


async def test_the_user_header_grants_nothing(signoff: Harness, tokens: dict[str, httpx.AsyncClient]) -> None:
    assert (await signoff.post("/api/v1/groups", {"name": "leads", "kind": "people"})).status_code == 201
    claimed = {"X-Signoff-User": "U0ADMIN"}
    assert_forbidden(await tokens["read"].delete("/api/v1/groups/leads", headers=claimed))
    assert_forbidden(await tokens["integration"].delete("/api/v1/groups/leads", headers=claimed))
    assert_forbidden(await tokens["integration"].delete("/api/v1/groups/leads", params={"actor": "U0ADMIN"}))
    assert (await signoff.api.get("/api/v1/groups/leads")).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer so_unknown", "Bearer", "Token so_x", "Bearer " + "x" * 5000])
async def test_unknown_tokens_are_401(signoff: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=signoff.runtime.url, headers=headers) as anonymous:
        response = await anonymous.put("/api/v1/records/invoice/INV-1", json=INVOICE)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).status_code == 404


async def test_writes_are_audited_with_the_token_name(
    signoff: Harness, tokens: dict[str, httpx.AsyncClient]
) -> None:
    assert (await tokens["integration"].put("/api/v1/records/invoice/INV-1", json=INVOICE)).status_code == 200
    group = await tokens["admin"].post("/api/v1/groups", json={"name": "leads", "kind": "people"})
    assert (await tokens["integration"].put("/api/v1/records/invoice/INV-2", json={"x": 1})).status_code == 422
    async with signoff.db.read() as repo:
        erp = await repo.audit_trail("api_token", "integration-bot")
        trail = await repo.audit_trail("group", group.json()["id"])
    assert [(e.actor, e.action, e.detail) for e in erp] == [
        ("token:integration-bot", "api_write", {"method": "PUT", "path": "/api/v1/records/invoice/INV-1"})]
    assert [(e.actor, e.action) for e in trail] == [("token:admin-bot", "group_created")]


async def test_revoked_tokens_are_refused_and_last_use_is_kept(tmp_path: Path, capsys: Any) -> None:
    database = tmp_path / "signoff.db"
    assert await asyncio.to_thread(main, ["migrate", "--database", str(database)]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["tokens", "create", "erp", "--role", "integration", "--database",
                                          str(database)]) == 0
    token = capsys.readouterr().out.strip()
    async with running_signoff(database, api_token=None) as signoff:
        async with httpx.AsyncClient(base_url=signoff.runtime.url,
                                     headers={"Authorization": f"Bearer {token}"}) as erp:
            assert (await erp.put("/api/v1/records/invoice/INV-1", json=INVOICE)).status_code == 200
            assert await asyncio.to_thread(main, ["tokens", "revoke", "erp", "--database", str(database)]) == 0
            response = await erp.get("/api/v1/records/invoice/INV-1")
            assert response.status_code == 401
        assert (await signoff.api.get("/api/v1/records")).status_code == 401
    assert await asyncio.to_thread(main, ["tokens", "list", "--database", str(database)]) == 0
    (_, row) = capsys.readouterr().out.strip().splitlines()[-2:]
    assert row.startswith("erp ") and "integration" in row and row.count("UTC") == 3


def test_the_cli_refuses_taken_and_reserved_names(tmp_path: Path, capsys: Any) -> None:
    database = str(tmp_path / "signoff.db")
    assert main(["tokens", "create", "erp", "--role", "read", "--database", database]) == 2
    assert "no Signoff database at" in capsys.readouterr().err and not Path(database).exists()
    assert main(["migrate", "--database", database]) == 0
    assert main(["tokens", "create", "erp", "--role", "read", "--database", database]) == 0
    assert main(["tokens", "create", "erp", "--role", "admin", "--database", database]) == 1
    assert main(["tokens", "create", "env", "--role", "admin", "--database", database]) == 1
    assert main(["tokens", "create", "bad name", "--role", "admin", "--database", database]) == 1
    assert main(["tokens", "revoke", "nobody", "--database", database]) == 1
    assert "exists" in capsys.readouterr().err


async def test_the_openapi_document_names_the_roles_of_each_operation(signoff: Harness) -> None:
    spec = (await signoff.api.get("/api/v1/openapi.json")).json()
    put_record = spec["paths"]["/api/v1/records/{record_type}/{record_id}"]["put"]
    assert put_record["x-signoff-roles"] == ["admin", "integration"]
    operations = {(path, method): op for path, item in spec["paths"].items() for method, op in item.items()}
    assert all("x-signoff-roles" in op for op in operations.values()), [k for k, op in operations.items()
                                                                        if "x-signoff-roles" not in op]
    assert operations[("/api/v1/workflows", "get")]["x-signoff-roles"] == ["admin", "read"]
    assert operations[("/api/v1/workflows", "post")]["x-signoff-roles"] == ["admin"]


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/records?offset=100000000000000000000", "offset"),
        ("/api/v1/records?offset=1000001", "offset"),
        ("/api/v1/records?limit=0", "limit"),
        ("/api/v1/records?limit=1001", "limit"),
        ("/api/v1/runs?cursor=99999999999999999999999", "cursor"),
        ("/api/v1/runs?cursor=%C2%B2", "cursor"),
        ("/api/v1/runs?workflow_id=" + "w" * 201, "workflow_id"),
        ("/api/v1/reminders?assignee=", "assignee"),
        ("/api/v1/records/invoice/" + "i" * 201, "record_id"),
        ("/api/v1/workflows/" + "w" * 201, "workflow_id"),
    ],
)
async def test_out_of_range_parameters_are_422_naming_them(signoff: Harness, path: str, param: str) -> None:
    response = await signoff.api.get(path)
    assert response.status_code == 422, response.text
    assert param in [d["path"] for d in response.json()["error"]["details"]]
