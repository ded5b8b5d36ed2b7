"""The KPI formulas: deadlines, outcomes, rates and periods (see docs/kpis.md).

Pure functions over times and counts, with no database: ``dashboard.queries.kpis`` and
``dashboard.queries.leaders`` fetch what they need and apply these, so a figure means the same
on the wall, in the API and in the leaders' view.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

PERIODS = ("today", "7d", "30d", "year")
TREND_DAYS = 30
DISTRICT = "district"

ACCEPT_WITHIN = timedelta(days=1)   # 1天内受理
CLOSE_WITHIN = timedelta(days=5)    # 5天内办结


Deadlines = tuple[datetime, datetime]  # (accept by, close by)


def deadlines(reported_at: datetime) -> Deadlines:
    """The deadlines ``(accept_by, close_by)`` of a case reported at ``reported_at`` (an
    aware datetime): accept within 24 h, close within 5 days. A case acted on exactly at its deadline is on time; it is late (and, if still
    open, overdue) only once ``now`` is strictly after the deadline.

    The one place for the rule: an SLA module may replace it (``metrics.deadlines = ...``); it
    is looked up at call time by every figure that depends on it.
    """
    return reported_at + ACCEPT_WITHIN, reported_at + CLOSE_WITHIN  # a plain tuple: cheap


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator ÷ denominator, or None when there is nothing to divide by (never 100 %
    from nothing)."""
    return numerator / denominator if denominator else None


def iso(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).isoformat()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


PENDING, LATE, ON_TIME = 0, 1, 2  # outcome of one case against one deadline


def outcome(done_at: datetime | None, deadline: datetime, now: datetime) -> int:
    """ON_TIME: done at or before the deadline; LATE: done after it, or not done and the
    deadline has passed (now strictly after it); PENDING: not done and not due yet."""
    if done_at is not None:
        return ON_TIME if done_at <= deadline else LATE
    return LATE if now > deadline else PENDING


def window(counts: list[int]) -> dict:
    """A within-deadline figure from outcome counts: on time ÷ (on time + late); pending
    cases are reported but counted in neither."""
    on_time, late = counts[ON_TIME], counts[LATE]
    return {"numerator": on_time, "denominator": on_time + late,
            "rate": ratio(on_time, on_time + late), "pending": counts[PENDING]}


def overdue(accept_by: datetime, close_by: datetime, accepted_at: datetime | None,
             closed_at: datetime | None, now: datetime) -> bool:
    return ((accepted_at is None and now > accept_by)
            or (closed_at is None and now > close_by))


def is_overdue(reported_at: datetime, accepted_at: datetime | None,
               closed_at: datetime | None, now: datetime) -> bool:
    """An (open) case is overdue when it is not accepted after its accept deadline, or not
    closed after its close deadline; at the deadline itself it is not late yet."""
    return overdue(*deadlines(reported_at), accepted_at, closed_at, now)


def mean_hours(total_seconds: float, n: int) -> float | None:
    return total_seconds / n / 3600 if n else None


def period_bounds(period: str, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end] of a period in UTC; end is ``now``. today = since local midnight,
    7d / 30d = rolling windows ending now, year = since local 1 January."""
    local_today = now.astimezone(zone).date()
    if period == "today":
        start = local_midnight(local_today, zone)
    elif period == "7d":
        start = now - timedelta(days=7)
    elif period == "30d":
        start = now - timedelta(days=30)
    elif period == "year":
        start = local_midnight(local_today.replace(month=1, day=1), zone)
    else:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    return start.astimezone(timezone.utc), now.astimezone(timezone.utc)
