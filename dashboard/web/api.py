"""The native HTTP API (a Flask blueprint mounted on the Dash server) and /healthz.

Who is asking is ``flask.g.principal`` (``dashboard.web.security``); what it may see and do is
``dashboard.core.access``. Nothing a client says about itself (an ``actor``, a town) widens its scope:

* a case outside the principal's scope answers 404, exactly like a case that does not exist;
* town views (markers, KPIs, cameras) of a principal bound to a town show that town: asking
  for the district gives its own town, asking for another town is 403;
* the actor of an action and the ``submitted_by`` of a report are the principal.

Reports (``POST /api/v1/incidents``) come as JSON, or as ``multipart/form-data`` with a
``report`` part (the same JSON) and up to ``max_photos`` files in ``photos`` parts
(``dashboard.store.photos``); an ``Idempotency-Key`` header makes retries safe
(``dashboard.web.idempotency``). Refused input answers ``{"error": str, "fields": [{"field",
"message"}]}``: 400 unreadable (not JSON, not an object), 413 too large, 415 neither JSON nor
multipart, 422 readable but invalid (a field, or a photo that is not a JPEG/PNG/WebP image by
its content); nothing is stored then. The contract is ``GET /api/v1/openapi.json``.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import orjson
from flask import Blueprint, Response, current_app, request, send_file
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.core import access
from dashboard.core.access import AccessDenied, Principal
from dashboard.core.actions import ACTIONS, MAX_ACTOR, MAX_FIELD, MAX_NOTE, PHOTO_ACTIONS, ActionError, ActionIn
from dashboard.core.domain import PLATFORMS, categories
from dashboard.core.intake import FieldError, report_event
from dashboard.core.schemas import ReportIn, field_errors
from dashboard.geo.basemap import shift_geojson, tile_preset
from dashboard.geo.geography import geo_path
from dashboard.store import photos
from dashboard.stream.commands import Commands
from dashboard.stream.events import REDIS_ERRORS, group_status
from dashboard.web import idempotency
from dashboard.web.errors import json_error, json_response
from dashboard.web.openapi import document
from dashboard.web.security import current_principal, require_principal

bp = Blueprint("api", __name__)

NOT_STORED = "no stored incident with this id (a report just posted may still be on its way)"
MAX_PHOTO_URLS = 10          # a stored report keeps at most this many photo URLs (schemas.ReportData)
DISTRICT = "district"


def runtime():
    return current_app.extensions["griddash"]




class ApiError(Exception):
    """Refused input: answered as ``{"error", "fields"}`` with ``status``."""

    def __init__(self, status: int, message: str, fields: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def _invalid(kind: str, fields: list[dict], status: int = 422) -> ApiError:
    return ApiError(status, f"invalid {kind}: " + "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                    fields)


@bp.app_errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, exc.fields)


@bp.app_errorhandler(idempotency.IdempotencyError)
def _idempotency_error(exc: idempotency.IdempotencyError):
    return json_error(exc.status, exc.message, [{"field": idempotency.HEADER, "message": exc.message}])


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    s = runtime().settings
    return json_error(413, f"request body too large: a report may have at most {s.max_body_bytes} bytes of "
                       f"JSON and {s.max_photos} photos of at most {s.max_photo_bytes} bytes each")


def upload_limit(settings) -> int:
    """The largest body a report with photos may have."""
    return settings.max_photos * settings.max_photo_bytes + settings.max_body_bytes


@bp.record_once
def _cap_request_bodies(state):
    """No request to this app may be larger than a report with all its photos, checked by
    werkzeug before anything reads the body (the CSRF check reads forms before any view runs)."""
    cfg = state.app.config
    if cfg.get("MAX_CONTENT_LENGTH") is None:
        cfg["MAX_CONTENT_LENGTH"] = upload_limit(state.app.extensions["griddash"].settings)


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(400, "incident id must be a UUID, e.g. 3f2b8c1e-5d4a-4c3b-9a2e-1f0e7d6c5b4a") from None


def visible_case(p: Principal, iid: uuid.UUID, with_events: bool = True) -> dict:
    """The stored case if ``p`` may see it; a case outside its scope answers like an unknown one."""
    inc = runtime().store.get_incident(iid, with_events=with_events)
    try:
        return access.require_case(p, inc)
    except AccessDenied:
        raise AccessDenied(NOT_STORED, status=404) from None


# --------------------------------------------------------------------------- reference data

@bp.get("/api/v1/categories")
def list_categories():
    cats = [c.as_dict() for c in categories().values()]
    return json_response({"platforms": [{"code": k, "name": v["zh"], "name_en": v["en"]} for k, v in PLATFORMS.items()],
                  "categories": cats})


@bp.get("/api/v1/openapi.json")
def openapi_document():
    """The API's contract (OpenAPI 3.1), public like the categories."""
    ext = current_app.extensions
    if "griddash.openapi" not in ext:
        ext["griddash.openapi"] = orjson.dumps(document(runtime().settings))
    return Response(ext["griddash.openapi"], mimetype="application/json",
                    headers={"Cache-Control": "max-age=300"})


# --------------------------------------------------------------------------- reports

@dataclass
class Submission:
    """A report as it arrived, before validation: its JSON object and its photo files."""
    report: dict
    uploads: list[bytes] = field(default_factory=list)

    def fingerprint(self) -> str:
        return idempotency.fingerprint(self.report, [hashlib.sha256(d).hexdigest() for d in self.uploads])


def _json_object(raw: bytes, part: str = "body") -> dict:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"{part} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"{part} must be a JSON object (the report's fields)")
    return body


def _read_json(settings) -> Submission:
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"body larger than {limit} bytes")
    return Submission(_json_object(raw))


def _read_multipart(settings, part: str = "report") -> Submission:
    """A multipart body: one JSON part named ``part`` ('report', or 'action' for a step) and up
    to ``max_photos`` files named 'photos', within the same limits."""
    limit = upload_limit(settings)
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body larger than {limit} bytes ({settings.max_photos} photos of at most "
                            f"{settings.max_photo_bytes} bytes and the report)")
    request.max_content_length = limit
    request.max_form_memory_size = settings.max_body_bytes
    request.max_form_parts = settings.max_photos + 8
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        raise ApiError(413, f"body too large: at most {settings.max_photos} photos of {settings.max_photo_bytes} "
                            f"bytes, and a report part of at most {settings.max_body_bytes} bytes") from None
    unknown = sorted((set(form) | set(files)) - {part, "photos"})
    if unknown:
        raise _invalid("request", [{"field": n, "message": f"unknown part; send '{part}' and 'photos'"}
                                   for n in unknown])
    return Submission(_json_part(form, files, settings.max_body_bytes, part), _photo_parts(form, files, settings))


def _json_part(form, files, limit: int, part: str = "report") -> dict:
    parts = [v.encode() for v in form.getlist(part)] + [f.stream.read(limit + 1) for f in files.getlist(part)]
    if len(parts) != 1:
        raise _invalid("request", [{"field": part, "message":
                                    f"send exactly one '{part}' part holding the {part} as JSON"}])
    if len(parts[0]) > limit:
        raise ApiError(413, f"the {part} part is larger than {limit} bytes")
    return _json_object(parts[0], f"the {part} part")


def _photo_parts(form, files, settings) -> list[bytes]:
    if form.getlist("photos"):
        raise _invalid("request", [{"field": "photos", "message": "photos must be sent as files"}])
    uploads = files.getlist("photos")
    if len(uploads) > settings.max_photos:
        raise _invalid("request", [{"field": "photos", "message":
                                    f"{len(uploads)} photos; at most {settings.max_photos} per report"}])
    out = []
    for i, upload in enumerate(uploads):
        data = upload.stream.read(settings.max_photo_bytes + 1)
        if len(data) > settings.max_photo_bytes:
            raise ApiError(413, f"photos[{i}] is larger than {settings.max_photo_bytes} bytes; send a smaller photo",
                           [{"field": f"photos[{i}]", "message": f"larger than {settings.max_photo_bytes} bytes"}])
        out.append(data)
    return out


def read_submission(settings) -> Submission:
    mimetype = request.mimetype
    if mimetype == "application/json":
        return _read_json(settings)
    if mimetype == "multipart/form-data":
        return _read_multipart(settings)
    raise ApiError(415, "send the report as JSON with Content-Type: application/json, or as "
                        "multipart/form-data with a 'report' part (JSON) and 'photos' files")


def _validated(sub: Submission, settings) -> tuple[ReportIn, list[photos.Photo]]:
    try:
        report = ReportIn.model_validate(sub.report)
    except ValidationError as exc:
        raise _invalid("report", field_errors(exc)) from None
    checked = []
    for i, data in enumerate(sub.uploads):
        try:
            checked.append(photos.check_photo(data, f"photos[{i}]", settings.max_photo_bytes))
        except photos.PhotoError as exc:
            raise _invalid("photo", [{"field": exc.field, "message": exc.message}], exc.status) from None
    if len(report.photos) + len(checked) > MAX_PHOTO_URLS:
        raise _invalid("report", [{"field": "photos", "message":
                                   f"at most {MAX_PHOTO_URLS} photos in all (URLs and files)"}])
    return report, checked


def _accept(p: Principal, sub: Submission) -> Response:
    """Validate, store the photos, publish: 202, or an error with nothing kept."""
    rt = runtime()
    report, checked = _validated(sub, rt.settings)
    iid = report.id or uuid.uuid4()
    urls = [photos.photo_url(iid, ph.name) for ph in checked]
    report = report.model_copy(update={"id": iid, "photos": [*report.photos, *urls]})
    try:
        event = report_event(report, rt.geo, submitted_by=p.username)
    except FieldError as exc:
        raise _invalid("report", [{"field": exc.field, "message": exc.message}]) from None
    access.require_report(p, event.data["town"])
    written = _store_photos(rt, iid, checked, client_id=sub.report.get("id") is not None)
    try:
        entry = rt.publisher.publish(event)
    except Exception:  # Redis unavailable: the client must retry; nothing was kept
        photos.remove(written)
        current_app.logger.exception("publishing a report failed")
        return json_error(503, "the incident stream is unavailable; retry later (the report was not accepted)")
    return json_response({"id": str(iid), "status": "accepted_for_processing", "stream_id": entry,
                  "grid": event.data["grid"], "town": event.data["town"], "urgency": event.data["urgency"],
                  "photos": urls},
                 202, headers={"Location": f"/api/v1/incidents/{iid}"})


def _store_photos(rt, iid: uuid.UUID, checked: list, client_id: bool) -> list:
    if not checked:
        return []
    if client_id and rt.store.get_incident(iid, with_events=False) is not None:
        return []  # a repeat of a stored report: its event is a duplicate, its files are kept already
    return photos.store(rt.settings.photos_path, iid, checked)


@bp.post("/api/v1/incidents")
def post_incident():
    p = require_principal()
    access.require_report(p)
    key = request.headers.get(idempotency.HEADER)
    if key is not None:
        idempotency.check_key(key)
    sub = read_submission(runtime().settings)
    if key is None:
        return _accept(p, sub)
    try:
        return idempotency.run(runtime().redis, p, key, sub.fingerprint(), lambda: _accept(p, sub))
    except REDIS_ERRORS:
        return json_error(503, "the incident stream is unavailable; retry later (the report was not accepted)")


@bp.get("/api/v1/incidents/<incident_id>/photos/<name>")
def get_photo(incident_id: str, name: str):
    """A photo of a case the principal may see, served as the image type it was stored as."""
    p = require_principal()
    iid = parse_id(incident_id)
    path = photos.path_of(runtime().settings.photos_path, iid, name)
    if path is None:
        raise ApiError(404, "no such photo: names are <sha256>.jpg|png|webp, as listed in the case's photos")
    inc = visible_case(p, iid, with_events=False)
    if photos.photo_url(iid, name) not in (inc.get("photos") or []) or not path.is_file():
        raise ApiError(404, "no such photo of this case")
    resp = send_file(path, mimetype=photos.CONTENT_TYPES[name.rsplit(".", 1)[1]], conditional=True,
                     etag=True, max_age=None)
    resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


# --------------------------------------------------------------------------- cases

def _action_body(body) -> tuple[str, int, str, dict]:
    """(action, expected_version, note, data) from the body, or ApiError naming the fields.
    An ``actor`` in the body is accepted for older clients and ignored: the actor is the
    principal."""
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object with Content-Type: application/json")
    try:
        step = ActionIn.model_validate(body)
    except ValidationError as exc:
        problems = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "body"
            problems.setdefault(name, {"field": name, "message": ACTION_FIELD_MESSAGES.get(name, err["msg"])})
        raise _invalid("action", list(problems.values())) from None
    return step.action, step.expected_version, step.note.strip(), step.fields_given()


# What a refused field of a step's body must be (ActionIn's rules, in words).
ACTION_FIELD_MESSAGES = {
    "action": "this field is required",
    "expected_version": "a positive integer is required",
    "note": f"text of at most {MAX_NOTE} characters",
    "department": f"text of at most {MAX_FIELD} characters", "handler": f"text of at most {MAX_FIELD} characters",
    "level": f"text of at most {MAX_FIELD} characters",
    "actor": f"text of at most {MAX_ACTOR} characters (ignored: the actor is the signed-in account or the API "
             "key's user)",
}


@bp.post("/api/v1/incidents/<incident_id>/actions")
def post_action(incident_id: str):
    """One step of the closed loop: ``{"action": "accept", "expected_version": 1}`` plus the
    action's fields (``department``, ``handler``, ``note``, ``level``). 409 when the action is
    not allowed in the case's status or the case changed since ``expected_version``; nothing
    is written then. The actor recorded is the principal.

    办结 (resolve) may carry photos of the result: send multipart/form-data with an 'action' part
    (the same JSON) and 'photos' files, checked like a report's photos."""
    p = require_principal()
    if not access.ROLE_ACTIONS.get(p.role):
        raise AccessDenied(f"role {p.role} may not act on cases")
    iid = parse_id(incident_id)
    rt = runtime()
    if request.mimetype == "multipart/form-data":
        sub = _read_multipart(rt.settings, part="action")
        body, uploads = sub.report, sub.uploads
    else:
        body, uploads = request.get_json(silent=True), []
    action, version, note, data = _action_body(body)
    inc = visible_case(p, iid, with_events=False)
    if action in ACTIONS:  # an unknown action is Commands' 422, naming the known ones
        access.require_action(p, inc, action)
    if uploads and action not in PHOTO_ACTIONS:
        raise _invalid("action", [{"field": "photos", "message": f"only {', '.join(PHOTO_ACTIONS)} carries photos"}])
    checked = []
    for i, raw in enumerate(uploads):
        try:
            checked.append(photos.check_photo(raw, f"photos[{i}]", rt.settings.max_photo_bytes))
        except photos.PhotoError as exc:
            raise _invalid("photo", [{"field": exc.field, "message": exc.message}], exc.status) from None
    try:  # a refused step keeps none of its photos
        with photos.kept_if_done(rt.settings.photos_path, iid, checked) as urls:
            res = Commands(rt.redis, rt.store, rt.settings.stream).act(
                iid, action, expected_version=version, actor=p.label[:64], note=note, data=data, photos=urls)
    except REDIS_ERRORS:
        return json_error(503, "the incident stream is unavailable; retry later (nothing was changed)")
    except ActionError as exc:
        body = {"error": exc.message, **exc.extra}
        if "field" in exc.extra:
            body["fields"] = [{"field": exc.extra["field"], "message": exc.message}]
        return json_response(body, exc.http_status)
    return json_response({"id": str(res.incident_id), "event_id": str(res.event_id), "action": res.action,
                  "version": res.version, "status": res.status, "actor": p.label[:64]}, 202)


@bp.get("/api/v1/incidents/<incident_id>")
def get_incident(incident_id: str):
    p = require_principal()
    return json_response(visible_case(p, parse_id(incident_id)))


# --------------------------------------------------------------------------- map data

@bp.get("/api/v1/geo/<name>")
def geo_file(name: str):
    """Reference geography (grids, towns, district outline), cached by the browser."""
    require_principal()
    allowed = {"grids.geojson", "towns.geojson", "district_outline.geojson"}
    if name not in allowed:
        return json_error(404, f"unknown file; one of {sorted(allowed)}")
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
    and shared by every viewer of the same scope (the screen's map layer loads this URL; a new
    ``v`` = reload). ``town``: as ``access.resolve_town``. ``layer=clustered``: only the cases the
    wall clusters (it draws the red cases that need the command room now as their own layer)."""
    town = access.resolve_town(require_principal(), request.args.get("town"))
    if town is not None and town not in runtime().geo.towns:
        return json_error(404, f"unknown town {town!r}; use a town code, or omit town for the district")
    snap = current_app.extensions["griddash.live"].snapshot(town)
    clustered = request.args.get("layer") == "clustered"  # the wall's clustered layer only
    etag = f"{town or DISTRICT}-{'c' if clustered else 'a'}-{snap.etag}"
    headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache",
               "Vary": "Accept-Encoding, Cookie, Authorization, X-API-Key"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    if "gzip" in (request.headers.get("Accept-Encoding") or ""):
        headers["Content-Encoding"] = "gzip"
        body = snap.markers_gzip if clustered else snap.all_markers_gzip
    else:
        body = snap.markers_json if clustered else snap.all_markers_json
    return Response(body, mimetype="application/geo+json", headers=headers)


@bp.route("/api/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_api_path(rest: str):
    """A JSON 404 for a mistyped API path (instead of the Dash app's HTML page)."""
    return json_error(404, f"no API route /api/v1/{rest}; the routes are listed in /api/v1/openapi.json")


# --------------------------------------------------------------------------- health

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
    if current_principal() is None:  # load balancers and probes: the state, not the details
        for detail in ("incidents", "redis_error", "database_error"):
            body.pop(detail, None)
    return json_response(body, 200 if ok else 503)
