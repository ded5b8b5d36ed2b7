"""Accounts, API keys and kiosk tokens, stored in the database.

- Users sign in with a password hashed by scrypt (werkzeug's ``generate_password_hash``).
- API keys (grid workers' phones, other systems) look like ``gdk_<prefix>_<secret>``; only a
  SHA-256 of the secret is stored (the secret has 192 random bits, so a slow hash adds
  nothing). A key acts as the user it belongs to.
- Kiosk tokens are signed (itsdangerous, with SECRET_KEY) and name a row of the same table, so
  that revoking the row ends the link. A kiosk is read-only and bound to a town or the district.

Managed with ``python -m dashboard users add|list|disable|enable|passwd`` and
``python -m dashboard keys create|list|revoke`` (README.md, "Accounts and roles").
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timezone

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.cache import SharedCache
from dashboard.core.access import ACCOUNT_ROLES, TOWN_ROLES, Principal
from dashboard.store.models import ApiKeyRow, UserRow

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 10
KEY_RE = re.compile(r"^gdk_([A-Za-z0-9]{8})_([A-Za-z0-9_\-]{20,64})$")
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


class AccountError(ValueError):
    pass


def _stamp(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Accounts:
    """Users and keys. Lookups made on every request are cached for ``ttl`` seconds, so a
    disabled account or a revoked key stops working within that time in every process."""

    def __init__(self, engine: Engine, secret_key: str, *, towns: dict | None = None,
                 departments: set[str] | None = None, ttl: float = 5.0):
        self.engine = engine
        # writes take SQLite's write lock up front (BEGIN IMMEDIATE), so that they wait for the
        # persister instead of failing with "database is locked" (dashboard/store/incidents.py)
        self._writer = engine.execution_options(sqlite_write=True)
        self.towns = towns
        self.departments = departments
        self._kiosk = URLSafeSerializer(secret_key, salt="griddash-kiosk")
        self.ttl = ttl
        self._cache: SharedCache = SharedCache(ttl, idle=max(60.0, 2 * ttl), maxsize=10_000)

    # ------------------------------------------------------------------ users
    def _check_user_fields(self, username, role, town, department):
        if not USERNAME_RE.match(username or ""):
            raise AccountError("username: 2-64 letters, digits, '.', '_' or '-'")
        if role not in ACCOUNT_ROLES:
            raise AccountError(f"role must be one of {', '.join(ACCOUNT_ROLES)}")
        if role in TOWN_ROLES and not town:
            raise AccountError(f"role {role} needs --town")
        if town and self.towns is not None and town not in self.towns:
            raise AccountError(f"unknown town {town!r}; one of {', '.join(self.towns)}")
        if role == "handler" and not department:
            raise AccountError("role handler needs --department")
        if department and self.departments is not None and department not in self.departments:
            raise AccountError(f"unknown department {department!r}")

    @staticmethod
    def check_password(password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")

    def add_user(self, username: str, role: str, *, password: str | None = None, town: str | None = None,
                 department: str | None = None, display_name: str = "") -> int:
        """A new account. ``password`` None = an account that signs in only through its API
        keys (a system or a grid worker's phone)."""
        self._check_user_fields(username, role, town, department)
        if password is not None:
            self.check_password(password)
        with self._writer.begin() as conn:
            exists = conn.execute(select(UserRow.id).where(UserRow.username == username)).first()
            if exists:
                raise AccountError(f"user {username!r} exists")
            res = conn.execute(insert(UserRow).values(
                username=username, display_name=display_name[:64], role=role,
                town=town if role in TOWN_ROLES or role == "reporter" else None,
                department=department if role == "handler" else None, disabled=False, created_at=_now(),
                password_hash=generate_password_hash(password, method="scrypt") if password else None))
            return int(res.inserted_primary_key[0])

    def set_password(self, username: str, password: str) -> None:
        self.check_password(password)
        self._set(username, password_hash=generate_password_hash(password, method="scrypt"))

    def set_disabled(self, username: str, disabled: bool) -> None:
        self._set(username, disabled=disabled)

    def _set(self, username: str, **values) -> None:
        with self._writer.begin() as conn:
            n = conn.execute(update(UserRow).where(UserRow.username == username).values(**values)).rowcount
        if not n:
            raise AccountError(f"no user {username!r}")
        self._cache.clear()

    def list_users(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(UserRow.id, UserRow.username, UserRow.display_name, UserRow.role, UserRow.town,
                       UserRow.department, UserRow.disabled, UserRow.created_at).order_by(UserRow.id)).mappings()]

    def has_users(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(UserRow.id).limit(1)).first() is not None

    @staticmethod
    def _principal(row, kind: str = "user", key_id: int | None = None) -> Principal:
        return Principal(kind=kind, id=key_id if key_id is not None else row.id, username=row.username,
                         role=row.role, town=row.town, department=row.department,
                         display_name=row.display_name or "")

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The principal for a correct username and password of an enabled account, else None.
        Takes the same time whether or not the user exists."""
        with self.engine.connect() as conn:
            row = conn.execute(select(UserRow).where(UserRow.username == (username or "")[:64])).first()
        stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
        ok = check_password_hash(stored, password or "")
        if row is None or not row.password_hash or row.disabled or not ok:
            return None
        return self._principal(row)

    def _cached(self, key, load):
        return self._cache.get(key, load)

    def load_user(self, user_id: int, stamp: str | None = None) -> Principal | None:
        """The principal of an enabled account; None also when ``stamp`` (from the session)
        is not the account's current password stamp: a new password ends every session."""
        def load():
            with self.engine.connect() as conn:
                row = conn.execute(select(UserRow).where(UserRow.id == user_id)).first()
            if row is None or row.disabled:
                return None
            return self._principal(row), _stamp(row.password_hash)
        hit = self._cached(("u", user_id), load)
        if hit is None or (stamp is not None and not hmac.compare_digest(hit[1], stamp)):
            return None
        return hit[0]

    def stamp(self, user_id: int) -> str:
        """What a session keeps so that a change of password ends it (see ``load_user``)."""
        with self.engine.connect() as conn:
            return _stamp(conn.execute(select(UserRow.password_hash).where(UserRow.id == user_id)).scalar())

    # ------------------------------------------------------------------ keys
    def create_key(self, username: str, name: str = "") -> tuple[int, str]:
        """An API key acting as ``username``. Returns (key id, the key); the key is shown once."""
        prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(24)
        with self._writer.begin() as conn:
            user = conn.execute(select(UserRow).where(UserRow.username == username)).first()
            if user is None:
                raise AccountError(f"no user {username!r}")
            res = conn.execute(insert(ApiKeyRow).values(
                kind="api", prefix=prefix, secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                user_id=user.id, name=name[:64], created_at=_now()))
            return int(res.inserted_primary_key[0]), f"gdk_{prefix}_{secret}"

    def create_kiosk(self, town: str | None, name: str = "") -> tuple[int, str]:
        """A kiosk token for the big screen of ``town`` (None = the district)."""
        if town and self.towns is not None and town not in self.towns:
            raise AccountError(f"unknown town {town!r}")
        prefix = secrets.token_hex(4)
        with self._writer.begin() as conn:
            res = conn.execute(insert(ApiKeyRow).values(kind="kiosk", prefix=prefix, town=town or None,
                                                        name=name[:64], created_at=_now()))
            key_id = int(res.inserted_primary_key[0])
        return key_id, self._kiosk.dumps({"k": key_id, "p": prefix})

    def revoke_key(self, key_id: int) -> None:
        with self._writer.begin() as conn:
            n = conn.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                             .values(revoked_at=_now())).rowcount
        if not n:
            raise AccountError(f"no active key with id {key_id}")
        self._cache.clear()

    def list_keys(self) -> list[dict]:
        with self.engine.connect() as conn:
            q = (select(ApiKeyRow.id, ApiKeyRow.kind, ApiKeyRow.prefix, ApiKeyRow.name, ApiKeyRow.town,
                        UserRow.username, ApiKeyRow.created_at, ApiKeyRow.revoked_at)
                 .select_from(ApiKeyRow).outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id).order_by(ApiKeyRow.id))
            return [dict(r) for r in conn.execute(q).mappings()]

    def authenticate_key(self, raw: str | None) -> Principal | None:
        """The principal an API key acts as, or None for a malformed, unknown or revoked key
        or a disabled user."""
        m = KEY_RE.match((raw or "").strip())
        if not m:
            return None
        prefix, secret = m.groups()
        digest = hashlib.sha256(secret.encode()).hexdigest()

        def load():
            with self.engine.connect() as conn:
                return conn.execute(
                    select(ApiKeyRow.id, ApiKeyRow.secret_hash, UserRow)
                    .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                    .where(ApiKeyRow.prefix == prefix, ApiKeyRow.kind == "api",
                           ApiKeyRow.revoked_at.is_(None), UserRow.disabled.is_(False))).first()
        row = self._cached(("k", prefix), load)
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            return None
        return Principal(kind="key", id=row.id, username=row.username, role=row.role, town=row.town,
                         department=row.department, display_name=row.display_name or "")

    def kiosk_id(self, token: str) -> int | None:
        """The key id a kiosk token names, if the signature is ours (not yet checked for
        revocation: see ``load_kiosk``)."""
        try:
            body = self._kiosk.loads(token)
        except BadSignature:
            return None
        return body.get("k") if isinstance(body, dict) and isinstance(body.get("k"), int) else None

    def load_kiosk(self, key_id: int) -> Principal | None:
        def load():
            with self.engine.connect() as conn:
                row = conn.execute(select(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.kind == "kiosk",
                                                           ApiKeyRow.revoked_at.is_(None))).first()
            if row is None:
                return None
            return Principal(kind="kiosk", id=row.id, username=f"kiosk-{row.id}", role="screen",
                             town=row.town, display_name=row.name or "")
        return self._cached(("kiosk", key_id), load)
