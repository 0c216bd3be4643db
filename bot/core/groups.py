"""Groups of customers, vendors or people: definitions, automatic and manual members, e-mail to a group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core.approvals import Approvals
from bot.core.asking import person_problem
from bot.core.deps import Deps
from bot.core.prefill import PrefillStep, recompute_for_contacts
from bot.errors import Conflict, NotFound, Unprocessable
from bot.senders.email import SENDER, Email
from engine.actions import sample_contact_of
from engine.conditions import Condition, EvalContext, Op
from engine.echo import split_echo
from engine.errors import InvalidDefinitionError
from engine.groups import (
    ECHOED,
    Group,
    GroupDefinition,
    GroupKind,
    Membership,
    auto_members,
    echo_problems,
    member_problems,
    needs_recompute,
    parse_group,
)
from engine.records import Contact, ContactKind
from engine.workflows import UNREACHABLE
from messages.errors import TemplateInvalidError
from messages.render import check_user_template, non_blank
from storage.ports import Repository

MAX_PEOPLE_LOOKUPS = 50  # the people added at once that Slack is asked about (one users.info each, side by side)
PEOPLE_LOOKUP_S = 2.0  # how long those lookups may take in all (a Slack modal must be answered within 3 s)
MAX_SUBJECT = 300
MAX_MESSAGE = 20000
MAX_RECIPIENTS = 1000


async def check_condition_groups(repo: Repository, conditions: Sequence[Condition]) -> None:
    """Refuse (422) `in_group` conditions naming no group, or a group of another kind than their field."""
    problems = []
    for index, condition in enumerate(conditions):
        if condition.op != Op.IN_GROUP:
            continue
        group = await repo.group_named(str(condition.value))
        if group is None:
            problems.append({"path": f"conditions[{index}].value", "message": f"no group {condition.value!r}"})
        elif group.kind.value != condition.field:
            problems.append({"path": f"conditions[{index}].value",
                             "message": f"{group.name!r} is a {group.kind.value} group, not a {condition.field} one"})
    if problems:
        raise Unprocessable(f"invalid condition: {problems[0]['path']}: {problems[0]['message']}", problems)


async def group_users(repo: Repository, name: str) -> list[dict[str, Any]]:
    """Return, as error details, every workflow and rule that uses a group."""
    found: list[dict[str, Any]] = [
        {"path": f"workflows.{w.id}", "message": f"used by workflow {w.name!r}", "code": "used_by",
         "params": {"kind": "workflow", "value": w.name}}
        for w in await repo.list_workflows() if name in w.group_refs()]
    found += [{"path": f"rules.{r.id}", "message": f"used by rule {r.name!r}", "code": "used_by",
               "params": {"kind": "rule", "value": r.name}}
              for r in await repo.list_rules() if name in r.group_refs()]
    return found


class GroupsService:
    """Groups and their members, for the REST API, Slack and the CLI."""

    def __init__(self, deps: Deps, approvals: Approvals) -> None:
        self.deps = deps
        self.db = deps.db
        self.approvals = approvals

    async def list_groups(self) -> list[tuple[Group, Membership]]:
        """Return every group with its membership."""
        async with self.db.read() as repo:
            return [(g, await repo.membership(g.id)) for g in await repo.list_groups()]

    async def get_group(self, ref: str) -> tuple[Group, Membership]:
        """Return a group (by id or name) with its membership, or raise NotFound."""
        async with self.db.read() as repo:
            group = await self._group(repo, ref)
            return group, await repo.membership(group.id)

    async def _group(self, repo: Repository, ref: str) -> Group:
        group = await repo.get_group(ref) or await repo.group_named(ref)
        if group is None:
            raise NotFound.no("group", ref)
        return group

    def _parse_group(self, data: Any) -> GroupDefinition:
        try:
            return parse_group(data)
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc

    async def create_group(self, data: Any, actor: str | None = None) -> tuple[Group, Membership]:
        """Store a new group; `members` in the body are manual additions."""
        body = dict(data) if isinstance(data, Mapping) else data
        members = body.pop("members", []) if isinstance(body, dict) else []
        definition = self._parse_group(body)
        _raise_members(member_problems(definition.kind, members, "members"))
        await self._check_people_in_slack(definition.kind, members, "members")
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            await self._check_group_name_free(repo, definition.name, None)
            await self._check_contacts_exist(repo, definition.kind, members, "members")
            group = Group(**definition.model_dump(), id=f"grp_{uuid.uuid4().hex[:16]}", created_at=now,
                          updated_at=now)
            await repo.save_group(group)
            membership = Membership(await self._matches(repo, group)).with_added(members)
            await repo.save_membership(group.id, Membership(), membership)
            await repo.audit(now, actor, "group_created", ("group", group.id), None, group.kind.value)
        return group, membership

    async def update_group(self, ref: str, data: Any, actor: str | None = None) -> tuple[Group, Membership]:
        """Replace a group's definition; filters that change (or turning automatic on) recompute it. A body as GET
        returned it may repeat its read-only keys (`echo_problems` says which must be as they are: Unprocessable)."""
        body, echoed = split_echo(data, ECHOED)
        definition = self._parse_group(body)
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            old = await self._group(repo, ref)
            before = await repo.membership(old.id)
            if problems := echo_problems(echoed, old.id, before):
                raise Unprocessable("read-only keys differ from the group's", problems)
            await self._check_group_change(repo, old, definition)
            group = Group(**definition.model_dump(), id=old.id, created_at=old.created_at, updated_at=now)
            await repo.save_group(group)
            after = before
            if needs_recompute(old, group):
                after = Membership(await self._matches(repo, group), before.added, before.removed)
                await repo.save_membership(group.id, before, after)
                await self._members_changed(repo, group, before, after, actor)
            await repo.audit(now, actor, "group_updated", ("group", group.id))
        return group, after

    async def _members_changed(
        self, repo: Repository, group: Group, before: Membership, after: Membership, actor: str | None,
    ) -> None:
        """Have the pre-fills of the documents of those who joined or left the group follow, and the workflows their
        approvals follow."""
        moved = before.members() ^ after.members()
        if group.is_contact_group() and moved:
            await recompute_for_contacts(repo, group.kind.value, moved, self.deps.settings.tz,
                                         PrefillStep(self.deps.clock.now(), actor, "prefilled"))
            await self.approvals.reroute(repo, [r.key() for r in await repo.records_open_to_prefill_of(
                group.kind.value, moved)])

    async def _check_group_change(self, repo: Repository, old: Group, new: GroupDefinition) -> None:
        if new.kind is not old.kind:
            raise Unprocessable("a group's kind cannot change", [{"path": "kind", "message": "cannot change"}])
        await self._check_group_name_free(repo, new.name, old.id)
        users = await group_users(repo, old.name) if new.name != old.name else []
        if users:
            raise Conflict(f"group {old.name!r} cannot be renamed: it is {users[0]['message']}", users,
                           why="group_in_use", params={"name": old.name})

    async def _check_group_name_free(self, repo: Repository, name: str, own_id: str | None) -> None:
        clash = await repo.group_named(name)
        if clash is not None and clash.id != own_id:
            raise Conflict(f"a group named {name!r} already exists ({clash.id})", why="name_taken",
                           params={"kind": "group", "name": name})

    async def _check_contacts_exist(self, repo: Repository, kind: GroupKind, ids: Sequence[str], path: str) -> None:
        if kind is GroupKind.PEOPLE:
            return
        problems = [{"path": f"{path}[{i}]", "message": f"no {kind.value} {member!r}", "code": "no_contact",
                     "params": {"kind": kind.value, "value": member}}
                    for i, member in enumerate(ids) if await repo.get_contact(kind.value, member) is None]
        _raise_members(problems)

    async def _check_removable(
        self, repo: Repository, kind: GroupKind, ids: Sequence[str], before: Membership,
    ) -> None:
        """Refuse removing someone who is neither a member nor (in a contact group) a known contact: a typo would
        otherwise be kept as an exclusion nobody sees, waiting for a contact of that id."""
        listed = before.members() | before.added | before.removed
        problems = [{"path": f"remove[{i}]", "message": f"{member!r} is not a member", "code": "not_a_member",
                     "params": {"value": member, "kind": kind.value}}
                    for i, member in enumerate(ids) if member not in listed
                    and (kind is GroupKind.PEOPLE or await repo.get_contact(kind.value, member) is None)]
        _raise_members(problems)

    async def _matches(self, repo: Repository, group: Group) -> frozenset[str]:
        if not group.is_contact_group() or not group.filters:
            return frozenset()
        ctx = EvalContext.at(self.deps.clock.now(), self.deps.settings.tz)
        return auto_members(group, await repo.all_contacts(group.kind.value), ctx)

    async def delete_group(self, ref: str, actor: str | None) -> None:
        """Delete a group, never while a workflow or rule uses it (the API lets only admin tokens call this)."""
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            users = await group_users(repo, group.name)
            if users:
                raise Conflict(f"group {group.name!r} cannot be deleted: it is {users[0]['message']}", users,
                               why="group_in_use", params={"name": group.name})
            await repo.delete_group(group.id)
            await repo.audit(self.deps.clock.now(), actor, "group_deleted", ("group", group.id), group.kind.value, None)

    async def _check_people_in_slack(self, kind: GroupKind, members: Any, path: str) -> None:
        """Refuse (422) a people group member Slack says is no person who can approve: not in the workspace,
        deactivated, or a bot (a lookup that fails is no evidence against them)."""
        if kind is not GroupKind.PEOPLE or not isinstance(members, list):
            return
        asked = members[:MAX_PEOPLE_LOOKUPS]
        try:
            found = await asyncio.wait_for(asyncio.gather(*(person_problem(self.deps.slack, m) for m in asked)),
                                           PEOPLE_LOOKUP_S)
        except TimeoutError:  # Slack is slow: no evidence against anyone, and the answer must not wait
            return
        _raise_members([{"path": f"{path}[{i}]", "message": f"{member} {UNREACHABLE[problem]}: Slack cannot ask them"}
                        for i, (member, problem) in enumerate(zip(asked, found, strict=True)) if problem is not None])

    async def change_members(
        self, ref: str, add: Any, remove: Any, actor: str | None = None
    ) -> tuple[Group, Membership]:
        """Add and remove members by hand; a manual removal survives automatic updates."""
        async with self.deps.db.read() as repo:
            kind = (await self._group(repo, ref)).kind
        if isinstance(add, list) and not member_problems(kind, add, "add"):
            await self._check_people_in_slack(kind, add, "add")
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            add, remove = add or [], remove or []
            _raise_members(member_problems(group.kind, add, "add") + member_problems(group.kind, remove, "remove"))
            _raise_members([{"path": "remove", "message": f"{m!r} is both added and removed"}
                            for m in sorted(set(add) & set(remove))])
            await self._check_contacts_exist(repo, group.kind, add, "add")
            before = await repo.membership(group.id)
            await self._check_removable(repo, group.kind, remove, before)
            after = before.with_added(add).with_removed(remove)
            await repo.save_membership(group.id, before, after)
            await self._members_changed(repo, group, before, after, actor)
            await repo.audit(self.deps.clock.now(), actor, "group_members_changed", ("group", group.id), None, None,
                             {"added": sorted(add), "removed": sorted(remove)})
        return group, after

    async def email_group(
        self, ref: str, subject: Any, message: Any, actor: str | None = None, to: Any = None,
    ) -> dict[str, Any]:
        """Queue an e-mail to the members of a customer or vendor group that have an address (all, or those in `to`)."""
        _check_email_texts(subject, message)
        _check_recipients(to)
        if not self.deps.settings.smtp_url:
            raise Conflict("e-mail is off: set SIGNOFF_SMTP_URL", why="email_off")
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            if not group.is_contact_group():
                raise Unprocessable("only customer and vendor groups can be e-mailed",
                                    [{"path": "(group)", "message": "a people group has no e-mail addresses"}])
            self._check_texts(group, {"subject": subject, "message": message})
            members = chosen_members(sorted((await repo.membership(group.id)).members()), to)
            contacts = [await repo.get_contact(group.kind.value, m) for m in members]
            emails, skipped = self._emails(group, [c for c in contacts if c is not None], subject, message,
                                           await repo.company_name())
            for email in emails:
                await repo.enqueue("email", email.to[0], email.to_json(), self.deps.clock.now())
            await repo.audit(self.deps.clock.now(), actor, "group_emailed", ("group", group.id), None, None,
                             {"subject": subject, "sent": len(emails), "skipped": skipped,
                              "recipients": members if to is not None else "all"})
        return {"queued": len(emails), "skipped": skipped, "recipients": members}

    def _emails(
        self, group: Group, contacts: Sequence[Contact], subject: str, message: str, company_name: str,
    ) -> tuple[list[Email], list[str]]:
        emails, skipped = [], []
        for contact in contacts:
            address = contact.mail_address()
            if not address:
                skipped.append(contact.id)
                continue
            context = {"contact": contact.model_dump(mode="json"), "group": {"name": group.name}}
            emails.append(Email(to=[address], subject=" ".join(self._render(subject, "subject", context).split()),
                                body=self._render(message, "message", context), sender_name=company_name or SENDER))
        return emails, skipped

    def _check_texts(self, group: Group, sources: Mapping[str, str]) -> None:
        """Refuse (422, nothing queued) a subject or message that reads a name or field a member does not have: a
        misspelt `{{ contact.nmae }}` would print nothing in every e-mail."""
        sample = {"contact": sample_contact_of(ContactKind(group.kind.value)).model_dump(mode="json"),
                  "group": {"name": group.name}}
        problems = [{"path": path, "message": problem} for path, source in sources.items()
                    if (problem := check_user_template(source, sample, self.deps.renderer)) is not None]
        if problems:
            raise Unprocessable(f"{problems[0]['path']}: {problems[0]['message']}", problems)

    def _render(self, source: str, path: str, context: dict[str, Any]) -> str:
        """Render a text for one member; 422 (nothing queued) when it fails or renders to nothing for anyone."""
        try:
            return non_blank(self.deps.renderer.user_text(source, **context), path)
        except TemplateInvalidError as exc:
            message = f"{exc} (for {context['contact']['id']})"
            raise Unprocessable(f"{path}: {message}", [{"path": path, "message": message}]) from exc


def _raise_members(problems: list[dict[str, str]]) -> None:
    if problems:
        raise Unprocessable(f"invalid members: {problems[0]['path']}: {problems[0]['message']}", problems)


def _check_recipients(to: Any) -> None:
    if to is None:
        return
    if not isinstance(to, list) or not to or not all(isinstance(m, str) and m for m in to):
        raise Unprocessable("to must list the members to e-mail",
                            [{"path": "to", "message": "a non-empty list of member ids"}])
    if len(to) > MAX_RECIPIENTS:
        raise Unprocessable("too many recipients", [{"path": "to", "message": f"at most {MAX_RECIPIENTS}"}])


def chosen_members(members: Sequence[str], to: Sequence[str] | None) -> list[str]:
    """Return the members to e-mail: all of them, or those chosen (each must be a member); raise Unprocessable."""
    if to is None:
        return list(members)
    known = set(members)
    problems = [{"path": f"to[{i}]", "message": f"{m!r} is not a member of the group", "code": "not_a_member",
                 "params": {"value": m, "kind": "contact"}}
                for i, m in enumerate(to) if m not in known]
    _raise_members(problems)
    return list(dict.fromkeys(to))


def _check_email_texts(subject: Any, message: Any) -> None:
    problems = []
    for path, value, limit in (("subject", subject, MAX_SUBJECT), ("message", message, MAX_MESSAGE)):
        if not isinstance(value, str) or not value.strip():
            problems.append({"path": path, "message": "required: a non-empty text"})
        elif len(value) > limit:
            problems.append({"path": path, "message": f"at most {limit} characters"})
    if problems:
        raise Unprocessable(f"invalid e-mail: {problems[0]['path']}: {problems[0]['message']}", problems)


def membership_json(membership: Membership) -> dict[str, list[str]]:
    """Return a membership as API JSON."""
    return {"members": sorted(membership.members()), "auto": sorted(membership.auto),
            "added": sorted(membership.added), "removed": sorted(membership.removed)}
