"""The KPI tally as SQL aggregates: one place for the queries behind every figure.

``dashboard.queries.kpis`` (the wall and ``/api/v1/kpis``) and ``dashboard.queries.leaders``
(the leaders' view, which adds filters) both count with these functions, over the deadline
outcomes stored on each case when it is folded (``accept_by``, ``close_by``,
``hours_to_accept``, ``hours_to_close``, ``due_at``: ``dashboard.store.incidents.
deadline_outcomes``). No case row is brought into Python: each function answers one row per
unit, urgency or time bucket, so a figure costs what its answer costs, not what the history
costs. The formulas (``dashboard.core.metrics``) apply to these counts; docs/kpis.md is the
contract.

Every function takes an open connection, so that the figures of one answer come from one
snapshot (``snapshot``), and ``conds``: extra SQL conditions (scope, filters).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from sqlalchemy import case, func, literal, literal_column, select

from dashboard.core.domain import LEVELS, URGENCIES
from dashboard.store.incidents import Store
from dashboard.store.models import IncidentRow, UTCDateTime

T = IncidentRow.__table__
OUTCOMES = 3  # metrics.PENDING, LATE, ON_TIME


class snapshot:
    """A read transaction in which every query sees the same database state (REPEATABLE READ
    and read only on PostgreSQL, times in UTC)."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        self._cm = self.store.engine.connect()
        conn = self._cm.__enter__()
        if self.store.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self._tx = conn.begin()
        self._tx.__enter__()
        if self.store.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        return conn

    def __exit__(self, *exc):
        try:
            self._tx.__exit__(*exc)
        finally:
            self._cm.__exit__(*exc)


def _at(value: datetime):
    return literal(value, UTCDateTime)


def _flag(condition):
    return case((condition, 1), else_=0)


def outcome_flags(done_col, target_col, now: datetime) -> tuple:
    """(on time, pending) of one case against a deadline, as SQL 0/1 expressions; late = the
    rest. On time: done at or before the target; pending: not done and the target not passed
    yet (``metrics.outcome``)."""
    return (_flag(done_col <= target_col), _flag(done_col.is_(None) & (target_col >= _at(now))))


def outcome_sums(done_col, target_col, now: datetime) -> tuple:
    return tuple(func.sum(f) for f in outcome_flags(done_col, target_col, now))


def bucket_of(col, bounds: Sequence[datetime]):
    """The index i of the bucket [bounds[i], bounds[i+1]) that holds ``col`` (a time at or after
    bounds[0]), as a balanced tree of CASE expressions: log2(n) comparisons per row on either
    database, and right at local midnights and daylight-saving changes, because the bounds are
    computed in Python in the local time zone."""
    def node(lo: int, hi: int):
        if hi - lo == 1:
            return literal_column(str(lo))
        mid = (lo + hi) // 2
        return case((col < _at(bounds[mid]), node(lo, mid)), else_=node(mid, hi))
    return node(0, len(bounds))


# --------------------------------------------------------------------------- period figures

@dataclass
class PeriodTally:
    """The cases reported in a period, as they stand now, by unit (town, village or grid)."""
    reports: int = 0
    closed: int = 0
    accept: list[int] = field(default_factory=lambda: [0, 0, 0])  # PENDING, LATE, ON_TIME
    close: list[int] = field(default_factory=lambda: [0, 0, 0])
    hours_to_accept: float = 0.0
    n_accepted: int = 0
    hours_to_close: float = 0.0
    n_closed_at: int = 0
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    by_unit: dict[str, list[int]] = field(default_factory=dict)  # unit -> [reports, closed]

    @property
    def unknown_level(self) -> int:
        return self.closed - sum(self.levels.values())


def period_tally(conn, conds: list, start: datetime, end: datetime, now: datetime, unit_col) -> PeriodTally:
    """One grouped query over the cases reported in [start, end] (and ``conds``)."""
    closed = T.c.status == "closed"
    acc_on, acc_pending = outcome_sums(T.c.accepted_at, T.c.accept_by, now)
    cl_on, cl_pending = outcome_sums(T.c.closed_at, T.c.close_by, now)
    q = (select(unit_col, func.count(), func.sum(_flag(closed)), acc_on, acc_pending, cl_on, cl_pending,
                func.sum(T.c.hours_to_accept), func.count(T.c.hours_to_accept),
                func.sum(T.c.hours_to_close), func.count(T.c.hours_to_close),
                *[func.sum(_flag(closed & (T.c.resolved_level == lv))) for lv in LEVELS])
         .where(T.c.reported_at >= _at(start), T.c.reported_at <= _at(end), *conds)
         .group_by(unit_col))
    out = PeriodTally()
    for unit, n, n_closed, a_on, a_pend, c_on, c_pend, h_acc, n_acc, h_cl, n_cl, *levels in conn.execute(q):
        n_closed, a_on, a_pend, c_on, c_pend = (int(v or 0) for v in (n_closed, a_on, a_pend, c_on, c_pend))
        out.reports += n
        out.closed += n_closed
        for counts, on, pend in ((out.accept, a_on, a_pend), (out.close, c_on, c_pend)):
            counts[0] += pend
            counts[1] += n - on - pend
            counts[2] += on
        out.hours_to_accept += float(h_acc or 0.0)
        out.n_accepted += n_acc
        out.hours_to_close += float(h_cl or 0.0)
        out.n_closed_at += n_cl
        for lv, k in zip(LEVELS, levels):
            out.levels[lv] += int(k or 0)
        out.by_unit[unit] = [n, n_closed]
    return out


# --------------------------------------------------------------------------- now figures

@dataclass
class OpenTally:
    """The open cases now (any period): by current urgency, and overdue ones by unit."""
    total: int = 0
    by_urgency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(URGENCIES, 0))
    overdue: int = 0
    overdue_by_unit: dict[str, int] = field(default_factory=dict)


def open_tally(conn, conds: list, now: datetime, unit_col) -> OpenTally:
    """Open cases now and the overdue among them: ``due_at`` (set on open cases only) before
    now, i.e. ``metrics.overdue`` by the SLA table."""
    overdue = T.c.due_at < _at(now)
    q = (select(unit_col, T.c.urgency, func.count(), func.sum(_flag(overdue)))
         .where(T.c.due_at.is_not(None), *conds).group_by(unit_col, T.c.urgency))
    out = OpenTally()
    for unit, urgency, n, n_overdue in conn.execute(q):
        n_overdue = int(n_overdue or 0)
        out.total += n
        if urgency in out.by_urgency:
            out.by_urgency[urgency] += n
        if n_overdue:
            out.overdue += n_overdue
            out.overdue_by_unit[unit] = out.overdue_by_unit.get(unit, 0) + n_overdue
    return out


# --------------------------------------------------------------------------- by time

def reports_by_bucket(conn, conds: list, bounds: Sequence[datetime], end: datetime, now: datetime,
                      *, since: datetime | None = None, acceptance: bool = False) -> list[list[int]]:
    """Per bucket of ``bounds`` (the last bucket ends at ``end``), the cases reported in
    [since, end] (``since`` defaults to bounds[0] and may be later): [reports] or, with
    ``acceptance``, [reports, PENDING, LATE, ON_TIME] of the acceptance deadline."""
    since = bounds[0] if since is None else since
    # one row per case with its bucket, grouped outside (a CASE with bound parameters is
    # not the "same expression" twice for PostgreSQL's GROUP BY)
    inner = (select(bucket_of(T.c.reported_at, bounds).label("b"),
                    *([f.label(name) for f, name in
                       zip(outcome_flags(T.c.accepted_at, T.c.accept_by, now), ("on", "pend"))]
                      if acceptance else []))
             .where(T.c.reported_at >= _at(since), T.c.reported_at <= _at(end), *conds)).subquery()
    outer = [func.count()]
    if acceptance:
        outer += [func.sum(inner.c.on), func.sum(inner.c.pend)]
    rows = [[0, 0, 0, 0] if acceptance else [0] for _ in bounds]
    for b, n, *rest in conn.execute(select(inner.c.b, *outer).group_by(inner.c.b)):
        row = rows[int(b)]
        row[0] = n
        if acceptance:
            on, pend = int(rest[0] or 0), int(rest[1] or 0)
            row[1:] = [pend, n - on - pend, on]
    return rows


def closures_by_bucket(conn, conds: list, bounds: Sequence[datetime], end: datetime,
                       *, since: datetime | None = None) -> list[int]:
    """Closures in [since, end] per bucket of ``bounds`` by their own close time (whenever
    the case was reported); ``since`` defaults to bounds[0]."""
    since = bounds[0] if since is None else since
    inner = (select(bucket_of(T.c.closed_at, bounds).label("b"))
             .where(T.c.closed_at >= _at(since), T.c.closed_at <= _at(end), *conds)).subquery()
    out = [0] * len(bounds)
    for b, n in conn.execute(select(inner.c.b, func.count()).group_by(inner.c.b)):
        out[int(b)] = n
    return out


def reports_by_reporter(conn, conds: list, start: datetime, end: datetime) -> list[tuple]:
    """(reporter, grid, reports, closed now) of the cases reported in [start, end]."""
    q = (select(T.c.reporter, T.c.grid_code, func.count(), func.sum(_flag(T.c.status == "closed")))
         .where(T.c.reported_at >= _at(start), T.c.reported_at <= _at(end), *conds)
         .group_by(T.c.reporter, T.c.grid_code))
    return [(r, g, n, int(c or 0)) for r, g, n, c in conn.execute(q)]


def count_reported(conn, conds: list, since: datetime, end: datetime) -> int:
    return conn.execute(select(func.count()).select_from(T).where(
        T.c.reported_at >= _at(since), T.c.reported_at <= _at(end), *conds)).scalar_one()
