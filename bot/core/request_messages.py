"""The Slack messages of an approval request: post a copy, keep every copy in step, tell the requester."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.core.cards import behalf_view, card_of, read_card_data, request_card
from bot.core.deps import Deps
from bot.core.notices import enqueue_notices
from bot.senders.slack import Posted
from engine.approvals import ApprovalRequest, Vote, viewer_vote
from engine.delegation import CopyStanding, StoodIn, is_on_request, is_on_request_as, stood_in_for
from engine.limits import is_email
from engine.notify import closed_email_notice, is_slack_user, is_told_settled
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
            stand_ins = await self._stand_ins(repo, data.request, refs) if data is not None else {}
        rendered: dict[tuple[int | None, tuple[str, str] | None, tuple[str, str] | None], Any] = {}
        for ref in refs:
            step_index = None if ref.step_index == CHANNEL_COPY else ref.step_index
            vote = viewer_vote(data.request, ref.user_id) if data is not None else None
            stand_in = stand_ins.get(ref.user_id or "") if vote is None else None
            shown = (step_index, _reading(vote, ref.user_id), _standing(stand_in))
            if shown not in rendered and data is not None:
                card = card_of(data, step_index, ref.user_id if vote is not None else None)
                rendered[shown] = self.deps.renderer.json("approval_request.json.j2", card=card,
                                                          **behalf_view(request_id, stand_in))
            await self.deps.slack.update(ref.channel, ref.ts, rendered[shown])
        await self.tell_emailed(request_id, data.request if data is not None else None)
        for hook in self.after_refresh:
            await hook(request_id, data.request if data is not None else None)

    async def _stand_ins(self, repo: Repository, request: ApprovalRequest,
                         refs: Sequence[SlackMessageRef]) -> dict[str, StoodIn]:
        """Return who of the DMs' readers on the current step stood in for an away approver, for whom, and whether
        they still do (read only when someone not on the request has a copy)."""
        readers = {ref.user_id for ref in refs if ref.user_id and ref.step_index == request.current_step
                   and not is_on_request(request, ref.user_id)}
        if not readers or not request.is_open():
            return {}
        latest = await repo.latest_delegations(request.step().approvers)
        return stood_in_for(request, readers, latest, self.deps.clock.now())

    async def is_standing_in(self, request_id: str, step_index: int, stood: StoodIn) -> bool:
        """Tell whether a delegate still decides, on this step, in the seat of the away approver they were asked for
        (not when the request lists them under an e-mail Slack shows is theirs: nobody holds two seats)."""
        now, delegate = self.deps.clock.now(), stood.recipient.person
        async with self.deps.db.read() as repo:
            request = await repo.get_request(request_id)
            latest = await repo.latest_delegations([stood.recipient.seat()])
            emails = [name for name in await repo.principals_of(delegate, now) if is_email(name)]
        if request is None or request.current_step != step_index or is_on_request_as(request, emails):
            return False
        found = stood_in_for(request, [delegate], latest, now).get(delegate)
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
