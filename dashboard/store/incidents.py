"""Storage: the one write path (events in, projections updated) and the case reads.

The ``events`` table is the append-only log and audit trail; ``incidents`` is the projection
folded from it (``domain.fold``). Storing an event is idempotent: its UUID is the primary key
and the insert ignores duplicates, so at-least-once delivery from the stream never doubles.

Behaves the same on SQLite and PostgreSQL. Writers are serialised per incident (PostgreSQL
advisory locks, SQLite's single writer) so that two persisters working on events of one
incident both see each other's events before folding.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import (
    and_,
    case,
    create_engine,
    event,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Engine

from dashboard.core import metrics
from dashboard.core.domain import OPEN_STATUSES, STATUS_NAMES, TRANSITIONS, URGENCY_RANK, Event, IncidentState, fold
from dashboard.core.sla import SlaPolicy, default_policy
from dashboard.store.models import DERIVED_COLUMNS, INCIDENT_COLUMNS, Base, EventRow, IncidentRow, UTCDateTime

# The console's list: sortable keys and the columns behind the plain ones (urgency, status and
# due are ranked: urgency by rank, status in the loop's order, due by the deadline's time).
CASE_SORT_KEYS = {"reported": "reported_at", "town": "town_code", "grid": "grid_code",
                  "category": "category", "department": "department", "id": "id",
                  "urgency": None, "status": None, "due": None}
STATUS_ORDER = tuple(STATUS_NAMES)


@dataclass(frozen=True)
class CaseQuery:
    """What the console's list asks for. ``town``, ``department`` and ``submitted_by`` are also
    how a principal's scope is applied (``dashboard.core.access.case_filter``). ``text`` matches the
    description or the reporter (case-insensitive, anywhere), a grid whose name matched
    (``text_grid_codes``, looked up by the caller in the geography), or a prefix of the case
    id; six or more hex digits (dashes ignored) are a case number only. ``until``/``after`` bound the report time: the list holds still at ``until`` while
    the cases reported after it are counted for the "n new" bar."""
    town: str | None = None
    categories: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    grid_codes: tuple[str, ...] | None = None
    department: str | None = None
    submitted_by: str | None = None
    text: str = ""
    text_grid_codes: tuple[str, ...] = ()
    overdue: bool = False
    until: datetime | None = None
    after: datetime | None = None


_STATE_FIELDS = [c for c in INCIDENT_COLUMNS if c not in ("updated_at", *DERIVED_COLUMNS)]
_OPEN = frozenset(OPEN_STATUSES)


def json_text(value) -> str:
    """How JSON columns are stored: UTF-8 text, Chinese as itself (not ``\\uXXXX``, which made
    the event log's notes and descriptions up to three times longer)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def make_engine(url: str, **kw) -> Engine:
    """An engine that survives a database restart (pre-ping) and, on SQLite, uses WAL and
    waits for the single writer instead of failing with "database is locked". JSON columns are
    written as UTF-8 text (``json_text``); rows written before read the same."""
    kw.setdefault("json_serializer", json_text)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front, so a fold never reads a log that another
            # writer is about to extend; readers use plain deferred transactions.
            mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **kw)


def _insert(engine: Engine, table):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {engine.dialect.name}")
    return insert(table)


def audit_trail(events: list[dict]) -> list[dict]:
    """The event log as an audit trail: each event with the status before and after it
    (``from_status`` → ``to_status``) and whether the lifecycle applied it."""
    status = None
    for e in events:
        rule = TRANSITIONS.get(e["type"])
        applied = rule is not None and status in rule[0]
        e["from_status"] = status
        if applied:
            status = rule[1] or status
        e["to_status"] = status
        e["applied"] = applied
    return events


def deadline_outcomes(case, sla: SlaPolicy) -> dict:
    """The derived columns of a case (``DERIVED_COLUMNS``; ``case`` is an IncidentState or
    anything with its attributes): the district's targets (``metrics.deadlines``, the rule
    of the on-time rates), the hours to accept and to close, and the SLA deadline an open
    case waits for (its accept deadline while not accepted, else its close deadline), the
    instant after which ``metrics.overdue`` holds. Computed when the case is folded; a
    changed rule or SLA table reaches stored cases with ``db rebuild``."""
    r_at, a_at, c_at = case.reported_at, case.accepted_at, case.closed_at
    accept_by, close_by = metrics.deadlines(r_at)
    due = None
    if case.status in _OPEN:
        d = sla.deadlines(case.category, case.base_urgency, r_at)
        due = d.close_by if a_at is not None else min(d.accept_by, d.close_by)
    return {"accept_by": accept_by, "close_by": close_by,
            "hours_to_accept": None if a_at is None else (a_at - r_at).total_seconds() / 3600,
            "hours_to_close": None if c_at is None else (c_at - r_at).total_seconds() / 3600,
            "due_at": due}


def _lock_key(incident_id: uuid.UUID) -> int:
    return int.from_bytes(incident_id.bytes[:8], "big", signed=True)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    def __init__(self, engine: Engine, sla: SlaPolicy | None = None):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sla = sla
        self._events_insert = None
        self._upsert = None

    @property
    def sla(self) -> SlaPolicy:
        """The SLA table the stored ``due_at`` follows (the deployment's by default)."""
        return self._sla if self._sla is not None else default_policy()

    @sla.setter
    def sla(self, policy: SlaPolicy | None) -> None:
        self._sla = policy

    @classmethod
    def from_url(cls, url: str) -> "Store":
        return cls(make_engine(url))

    # ------------------------------------------------------------------ schema
    def create_all(self) -> None:
        """Create the schema directly (tests); the app uses Alembic (``migrations.upgrade``)."""
        Base.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        Base.metadata.drop_all(self.engine)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # ------------------------------------------------------------------ writes
    def _write_conn(self):
        conn = self.engine.connect()
        if self.dialect == "sqlite":
            conn = conn.execution_options(sqlite_write=True)
        return conn

    def store_events(self, events: Sequence[Event]) -> int:
        """Store events (ignoring ones already stored) and refold the incidents they touch,
        in one transaction. Returns the number of new events."""
        if not events:
            return 0
        recorded = now_utc()
        rows = [
            {"id": e.id, "incident_id": e.incident_id, "type": e.type, "at": e.at, "actor": e.actor,
             "note": e.note, "data": e.data, "stream_pos": e.stream_pos, "recorded_at": recorded}
            for e in events
        ]
        with self._write_conn() as conn, conn.begin():
            if self.dialect == "postgresql":
                keys = sorted({_lock_key(e.incident_id) for e in events})
                conn.execute(
                    text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                         "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS s"),
                    {"keys": keys},
                )
            # Under the incident locks (SQLite: the single writer) nobody else can store events
            # of these incidents now: one read of their stored log tells which of ours are new
            # and gives the rest of each log for the fold. The insert still ignores duplicates
            # as a second line of defence.
            logs = self._load_logs(conn, {e.incident_id for e in events})
            stored = {ev.id for evs in logs.values() for ev in evs}
            new_rows = [r for r in rows if r["id"] not in stored]
            if new_rows:
                conn.execute(self._insert_events_stmt(), new_rows)
                new_events = [e for e in events if e.id not in stored]
                touched = {e.incident_id for e in new_events}
                for e in new_events:
                    logs.setdefault(e.incident_id, []).append(e)
                self._fold_and_save(conn, [logs[i] for i in touched])
        return len(new_rows)

    def _select_in(self, what, column, values):
        """``SELECT what WHERE column IN values``: one array parameter on PostgreSQL (a short,
        cacheable statement), an expanding IN on SQLite."""
        if self.dialect == "postgresql":
            from sqlalchemy import any_, bindparam
            from sqlalchemy.dialects.postgresql import ARRAY
            return select(what).where(column == any_(bindparam("vals", list(values), type_=ARRAY(column.type))))
        return select(what).where(column.in_(list(values)))

    def _insert_events_stmt(self):
        if self._events_insert is None:
            self._events_insert = _insert(self.engine, EventRow.__table__).on_conflict_do_nothing(
                index_elements=["id"])
        return self._events_insert

    def _load_logs(self, conn, incident_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Event]]:
        """The stored events of these incidents, by incident."""
        ev_t = EventRow.__table__
        ids = list(incident_ids)
        logs: dict[uuid.UUID, list[Event]] = {}
        for start in range(0, len(ids), 500):
            for r in conn.execute(self._select_in(ev_t, ev_t.c.incident_id, ids[start:start + 500])):
                logs.setdefault(r.incident_id, []).append(Event(
                    id=r.id, incident_id=r.incident_id, type=r.type, at=r.at, actor=r.actor,
                    note=r.note, data=r.data, stream_pos=r.stream_pos))
        return logs

    def _fold_and_save(self, conn, logs: Iterable[list[Event]]) -> None:
        states = [s for s in (fold(evs) for evs in logs) if s is not None]
        if states:
            self.upsert_states(conn, states)

    def _refold(self, conn, incident_ids: Iterable[uuid.UUID]) -> None:
        """Fold these incidents again from their whole stored log."""
        self._fold_and_save(conn, self._load_logs(conn, incident_ids).values())

    def upsert_states(self, conn, states: Sequence[IncidentState]) -> None:
        now = now_utc()
        sla = self.sla
        rows = []
        for s in states:
            row = {k: getattr(s, k) for k in _STATE_FIELDS}
            row.update(deadline_outcomes(s, sla))
            row["updated_at"] = now
            rows.append(row)
        if self._upsert is None:  # built once: the statement and its cache key are reused
            stmt = _insert(self.engine, IncidentRow.__table__)
            self._upsert = stmt.on_conflict_do_update(
                index_elements=["id"],
                set_={c: getattr(stmt.excluded, c) for c in INCIDENT_COLUMNS if c != "id"},
            )
        conn.execute(self._upsert, rows)

    def rebuild_projections(self, batch: int = 2000) -> int:
        """Refold every incident from the event log (the log is the truth). Returns the count."""
        ev_t = EventRow.__table__
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(ev_t.c.incident_id).distinct())]
        for i in range(0, len(ids), batch):
            with self._write_conn() as conn, conn.begin():
                self._refold(conn, ids[i:i + batch])
        return len(ids)

    # ------------------------------------------------------------------ reads
    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(EventRow.__table__)).scalar_one()

    def count_incidents(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(IncidentRow.__table__)).scalar_one()

    def get_incident(self, incident_id: uuid.UUID, with_events: bool = True) -> dict | None:
        inc_t, ev_t = IncidentRow.__table__, EventRow.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(inc_t).where(inc_t.c.id == incident_id)).mappings().first()
            if row is None:
                return None
            if not with_events:
                return dict(row)
            evs = conn.execute(
                select(ev_t).where(ev_t.c.incident_id == incident_id).order_by(ev_t.c.stream_pos, ev_t.c.at)
            ).mappings().all()
        out = dict(row)
        out["events"] = audit_trail([dict(e) for e in evs])
        return out

    def latest_reports(self, limit: int = 12, town_code: str | None = None) -> list[dict]:
        """The most recent reports (any status), newest first, for the ticker."""
        t = IncidentRow.__table__
        q = select(t.c.id, t.c.reported_at, t.c.town_code, t.c.grid_code, t.c.category,
                   t.c.description, t.c.urgency, t.c.status)
        if town_code:
            q = q.where(t.c.town_code == town_code)
        q = q.order_by(t.c.reported_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def open_in_grid(self, grid_code: str, limit: int = 50) -> list[dict]:
        t = IncidentRow.__table__
        q = (select(t.c.id, t.c.reported_at, t.c.category, t.c.description, t.c.urgency, t.c.status)
             .where(t.c.grid_code == grid_code, t.c.status.in_(OPEN_STATUSES))
             .order_by(t.c.reported_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    _LIVE_COLUMNS = ("id", "reported_at", "town_code", "grid_code", "category", "description",
                     "lat", "lon", "base_urgency", "urgency", "status", "accepted_at", "updated_at")

    def open_incidents(self, town_code: str | None = None) -> list[dict]:
        """Open incidents with the fields the live map needs."""
        t = IncidentRow.__table__
        q = select(*[t.c[c] for c in self._LIVE_COLUMNS]).where(t.c.status.in_(OPEN_STATUSES))
        if town_code:
            q = q.where(t.c.town_code == town_code)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # ------------------------------------------------------------------ the console's list
    def _case_conditions(self, q: "CaseQuery", windows, now: datetime | None) -> list:
        t = IncidentRow.__table__
        cond = []
        if q.town:
            cond.append(t.c.town_code == q.town)
        if q.categories:
            cond.append(t.c.category.in_(q.categories))
        if q.urgencies:
            cond.append(t.c.urgency.in_(q.urgencies))
        if q.statuses:
            cond.append(t.c.status.in_(q.statuses))
        if q.grid_codes is not None:
            cond.append(t.c.grid_code.in_(q.grid_codes))
        if q.department:
            cond.append(t.c.department == q.department)
        if q.submitted_by:
            cond.append(t.c.submitted_by == q.submitted_by)
        if q.until is not None:
            cond.append(t.c.reported_at <= q.until)
        if q.after is not None:
            cond.append(t.c.reported_at > q.after)
        hexed = q.text.lower().replace("-", "")
        if q.text and 6 <= len(hexed) <= 32 and all(ch in "0123456789abcdef" for ch in hexed):
            # six or more hex digits: a case number (the console shows the first 8), found as a
            # range of the primary key on either backend
            cond.append(t.c.id.between(uuid.UUID(hexed.ljust(32, "0")), uuid.UUID(hexed.ljust(32, "f"))))
        elif q.text:
            words = [
                t.c.description.icontains(q.text, autoescape=True),
                t.c.reporter.icontains(q.text, autoescape=True),
            ]
            if q.text_grid_codes:
                words.append(t.c.grid_code.in_(q.text_grid_codes))
            if len(hexed) >= 4 and all(ch in "0123456789abcdef" for ch in hexed):
                # four or five hex digits: a case number's start, or a word
                words.append(t.c.id.between(uuid.UUID(hexed.ljust(32, "0")), uuid.UUID(hexed.ljust(32, "f"))))
            cond.append(or_(*words))
        if q.overdue:
            if now is None or windows is None:
                raise ValueError("overdue needs now and windows")
            cond.append(t.c.status.in_(OPEN_STATUSES))  # a closed case waits for nothing
            cond.append(self._due_hours(windows) < self._epoch_hours(literal(now, UTCDateTime)))
        return cond

    def _epoch_hours(self, col):
        """Hours since 1970 of a datetime column or value, on either backend."""
        if self.engine.dialect.name == "sqlite":
            return (func.julianday(col) - 2440587.5) * 24.0
        return func.extract("epoch", col) / 3600.0

    def _due_hours(self, windows):
        """The deadline an open case waits for, in hours since 1970: reported_at + its accept
        window while not accepted, + its close window after. ``windows`` maps (category,
        base urgency) to (accept hours, close hours), with ("*", "*") the default; it comes
        from the SLA table (``dashboard.core.sla.SlaPolicy.windows``), the one place of the rule."""
        t = IncidentRow.__table__
        default = windows[("*", "*")]

        def hours(i):
            # one WHEN per window other than the default: (category, urgency) pairs grouped
            by_hours: dict[float, dict[str, list[str]]] = {}
            for (c, u), w in windows.items():
                if (c, u) != ("*", "*") and w[i] != default[i]:
                    by_hours.setdefault(w[i], {}).setdefault(u, []).append(c)
            whens = [(or_(*[and_(t.c.base_urgency == u, t.c.category.in_(cs)) for u, cs in per_urgency.items()]), h)
                     for h, per_urgency in by_hours.items()]
            return case(*whens, else_=default[i]) if whens else literal(default[i])

        window = case((t.c.accepted_at.is_(None), hours(0)), else_=hours(1))
        return self._epoch_hours(t.c.reported_at) + window

    def case_page(self, q: "CaseQuery", *, sort: Sequence[tuple[str, bool]] = (), offset: int = 0,
                  limit: int = 100, windows=None, now: datetime | None = None) -> tuple[list[dict], int]:
        """One page of the console's list and the number of cases matching ``q``, both in
        SQL. ``sort``: (key, descending) pairs, keys from ``CASE_SORT_KEYS``; the newest
        report first is the tie-break, then the id, so a page never repeats or skips a row."""
        t = IncidentRow.__table__
        cond = self._case_conditions(q, windows, now)
        order = []
        for key, desc in sort:
            if key == "urgency":
                expr = case(*[(t.c.urgency == u, r) for u, r in URGENCY_RANK.items()], else_=0)
            elif key == "due":
                if windows is None:
                    raise ValueError("sorting by deadline needs windows")
                open_ = t.c.status.in_(OPEN_STATUSES)
                # closed cases wait for no deadline: after every open one, whichever direction
                order.append(case((open_, 0), else_=1))
                expr = self._due_hours(windows)
            elif key == "status":
                expr = case(*[(t.c.status == s, i) for i, s in enumerate(STATUS_ORDER)], else_=len(STATUS_ORDER))
            elif key in CASE_SORT_KEYS:
                expr = t.c[CASE_SORT_KEYS[key]]
            else:
                raise ValueError(f"cannot sort by {key!r}; one of {', '.join(CASE_SORT_KEYS)}")
            order.append(expr.desc() if desc else expr.asc())
        order += [t.c.reported_at.desc(), t.c.id.desc()]
        rows_q = (select(t.c.id, t.c.reported_at, t.c.town_code, t.c.grid_code, t.c.category, t.c.description,
                         t.c.reporter, t.c.base_urgency, t.c.urgency, t.c.status, t.c.level, t.c.department,
                         t.c.accepted_at, t.c.closed_at, t.c.version, t.c.submitted_by)
                  .where(*cond).order_by(*order).offset(max(0, offset)).limit(max(0, limit)))
        count_q = select(func.count()).select_from(t).where(*cond)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(rows_q).mappings()]
            total = conn.execute(count_q).scalar_one()
        return rows, total

    def count_cases(self, q: "CaseQuery", *, windows=None, now: datetime | None = None) -> int:
        t = IncidentRow.__table__
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t)
                                .where(*self._case_conditions(q, windows, now))).scalar_one()

    def newest_cases(self, q: "CaseQuery", limit: int = 5) -> list[dict]:
        """The newest cases matching ``q`` (id, reported_at, category, grid_code, urgency)."""
        t = IncidentRow.__table__
        rows_q = (select(t.c.id, t.c.reported_at, t.c.category, t.c.grid_code, t.c.urgency, t.c.description)
                  .where(*self._case_conditions(q, None, None))
                  .order_by(t.c.reported_at.desc(), t.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(rows_q).mappings()]

    def open_cases_for_sla(self) -> list[dict]:
        """What the SLA clock needs of every open case."""
        t = IncidentRow.__table__
        q = select(t.c.id, t.c.status, t.c.category, t.c.base_urgency, t.c.urgency, t.c.reported_at,
                   t.c.accepted_at, t.c.level, t.c.version).where(t.c.status.in_(OPEN_STATUSES))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def incidents_changed_since(self, since: datetime | None, town_code: str | None = None) -> list[dict]:
        """Incidents (open or not) whose projection changed at or after ``since``."""
        t = IncidentRow.__table__
        q = select(*[t.c[c] for c in self._LIVE_COLUMNS])
        if since is not None:
            q = q.where(t.c.updated_at >= since)
        if town_code:
            q = q.where(t.c.town_code == town_code)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]
