"""Documents: create or update one (starting or cancelling its approval), submit it, read it and its audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.core.approvals import Approvals
from bot.core.automation import Automation
from bot.core.cards import approval_json
from bot.core.deps import Deps
from bot.core.prefill import PrefillStep, apply_prefills, on_contact_saved, recompute_for_contacts
from bot.core.retry import retrying
from bot.errors import Conflict, NobodyToAskError, NotFound, Unprocessable
from engine.dates import utc_iso
from engine.errors import InvalidChangeError, NoApproverError
from engine.lifecycle import decide_on_save, field_changes
from engine.limits import is_email
from engine.records import (
    ECHOED,
    ApprovalStatus,
    Contact,
    ContactEcho,
    ContactKind,
    ImportRow,
    Record,
    RecordImport,
    RecordInput,
    RecordType,
    echo_problems,
    exchange_rate_problem,
    patched_input,
)
from engine.resubmission import SUBMITTABLE
from messages.cards import record_view
from storage.ports import Repository

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
IMPORT_CHUNK = 50


def _same(before: Record, after: Record) -> bool:
    return before.model_dump(exclude={"updated_at"}) == after.model_dump(exclude={"updated_at"})


@dataclass
class ImportReport:
    """What an import did: each document saved, in order, and how many were created, updated or unchanged."""

    records: list[Record] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {CREATED: 0, UPDATED: 0, UNCHANGED: 0})

    def add(self, saved: Sequence[tuple[Record, str]]) -> None:
        """Count the documents of one saved chunk."""
        for record, change in saved:
            self.records.append(record)
            self.counts[change] += 1


class Records:
    """The lifecycle of documents, each change in one unit of work."""

    def __init__(self, deps: Deps, automation: Automation, approvals: Approvals) -> None:
        self.deps = deps
        self.automation = automation
        self.approvals = approvals

    async def put_record(
        self, record_type: RecordType, record_id: str, data: RecordInput, actor: str | None = None,
        echoed: Mapping[str, Any] | None = None,
    ) -> Record:
        """Create or update a record and start its approval when the lifecycle says so (again if a race is lost);
        the audit trail names `actor` (else the document's creator) and what changed. Unprocessable when the
        document cannot be compared in the company's currency, or when the read-only keys `echoed` (as GET returned
        them) cannot be taken back."""
        problem = exchange_rate_problem(data, self.deps.settings.currency)
        if problem is not None:
            raise Unprocessable(problem, [{"path": "exchange_rate", "message": problem}])
        return await retrying(lambda: self._put_once(record_type, record_id, data, actor, echoed or {}))

    async def patch_record(
        self, record_type: RecordType, record_id: str, changes: dict[str, Any], actor: str | None = None,
    ) -> Record:
        """Change some fields of a stored document (null clears one; those left out are kept), then save it as
        `put_record` does. NotFound when there is no such document; Unprocessable when the result is invalid."""
        return await retrying(lambda: self._patch_once(record_type, record_id, changes, actor))

    async def _patch_once(
        self, record_type: RecordType, record_id: str, changes: dict[str, Any], actor: str | None,
    ) -> Record:
        async with self.deps.unit_of_work() as repo:
            before = await repo.get_record(record_type.value, record_id)
            if before is None:
                raise NotFound.no(record_type.value, record_id)
            _refuse_echo(changes, record_type, record_id, before)
            try:
                data = patched_input(before, {k: v for k, v in changes.items() if k not in ECHOED})
            except InvalidChangeError as exc:
                raise Unprocessable(str(exc), exc.details) from exc
            if (problem := exchange_rate_problem(data, self.deps.settings.currency)) is not None:
                raise Unprocessable(problem, [{"path": "exchange_rate", "message": problem}])
            record, _ = await self._put_in(repo, record_type, record_id, data, actor)
        return record

    async def import_records(self, record_type: RecordType, batch: RecordImport, actor: str | None) -> ImportReport:
        """Create or update many documents of one type as `put_record` does each: every row is checked first
        (`check_import`: Unprocessable, nothing saved), then saved IMPORT_CHUNK rows per unit
        of work, so that the clicks committed meanwhile wait for one chunk at most. Saving again is harmless: each
        row is idempotent."""
        await self.check_import(record_type, batch)
        report = ImportReport()
        for start in range(0, len(batch.records), IMPORT_CHUNK):
            chunk = batch.records[start:start + IMPORT_CHUNK]
            report.add(await retrying(partial(self._import_chunk, record_type, chunk, actor, start)))
        return report

    async def check_import(self, record_type: RecordType, batch: RecordImport) -> None:
        """Raise Unprocessable, naming every row's problem, when an import cannot be saved: a repeated id, a missing
        exchange rate, a read-only key a row may not repeat (`echo_problems`)."""
        problems = [{"path": f"records.{i}.id", "message": "an earlier row has this id"} for i in batch.repeated_ids()]
        for index, row in enumerate(batch.records):
            if (problem := exchange_rate_problem(row, self.deps.settings.currency)) is not None:
                problems.append({"path": f"records.{index}.exchange_rate", "message": problem})
        stored: dict[str, Record] = {}
        if batch.is_echoing_status():
            async with self.deps.db.read() as repo:
                stored = await repo.records_by_id(record_type.value, [row.id for row in batch.records])
        problems += batch.echo_problems(record_type, stored)
        if problems:
            raise Unprocessable("the import was refused; nothing was saved", problems)

    async def _import_chunk(
        self, record_type: RecordType, rows: Sequence[ImportRow], actor: str | None, start: int,
    ) -> list[tuple[Record, str]]:
        """Save rows `start`… of an import in one unit of work, each checked again against the document it reads
        (Unprocessable, this chunk rolled back, when one changed since the import was checked)."""
        async with self.deps.unit_of_work() as repo:
            saved = []
            for index, row in enumerate(rows, start):
                if "approval_status" in row.model_fields_set:
                    stored = await repo.get_record(record_type.value, row.id)
                    if problems := echo_problems(row.echoed(), record_type, row.id, stored):
                        kept = f"the rows before records.{start} are saved" if start else "nothing was saved"
                        raise Unprocessable(f"a document changed since the import was checked; {kept}", [
                                                {"path": f"records.{index}.{p['path']}", "message": p["message"]}
                                                for p in problems])
                saved.append(await self._put_in(repo, record_type, row.id, row.writable(), actor))
            return saved

    async def _put_once(
        self, record_type: RecordType, record_id: str, data: RecordInput, actor: str | None,
        echoed: Mapping[str, Any],
    ) -> Record:
        async with self.deps.unit_of_work() as repo:
            if echoed:
                _refuse_echo(echoed, record_type, record_id, await repo.get_record(record_type.value, record_id))
            record, _ = await self._put_in(repo, record_type, record_id, data, actor)
        return record

    async def _is_admin_author(self, repo: Repository, created_by: str | None) -> bool:
        """Tell whether a document's requester is an admin: by Slack id, or by an e-mail Slack showed to be one
        (as known from an earlier lookup), so that one admin is one admin however named."""
        if created_by is None or self.deps.is_admin(created_by):
            return created_by is not None
        if not is_email(created_by):
            return False
        known = await repo.slack_identity(created_by) or await repo.slack_identity(created_by.lower())
        return known is not None and self.deps.is_admin(known.user_id)  # the answer named them: a user id stays

    async def _put_in(
        self, repo: Repository, record_type: RecordType, record_id: str, data: RecordInput, actor: str | None,
    ) -> tuple[Record, str]:
        """Save one document in the caller's unit of work; return it and whether it was created, updated or
        unchanged."""
        now = self.deps.clock.now()
        before = await repo.get_record(record_type.value, record_id)
        after = Record(**data.model_dump(), type=record_type, id=record_id,
                       approval_status=before.approval_status if before else ApprovalStatus.NONE,
                       created_at=before.created_at if before else now, updated_at=now,
                       sent_at=before.sent_at if before else None,
                       reminded_at=before.reminded_at if before else None,
                       reminder_count=before.reminder_count if before else 0)
        after = await apply_prefills(repo, after, now, self.deps.settings.tz)
        if before is not None and _same(before, after):
            return before, UNCHANGED
        governing = await self.approvals.governing(repo, after)
        decision = decide_on_save(before, after, governing, await self._is_admin_author(repo, after.created_by),
                                  await self.approvals.asked_under(repo, before))
        after = after.model_copy(update={"approval_status": decision.approval_status})
        await repo.save_record(after)
        await self.automation.on_record_saved(repo, before, after, now)
        after = await repo.get_record(*after.key()) or after
        await repo.audit(now, actor or after.created_by, "created" if before is None else "updated",
                         after.key(), before.approval_status.value if before else None,
                         after.approval_status.value,
                         {"changes": field_changes(before, after)} if before is not None else None)
        after = await self.approvals.carry_out(repo, after, decision, cause="created" if before is None
                                               else "updated")
        return after, CREATED if before is None else UPDATED

    async def put_contact(self, kind: ContactKind, contact_id: str, data: ContactEcho) -> Contact:
        """Create or update a customer or vendor: groups whose members follow a rule follow it, and so do the
        pre-fills of its not-yet-approved documents and the workflows their approvals follow. Unprocessable when the
        read-only keys the body repeats name another contact."""
        try:
            contact = data.contact(kind, contact_id)
        except InvalidChangeError as exc:
            raise Unprocessable(str(exc), exc.details) from exc
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            await repo.save_contact(contact, now)
            await on_contact_saved(repo, contact, now, self.deps.settings.tz)
            await recompute_for_contacts(repo, contact.kind.value, [contact.id], self.deps.settings.tz,
                                         PrefillStep(now, None, "prefilled"))
            await self.approvals.reroute(repo, [r.key() for r in await repo.records_open_to_prefill_of(
                contact.kind.value, [contact.id])])
        return contact

    async def confirm_to_requester(self, record: Record) -> None:
        """Queue the requester's confirmation DM, which links back to the record."""
        user, now = record.created_by or "", self.deps.clock.now()
        key = f"request:{record.type.value}:{record.id}:{record.updated_at.isoformat()}"
        async with self.deps.unit_of_work() as repo:
            contact = next(iter((await repo.contacts_of(record)).values()), None)
            message = self.deps.renderer.json("request_confirmation.json.j2", record=record_view(record, contact))
            await repo.enqueue("message", user, {"message": message}, now, key=key)

    async def get_contact(self, kind: str, contact_id: str) -> tuple[Contact, list[str]]:
        """Return a customer or vendor and the names of the groups it is in now, or raise NotFound."""
        async with self.deps.db.read() as repo:
            contact = await repo.get_contact(kind, contact_id)
            if contact is None:
                raise NotFound.no(kind, contact_id)
            members = await repo.contact_group_members([g.name for g in await repo.list_groups() if g.kind == kind])
        return contact, sorted(name for name, ids in members.items() if contact_id in ids)

    async def get_record(self, record_type: str, record_id: str) -> Record:
        """Return a record or raise NotFound."""
        async with self.deps.db.read() as repo:
            record = await repo.get_record(record_type, record_id)
        if record is None:
            raise NotFound.no(record_type, record_id)
        return record

    async def submit(
        self, record_type: RecordType, record_id: str, actor: str | None, *, stated_by: str | None = None,
    ) -> Record:
        """Send an `approval_required` record, or an expired one as it is, for approval (again if a race is lost);
        `stated_by` is who an API caller says submitted it, audited beside the caller as a claim."""
        return await retrying(lambda: self._submit_once(record_type, record_id, actor, stated_by))

    async def _submit_once(
        self, record_type: RecordType, record_id: str, actor: str | None, stated_by: str | None,
    ) -> Record:
        async with self.deps.unit_of_work() as repo:
            record = await repo.get_record(record_type.value, record_id)
            if record is None:
                raise NotFound.no(record_type.value, record_id)
            if record.approval_status not in SUBMITTABLE:
                raise Conflict(f"{record_type.value} {record_id} is {record.approval_status.value}, "
                               "only approval_required or expired documents can be submitted")
            governing = await self.approvals.governing(repo, record)
            if governing is None:
                raise Conflict(f"{record_type.value} {record_id} no longer matches an approval workflow")
            try:
                record = await self.approvals.start(repo, record, governing, actor, cause="submitted",
                                                    stated_by=stated_by)
            except NoApproverError as exc:
                raise NobodyToAskError(f"{record_type.value} {record_id} cannot be submitted: {exc}") from exc
        return record

    async def audit_of(self, record_type: str, record_id: str) -> list[dict[str, Any]]:
        """Return the audit trail of a record and of its approval requests, in order; NotFound when there is neither
        such a document nor any trail of one."""
        async with self.deps.db.read() as repo:
            entries = await repo.audit_trail(record_type, record_id)
            for request in await repo.requests_for_record(record_type, record_id):
                entries += await repo.audit_trail("request", request.id)
            if not entries and await repo.get_record(record_type, record_id) is None:
                raise NotFound.no(record_type, record_id)
        entries.sort(key=lambda e: e.seq)
        return [
            {"at": utc_iso(e.at), "actor": e.actor, "action": e.action,
             "subject": f"{e.subject_type}:{e.subject_id}", "from": e.from_state, "to": e.to_state,
             "detail": e.detail}
            for e in entries
        ]

    async def approval_summary(self, record: Record) -> dict[str, Any] | None:
        """Return the latest approval request of a record as JSON, or None."""
        async with self.deps.db.read() as repo:
            requests = await repo.requests_for_record(record.type.value, record.id)
        return approval_json(requests[-1]) if requests else None


def _refuse_echo(echoed: Mapping[str, Any], record_type: RecordType, record_id: str, stored: Record | None) -> None:
    """Raise Unprocessable when read-only keys a body repeats cannot be taken back (`echo_problems`)."""
    problems = echo_problems(echoed, record_type, record_id, stored)
    if problems:
        raise Unprocessable("read-only keys differ from the document's", problems)
