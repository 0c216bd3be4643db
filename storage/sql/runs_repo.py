"""Run history, reminder tasks and the company row: repository methods of workflow automation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from storage.models import ReminderTask, RunFilter, WorkflowRun
from storage.sql.archive_repo import MAX_SEQ, SPANS_PAGE, ArchiveQueries
from storage.sql.codec import dumps, loads, parse_ts, ts
from storage.sql.connection import Row, SqlConnection


def _moment(text: str) -> datetime:
    moment = parse_ts(text)
    assert moment is not None
    return moment


def _run(row: Row | dict[str, Any]) -> WorkflowRun:
    return WorkflowRun(row["id"], row["workflow_id"], row["workflow_name"], row["record_type"], row["record_id"],
                       row["cause"], row["outcome"], loads(row["actions"]), _moment(row["at"]), row["seq"],
                       row["event"], row["request_id"], row["actor"], row["on_behalf_of"], row["decision"],
                       row["reason"], row["step"])


def _task(row: Row) -> ReminderTask:
    return ReminderTask(row["id"], row["run_id"], row["assignee"], row["workflow_id"], row["record_type"],
                        row["record_id"], row["text"], _moment(row["created_at"]), parse_ts(row["done_at"]))


def _where(flt: RunFilter) -> tuple[str, list[Any]]:
    clauses, args = [], list[Any]()
    for column, value in (("workflow_id", flt.workflow_id), ("record_type", flt.record_type),
                          ("record_id", flt.record_id), ("seq <", flt.before_seq)):
        if value is not None:
            clauses.append(f"{column} ?" if column.endswith("<") else f"{column}=?")
            args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _is_listed(run: dict[str, Any], flt: RunFilter, before_seq: int) -> bool:
    """Tell whether an archived run passes a run filter."""
    return run["seq"] < before_seq and all(
        value is None or run[column] == value
        for column, value in (("workflow_id", flt.workflow_id), ("record_type", flt.record_type),
                              ("record_id", flt.record_id)))


WORKFLOWS_VERSION = "SELECT version FROM workflows_version WHERE id=1"

class RunsQueries(ArchiveQueries):
    """Repository methods of run history (live and archived), reminder tasks and the company row."""

    conn: SqlConnection

    async def _run_rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(args)) as cursor:
            return list(await cursor.fetchall())

    async def insert_run(self, run: WorkflowRun) -> None:
        """Store one run."""
        await self.insert_runs([run])

    async def insert_runs(self, runs: Iterable[WorkflowRun]) -> None:
        """Store runs, in order."""
        await self.conn.write_many(
            "INSERT INTO workflow_runs (id, workflow_id, workflow_name, record_type, record_id, cause, outcome, "
            "actions, at, event, request_id, actor, on_behalf_of, decision, reason, step) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(r.id, r.workflow_id, r.workflow_name, r.record_type, r.record_id, r.cause, r.outcome, dumps(r.actions),
              ts(r.at), r.event, r.request_id, r.actor, r.on_behalf_of, r.decision, r.reason, r.step) for r in runs],
        )

    async def workflows_version(self) -> int:
        """Return the version of the workflows table, bumped by every write to it (any process)."""
        rows = await self._run_rows(WORKFLOWS_VERSION)
        return int(rows[0]["version"]) if rows else 0

    async def get_run(self, run_id: str) -> WorkflowRun | None:
        """Return one run, or None."""
        rows = await self._run_rows("SELECT * FROM workflow_runs WHERE id=?", (run_id,))
        if rows:
            return _run(rows[0])
        runs = (await self.archived("run", run_id)).runs
        return next((_run(r) for r in runs if r["id"] == run_id), None)

    async def list_runs(self, flt: RunFilter) -> list[WorkflowRun]:
        """Return runs matching the filter, newest first, the archived ones merged in."""
        where, args = _where(flt)
        rows = await self._run_rows(f"SELECT * FROM workflow_runs{where} ORDER BY seq DESC LIMIT ?", [*args, flt.limit])
        found = [_run(r) for r in rows] + await self._archived_runs(flt)
        return sorted(found, key=lambda run: -run.seq)[: flt.limit]

    async def _archived_runs(self, flt: RunFilter) -> list[WorkflowRun]:
        """Return at least the newest `limit` archived runs matching the filter (more when spans overlap)."""
        before = flt.before_seq if flt.before_seq is not None else MAX_SEQ
        if flt.record_type is not None and flt.record_id is not None:
            history = await self.archived(flt.record_type, flt.record_id)
            return [_run(r) for r in history.runs if _is_listed(r, flt, before)]
        found: list[WorkflowRun] = []
        upper = MAX_SEQ
        while True:
            spans = await self.archived_spans(flt.workflow_id, before, upper)
            for span in spans:
                if len(found) >= flt.limit and span["last_seq"] < sorted(r.seq for r in found)[-flt.limit]:
                    return found
                found += [_run(r) for r in await self.archived_runs_of(span) if _is_listed(r, flt, before)]
            if len(spans) < SPANS_PAGE:
                return found
            upper = int(spans[-1]["last_seq"])

    async def add_reminder_tasks(self, tasks: Iterable[ReminderTask]) -> None:
        """Store reminder tasks (their ids are assigned by the database)."""
        await self.conn.executemany(
            "INSERT INTO reminder_tasks (run_id, assignee, workflow_id, record_type, record_id, text, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            [(t.run_id, t.assignee, t.workflow_id, t.record_type, t.record_id, t.text, ts(t.created_at))
             for t in tasks],
        )

    async def reminders_for(self, assignee: str, include_done: bool = False, limit: int = 50) -> list[ReminderTask]:
        """Return a person's (or channel's) reminder tasks, newest first; open ones only unless asked."""
        done = "" if include_done else " AND done_at IS NULL"
        rows = await self._run_rows(
            f"SELECT * FROM reminder_tasks WHERE assignee=?{done} ORDER BY id DESC LIMIT ?", (assignee, limit)
        )
        return [_task(r) for r in rows]

    async def complete_reminder(self, task_id: int, now: datetime) -> bool:
        """Mark a reminder task done; tell whether it was open."""
        cursor = await self.conn.execute(
            "UPDATE reminder_tasks SET done_at=? WHERE id=? AND done_at IS NULL", (ts(now), task_id)
        )
        return cursor.rowcount > 0

    async def company_name(self) -> str:
        """Return the company's name (empty until set)."""
        rows = await self._run_rows("SELECT name FROM company WHERE id=1")
        return str(rows[0]["name"]) if rows else ""

    async def set_company_name(self, name: str) -> None:
        """Set the company's name."""
        await self.conn.execute(
            "INSERT INTO company (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name=excluded.name", (name,)
        )

    async def defaults_seeded_at(self) -> datetime | None:
        """Return when the default workflows were given to this company."""
        rows = await self._run_rows("SELECT defaults_seeded_at FROM company WHERE id=1")
        return parse_ts(rows[0]["defaults_seeded_at"]) if rows else None
