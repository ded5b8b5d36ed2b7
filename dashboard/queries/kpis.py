"""Key performance figures: the one place for their formulas (see docs/kpis.md).

``compute_kpis(store, now=..., tz=..., town=..., period=...)`` answers every figure of the
command center for one scope (the district or one town) and one period, from one database
snapshot. The definitions follow DESIGN.md, "KPI definitions":

* accepted within 1 day (按时受理率): accepted ≤ 24 h after the report ÷ reports whose 24 h
  window has ended or that were accepted; a case still inside its window and not yet accepted
  is *pending*, neither a success nor a failure;
* closed within 5 days (按期办结率): the same with 5 days and the close time;
* closure rate (结案率): reports of the period that are closed now ÷ reports of the period
  (with ``open``: those still open, "n 件在办");
* overdue (超期): open cases past a deadline, now;
* resolution level (微事不出格…): closed cases of the period by the level that resolved them;
* ranking (排名): the towns of the district, or the villages of a town, with their period
  figures and their overdue cases now.

How it is computed: time thresholds are computed in Python (local calendar boundaries in the
configured time zone, converted to UTC) and compared in SQL with bound parameters, which is
portable across SQLite and PostgreSQL. Counts that need no per-case rule are SQL aggregates
(``count`` on the indexed ``reported_at``). Figures that compare two
timestamps of one case (accepted ≤ reported + 24 h) depend on the deadline rule, which lives
in Python (``deadlines``) so that an SLA module can replace it (per category, urgency, working
days...); for those the needed columns of the cases are fetched and aggregated in plain Python.

Times: the database holds UTC; ``now`` must be timezone-aware; every time in the answer is an
ISO 8601 string in the local time zone (``+08:00`` for Asia/Shanghai).
"""
from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, String, func, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from dashboard.core import metrics
from dashboard.core.domain import LEVELS, OPEN_STATUSES, URGENCIES
from dashboard.core.metrics import (
    DISTRICT,
    PERIODS,
    TREND_DAYS,
    iso,
    local_midnight,
    mean_hours,
    outcome,
    period_bounds,
    ratio,
    window,
)
from dashboard.store.incidents import Store
from dashboard.store.models import IncidentRow


class UnknownTown(ValueError):
    pass


# --------------------------------------------------------------------------- helpers

def fast_times(dialect: str):
    """(column -> select expression, value -> aware datetime) for fetching many timestamps.

    The generic path (``UTCDateTime``'s result processing) costs ~2 µs per value on SQLite;
    there the stored text ('YYYY-MM-DD HH:MM:SS.ffffff', UTC) is fetched as it is and parsed,
    with '+00:00' appended, by ``datetime.fromisoformat`` (~0.25 µs). PostgreSQL's driver
    already returns aware datetimes (in UTC: ``compute_kpis`` sets the transaction's zone)."""
    if dialect == "sqlite":
        parse = datetime.fromisoformat
        return (lambda col: type_coerce(col, String),
                lambda v: None if v is None else parse(v + "+00:00"))
    return (lambda col: type_coerce(col, DateTime(timezone=True)), lambda v: v)


class _unindexed(FunctionElement):
    """A column, written so that SQLite does not walk an index for this term (``+column``,
    SQLite's no-op unary plus). Elsewhere just the column."""
    inherit_cache = True

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(_unindexed)
def _unindexed_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)


# --------------------------------------------------------------------------- the figures

def compute_kpis(store: Store, *, now: datetime, tz: str, town: str | None = None,
                 period: str = "today", town_names: Mapping[str, str] | None = None,
                 sla=None, village_names: Mapping[str, str] | None = None) -> dict:
    """Every KPI for one scope and period, as of ``now`` (see docs/kpis.md).

    ``town`` is a town code (None: the whole district). ``town_names`` (code → name) names
    the towns of the district's ranking and lists the towns that have no cases yet; when
    given, a ``town`` outside it raises ``UnknownTown``. ``village_names`` (code → name) does
    the same for the villages of a town's ranking: pass that town's villages only (for the
    district it is not used). A bad ``period`` raises ``ValueError``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    if town is not None and town_names is not None and town not in town_names:
        raise UnknownTown(f"unknown town {town!r}")
    zone = ZoneInfo(tz)
    now = now.astimezone(timezone.utc)
    start, end = period_bounds(period, now, zone)

    local_today = now.astimezone(zone).date()
    today_start = local_midnight(local_today, zone)
    month_start = local_midnight(local_today.replace(day=1), zone)
    year_start = local_midnight(local_today.replace(month=1, day=1), zone)
    trend_days = [local_today - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
    # bucket boundaries: midnight of each trend day, and of the day after the last one
    bounds = [local_midnight(d, zone) for d in trend_days]
    bounds.append(local_midnight(local_today + timedelta(days=1), zone))
    trend_start = bounds[0]
    fetch_from = min(start, trend_start)

    t = IncidentRow.__table__
    scope = [t.c.town_code == town] if town is not None else []
    # the ranking's unit: the towns of the district, or the villages of a town (one column
    # either way, fetched in the queries below instead of the town: no extra query or pass)
    unit_col = t.c.town_code if town is None else t.c.village_code
    rule = metrics.deadlines  # looked up now, so a replaced rule applies
    ts, to_dt = fast_times(store.dialect)

    with store.engine.connect() as conn:
        if store.dialect == "postgresql":  # every query below sees the same snapshot
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            if store.dialect == "postgresql":
                # times come back in UTC (datetime.timezone.utc), which is much cheaper to
                # compare than the session's ZoneInfo; for this transaction only
                conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
            # 1. calendar counts: SQL counts over the reported_at index (three plain counts
            #    are much cheaper than one pass with sum(case ...) on SQLite)
            rep = t.c.reported_at

            def count_since(since: datetime) -> int:
                return conn.execute(select(func.count()).select_from(t)
                                    .where(rep >= since, rep <= end, *scope)).scalar_one()

            reports_year = count_since(year_start)
            reports_month = count_since(month_start)
            reports_today = count_since(today_start)

            # 2. the cases reported in the period or in the trend's 30 days (all columns the
            #    per-case figures need; open cases among them count for the "now" figures)
            cases = conn.execute(
                select(ts(t.c.reported_at), ts(t.c.accepted_at), ts(t.c.closed_at), t.c.status,
                       t.c.resolved_level, t.c.urgency, unit_col, t.c.category, t.c.base_urgency)
                .where(rep >= fetch_from, rep <= end, *scope)
            ).all()

            # 3. the cases reported before those of query 2 that are still open
            old_open = conn.execute(
                select(ts(t.c.reported_at), ts(t.c.accepted_at), t.c.urgency, unit_col,
                       t.c.category, t.c.base_urgency)
                .where(t.c.status.in_(OPEN_STATUSES), rep < fetch_from, *scope)
            ).all()

            # 4. closures during the trend's days of cases reported before those of query 2
            #    (the others are counted from query 2). There is no index on closed_at, and
            #    SQLite would otherwise walk the reported_at index over the whole history,
            #    ~8x slower than scanning the table.
            closed_earlier = conn.execute(
                select(ts(t.c.closed_at))
                .where(t.c.closed_at >= trend_start, t.c.closed_at <= end,
                       _unindexed(rep) < fetch_from, *scope)
            ).scalars().all()

    open_statuses = frozenset(OPEN_STATUSES)
    # period figures (cases reported in [start, end])
    accept = [0, 0, 0]  # outcome counts: PENDING, LATE, ON_TIME
    close = [0, 0, 0]
    reported = closed = period_open = 0
    accept_seconds = close_seconds = 0.0
    n_accepted = n_closed_at = 0
    levels = dict.fromkeys(LEVELS, 0)
    unknown_level = 0
    by_unit: dict[str, list[int]] = {}  # town (district) or village (town) -> [reports, closed]
    # now figures (open cases)
    open_by = dict.fromkeys(URGENCIES, 0)
    n_open = overdue = 0
    overdue_by_unit: dict[str, int] = {}
    # trend: reports and their acceptance by report day; closures by their own day
    n_days = len(trend_days)
    t_reports = [0] * n_days
    t_closed = [0] * n_days
    t_accept = [[0, 0, 0] for _ in range(n_days)]

    def count_open(accept_by, close_by, a_at, urgency, unit, r_at, category, base_urgency):
        nonlocal n_open, overdue
        if sla is not None:  # "overdue" follows the SLA table (per category and urgency)
            d = sla.deadlines(category, base_urgency, r_at)
            accept_by, close_by = d.accept_by, d.close_by
        n_open += 1
        if urgency in open_by:
            open_by[urgency] += 1
        if metrics.overdue(accept_by, close_by, a_at, None, now):
            overdue += 1
            overdue_by_unit[unit] = overdue_by_unit.get(unit, 0) + 1

    for r_at, a_at, c_at, status, level, urgency, unit, category, base_urgency in cases:
        r_at, a_at, c_at = to_dt(r_at), to_dt(a_at), to_dt(c_at)
        accept_by, close_by = rule(r_at)
        acc = outcome(a_at, accept_by, now)
        if r_at >= start:
            reported += 1
            accept[acc] += 1
            close[outcome(c_at, close_by, now)] += 1
            if a_at is not None:
                n_accepted += 1
                accept_seconds += (a_at - r_at).total_seconds()
            if c_at is not None:
                n_closed_at += 1
                close_seconds += (c_at - r_at).total_seconds()
            tally = by_unit.get(unit)
            if tally is None:
                tally = by_unit[unit] = [0, 0]
            tally[0] += 1
            if status == "closed":
                closed += 1
                tally[1] += 1
                if level in levels:
                    levels[level] += 1
                else:
                    unknown_level += 1
            elif status in open_statuses:
                period_open += 1
        if r_at >= trend_start:
            i = bisect_right(bounds, r_at) - 1
            t_reports[i] += 1
            t_accept[i][acc] += 1
        if c_at is not None and trend_start <= c_at <= end:
            t_closed[bisect_right(bounds, c_at) - 1] += 1
        if status in open_statuses:
            count_open(accept_by, close_by, a_at, urgency, unit, r_at, category, base_urgency)
    for r_at, a_at, urgency, unit, category, base_urgency in old_open:
        r_at = to_dt(r_at)
        count_open(*rule(r_at), to_dt(a_at), urgency, unit, r_at, category, base_urgency)
    for c_at in closed_earlier:
        t_closed[bisect_right(bounds, to_dt(c_at)) - 1] += 1

    n_closed = closed
    resolution = {"total": n_closed, "unknown": unknown_level}
    for lv in LEVELS:
        resolution[lv] = {"count": levels[lv], "share": ratio(levels[lv], n_closed)}

    rows = _ranking(by_unit, overdue_by_unit, town_names if town is None else village_names)
    ranking = {"by": "town" if town is None else "village", "period": period, "rows": rows}

    return {
        "scope": town if town is not None else DISTRICT,
        "period": period,
        "period_start": iso(start, zone),
        "period_end": iso(end, zone),
        "data_as_of": iso(now, zone),
        "timezone": tz,
        "reports_today": reports_today,
        "reports_month": reports_month,
        "reports_year": reports_year,
        "reports_in_period": reported,
        "accepted_within_1d": window(accept),
        "closed_within_5d": window(close),
        "closure_rate": {"numerator": closed, "denominator": reported,
                         "rate": ratio(closed, reported), "open": period_open},
        "open_red": open_by["red"],
        "open_yellow": open_by["yellow"],
        "open_green": open_by["green"],
        "open_total": n_open,
        "overdue": overdue,
        "mean_hours_to_accept": mean_hours(accept_seconds, n_accepted),
        "mean_hours_to_close": mean_hours(close_seconds, n_closed_at),
        "resolution_level": resolution,
        "ranking": ranking,
        "town_ranking": list(rows) if town is None else None,  # the district's "ranking" rows
        "trend_30d": [
            {"date": d.isoformat(), "reports": t_reports[i], "closed": t_closed[i],
             "accepted_within_1d": window(t_accept[i])}
            for i, d in enumerate(trend_days)
        ],
    }


def _ranking(by_unit: dict[str, list[int]], overdue_by_unit: dict[str, int],
             names: Mapping[str, str] | None) -> list[dict]:
    """Towns (or villages) by closure rate (best first), then by reports, then by code; those
    without reports of the period last. Every named unit is listed, with or without cases;
    units with cases but no name are listed under their code."""
    names = dict(names or {})
    codes: Iterable[str] = set(names) | set(by_unit) | set(overdue_by_unit)
    rows = []
    for code in codes:
        reports, closed = by_unit.get(code, (0, 0))
        rows.append({"code": code, "name": names.get(code, code), "reports": reports,
                     "closed": closed, "closure_rate": ratio(closed, reports),
                     "overdue": overdue_by_unit.get(code, 0)})
    rows.sort(key=lambda r: (r["closure_rate"] is None, -(r["closure_rate"] or 0.0),
                             -r["reports"], r["code"]))
    return rows
