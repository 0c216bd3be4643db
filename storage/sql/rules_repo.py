"""Repository methods of pre-fill rules, their provenance on records, and groups with their members."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from engine.groups import Group, GroupKind, Membership
from engine.records import Contact, Record
from engine.rules import ABSENT, OPEN_TO_PREFILL, AppliedPrefill, Prefill, Rule
from storage.models import AuditLine, RecordKey
from storage.sql.codec import dumps, loads, ts
from storage.sql.connection import Row, SqlConnection
from storage.sql.rows import RECORD_COLUMNS, record_data, record_of

_SOURCES = ("auto", "added", "removed")
_OPEN_STATUSES = tuple(sorted(s.value for s in OPEN_TO_PREFILL))
_CONTACT_KINDS = frozenset({"customer", "vendor"})
_CHUNK = 500


def _json(value: Any) -> str:
    """Encode plain JSON values quickly; anything else (decimals, dates) the codec's way."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return dumps(value)


def _previous_json(value: Any) -> str | None:
    return None if value is ABSENT else _json(value)


def _value_of(text: str) -> Any:
    """Decode a stored value; plain text without escapes skips the JSON parser."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and "\\" not in text and '"' not in text[1:-1]:
        return text[1:-1]
    return None if text == "null" else loads(text)


def _previous_of(text: str | None) -> Any:
    return ABSENT if text is None else _value_of(text)


def _prefill_row(key: RecordKey, row: AppliedPrefill, at: str) -> tuple[Any, ...]:
    prefill = row.prefill
    competing = _json([[value, rule_id] for value, rule_id in prefill.competing]) if prefill.competing else "[]"
    return (key[0], key[1], row.field, prefill.rule_id, _json(prefill.value), _previous_json(row.previous),
            competing, int(prefill.is_suggestion), row.chosen_by, at)


def _applied_of(row: Row) -> AppliedPrefill:
    text = row["competing"]
    competing = () if text == "[]" else tuple((value, rule_id) for value, rule_id in loads(text))
    prefill = Prefill(_value_of(row["value"]), row["rule_id"], competing, bool(row["is_suggestion"]))
    return AppliedPrefill(row["field"], prefill, _previous_of(row["previous"]), row["chosen_by"])


def _record_json(record: Record, updated_at: datetime) -> tuple[str, str, str, str, str]:
    return (record.approval_status.value, record_data(record), ts(updated_at), record.type.value, record.id)


class RulesQueries:
    """Repository methods of rules, pre-fill provenance and groups."""

    conn: SqlConnection

    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(args)) as cursor:
            return list(await cursor.fetchall())

    # rules
    async def list_rules(self, status: str | None = None) -> list[Rule]:
        """List rules, oldest first, optionally only those with a status."""
        sql = "SELECT data FROM rules" + (" WHERE status=?" if status else "") + " ORDER BY created_at, id"
        rows = await self._rows(sql, (status,) if status else ())
        return [Rule.model_validate_json(r["data"]) for r in rows]

    async def get_rule(self, rule_id: str) -> Rule | None:
        """Return one rule, or None."""
        rows = await self._rows("SELECT data FROM rules WHERE id=?", (rule_id,))
        return Rule.model_validate_json(rows[0]["data"]) if rows else None

    async def save_rule(self, rule: Rule) -> None:
        """Insert or replace a rule."""
        await self.conn.execute(
            "INSERT INTO rules (id, name, status, data, created_at, updated_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (id) DO UPDATE SET name=excluded.name, status=excluded.status, data=excluded.data, "
            "updated_at=excluded.updated_at",
            (rule.id, rule.name, rule.status.value, dumps(rule.model_dump(mode="json")),
             ts(rule.created_at), ts(rule.updated_at)),
        )

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; tell whether it existed."""
        cursor = await self.conn.execute("DELETE FROM rules WHERE id=?", (rule_id,))
        return cursor.rowcount > 0

    # pre-fill provenance
    async def prefills_of(self, record_type: str, record_id: str) -> dict[str, AppliedPrefill]:
        """Return the pre-fills of one record, keyed by field."""
        rows = await self._rows("SELECT * FROM prefills WHERE record_type=? AND record_id=?", (record_type, record_id))
        return {r["field"]: _applied_of(r) for r in rows}

    async def all_prefills(self) -> dict[RecordKey, dict[str, AppliedPrefill]]:
        """Return every pre-fill, grouped by record."""
        found: dict[RecordKey, dict[str, AppliedPrefill]] = {}
        for row in await self._rows("SELECT * FROM prefills"):
            found.setdefault((row["record_type"], row["record_id"]), {})[row["field"]] = _applied_of(row)
        return found

    async def records_using_rule(self, rule_id: str) -> set[RecordKey]:
        """Return the records where a rule's value was applied, suggested or listed as competing."""
        rows = await self._rows(
            "SELECT record_type, record_id FROM prefills WHERE rule_id=? OR competing LIKE ?",
            (rule_id, f'%"{rule_id}"%'),
        )
        return {(r["record_type"], r["record_id"]) for r in rows}

    async def replace_prefills(
        self, changes: Iterable[tuple[RecordKey, Iterable[str], Mapping[str, AppliedPrefill]]], now: datetime
    ) -> None:
        """For each record, replace the provenance of the given fields by the given rows."""
        deletes, upserts, at = [], [], ts(now)
        for key, fields, rows in changes:
            for name in fields:
                if name in rows:
                    upserts.append(_prefill_row(key, rows[name], at))
                else:
                    deletes.append((key[0], key[1], name))
        await self.conn.executemany("DELETE FROM prefills WHERE record_type=? AND record_id=? AND field=?", deletes)
        await self.conn.executemany(
            "INSERT INTO prefills (record_type, record_id, field, rule_id, value, previous, competing, is_suggestion, "
            "chosen_by, applied_at) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (record_type, record_id, field) DO UPDATE "
            "SET rule_id=excluded.rule_id, value=excluded.value, previous=excluded.previous, "
            "competing=excluded.competing, is_suggestion=excluded.is_suggestion, chosen_by=excluded.chosen_by, "
            "applied_at=excluded.applied_at", upserts)

    async def records_open_to_prefill(self) -> list[Record]:
        """Return every record rules may still change (not approved or expired)."""
        marks = ",".join("?" * len(_OPEN_STATUSES))
        rows = await self._rows(f"SELECT {RECORD_COLUMNS} FROM records WHERE approval_status IN ({marks})",
                                _OPEN_STATUSES)
        return [record_of(r) for r in rows]

    async def records_open_to_prefill_of(self, kind: str, contact_ids: Iterable[str]) -> list[Record]:
        """Return the records rules may still change whose customer (or vendor) is one of `contact_ids`."""
        if kind not in _CONTACT_KINDS:
            raise ValueError(f"no contact kind {kind!r}")
        ids, found = sorted(set(contact_ids)), []
        statuses = ",".join("?" * len(_OPEN_STATUSES))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = await self._rows(
                f"SELECT {RECORD_COLUMNS} FROM records WHERE json_extract(data, '$.{kind}') IN "
                f"({','.join('?' * len(chunk))}) AND approval_status IN ({statuses})", (*chunk, *_OPEN_STATUSES))
            found += [record_of(r) for r in rows]
        return sorted(found, key=lambda r: (r.type.value, r.id))

    async def update_records(self, records: Iterable[Record], updated_at: datetime) -> None:
        """Store new versions of existing records, changed at `updated_at`, in one statement."""
        await self.conn.executemany(
            "UPDATE records SET approval_status=?, data=?, updated_at=? WHERE type=? AND id=?",
            [_record_json(r, updated_at) for r in records],
        )

    async def open_request_ids(self, keys: Iterable[RecordKey]) -> list[str]:
        """Return the pending approval requests of these records."""
        wanted = set(keys)
        if not wanted:
            return []
        rows = await self._rows("SELECT id, record_type, record_id FROM approval_requests WHERE status='pending'")
        return [r["id"] for r in rows if (r["record_type"], r["record_id"]) in wanted]

    async def audit_many(self, lines: Iterable[AuditLine]) -> None:
        """Append many audit entries in one statement."""
        await self.conn.executemany(
            "INSERT INTO audit (at, actor, action, subject_type, subject_id, from_state, to_state, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(ts(a.at), a.actor, a.action, a.subject[0], a.subject[1], a.from_state, a.to_state,
              _json(a.detail or {})) for a in lines],
        )

    async def all_contacts(self, kind: str | None = None, limit: int | None = None) -> list[Contact]:
        """Return every contact, or those of one kind, in (kind, id) order; at most `limit` when given."""
        sql = "SELECT data FROM contacts" + (" WHERE kind=?" if kind else "") + " ORDER BY kind, id"
        args: tuple[Any, ...] = (kind,) if kind else ()
        if limit is not None:
            sql, args = sql + " LIMIT ?", (*args, limit)
        rows = await self._rows(sql, args)
        return [Contact.model_validate_json(r["data"]) for r in rows]

    # groups
    async def list_groups(self) -> list[Group]:
        """List groups by name."""
        rows = await self._rows("SELECT data FROM contact_groups ORDER BY name")
        return [Group.model_validate_json(r["data"]) for r in rows]

    async def get_group(self, group_id: str) -> Group | None:
        """Return one group by id, or None."""
        rows = await self._rows("SELECT data FROM contact_groups WHERE id=?", (group_id,))
        return Group.model_validate_json(rows[0]["data"]) if rows else None

    async def group_named(self, name: str) -> Group | None:
        """Return one group by name, or None."""
        rows = await self._rows("SELECT data FROM contact_groups WHERE name=?", (name,))
        return Group.model_validate_json(rows[0]["data"]) if rows else None

    async def save_group(self, group: Group) -> None:
        """Insert or replace a group's definition (members are kept)."""
        await self.conn.execute(
            "INSERT INTO contact_groups (id, name, kind, data, created_at, updated_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT (id) DO UPDATE SET name=excluded.name, kind=excluded.kind, data=excluded.data, "
            "updated_at=excluded.updated_at",
            (group.id, group.name, group.kind.value, dumps(group.model_dump(mode="json")),
             ts(group.created_at), ts(group.updated_at)),
        )

    async def delete_group(self, group_id: str) -> bool:
        """Delete a group and its members; tell whether it existed."""
        await self.conn.execute("DELETE FROM group_members WHERE group_id=?", (group_id,))
        cursor = await self.conn.execute("DELETE FROM contact_groups WHERE id=?", (group_id,))
        return cursor.rowcount > 0

    async def membership(self, group_id: str) -> Membership:
        """Return a group's automatic, added and removed members."""
        rows = await self._rows("SELECT member_id, source FROM group_members WHERE group_id=?", (group_id,))
        found: dict[str, set[str]] = {source: set() for source in _SOURCES}
        for row in rows:
            found[row["source"]].add(row["member_id"])
        return Membership(frozenset(found["auto"]), frozenset(found["added"]), frozenset(found["removed"]))

    async def save_membership(self, group_id: str, before: Membership, after: Membership) -> None:
        """Store the difference between two memberships of a group."""
        for source in _SOURCES:
            old, new = getattr(before, source), getattr(after, source)
            await self.conn.executemany(
                "DELETE FROM group_members WHERE group_id=? AND source=? AND member_id=?",
                [(group_id, source, m) for m in sorted(old - new)],
            )
            await self.conn.executemany(
                "INSERT INTO group_members (group_id, member_id, source) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                [(group_id, m, source) for m in sorted(new - old)],
            )

    async def set_auto_member(self, group_id: str, member_id: str, is_member: bool) -> None:
        """Add or drop one automatic member."""
        if is_member:
            await self.conn.execute(
                "INSERT INTO group_members (group_id, member_id, source) VALUES (?,?,'auto') ON CONFLICT DO NOTHING",
                (group_id, member_id),
            )
        else:
            await self.conn.execute(
                "DELETE FROM group_members WHERE group_id=? AND member_id=? AND source='auto'", (group_id, member_id)
            )

    async def _members_by_name(self, kinds: Sequence[str], names: Iterable[str] | None) -> dict[str, list[str]]:
        marks = ",".join("?" * len(kinds))
        rows = await self._rows(
            "SELECT g.name, m.member_id FROM group_members m JOIN contact_groups g ON g.id = m.group_id "
            f"WHERE g.kind IN ({marks}) AND m.source IN ('auto', 'added') AND NOT EXISTS ("
            "SELECT 1 FROM group_members r WHERE r.group_id = m.group_id AND r.member_id = m.member_id "
            "AND r.source = 'removed') ORDER BY g.name, m.rowid", kinds,
        )
        wanted = None if names is None else set(names)
        found: dict[str, dict[str, None]] = {}
        for row in rows:
            if wanted is None or row["name"] in wanted:
                found.setdefault(row["name"], {})[row["member_id"]] = None
        return {name: list(ids) for name, ids in found.items()}

    async def contact_group_members(self, names: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
        """Return the members of customer and vendor groups by name (all groups, or only `names`)."""
        names = None if names is None else set(names)
        if names is not None and not names:
            return {}
        kinds = (GroupKind.CUSTOMER.value, GroupKind.VENDOR.value)
        return {name: frozenset(ids) for name, ids in (await self._members_by_name(kinds, names)).items()}

    async def people_groups(self) -> dict[str, tuple[str, ...]]:
        """Return the Slack users of every people group by name, in the order they were added."""
        found = await self._members_by_name((GroupKind.PEOPLE.value,), None)
        return {name: tuple(ids) for name, ids in found.items()}

    async def automatic_groups(self, kind: str) -> list[Group]:
        """Return the groups of a contact kind that follow contact changes."""
        return [g for g in await self.list_groups() if g.kind.value == kind and g.auto_update]
