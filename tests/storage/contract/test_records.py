"""The records and contacts contract: exact round trips, upserts, (type, id) order, keyset pages, bulk reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.records import Contact, Record
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_record(record_type: str = "invoice", record_id: str = "INV-1", **changes: object) -> Record:
    data = {"type": record_type, "id": record_id, "amount": "12500.10", "currency": "EUR", "created_at": NOW,
            "updated_at": NOW, "customer": "C1", "fields": {"po": "PO-7"}}
    data.update(changes)
    return Record.model_validate(data)


def a_contact(contact_id: str = "C1", kind: str = "customer", **changes: object) -> Contact:
    return Contact.model_validate({"kind": kind, "id": contact_id, "name": f"Name {contact_id}",
                                   "balance": "10.05", **changes})


async def test_a_record_round_trips_exactly_and_saving_again_replaces_it(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record())
        await repo.save_record(a_record(amount="1.10", approval_status="pending", updated_at=NOW + timedelta(hours=1)))
    async with store.read() as repo:
        loaded = await repo.get_record("invoice", "INV-1")
        assert await repo.get_record("bill", "INV-1") is None and await repo.count_records() == 1
    expected = a_record(amount="1.10", approval_status="pending", updated_at=NOW + timedelta(hours=1))
    assert loaded == expected and loaded.amount == Decimal("1.10") and loaded.updated_at.tzinfo is not None


async def test_records_list_in_type_and_id_order_with_filters_and_keyset_pages(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for key in [("invoice", "I-2"), ("bill", "B-1"), ("invoice", "I-1"), ("bill", "B-2")]:
            await repo.save_record(a_record(*key, approval_status="pending" if key[1].endswith("1") else "none"))
        await repo.mark_reminded("invoice", "I-2", NOW)
        assert await repo.mark_reminded("invoice", "I-9", NOW) is None
    async with store.read() as repo:
        every = [r.key() for r in await repo.list_records()]
        page = [r.key() for r in await repo.list_records(limit=2, after=("bill", "B-2"))]
        offset = [r.key() for r in await repo.list_records(limit=1, offset=1)]
        invoices = [r.id for r in await repo.list_records("invoice")]
        pending = [r.id for r in await repo.list_records(approval_status="pending")]
        reminded = [r.id for r in await repo.list_records(reminded=True)]
        never = [r.id for r in await repo.list_records(reminded=False)]
        stamped = await repo.get_record("invoice", "I-2")
    assert every == [("bill", "B-1"), ("bill", "B-2"), ("invoice", "I-1"), ("invoice", "I-2")]
    assert page == [("invoice", "I-1"), ("invoice", "I-2")] and offset == [("bill", "B-2")]
    assert invoices == ["I-1", "I-2"] and pending == ["B-1", "I-1"]
    assert reminded == ["I-2"] and never == ["B-1", "B-2", "I-1"]
    assert stamped is not None and stamped.reminded_at == NOW and stamped.reminder_count == 1


async def test_records_in_bulk_by_id_key_and_creator(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for n in range(1200):
            await repo.save_record(a_record("bill", f"B-{n:04d}", created_by="U01" if n % 2 else "U02",
                                            created_at=NOW + timedelta(minutes=n)))
        await repo.update_records([a_record("bill", "B-0001", amount="7", created_by="U01"),
                                   a_record("bill", "B-9999")], NOW)
    async with store.read() as repo:
        by_id = await repo.records_by_id("bill", [f"B-{n:04d}" for n in range(0, 1300, 2)])
        by_key = await repo.records_by_key([("bill", "B-0001"), ("invoice", "B-0001"), ("bill", "B-0001")])
        latest, count = await repo.records_created_by("U01", 3)
        missing = await repo.get_record("bill", "B-9999")
    assert sorted(by_id) == [f"B-{n:04d}" for n in range(0, 1200, 2)]
    assert list(by_key) == [("bill", "B-0001")] and by_key[("bill", "B-0001")].amount == Decimal("7")
    assert [r.id for r in latest] == ["B-1199", "B-1197", "B-1195"] and count == 600 and missing is None


async def test_a_creators_records_waiting_for_them_to_submit_come_first(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for n in range(6):
            status = "approval_required" if n in (0, 2) else "pending"
            await repo.save_record(a_record("bill", f"B-{n}", created_by="U01", approval_status=status,
                                            created_at=NOW + timedelta(minutes=n)))
    async with store.read() as repo:
        shown, count = await repo.records_created_by("U01", 4)
        second, _ = await repo.records_created_by("U01", 4, offset=4)
        past, total = await repo.records_created_by("U01", 4, offset=8)
    assert [r.id for r in shown] == ["B-2", "B-0", "B-5", "B-4"] and count == 6
    assert [r.id for r in second] == ["B-3", "B-1"] and (past, total) == ([], 6)


async def test_contacts_round_trip_and_are_read_one_by_one_or_in_bulk(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_contact(a_contact("C2"), NOW)
        await repo.save_contact(a_contact("C1"), NOW)
        await repo.save_contact(a_contact("C1", name="Renamed"), NOW)
        await repo.save_contact(a_contact("V1", "vendor"), NOW)
    async with store.read() as repo:
        one = await repo.get_contact("customer", "C1")
        of_record = await repo.contacts_of(a_record(vendor="V1"))
        by_id = await repo.contacts_by_id("customer", ["C1", "C3"])
        by_key = await repo.contacts_by_key([("vendor", "V1"), ("customer", "V1")])
        every = [(c.kind.value, c.id) for c in await repo.all_contacts()]
        customers = [c.id for c in await repo.all_contacts("customer", limit=1)]
    assert one == a_contact("C1", name="Renamed") and one.balance == Decimal("10.05")
    assert of_record == {"customer:C1": one, "vendor:V1": a_contact("V1", "vendor")}
    assert list(by_id) == ["C1"] and list(by_key) == [("vendor", "V1")]
    assert every == [("customer", "C1"), ("customer", "C2"), ("vendor", "V1")] and customers == ["C1"]


async def test_a_record_stored_before_a_rule_tightened_is_read_as_it_was_written(store: Store) -> None:
    written = Record.model_validate({"type": "invoice", "id": "JPY-1", "amount": "1250.5", "currency": "JPY",
                                     "created_at": NOW, "updated_at": NOW}, context={"stored": True})
    async with store.unit_of_work() as repo:
        await repo.save_record(written)
    async with store.read() as repo:
        assert await repo.get_record("invoice", "JPY-1") == written
