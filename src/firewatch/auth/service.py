"""Creating, checking and revoking API tokens.

Tokens are 256-bit random strings, so a plain SHA-256 is enough to store them safely (no salt
or slow hash is needed for values nobody can guess). Scopes nest: admin ⊃ write ⊃ read; an
``ingest`` token can only send alerts (it is also what a PagerDuty-style sender uses as its
routing key).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.auth.models import ApiTokenRow
from firewatch.errors import InvalidInput, NotFound

TOKEN_PREFIX = "fw_"


class Scope(StrEnum):
    """``read`` ⊂ ``write`` ⊂ ``admin``; ``ingest`` may only send alerts (for Alertmanager,
    Grafana and PagerDuty-style senders), which ``write`` and ``admin`` may do too."""

    INGEST = "ingest"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def level(self) -> int:
        return {"ingest": 0, "read": 1, "write": 2, "admin": 3}[self.value]

    def allows(self, needed: Scope) -> bool:
        if needed is Scope.INGEST:
            return self in (Scope.INGEST, Scope.WRITE, Scope.ADMIN)
        return self is not Scope.INGEST and self.level >= needed.level

    @classmethod
    def parse(cls, value: str) -> Scope:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise InvalidInput(
                f"unknown scope {value!r}: expected read, write, admin or ingest",
                code="invalid_scope",
            ) from None


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scope: Scope


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, scope: Scope, now: datetime) -> str:
    """Store a new token's hash and return the token (the only time it is ever visible)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token name is 1-100 characters", code="invalid_token_name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiTokenRow(
            name=name,
            scope=scope.value,
            token_hash=hash_token(token),
            prefix=token[:10],
            created_at=now,
        )
    )
    session.flush()
    return token


def verify_token(session: Session, *, token: str) -> TokenInfo | None:
    """The token's identity and scope, or None if it is unknown or revoked."""
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    return TokenInfo(id=row.id, name=row.name, scope=Scope(row.scope))


def list_tokens(session: Session) -> list[dict[str, object]]:
    rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))
    return [
        {
            "id": r.id,
            "name": r.name,
            "scope": r.scope,
            "prefix": r.prefix + "…",
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def revoke_token(session: Session, *, token_id: int, now: datetime) -> None:
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}", code="unknown_token")
    row.revoked_at = row.revoked_at or now
