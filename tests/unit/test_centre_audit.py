"""The hash-chained audit trail: an intact chain verifies; any deletion, change, reordering or lost tail is
found and named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from centre_core import audit

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def chain(n: int) -> list[audit.Entry]:
    entries: list[audit.Entry] = []
    for i in range(n):
        entries.append(audit.append(entries[-1] if entries else None, T0 + timedelta(minutes=i), "staff:clerk",
                                    f"task:review:{i}", "REF1", {"comment": f"note {i}"},
                                    document_sha256="ab" * 32 if i % 2 else None))
    return entries


def test_an_intact_chain_verifies_with_its_head() -> None:
    entries = chain(10)
    assert audit.verify(entries, head=(10, entries[-1].hash)) == []
    assert entries[0].prev_hash == audit.GENESIS and entries[3].prev_hash == entries[2].hash


@given(st.integers(2, 12), st.data())
def test_a_deleted_entry_is_found(n: int, data: st.DataObject) -> None:
    entries = chain(n)
    gone = data.draw(st.integers(0, n - 2))
    breaks = audit.verify(entries[:gone] + entries[gone + 1:])
    assert breaks and breaks[0].seq == gone + 2


@given(st.integers(1, 12), st.data(), st.sampled_from(["actor", "action", "subject", "at", "document_sha256"]))
def test_an_altered_entry_is_found(n: int, data: st.DataObject, field: str) -> None:
    entries = chain(n)
    i = data.draw(st.integers(0, n - 1))
    entries[i] = dataclasses.replace(entries[i], **{field: "tampered"})
    breaks = audit.verify(entries)
    assert breaks and breaks[0].seq == i + 1 and "altered" in breaks[0].reason


def test_an_altered_detail_rehashed_still_breaks_the_next_link() -> None:
    entries = chain(5)
    forged = dataclasses.replace(entries[2], details={"comment": "forged"})
    fields = dataclasses.asdict(forged)
    entries[2] = dataclasses.replace(forged, hash=audit.entry_hash(fields))
    breaks = audit.verify(entries)
    assert [b.seq for b in breaks] == [4]


def test_reordering_and_a_lost_tail_are_found() -> None:
    entries = chain(6)
    swapped = entries[:2] + [entries[3], entries[2]] + entries[4:]
    assert audit.verify(swapped)
    head = (6, entries[-1].hash)
    assert [b.seq for b in audit.verify(entries[:4], head=head)] == [6]
    assert audit.verify([], head=head)
