"""The archive of closed approvals: documents' closed history packed into compressed parts, and its reads.

One pass archives a batch of documents in one transaction. It claims each document's closed requests with an
UPDATE (which locks their rows, so two processes never archive the same request), reads their votes, the
document's runs and the audit lines of the document and of those requests, writes them all as one part (a
zlib-compressed JSON blob with a preset dictionary kept in the database), indexes what the part holds, then
deletes those rows from the live tables. Reads merge the live rows with the archived ones.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.sql.codec import ts
from storage.sql.connection import Row, SqlConnection

CLOSED = "('approved', 'rejected', 'expired', 'cancelled')"
DICTIONARY_BYTES = 32 * 1024
SPANS_PAGE = 64
MAX_SEQ = 2**62

_CANDIDATES = (
    f"SELECT r.record_type, r.record_id FROM approval_requests r WHERE r.status IN {CLOSED} AND r.decided_at < ? "
    "AND NOT EXISTS (SELECT 1 FROM approval_requests p WHERE p.record_type = r.record_type "
    "AND p.record_id = r.record_id AND (p.status = 'pending' OR p.decided_at IS NULL OR p.decided_at >= ?)) "
    "AND NOT EXISTS (SELECT 1 FROM approval_links l WHERE l.request_id = r.id AND l.expires_at > ?) "
    "ORDER BY r.status, r.decided_at LIMIT ?"
)
_CLAIM = (
    f"UPDATE approval_requests SET version = version WHERE record_type=? AND record_id=? AND status IN {CLOSED} "
    "AND decided_at < ? AND NOT EXISTS (SELECT 1 FROM approval_links l "
    "WHERE l.request_id = approval_requests.id AND l.expires_at > ?) RETURNING *"
)


def as_dict(row: Row) -> dict[str, Any]:
    """Return a row as column → value."""
    return dict(zip(row.keys(), row, strict=True))


def _marks(count: int) -> str:
    return ",".join("?" * count)


@dataclass
class History:
    """Archived rows (column → value), each kind in its stored order."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    votes: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: History) -> None:
        """Add another history's rows after these."""
        for name in ("requests", "votes", "runs", "audit"):
            getattr(self, name).extend(getattr(other, name))

    def text(self) -> bytes:
        """Return the rows as compact JSON."""
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def of_text(cls, text: bytes) -> History:
        """Read rows back from their JSON."""
        return cls(**json.loads(text))


def pack(history: History, dictionary: bytes) -> bytes:
    """Compress a part with the preset dictionary."""
    packer = zlib.compressobj(9, zdict=dictionary)
    return packer.compress(history.text()) + packer.flush()


def unpack(packed: bytes, dictionary: bytes) -> History:
    """Decompress a part."""
    unpacker = zlib.decompressobj(zdict=dictionary)
    return History.of_text(unpacker.decompress(bytes(packed)) + unpacker.flush())


def _spans(runs: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Return the first and last run number of each workflow among runs."""
    spans: dict[str, tuple[int, int]] = {}
    for run in runs:
        first, last = spans.get(run["workflow_id"], (run["seq"], run["seq"]))
        spans[run["workflow_id"]] = (min(first, run["seq"]), max(last, run["seq"]))
    return spans


def _subjects(found: Sequence[tuple[tuple[str, str], History]]) -> list[tuple[str, str]]:
    """Return what a part holds, as (subject type, id): its documents, requests and runs."""
    subjects = [key for key, _ in found]
    for _, history in found:
        subjects += [("request", r["id"]) for r in history.requests] + [("run", r["id"]) for r in history.runs]
    return subjects


class ArchiveQueries:
    """Repository methods that archive closed approvals and read them back."""

    conn: SqlConnection
    _unpacked: dict[int, History]

    async def _archive_rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, tuple(args)))

    # archiving
    async def archive_closed(self, decided_before: datetime, now: datetime, limit: int = 100) -> int:
        """Archive up to `limit` documents whose requests were all decided before `decided_before`; say how many."""
        rows = await self._archive_rows(_CANDIDATES, (ts(decided_before), ts(decided_before), ts(now), limit))
        keys = list(dict.fromkeys((str(r[0]), str(r[1])) for r in rows))
        found = [(key, history) for key in keys if (history := await self._take(key, decided_before, now))]
        if not found:
            return 0
        part = History()
        for _, history in found:
            part.extend(history)
        part_id = await self._store_part(part)
        await self.conn.executemany(
            "INSERT INTO archived_subjects (subject_type, subject_id, part) VALUES (?,?,?) ON CONFLICT DO NOTHING",
            [(kind, key, part_id) for kind, key in _subjects(found)])
        await self.conn.executemany(
            "INSERT INTO archived_runs (workflow_id, last_seq, first_seq, part) VALUES (?,?,?,?)",
            [(wf, last, first, part_id) for wf, (first, last) in _spans(part.runs).items()])
        await self._drop_live(part)
        return len(found)

    async def _take(self, key: tuple[str, str], decided_before: datetime, now: datetime) -> History | None:
        """Claim a document's closed requests; return its history to archive (None: nothing left to take)."""
        claimed = await self._archive_rows(_CLAIM, (*key, ts(decided_before), ts(now)))
        requests = sorted(map(as_dict, claimed), key=lambda r: (r["created_at"], r["id"]))
        if not requests:
            return None
        ids = [r["id"] for r in requests]
        votes = await self._archive_rows(
            f"SELECT * FROM votes WHERE request_id IN ({_marks(len(ids))}) ORDER BY at, rowid", ids)
        runs = await self._archive_rows(
            f"SELECT * FROM workflow_runs WHERE record_type=? AND record_id=? AND (request_id IS NULL OR request_id "
            f"IN ({_marks(len(ids))})) AND NOT EXISTS (SELECT 1 FROM reminder_tasks t "
            "WHERE t.run_id = workflow_runs.id) ORDER BY seq", (*key, *ids))
        audit = await self._archive_rows(
            f"SELECT * FROM audit WHERE (subject_type=? AND subject_id=?) OR (subject_type='request' "
            f"AND subject_id IN ({_marks(len(ids))})) ORDER BY seq", (*key, *ids))
        return History(requests, [as_dict(v) for v in votes], [as_dict(r) for r in runs], [as_dict(a) for a in audit])

    async def _store_part(self, part: History) -> int:
        """Compress and insert a part; return its number."""
        dictionary_id, dictionary = await self._dictionary(part)
        rows = await self._archive_rows(
            "INSERT INTO archived_parts (dictionary, packed) VALUES (?,?) RETURNING part",
            (dictionary_id, pack(part, dictionary)))
        return int(rows[0][0])

    async def _dictionary(self, sample: History) -> tuple[int, bytes]:
        """Return the newest preset dictionary, made from `sample` when there is none yet."""
        await self.conn.execute("INSERT INTO archive_dictionaries (id, data) VALUES (1, ?) ON CONFLICT DO NOTHING",
                                (sample.text()[-DICTIONARY_BYTES:],))
        rows = await self._archive_rows("SELECT id, data FROM archive_dictionaries ORDER BY id DESC LIMIT 1")
        return int(rows[0]["id"]), bytes(rows[0]["data"])

    async def _drop_live(self, part: History) -> None:
        """Delete from the live tables what a part now holds (the Slack message references with it)."""
        ids = [r["id"] for r in part.requests]
        marks = _marks(len(ids))
        for sql, args in (
            (f"DELETE FROM audit WHERE seq IN ({_marks(len(part.audit))})", [a["seq"] for a in part.audit]),
            (f"DELETE FROM workflow_runs WHERE seq IN ({_marks(len(part.runs))})", [r["seq"] for r in part.runs]),
            (f"DELETE FROM votes WHERE request_id IN ({marks})", ids),
            (f"DELETE FROM slack_messages WHERE request_id IN ({marks})", ids),
            (f"DELETE FROM approval_links WHERE request_id IN ({marks})", ids),
            (f"DELETE FROM approval_requests WHERE id IN ({marks})", ids),
        ):
            if args:
                await self.conn.execute(sql, tuple(args))

    # reads
    async def archived(self, subject_type: str, subject_id: str) -> History:
        """Return the parts holding a subject (a document, 'request' or 'run'), merged; empty when none."""
        rows = await self._archive_rows(
            "SELECT part FROM archived_subjects WHERE subject_type=? AND subject_id=? ORDER BY part",
            (subject_type, subject_id))
        history = History()
        for row in rows:
            history.extend(await self._part(int(row[0])))
        return history

    async def _part(self, part_id: int) -> History:
        """Return one part, unpacked (once per unit of work)."""
        if part_id not in self._unpacked:
            rows = await self._archive_rows(
                "SELECT p.packed, d.data FROM archived_parts p JOIN archive_dictionaries d ON d.id = p.dictionary "
                "WHERE p.part=?", (part_id,))
            self._unpacked[part_id] = unpack(rows[0][0], bytes(rows[0][1]))
        return self._unpacked[part_id]

    async def archived_runs_of(self, span: Row) -> list[dict[str, Any]]:
        """Return the runs of one span (one workflow's runs in one part)."""
        part = await self._part(int(span["part"]))
        return [r for r in part.runs if r["workflow_id"] == span["workflow_id"]]

    async def archived_spans(self, workflow_id: str | None, before_seq: int, upper_seq: int) -> list[Row]:
        """Return up to SPANS_PAGE spans of archived runs ending below `upper_seq` and starting below `before_seq`."""
        where = "workflow_id=? AND " if workflow_id else ""
        args: list[Any] = [workflow_id] if workflow_id else []
        return await self._archive_rows(
            f"SELECT * FROM archived_runs WHERE {where}last_seq < ? AND first_seq < ? ORDER BY last_seq DESC LIMIT ?",
            [*args, upper_seq, before_seq, SPANS_PAGE])
