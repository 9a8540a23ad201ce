"""Users of the console and the API, their roles, and the bearer tokens a login hands out.

Passwords are hashed with argon2id (argon2-cffi). A token is 32 random bytes shown once; the
store keeps only its SHA-256, with an expiry, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update

from ivr.store.engine import UserError, write_tx
from ivr.store.tables import tokens, users

SESSION_COOKIE = "ivr_session"
"""The browser's session cookie: it holds a token, for the API and the console's pages."""
ROLES = ("agent", "supervisor", "admin")
"""Each role can do what the roles before it can."""
NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password anyone has")


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: str
    expires_at: float

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str, role: str, password: str, replace: bool = False) -> None:
        if not NAME_RE.match(name):
            raise UserError(f"user name {name!r}: 1-64 letters, digits, . _ @ -")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise UserError("the password needs at least 8 characters")
        hashed = _hasher.hash(password)
        with write_tx(self.engine) as conn:
            existing = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
            if existing is not None and not replace:
                raise UserError(f"user {name!r} exists (add --replace to change the password and role)")
            if existing is not None:
                conn.execute(
                    update(users).where(users.c.id == existing).values(role=role, password_hash=hashed)
                )
                conn.execute(delete(tokens).where(tokens.c.user_id == existing))  # old sessions end
            else:
                conn.execute(
                    insert(users).values(name=name, role=role, password_hash=hashed, created_at=time.time())
                )

    def remove(self, name: str) -> bool:
        with write_tx(self.engine) as conn:
            uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
            if uid is None:
                return False
            conn.execute(delete(tokens).where(tokens.c.user_id == uid))
            conn.execute(delete(users).where(users.c.id == uid))
        return True

    def list(self) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users.c.name, users.c.role, users.c.created_at).order_by(users.c.name)
            ).all()
        return [{"user": r[0], "role": r[1], "created_at": r[2]} for r in rows]

    def login(self, name: str, password: str, ttl_s: float) -> str | None:
        """A new bearer token, or None for an unknown user or a wrong password (the same
        work is done either way, so the answer's time does not tell which)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users.c.id, users.c.password_hash).where(
                    users.c.name == name, users.c.disabled.is_(False)
                )
            ).first()
        try:
            _hasher.verify(row[1] if row else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        token = secrets.token_urlsafe(32)
        now = time.time()
        with write_tx(self.engine) as conn:
            conn.execute(delete(tokens).where(tokens.c.expires_at < now))
            conn.execute(
                insert(tokens).values(
                    token_hash=_token_hash(token), user_id=row[0], created_at=now, expires_at=now + ttl_s
                )
            )
        return token

    def authenticate(self, token: str) -> Principal | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users.c.name, users.c.role, tokens.c.expires_at)
                .join(users, users.c.id == tokens.c.user_id)
                .where(tokens.c.token_hash == _token_hash(token), users.c.disabled.is_(False))
            ).first()
        if row is None or row[2] < time.time():
            return None
        return Principal(row[0], row[1], row[2])

    def logout(self, token: str) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(delete(tokens).where(tokens.c.token_hash == _token_hash(token)))
