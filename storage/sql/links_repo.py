"""Repository methods of approval by e-mail: single-use approval links and the Slack identities of e-mails."""

from __future__ import annotations

from datetime import datetime

from engine.notify import EmailedSeat
from storage.models import ApprovalLink, SlackIdentity
from storage.sql.codec import parse_ts, ts
from storage.sql.connection import Row, SqlConnection


def _moment(text: str) -> datetime:
    moment = parse_ts(text)
    assert moment is not None
    return moment


def _link(row: Row) -> ApprovalLink:
    return ApprovalLink(row["request_id"], row["step_index"], row["approver"], row["decision"], row["email"],
                        _moment(row["created_at"]), _moment(row["expires_at"]), parse_ts(row["used_at"]))


class LinksQueries:
    """Repository methods of approval links and Slack identities."""

    conn: SqlConnection

    async def add_approval_link(self, token_hash: str, link: ApprovalLink) -> None:
        """Store a new link under the hash of its token."""
        await self.conn.execute(
            "INSERT INTO approval_links (token_hash, request_id, step_index, approver, decision, email, "
            "created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)",
            (token_hash, link.request_id, link.step_index, link.approver, link.decision, link.email,
             ts(link.created_at), ts(link.expires_at)),
        )

    async def approval_link(self, token_hash: str) -> ApprovalLink | None:
        """Return the link stored under a token hash, or None."""
        async with self.conn.execute("SELECT * FROM approval_links WHERE token_hash=?", (token_hash,)) as cursor:
            row = await cursor.fetchone()
        return _link(row) if row else None

    async def use_approval_link(self, token_hash: str, now: datetime) -> bool:
        """Mark every link of this link's seat used, if this one is unused and unexpired; tell whether it was."""
        cursor = await self.conn.execute(
            "UPDATE approval_links SET used_at=? WHERE used_at IS NULL AND (request_id, step_index, approver) IN "
            "(SELECT request_id, step_index, approver FROM approval_links "
            " WHERE token_hash=? AND used_at IS NULL AND expires_at > ?)",
            (ts(now), token_hash, ts(now)),
        )
        return cursor.rowcount > 0

    async def untold_seats(self, request_id: str) -> list[EmailedSeat]:
        """Return the seats of a request e-mailed links they never used and not yet told of a settled step."""
        rows = await self.conn.execute_fetchall(
            "SELECT DISTINCT step_index, approver, email FROM approval_links "
            "WHERE request_id=? AND used_at IS NULL AND told_at IS NULL ORDER BY step_index, approver, email",
            (request_id,),
        )
        return [EmailedSeat(row["step_index"], row["approver"], row["email"]) for row in rows]

    async def mark_seat_told(self, request_id: str, seat: EmailedSeat, now: datetime) -> bool:
        """Note that a seat was told its step was settled; tell whether this call did (compare-and-set)."""
        cursor = await self.conn.execute(
            "UPDATE approval_links SET told_at=? WHERE request_id=? AND step_index=? AND approver=? AND email=? "
            "AND used_at IS NULL AND told_at IS NULL",
            (ts(now), request_id, seat.step_index, seat.approver, seat.email),
        )
        return cursor.rowcount > 0

    async def slack_identity(self, email: str) -> SlackIdentity | None:
        """Return what Slack last said about an e-mail (expired or not), or None."""
        async with self.conn.execute("SELECT * FROM slack_identities WHERE email=?", (email,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return SlackIdentity(row["email"], row["user_id"], _moment(row["checked_at"]), _moment(row["expires_at"]))

    async def save_slack_identity(self, identity: SlackIdentity) -> None:
        """Remember what Slack said about an e-mail, replacing an earlier answer."""
        await self.conn.execute(
            "INSERT INTO slack_identities (email, user_id, checked_at, expires_at) VALUES (?,?,?,?) "
            "ON CONFLICT (email) DO UPDATE SET user_id=excluded.user_id, checked_at=excluded.checked_at, "
            "expires_at=excluded.expires_at",
            (identity.email, identity.user_id, ts(identity.checked_at), ts(identity.expires_at)),
        )

    async def has_vote(self, request_id: str, step_index: int, approver: str) -> bool:
        """Tell whether an approver's vote on a step of a request is stored."""
        async with self.conn.execute(
            "SELECT 1 FROM votes WHERE request_id=? AND step_index=? AND approver=?", (request_id, step_index, approver)
        ) as cursor:
            return await cursor.fetchone() is not None
