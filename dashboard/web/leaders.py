"""Exports of the leaders' view: ``GET /leaders/export.csv`` and ``GET /leaders/export.xlsx``.

Same query as the page (``/leaders?town=&grid=&period=&category=&urgency=&status=&lang=``);
the rows are recomputed here for the principal of the session (or API key), whose scope the
server applies (dashboard.queries.leaders.scoped): another town's data answers 403, an unknown town
or grid 404, as JSON (dashboard.web.security's error handler). Every case of the selection,
newest first, at most ``leaders.EXPORT_LIMIT``; ``X-Total-Count`` says how many matched,
``X-Exported-Count`` how many rows the file holds. The rows stream from one read transaction
(``dashboard.queries.exports``): CSV as it is read, Excel through a temporary file.
"""
from __future__ import annotations

import tempfile
from contextlib import ExitStack

from flask import Blueprint, Response, abort, current_app, request, stream_with_context
from werkzeug.wsgi import wrap_file

from dashboard.i18n import lang_of
from dashboard.queries import exports, leaders
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
    f = leaders.parse_query(query)
    stack = ExitStack()  # what the response holds until it is sent
    try:
        if fmt == "xlsx":  # a zip is written whole before it is sent: to a temporary file, and the
            body = stack.enter_context(tempfile.TemporaryFile(suffix=".xlsx"))  # read ends then
            with exports.open_export(rt, p, f, lang) as data:
                exports.write_xlsx(data, lang, body)
            body.seek(0)
            body = wrap_file(request.environ, body)
        else:              # CSV goes out as it is read, inside the export's read transaction
            data = stack.enter_context(exports.open_export(rt, p, f, lang))
            body = stream_with_context(exports.csv_chunks(data))
    except BaseException:
        stack.close()
        raise
    current_app.logger.info("leaders export: %s %s %s rows (%s matching) by %s", fmt,
                            data.filters.grid or data.filters.town or "district", data.exported,
                            data.total, p.username)
    resp = Response(body, content_type=FORMATS[fmt], direct_passthrough=fmt == "xlsx", headers={
        "Content-Disposition": f'attachment; filename="{exports.export_filename(data, fmt)}"',
        "Cache-Control": "no-store",
        "X-Total-Count": str(data.total),
        "X-Exported-Count": str(data.exported),
    })
    resp.call_on_close(stack.close)
    return resp
