"""The native HTTP API (a Flask blueprint mounted on the Dash server) and /healthz."""
from __future__ import annotations

import uuid

import orjson
from flask import Blueprint, Response, current_app, request, send_file
from pydantic import ValidationError

from functools import lru_cache

from .basemap import shift_geojson, tile_preset
from .domain import PLATFORMS, categories
from .intake import FieldError, report_event
from .schemas import ReportIn, field_errors
from .stream import REDIS_ERRORS, group_status

bp = Blueprint("api", __name__)


def runtime():
    return current_app.extensions["griddash"]


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body, default=str), status=status, headers=headers,
                    mimetype="application/json")


def _error(status: int, message: str, fields: list | None = None) -> Response:
    body: dict = {"error": message}
    if fields:
        body["fields"] = fields
    return _json(body, status)


@bp.get("/api/v1/categories")
def list_categories():
    cats = [c.as_dict() for c in categories().values()]
    return _json({"platforms": [{"code": k, "name": v["zh"], "name_en": v["en"]} for k, v in PLATFORMS.items()],
                  "categories": cats})


@bp.post("/api/v1/incidents")
def post_incident():
    rt = runtime()
    limit = rt.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _error(413, f"body larger than {limit} bytes")
    if not request.mimetype or request.mimetype != "application/json":
        return _error(415, "send the report as JSON with Content-Type: application/json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _error(400, f"body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    try:
        report = ReportIn.model_validate(body)
        event = report_event(report, rt.geo)
    except ValidationError as exc:
        errs = field_errors(exc)
        return _error(422, "invalid report: " + "; ".join(f"{e['field']}: {e['message']}" for e in errs), errs)
    except FieldError as exc:
        return _error(422, f"invalid report: {exc.field}: {exc.message}",
                      [{"field": exc.field, "message": exc.message}])
    try:
        entry = rt.publisher.publish(event)
    except Exception:  # Redis unavailable: the client must retry; nothing was written
        current_app.logger.exception("publishing a report failed")
        return _error(503, "the incident stream is unavailable; retry later (the report was not accepted)")
    iid = str(event.incident_id)
    return _json({"id": iid, "status": "accepted_for_processing", "stream_id": entry,
                  "grid": event.data["grid"], "town": event.data["town"], "urgency": event.data["urgency"]},
                 202, headers={"Location": f"/api/v1/incidents/{iid}"})


@bp.post("/api/v1/incidents/<incident_id>/actions")
def post_action(incident_id: str):
    """One step of the closed loop: ``{"action": "accept", "expected_version": 1, "actor": ...}``
    plus the action's fields (``department``, ``handler``, ``note``, ``level``). 409 when the
    action is not allowed in the case's status or the case changed since ``expected_version``;
    nothing is written then."""
    from .commands import ActionError, Commands

    try:
        iid = uuid.UUID(incident_id)
    except ValueError:
        return _error(400, "incident id must be a UUID")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object")
    problems = []
    action, version, actor = body.get("action"), body.get("expected_version"), body.get("actor")
    if not isinstance(action, str):
        problems.append({"field": "action", "message": "this field is required"})
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append({"field": "expected_version", "message": "a positive integer is required"})
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 64:
        problems.append({"field": "actor", "message": "a name of 1 to 64 characters is required"})
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        problems.append({"field": "note", "message": "text of at most 2000 characters"})
    data = {k: body[k] for k in ("department", "handler", "level") if body.get(k) is not None}
    if any(not isinstance(v, str) or len(v) > 64 for v in data.values()):
        problems.append({"field": ",".join(data), "message": "text of at most 64 characters"})
    if problems:
        return _error(422, "invalid action: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                      problems)
    rt = runtime()
    try:
        res = Commands(rt.redis, rt.store, rt.settings.stream).act(
            iid, action, expected_version=version, actor=actor.strip(), note=note.strip(), data=data)
    except REDIS_ERRORS:
        return _error(503, "the incident stream is unavailable; retry later (nothing was changed)")
    except ActionError as exc:
        body = {"error": exc.message, **exc.extra}
        if "field" in exc.extra:
            body["fields"] = [{"field": exc.extra["field"], "message": exc.message}]
        return _json(body, exc.http_status)
    return _json({"id": str(res.incident_id), "event_id": str(res.event_id), "action": res.action,
                  "version": res.version, "status": res.status}, 202)


@bp.get("/api/v1/incidents/<incident_id>")
def get_incident(incident_id: str):
    try:
        iid = uuid.UUID(incident_id)
    except ValueError:
        return _error(400, "incident id must be a UUID")
    inc = runtime().store.get_incident(iid)
    if inc is None:
        return _error(404, "no stored incident with this id (a report just posted may still be on its way)")
    return _json(inc)


@bp.get("/api/v1/geo/<name>")
def geo_file(name: str):
    """Reference geography (grids, towns, district outline), cached by the browser."""
    from .geo import geo_path

    allowed = {"grids.geojson", "towns.geojson", "district_outline.geojson"}
    if name not in allowed:
        return _error(404, f"unknown file; one of {sorted(allowed)}")
    settings = runtime().settings
    path = geo_path(settings, name)
    if tile_preset(settings.tile_preset, url=settings.tile_url, tianditu_key=settings.tianditu_key).gcj02:
        # Amap tiles are GCJ-02: draw our WGS84 data where those tiles put things.
        return Response(_shifted(str(path), path.stat().st_mtime), mimetype="application/geo+json",
                        headers={"Cache-Control": "max-age=3600"})
    return send_file(path, mimetype="application/geo+json", conditional=True, max_age=3600)


@lru_cache(maxsize=8)
def _shifted(path: str, _mtime: float) -> bytes:
    import json
    return orjson.dumps(shift_geojson(json.loads(open(path, encoding="utf-8").read())))


@bp.get("/api/v1/live/markers.geojson")
def live_markers():
    """Open incidents as GeoJSON points for the map, serialised and compressed once per change
    and shared by every viewer (the screen's map layer loads this URL; a new ``v`` = reload)."""
    town = request.args.get("town") or None
    if town is not None and town not in runtime().geo.towns:
        return _error(404, f"unknown town {town!r}")
    snap = current_app.extensions["griddash.live"].snapshot(town)
    if request.if_none_match.contains(snap.etag):
        return Response(status=304, headers={"ETag": f'"{snap.etag}"'})
    headers = {"ETag": f'"{snap.etag}"', "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if "gzip" in (request.headers.get("Accept-Encoding") or ""):
        headers["Content-Encoding"] = "gzip"
        body = snap.markers_gzip
    else:
        body = snap.markers_json
    return Response(body, mimetype="application/geo+json", headers=headers)


@bp.get("/healthz")
def healthz():
    rt = runtime()
    s = rt.settings
    body: dict = {"redis": False, "database": False}
    try:
        rt.redis.ping()
        body["redis"] = True
        body.update(group_status(rt.redis, s.stream, s.group))
        body["dead_letters"] = rt.redis.xlen(s.dead_letter_stream)
    except Exception as exc:
        body["redis_error"] = str(exc)[:200]
    try:
        body["incidents"] = rt.store.count_incidents()
        body["database"] = True
    except Exception as exc:
        body["database_error"] = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    ok = body["redis"] and body["database"]
    body["status"] = "ok" if ok else "unavailable"
    return _json(body, 200 if ok else 503)
