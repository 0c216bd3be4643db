"""The Slack messages of an approval request: post a copy, keep every copy in step, tell the requester."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.cards import behalf_view, card_of, read_card_data, request_card
from bot.core.deps import Deps
from bot.core.notices import enqueue_notices
from bot.senders.slack import Posted
from engine.approvals import ApprovalRequest, Vote, viewer_vote
from engine.delegation import CopyStanding, StoodIn, is_seatless, stood_in_for
from engine.notify import closed_email_notice, is_slack_user, is_told_settled, refresh_notice
from storage.models import SlackMessageRef
from storage.ports import Repository

CHANNEL_COPY = -1


class RequestMessages:
    """Posts and refreshes the copies of request messages (the outbox worker calls these); `after_refresh` follows."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        #: Called with a request's id (and the request when it was just read) after its copies were refreshed.
        self.after_refresh: list[Callable[[str, ApprovalRequest | None], Awaitable[None]]] = []

    async def card_for(self, request_id: str) -> dict[str, Any]:
        """Return the render data of a request (for modals)."""
        return (await request_card(self.deps.db, request_id, None))[1]

    async def post_request_copy(
        self, request_id: str, step_index: int | None, user: str | None = None, channel: str | None = None,
        stand_in: StoodIn | None = None,
    ) -> Posted:
        """Post one copy of a request's message (a DM to an approver, or to the delegate `stand_in` of one away, or
        a channel post) and remember it."""
        _, card = await request_card(self.deps.db, request_id, step_index)
        message = self.deps.renderer.json("approval_request.json.j2", card=card, **behalf_view(request_id, stand_in))
        slack = self.deps.slack
        posted = await (slack.post(channel, message) if channel else slack.dm(user or "", message))
        ref_step = CHANNEL_COPY if step_index is None else step_index
        async with self.deps.unit_of_work() as repo:
            await repo.add_message(SlackMessageRef(request_id, ref_step, user, posted.channel, posted.ts))
        return posted

    async def refresh_messages(self, request_id: str) -> None:
        """Re-render every copy of a request's message so it shows the current state."""
        async with self.deps.db.read() as repo:
            refs = await repo.messages_for(request_id)
            data = await read_card_data(repo, request_id) if refs else None
            standings = await self._standings(repo, data.request, refs) if data is not None else Standings()
        rendered: dict[tuple[int | None, tuple[str, str] | None, tuple[str, str] | None, bool], Any] = {}
        for ref in refs:
            step_index = None if ref.step_index == CHANNEL_COPY else ref.step_index
            vote = viewer_vote(data.request, ref.user_id) if data is not None else None
            stand_in = standings.stood.get(ref.user_id or "") if vote is None else None
            is_lost = ref.step_index != CHANNEL_COPY and ref.user_id in standings.seatless
            shown = (step_index, _reading(vote, ref.user_id), _standing(stand_in), is_lost)
            if shown not in rendered and data is not None:
                card = card_of(data, step_index, ref.user_id if vote is not None else None)
                rendered[shown] = self.deps.renderer.json("approval_request.json.j2", card=card, seat_lost=is_lost,
                                                          **behalf_view(request_id, stand_in))
            await self.deps.slack.update(ref.channel, ref.ts, rendered[shown])
        await self.tell_emailed(request_id, data.request if data is not None else None)
        for hook in self.after_refresh:
            await hook(request_id, data.request if data is not None else None)

    async def _standings(self, repo: Repository, request: ApprovalRequest,
                         refs: Sequence[SlackMessageRef]) -> Standings:
        """Return, of the DMs' readers on the open request's current step not seated there by their Slack id, who
        stood in for an away approver (and whether they still do), and who no longer decides there at all (read only
        when there are such readers). A reader the request lists under an e-mail Slack says is theirs decides in that
        seat only, whatever their copy was sent for."""
        readers = {ref.user_id for ref in refs if ref.user_id and ref.step_index == request.current_step
                   and is_seatless(request, ref.user_id)}
        if not readers:
            return Standings()
        emails = await repo.emails_of(readers)
        latest = await repo.latest_delegations(request.step().approvers)
        stood = stood_in_for(request, readers, latest, self.deps.clock.now(), emails)
        lost = [r for r in readers - stood.keys() if is_seatless(request, r, emails.get(r, ()))]
        return Standings(stood, frozenset(lost))

    async def redraw(self, request_id: str) -> None:
        """Queue the refresh of every copy of a request (one sent while its state changed may show the state before)."""
        async with self.deps.unit_of_work() as repo:
            await enqueue_notices(repo, [refresh_notice(request_id)], self.deps.clock.now())

    async def is_standing_in(self, request_id: str, step_index: int, stood: StoodIn) -> bool:
        """Tell whether a delegate still decides, on this step, in the seat of the away approver they were asked for
        (not when the request lists them under an e-mail Slack shows is theirs: nobody holds two seats)."""
        now, delegate = self.deps.clock.now(), stood.recipient.person
        async with self.deps.db.read() as repo:
            request = await repo.get_request(request_id)
            latest = await repo.latest_delegations([stood.recipient.seat()])
            emails = await repo.emails_of([delegate])
        if request is None or request.current_step != step_index:
            return False
        found = stood_in_for(request, [delegate], latest, now, emails).get(delegate)
        if found is None or found.standing is not CopyStanding.ACTING:
            return False
        return found.recipient.seat() == stood.recipient.seat()

    async def tell_emailed(self, request_id: str, seen: ApprovalRequest | None = None) -> None:
        """E-mail, once, each seat e-mailed links whose step was settled without it: the links decide nothing now.

        `seen`: the request as just read; one still on its first step has settled none, and nothing is read.
        """
        if not self.deps.settings.smtp_url or (seen is not None and seen.is_open() and seen.current_step == 0):
            return
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            request = await repo.get_request(request_id)
            if request is None:
                return
            past = [seat for seat in await repo.untold_seats(request_id) if is_told_settled(request, seat)]
            told = [seat for seat in past if await repo.mark_seat_told(request_id, seat, now)]
            await enqueue_notices(repo, [closed_email_notice(request_id, seat) for seat in told], now)

    async def tell_requester(self, request_id: str) -> Posted | None:
        """DM the requester the outcome of their request."""
        request, card = await request_card(self.deps.db, request_id, None)
        if not is_slack_user(request.requester):
            return None
        message = self.deps.renderer.json("approval_outcome.json.j2", card=card,
                                          may_remind=self.deps.is_admin(request.requester))
        return await self.deps.slack.dm(request.requester or "", message)


@dataclass(frozen=True)
class Standings:
    """Where the readers of a request's DMs on its current step stand who are not seated there by their Slack id."""

    stood: dict[str, StoodIn] = field(default_factory=dict)
    seatless: frozenset[str] = frozenset()


def _standing(stood: StoodIn | None) -> tuple[str, str] | None:
    """Return what a delegate's copy says of the seat it stood in for: whose, and whether it still decides there."""
    return None if stood is None else (stood.recipient.seat(), stood.standing.value)


def _reading(vote: Vote | None, viewer: str | None) -> tuple[str, str] | None:
    """Return what a copy says of its viewer's vote: every own vote reads the same, so one rendering serves them."""
    if vote is None:
        return None
    if vote.approver != viewer:
        return "for", vote.approver
    return "by", "" if vote.acted_by in (None, viewer) else str(vote.acted_by)
