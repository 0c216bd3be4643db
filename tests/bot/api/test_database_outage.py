"""While PostgreSQL cannot be reached the API answers 503 in the JSON envelope and the health check fails; once it
answers again the same process serves again, with no restart."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from tests.storage.postgres.test_reconnect import allow_connections, kill_sessions
from tests.support.harness import running_signoff
from tests.support.postgres import fresh_database

BODY = {"amount": "12.50", "currency": "EUR", "created_by": "U0DAN", "source": "app"}


async def healthy(api: httpx.AsyncClient) -> bool:
    return (await api.get("/healthz")).status_code == 200


async def test_the_api_answers_503_while_postgresql_is_down_and_serves_again_once_it_is_back(pg_cluster: str) -> None:
    url = fresh_database(pg_cluster, f"outage_{uuid.uuid4().hex}")
    async with running_signoff(url) as signoff:  # type: ignore[arg-type]
        assert (await signoff.api.put("/api/v1/records/invoice/INV-1", json=BODY)).status_code == 200
        allow_connections(pg_cluster, url, False)
        try:
            kill_sessions(pg_cluster, url)
            refused = await signoff.api.put("/api/v1/records/invoice/INV-2", json=BODY)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "unavailable"
            assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).status_code == 503
            assert not await healthy(signoff.api)
        finally:
            allow_connections(pg_cluster, url, True)
        deadline = time.monotonic() + 10
        while not await healthy(signoff.api):
            assert time.monotonic() < deadline, "the process never served again"
            await asyncio.sleep(0.1)
        assert (await signoff.api.put("/api/v1/records/invoice/INV-2", json=BODY)).status_code == 200
        listed = (await signoff.api.get("/api/v1/records", params={"type": "invoice"})).json()
        assert sorted(r["id"] for r in listed["records"]) == ["INV-1", "INV-2"]
