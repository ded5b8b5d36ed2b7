"""Exports of the leaders' view: ``GET /leaders/export.csv`` and ``GET /leaders/export.xlsx``.

Same query as the page (``/leaders?town=&grid=&period=&category=&urgency=&status=&lang=``);
the rows are recomputed here for the principal of the session (or API key), whose scope the
server applies (dashboard.queries.leaders.scoped): another town's data answers 403, an unknown town
or grid 404, as JSON (dashboard.web.security's error handler). Every case of the selection,
newest first, at most ``leaders.EXPORT_LIMIT``; ``X-Total-Count`` says how many matched.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request

from dashboard.i18n import lang_of
from dashboard.queries import leaders
from dashboard.web.security import require_principal

bp = Blueprint("leaders_api", __name__)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _query() -> dict[str, str]:
    """The query parameters as single strings (the last value of a repeated one, as the
    page's router reads them)."""
    return {k: request.args.getlist(k)[-1] for k in request.args}


@bp.get("/leaders/export.<fmt>")
def export(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    p = require_principal()
    query = _query()
    lang = lang_of(query.get("lang"))
    rt = current_app.extensions["griddash"]
    data = leaders.export_table(rt, p, leaders.parse_query(query), lang)
    body = leaders.to_csv(data.header, data.rows) if fmt == "csv" else leaders.to_xlsx(data, lang)
    current_app.logger.info("leaders export: %s %s %s rows (%s matching) by %s", fmt,
                            data.filters.grid or data.filters.town or "district", len(data.rows),
                            data.total, p.username)
    return Response(body, content_type=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{leaders.export_filename(data, fmt)}"',
        "Cache-Control": "no-store",
        "X-Total-Count": str(data.total),
        "X-Exported-Count": str(len(data.rows)),
    })
