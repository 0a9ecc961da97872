"""Creating, updating and looking up people by handle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.errors import NotFound
from firewatch.people.models import PersonRow
from firewatch.people.schemas import PersonIn, PersonOut


def upsert_person(session: Session, *, person: PersonIn, now: datetime) -> PersonRow:
    """Create the person, or update name and contacts of the existing handle."""
    row = session.scalar(select(PersonRow).where(PersonRow.handle == person.handle))
    if row is None:
        row = PersonRow(handle=person.handle, created_at=now)
        session.add(row)
    row.name = person.name or person.handle
    row.email = person.email
    row.contacts = dict(person.contacts)
    session.flush()
    return row


def get_person(session: Session, *, handle: str) -> PersonRow:
    row = session.scalar(select(PersonRow).where(PersonRow.handle == handle))
    if row is None:
        known = session.scalars(select(PersonRow.handle).order_by(PersonRow.handle).limit(20))
        raise NotFound(
            f"no person with handle {handle!r}",
            code="unknown_person",
            details={"known_handles": list(known)},
        )
    return row


def list_people(session: Session) -> list[PersonOut]:
    return [to_schema(row) for row in session.scalars(select(PersonRow).order_by(PersonRow.handle))]


def to_schema(row: PersonRow) -> PersonOut:
    return PersonOut(handle=row.handle, name=row.name, email=row.email, contacts=dict(row.contacts))
