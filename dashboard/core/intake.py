"""Turning a validated report into its "reported" event (API, simulator, Open311 alike)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from dashboard.core.domain import Event, categories, reported_event_id
from dashboard.core.schemas import ReportIn
from dashboard.geo.geography import Geography


class FieldError(ValueError):
    """A value that is well-formed but not acceptable, e.g. a point outside the district."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


MAX_CLOCK_SKEW = timedelta(minutes=10)


def report_event(report: ReportIn, geo: Geography, now: datetime | None = None,
                 submitted_by: str | None = None) -> Event:
    """``submitted_by`` is the account that posted, taken from the server's authentication
    (never from the body): a grid worker's key reads back its own reports by it."""
    now = now or datetime.now(timezone.utc)
    if report.grid is not None:
        grid = geo.grids.get(report.grid)
        if grid is None:
            raise FieldError("grid", f"unknown grid {report.grid!r}")
        at = geo.locate(report.lat, report.lon)
        if at is None:
            raise FieldError("lat", "the point (lat, lon) is outside Luqiao District")
        if at.town_code != grid.town_code:  # a neighbouring grid is GPS jitter, another town is not
            raise FieldError("grid", f"grid {grid.code} is in town {grid.town_code} but the point (lat, lon) "
                                     f"lies in town {at.town_code}")
    else:
        grid = geo.locate(report.lat, report.lon)
        if grid is None:
            raise FieldError("lat", "the point (lat, lon) is outside Luqiao District")
    reported_at = report.reported_at.astimezone(timezone.utc) if report.reported_at else now
    if reported_at > now + MAX_CLOCK_SKEW:
        raise FieldError("reported_at", "lies in the future")
    cat = categories()[report.category]
    incident_id = report.id or uuid.uuid4()
    data = {
        "category": cat.code, "platform": cat.platform, "description": report.description,
        "lat": report.lat, "lon": report.lon, "reporter": report.reporter,
        "urgency": report.urgency or cat.urgency, "town": grid.town_code,
        "village": grid.village_code, "grid": grid.code, "photos": list(report.photos),
        "source": report.source,
    }
    if submitted_by:
        data["submitted_by"] = submitted_by
    return Event(id=reported_event_id(incident_id), incident_id=incident_id, type="reported",
                 at=reported_at, actor=report.reporter, data=data)
