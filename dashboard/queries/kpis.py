"""Key performance figures for one scope and period (see docs/kpis.md).

``compute_kpis(store, now=..., tz=..., town=..., period=...)`` answers every figure of the
command center for one scope (the district or one town) and one period, from one database
snapshot. The definitions follow DESIGN.md, "KPI definitions":

* accepted within 1 day (按时受理率): accepted ≤ 24 h after the report ÷ reports whose 24 h
  window has ended or that were accepted; a case still inside its window and not yet accepted
  is *pending*, neither a success nor a failure;
* closed within 5 days (按期办结率): the same with 5 days and the close time;
* closure rate (结案率): reports of the period that are closed now ÷ reports of the period
  (with ``open``: those still open, "n 件在办");
* overdue (超期): open cases past a deadline of the SLA table, now;
* resolution level (微事不出格…): closed cases of the period by the level that resolved them;
* ranking (排名): the towns of the district, or the villages of a town, with their period
  figures and their overdue cases now.

How it is computed: time thresholds are computed in Python (local calendar boundaries in the
configured time zone, converted to UTC); the counting is SQL aggregates
(``dashboard.queries.figures``) over the deadline outcomes stored on each case when it was
folded, so no case row is brought into Python; ``dashboard.core.metrics`` turns the counts
into rates.

Times: the database holds UTC; ``now`` must be timezone-aware; every time in the answer is an
ISO 8601 string in the local time zone (``+08:00`` for Asia/Shanghai).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from dashboard.core.domain import LEVELS
from dashboard.core.metrics import (
    DISTRICT,
    PERIODS,
    TREND_DAYS,
    iso,
    local_midnight,
    mean_hours,
    period_bounds,
    ratio,
    window,
)
from dashboard.queries import figures
from dashboard.store.incidents import Store
from dashboard.store.models import IncidentRow


class UnknownTown(ValueError):
    pass


# --------------------------------------------------------------------------- the figures

def compute_kpis(store: Store, *, now: datetime, tz: str, town: str | None = None,
                 period: str = "today", town_names: Mapping[str, str] | None = None,
                 village_names: Mapping[str, str] | None = None) -> dict:
    """Every KPI for one scope and period, as of ``now`` (see docs/kpis.md).

    ``town`` is a town code (None: the whole district). ``town_names`` (code → name) names
    the towns of the district's ranking and lists the towns that have no cases yet; when
    given, a ``town`` outside it raises ``UnknownTown``. ``village_names`` (code → name) does
    the same for the villages of a town's ranking: pass that town's villages only (for the
    district it is not used). A bad ``period`` raises ``ValueError``. Overdue follows the
    SLA table the cases were folded with (``Store.sla``).
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

    t = IncidentRow.__table__
    scope = [t.c.town_code == town] if town is not None else []
    # the ranking's unit: the towns of the district, or the villages of a town
    unit_col = t.c.town_code if town is None else t.c.village_code

    with figures.snapshot(store) as conn:
        reports_year = figures.count_reported(conn, scope, year_start, end)
        reports_month = figures.count_reported(conn, scope, month_start, end)
        reports_today = figures.count_reported(conn, scope, today_start, end)
        p = figures.period_tally(conn, scope, start, end, now, unit_col)
        o = figures.open_tally(conn, scope, now, unit_col)
        by_day = figures.reports_by_bucket(conn, scope, bounds[:-1], end, now, acceptance=True)
        closed_by_day = figures.closures_by_bucket(conn, scope, bounds[:-1], end)

    resolution = {"total": p.closed, "unknown": p.unknown_level}
    for lv in LEVELS:
        resolution[lv] = {"count": p.levels[lv], "share": ratio(p.levels[lv], p.closed)}

    rows = _ranking(p.by_unit, o.overdue_by_unit, town_names if town is None else village_names)
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
        "reports_in_period": p.reports,
        "accepted_within_1d": window(p.accept),
        "closed_within_5d": window(p.close),
        "closure_rate": {"numerator": p.closed, "denominator": p.reports,
                         "rate": ratio(p.closed, p.reports), "open": p.reports - p.closed},
        "open_red": o.by_urgency["red"],
        "open_yellow": o.by_urgency["yellow"],
        "open_green": o.by_urgency["green"],
        "open_total": o.total,
        "overdue": o.overdue,
        "mean_hours_to_accept": mean_hours(p.hours_to_accept * 3600, p.n_accepted),
        "mean_hours_to_close": mean_hours(p.hours_to_close * 3600, p.n_closed_at),
        "resolution_level": resolution,
        "ranking": ranking,
        "town_ranking": list(rows) if town is None else None,  # the district's "ranking" rows
        "trend_30d": [
            {"date": d.isoformat(), "reports": by_day[i][0], "closed": closed_by_day[i],
             "accepted_within_1d": window(by_day[i][1:])}
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
