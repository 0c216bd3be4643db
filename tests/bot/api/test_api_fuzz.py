"""Schemathesis over /api/v1/openapi.json against a running Signoff: no input yields a 5xx, and a refused
request (4xx) changes nothing in the database.

Every operation is called with schema-valid and schema-invalid inputs (derandomized, bounded examples),
once more with path ids of seeded objects so that updates reach real documents, workflows, groups and
rules, with the boundary cases of schemathesis' coverage phase, and write operations are called with a
read-only token too (403, nothing changed). The test clock endpoints are included: moving the clock and
running sweeps has not made it flaky.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from bot.core.tokens import create_token
from tests.support.harness import Harness

EXAMPLES = 20
# Tables (or columns) that background work changes (deliveries, the clock's bookkeeping, token last use) are
# left out of the fingerprint, so that it moves only with what requests do; queued messages still count.
VOLATILE = {"inbox", "due_work", "performed_actions", "api_tokens", "slack_messages", "schema_version",
            "sqlite_sequence"}
COLUMNS = {"outbox": "id, key, kind, target, payload"}
SEED = {
    "contact": ("/api/v1/contacts/customer/C-1", {"name": "Acme", "state": "CA", "balance": "10"}),
    "record": ("/api/v1/records/invoice/INV-1", {"amount": "100.00", "currency": "EUR", "customer": "C-1"}),
}


@dataclass
class Findings:
    """What the fuzzing found: 5xx answers, and refused requests that changed something."""

    server_errors: list[str] = field(default_factory=list)
    refusals_that_changed: list[str] = field(default_factory=list)
    writes_not_refused: list[str] = field(default_factory=list)
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def fingerprint(conn: sqlite3.Connection) -> str:
    """Hash every row of every table a request may change."""
    digest = hashlib.sha256()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    conn.execute("BEGIN")
    try:
        for table in (t for t in tables if t not in VOLATILE):
            order = "rowid" if _has_rowid(conn, table) else "1, 2"
            for row in conn.execute(f"SELECT {COLUMNS.get(table, '*')} FROM {table} ORDER BY {order}"):
                digest.update(repr((table, tuple(row))).encode())
    finally:
        conn.execute("ROLLBACK")
    return digest.hexdigest()


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    return "WITHOUT ROWID" not in sql.upper()


@dataclass
class Fuzzer:
    """Calls operations with generated cases and records what went wrong."""

    base_url: str
    conn: sqlite3.Connection
    findings: Findings = field(default_factory=Findings)

    def call(self, case: Any, session: requests.Session) -> int:
        """Call one case; note a 5xx, or a 4xx after which the database differs; return the status."""
        before = fingerprint(self.conn)
        response = case.call(base_url=self.base_url, session=session, timeout=30)
        status = response.status_code
        self.findings.calls += 1
        self.findings.statuses[status] = self.findings.statuses.get(status, 0) + 1
        label = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
        if status >= 500:
            self.findings.server_errors.append(f"{status} {label}: {response.text[:300]}")
        elif status >= 400 and fingerprint(self.conn) != before:
            self.findings.refusals_that_changed.append(f"{status} {label}")
        return status

    def run(self, strategy: Any, session: requests.Session, examples: int = EXAMPLES) -> None:
        """Call `examples` cases drawn from a strategy, deterministically."""
        self.run_with(strategy, lambda case: self.call(case, session), examples)

    def run_with(self, strategy: Any, check: Callable[[Any], object], examples: int = EXAMPLES) -> None:
        """Give `check` `examples` cases drawn from a strategy, deterministically."""

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def _one(case: Any) -> None:
            check(case)

        with contextlib.suppress(Unsatisfiable):  # e.g. no invalid input for an operation without parameters
            _one()

    def refused(self, case: Any, session: requests.Session) -> None:
        """Call a write with a read-only token: it must be a 403, changing nothing."""
        status = self.call(case, session)
        if status != 403:
            self.findings.writes_not_refused.append(f"{status} {case.method} {case.formatted_path}")


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.trust_env = False  # loopback only: no proxies from the environment
    # A fresh connection per call: answers on a kept-alive connection wait ~40 ms (Nagle and delayed ACKs)
    # while the listening socket is not TCP_NODELAY.
    session.headers["Connection"] = "close"
    return session


def _fuzz_operation(fuzzer: Fuzzer, schema: Any, operation: Any, sessions: dict[str, requests.Session],
                    seeded: dict[str, str]) -> None:
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    config = schema.config.generation_for(operation=operation)
    for case in schema.iter_coverage_cases(operation, generation_modes=modes, generation_config=config):
        fuzzer.call(case, sessions["admin"])  # boundary values: limits, lengths, wrong types, missing fields
    for mode in modes:
        fuzzer.run(operation.as_strategy(generation_mode=mode), sessions["admin"])
    known = {p.name: seeded.get(p.name, "unknown") for p in operation.path_parameters}
    fuzzer.run(operation.as_strategy(path_parameters=known), sessions["admin"])
    if operation.method.upper() != "GET":
        read_only = operation.as_strategy(path_parameters=known)
        fuzzer.run_with(read_only, lambda case: fuzzer.refused(case, sessions["read"]), examples=5)


def fuzz(spec: dict[str, Any], base_url: str, database: str, tokens: dict[str, str],
         seeded: dict[str, str]) -> Findings:
    """Fuzz every operation of the OpenAPI document (runs in a thread, beside the server's event loop)."""
    schema = schemathesis.openapi.from_dict(spec)
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    fuzzer = Fuzzer(base_url, conn)
    sessions = {role: _session(token) for role, token in tokens.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for result in schema.get_all_operations():
            _fuzz_operation(fuzzer, schema, result.ok(), sessions, seeded)
    conn.close()
    return fuzzer.findings


async def _seed(signoff: Harness) -> dict[str, str]:
    for path, body in SEED.values():
        assert (await signoff.put(path, body)).status_code == 200
    workflow = await signoff.post("/api/v1/workflows", {
        "name": "Leads approve", "record_type": "invoice", "trigger": "created",
        "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]})
    group = await signoff.post("/api/v1/groups", {"name": "ca", "kind": "customer",
                                                  "filters": [{"field": "state", "op": "eq", "value": "CA"}]})
    rule = await signoff.post("/api/v1/rules", {"name": "CA is retail", "results": {"class": "Retail"},
                                                "conditions": [{"field": "customer", "op": "in_group", "value": "ca"}]})
    for response in (workflow, group, rule):
        assert response.status_code == 201, response.text
    return {"record_type": "invoice", "record_id": "INV-1", "invoice_id": "INV-1", "kind": "customer",
            "contact_id": "C-1", "workflow_id": workflow.json()["id"], "group_id": group.json()["id"],
            "rule_id": rule.json()["id"], "slug": "invoice-approval", "item_id": "1"}


@pytest.mark.timeout(240)
async def test_no_input_yields_a_5xx_and_refusals_change_nothing(signoff: Harness) -> None:
    seeded = await _seed(signoff)
    now = datetime.now(UTC)
    tokens = {role: await create_token(signoff.db, f"fuzz-{role}", role, now) for role in ("admin", "read")}
    spec = (await signoff.api.get("/api/v1/openapi.json")).json()
    findings = await asyncio.to_thread(fuzz, spec, signoff.runtime.url, signoff.db.path, tokens, seeded)
    assert findings.server_errors == []
    assert findings.refusals_that_changed == []
    assert findings.writes_not_refused == []
    assert findings.calls > 1000 and findings.statuses.get(403, 0) > 0 and findings.statuses.get(200, 0) > 0
