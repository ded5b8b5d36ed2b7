"""``GET /api/v1/kpis``: the KPI figures of ``dashboard.queries.kpis`` as JSON (a Flask blueprint).

Query parameters: ``town`` (a town code; absent, empty or ``district`` = the whole district)
and ``period`` (``today`` | ``7d`` | ``30d`` | ``year``; default ``today``). Answers 200 with
``compute_kpis``'s figures as of the moment of the request (computed for the request, not
shared through the wall's ``KpiBoard``), 400 for a bad period, 404 for an unknown town. A
town's ``ranking`` ranks its villages, named from the geography. Definitions: docs/kpis.md.

Scope (``access.resolve_town``): a principal bound to a town (an operator, a town's kiosk) gets its
town's figures when it asks for the district or for nothing, and 403 for another town;
handlers and reporters have no town views (403).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, request

from dashboard.core import access
from dashboard.core.metrics import PERIODS
from dashboard.queries.kpi_board import village_names
from dashboard.queries.kpis import compute_kpis
from dashboard.web.api import runtime
from dashboard.web.errors import json_error, json_response
from dashboard.web.security import require_principal

bp = Blueprint("kpis_api", __name__)


@bp.get("/api/v1/kpis")
def get_kpis():
    rt = runtime()
    town = access.resolve_town(require_principal(), request.args.get("town"))
    period = request.args.get("period", "today")
    if period not in PERIODS:
        message = f"period must be one of {', '.join(PERIODS)}"
        return json_error(400, f"invalid period {period!r}: {message}",
                      [{"field": "period", "message": message}])
    town_names = {code: row.get("name", code) for code, row in rt.geo.towns.items()}
    if town is not None and town not in town_names:
        return json_error(404, f"unknown town {town!r}; use a town code such as "
                           f"{next(iter(town_names), '331004103')}, or omit town for the district")
    # whole seconds, so that "data_as_of" is both readable and the exact instant used
    now = datetime.now(timezone.utc).replace(microsecond=0)
    body = compute_kpis(rt.store, now=now, tz=rt.settings.timezone, town=town, period=period,
                        town_names=town_names,
                        village_names=village_names(rt.geo, town) if town is not None else None)
    return json_response(body, headers={"Cache-Control": "no-store"})
