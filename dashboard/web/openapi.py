"""The API's contract as an OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Written by hand next to the routes it describes (``dashboard.web.api``, ``camera_api``,
``kpis_api``); the report body's schema is ``ReportIn``'s own JSON Schema, so a field added
there shows here. tests/integration/test_report_api.py checks that the document is valid
OpenAPI and that every ``/api/v1`` route of the app is in it: a new route without its entry
here fails that test.
"""
from __future__ import annotations

from dashboard.core.actions import (
    LEVEL_ACTIONS,
    MAX_STEP_PHOTOS,
    PHOTO_ACTIONS,
    REQUIRED,
    ActionIn,
    required_groups,
)
from dashboard.core.domain import LEVELS, URGENCIES, categories
from dashboard.core.metrics import PERIODS
from dashboard.core.schemas import ReportIn

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _resp(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json_content(schema: dict, example=None) -> dict:
    media: dict = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _ok(description: str, schema: dict, media: str = "application/json", headers: dict | None = None) -> dict:
    out: dict = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _required_fields() -> dict:
    """The fields each action requires (``actions.REQUIRED``, the one list), as words and as
    JSON Schema conditions: a required text must hold more than white space."""
    words, rules = [], []
    for action in REQUIRED:
        groups = required_groups(action)
        alternatives = [" or ".join(f"`{n}`" for n in g) for g in groups]
        words.append(f"`{action}`: " + " and ".join(a if len(g) == 1 else f"({a})"
                                                    for a, g in zip(alternatives, groups)))
        given = [[{"required": [n], "properties": {n: {"pattern": "\\S"}}} for n in g] for g in groups]
        rules.append({"if": {"properties": {"action": {"const": action}}, "required": ["action"]},
                      "then": {"allOf": [alts[0] if len(alts) == 1 else {"anyOf": alts} for alts in given]}})
    levels = " and ".join(f"`{a}`" for a in LEVEL_ACTIONS)
    return {"description": "Fields an action requires besides `expected_version` (else 422 naming the "
                           f"field): {'; '.join(words)}. {levels} may name a `level` ({', '.join(LEVELS)}).",
            "allOf": rules}


PUBLIC: list = []   # an operation anyone may call
SIGNED_IN = None    # the document's default: an API key or a signed-in session


def _op(summary: str, responses: dict, *, tag: str, params: list | None = None, body: dict | None = None,
        security=SIGNED_IN, description: str = "", operation_id: str = "") -> dict:
    op: dict = {"summary": summary, "tags": [tag], "operationId": operation_id, "responses": responses}
    if description:
        op["description"] = description
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if security is not None:
        op["security"] = security
    return op


def _path_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


INCIDENT_ID = _path_param("incident_id", "the incident's UUID (400 when it is not one)",
                          {"type": "string", "format": "uuid"})
CAMERA_ID = _path_param("camera_id", "a camera id from GET /api/v1/cameras")
TOWN = _query("town", "a town code (e.g. 331004103), or `district`/absent for the whole district. "
                      "A principal bound to a town gets its own town for the district and 403 for "
                      "another town; handlers and reporters get 403.")
WIDTH = _query("w", "frame width in pixels", {"type": "integer", "enum": [320, 480, 640, 960], "default": 480})


# --------------------------------------------------------------------------- schemas

def _schemas() -> dict:
    report = ReportIn.model_json_schema(ref_template=REF)
    defs = report.pop("$defs", {})
    report["properties"]["category"]["enum"] = sorted(categories())
    report["properties"]["category"]["description"] = "a category code from GET /api/v1/categories"
    report["properties"]["lat"]["description"] = "WGS84 latitude; the point must lie in Luqiao District"
    report["properties"]["lon"]["description"] = "WGS84 longitude"
    report["properties"]["id"]["description"] = (
        "the client's own UUID for the report: posting the same id again is harmless (stored once)")
    report["properties"]["photos"]["description"] = (
        "URLs of photos kept elsewhere; photo files go in multipart `photos` parts (at most 10 in all)")
    report["example"] = {"category": "fire_hazard", "description": "商户违规使用明火，存在安全隐患",
                         "lat": 28.5231, "lon": 121.4147, "reporter": "网格员陈君辉"}
    field_error = {"type": "object", "required": ["field", "message"], "properties": {
        "field": {"type": "string", "description": "the field, part or header concerned, e.g. `lat`, `photos[0]`"},
        "message": {"type": "string"}}}
    error = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "description": "what is wrong and how to fix it"},
        "fields": {"type": "array", "items": _ref("FieldError")}},
        "additionalProperties": True}
    accepted = {"type": "object", "required": ["id", "status", "stream_id", "grid", "town", "urgency"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"const": "accepted_for_processing"},
                    "stream_id": {"type": "string"},
                    "grid": {"type": "string"}, "town": {"type": "string"},
                    "urgency": {"enum": list(URGENCIES)},
                    "photos": {"type": "array", "items": {"type": "string"},
                               "description": "URLs of the photo files stored with this report"}}}
    action_in = {**ActionIn.model_json_schema(ref_template=REF), **_required_fields()}
    action_done = {"type": "object", "properties": {
        "id": {"type": "string", "format": "uuid"}, "event_id": {"type": "string", "format": "uuid"},
        "action": {"type": "string"}, "version": {"type": "integer"}, "status": {"type": "string"},
        "actor": {"type": "string"}}}
    incident = {"type": "object", "description": "a stored case, with its audit trail",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"type": "string"}, "version": {"type": "integer"},
                    "town_code": {"type": "string"}, "grid_code": {"type": "string"},
                    "category": {"type": "string"}, "description": {"type": "string"},
                    "urgency": {"type": "string"}, "reporter": {"type": "string"},
                    "reported_at": {"type": "string", "format": "date-time"},
                    "photos": {"type": "array", "items": {"type": "string"}},
                    "department": {"type": ["string", "null"]},
                    "submitted_by": {"type": ["string", "null"]},
                    "events": {"type": "array", "items": {"type": "object"}}},
                "additionalProperties": True}
    camera = {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "town_code": {"type": "string"},
        "village_code": {"type": "string"}, "grid_code": {"type": "string"},
        "lat": {"type": "number"}, "lon": {"type": "number"},
        "kind": {"enum": ["sim", "mjpeg", "snapshot", "hls", "embed"]},
        "status": {"enum": ["online", "offline"]},
        "last_seen": {"type": ["string", "null"], "format": "date-time"},
        "distance_m": {"type": "number"},
        "feed": {"type": "object", "properties": {"type": {"type": "string"}, "src": {"type": "string"},
                                                  "mjpeg": {"type": "string"}}}}}
    loose = {"type": "object", "additionalProperties": True}
    return {"ReportIn": report, **defs, "FieldError": field_error, "Error": error, "Accepted": accepted,
            "ActionIn": action_in, "ActionAccepted": action_done, "Incident": incident, "Camera": camera,
            "Categories": loose, "FeatureCollection": {**loose, "description": "GeoJSON FeatureCollection"},
            **_kpi_schemas(),
            "Health": {**loose, "description": "redis, database, stream_length, lag, pending, incidents, status"}}


def _kpi_schemas() -> dict:
    """The answer of GET /api/v1/kpis (docs/kpis.md). Objects stay open to added fields."""
    count = {"type": "integer", "minimum": 0}
    share = {"type": ["number", "null"], "minimum": 0, "maximum": 1,
             "description": "a fraction 0…1; null when there is nothing to divide by"}
    hours = {"type": ["number", "null"], "minimum": 0}
    local_time = {"type": "string", "format": "date-time", "description": "ISO 8601 with the local offset"}
    window = {"type": "object", "required": ["numerator", "denominator", "rate", "pending"],
              "description": "on time ÷ (on time + late); `pending`: not done and not due yet, in neither part",
              "properties": {"numerator": count, "denominator": count, "rate": share, "pending": count}}
    closure = {"type": "object", "required": ["numerator", "denominator", "rate", "open"],
               "description": "the period's cases closed now ÷ the period's cases; `open`: those still open",
               "properties": {"numerator": count, "denominator": count, "rate": share, "open": count}}
    level = {"type": "object", "required": ["count", "share"], "properties": {"count": count, "share": share}}
    row = {"type": "object", "required": ["code", "name", "reports", "closed", "closure_rate", "overdue"],
           "description": "reports, closed and closure_rate over the period; overdue: open and overdue now",
           "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "reports": count,
                          "closed": count, "closure_rate": share, "overdue": count}}
    ranking = {"type": "object", "required": ["by", "period", "rows"],
               "description": "the district's towns, or a town's villages; best closure rate first, "
                              "units without reports of the period last",
               "properties": {"by": {"enum": ["town", "village"]},
                              "period": {"enum": list(PERIODS)},
                              "rows": {"type": "array", "items": _ref("KpiRankingRow")}}}
    day = {"type": "object", "required": ["date", "reports", "closed", "accepted_within_1d"],
           "properties": {"date": {"type": "string", "format": "date"}, "reports": count, "closed": count,
                          "accepted_within_1d": _ref("KpiWindow")}}
    kpis = {"type": "object", "description": "the figures of docs/kpis.md", "additionalProperties": True,
            "required": ["scope", "period", "period_start", "period_end", "data_as_of", "timezone",
                         "reports_today", "reports_month", "reports_year", "reports_in_period",
                         "accepted_within_1d", "closed_within_5d", "closure_rate", "open_red", "open_yellow",
                         "open_green", "open_total", "overdue", "mean_hours_to_accept", "mean_hours_to_close",
                         "resolution_level", "ranking", "town_ranking", "trend_30d"],
            "properties": {
                "scope": {"type": "string", "description": "`district` or a town code"},
                "period": {"enum": list(PERIODS)},
                "period_start": local_time, "period_end": local_time,
                "data_as_of": {**local_time, "description": "the instant the figures describe"},
                "timezone": {"type": "string"},
                "reports_today": count, "reports_month": count, "reports_year": count,
                "reports_in_period": count,
                "accepted_within_1d": _ref("KpiWindow"), "closed_within_5d": _ref("KpiWindow"),
                "closure_rate": _ref("KpiClosureRate"),
                "open_red": count, "open_yellow": count, "open_green": count, "open_total": count,
                "overdue": count, "mean_hours_to_accept": hours, "mean_hours_to_close": hours,
                "resolution_level": {"type": "object", "required": ["total", "unknown", *LEVELS],
                                     "properties": {"total": count, "unknown": count,
                                                    **dict.fromkeys(LEVELS, level)}},
                "ranking": _ref("KpiRanking"),
                "town_ranking": {"type": ["array", "null"], "items": _ref("KpiRankingRow"),
                                 "description": "the district's `ranking` rows; null for a town (kept for "
                                                "older clients: read `ranking`)"},
                "trend_30d": {"type": "array", "minItems": 30, "maxItems": 30, "items": day}}}
    return {"Kpis": kpis, "KpiWindow": window, "KpiClosureRate": closure, "KpiRanking": ranking,
            "KpiRankingRow": row}


def _responses() -> dict:
    def err(description: str) -> dict:
        return {"description": description, "content": _json_content(_ref("Error"))}
    return {
        "BadRequest": err("unreadable request (not JSON, not an object, a bad id or parameter)"),
        "Unauthorized": err("no valid API key and no signed-in session"),
        "Forbidden": err("the principal's role or town does not allow this"),
        "NotFound": err("unknown, or outside the principal's scope (answered alike)"),
        "Conflict": err("the case changed meanwhile, the action is not allowed in its status, or a "
                        "request with the same Idempotency-Key is still being processed"),
        "TooLarge": err("the body, the report part or a photo is larger than allowed"),
        "Unsupported": err("neither application/json nor multipart/form-data"),
        "Invalid": err("readable but invalid: `fields` names each field, part or photo and what is wrong"),
        "Unavailable": err("Redis or the database is unavailable; retry later (nothing was accepted)"),
    }


# --------------------------------------------------------------------------- paths

def _body_with_photos(settings, part: str, schema: str, max_photos: int, note: str = "") -> dict:
    """JSON, or multipart: a ``part`` holding the same JSON and up to ``max_photos`` photo files."""
    image = {"type": "string", "contentMediaType": "application/octet-stream",
             "description": f"a JPEG, PNG or WebP image (checked by content), at most "
                            f"{settings.max_photo_bytes} bytes{note}"}
    return {"required": True, "content": {
        "application/json": {"schema": _ref(schema)},
        "multipart/form-data": {
            "schema": {"type": "object", "required": [part], "properties": {
                part: _ref(schema),
                "photos": {"type": "array", "maxItems": max_photos, "items": image}}},
            "encoding": {part: {"contentType": "application/json"},
                         "photos": {"contentType": "image/jpeg, image/png, image/webp"}}}}}


def _report_body(settings) -> dict:
    return _body_with_photos(settings, "report", "ReportIn", settings.max_photos)


def _action_body(settings) -> dict:
    """A step as JSON, or (办结 with photos of the result) multipart: an 'action' part with the
    same JSON and 'photos' files, checked like a report's."""
    return _body_with_photos(settings, "action", "ActionIn", MAX_STEP_PHOTOS,
                             f"; only for {', '.join(PHOTO_ACTIONS)}")


def _incident_paths(settings) -> dict:
    idem = {"name": "Idempotency-Key", "in": "header", "required": False,
            "description": "1-128 printable ASCII characters chosen by the client: a repeat with the same "
                           "key and report answers the first 202 again (header Idempotent-Replayed: true) "
                           "without publishing; another report under the same key is 422; a repeat while "
                           "the first is in flight is 409. Kept 24 h per account or key.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x20-\\x7e]+$"}}
    errors = {"400": _resp("BadRequest"), "401": _resp("Unauthorized"), "403": _resp("Forbidden")}
    return {
        "/api/v1/incidents": {"post": _op(
            "Report an incident (JSON, or multipart with photos)", operation_id="postIncident", tag="incidents",
            description="Accepted for processing: the case is stored a moment later by the persister. "
                        "Roles admin, operator (inside its own town only) and reporter. Photos: at most "
                        f"{settings.max_photos} files of {settings.max_photo_bytes} bytes; a file that is not "
                        "a JPEG, PNG or WebP image by its content (whatever its name), truncated, with data "
                        "after the image or too many pixels is 422. Nothing is stored for a refused report.",
            params=[idem], body=_report_body(settings),
            responses={"202": _ok("accepted for processing", _ref("Accepted"), headers={
                "Location": {"schema": {"type": "string"}, "description": "the case's URL"},
                "Idempotent-Replayed": {"schema": {"const": "true"},
                                        "description": "present when this is a stored answer"}}),
                **errors, "409": _resp("Conflict"), "413": _resp("TooLarge"), "415": _resp("Unsupported"),
                "422": _resp("Invalid"), "503": _resp("Unavailable")})},
        "/api/v1/incidents/{incident_id}": {"get": _op(
            "A stored case and its audit trail", operation_id="getIncident", tag="incidents",
            params=[INCIDENT_ID],
            responses={"200": _ok("the case", _ref("Incident")), **errors, "404": _resp("NotFound")})},
        "/api/v1/incidents/{incident_id}/actions": {"post": _op(
            "One step of the closed loop on a case", operation_id="postAction", tag="incidents",
            description="Allowed actions depend on the role (operator: all in its town; handler: start, "
                        "resolve, return on its department's cases; leader: supervise). The actor "
                        "recorded is the principal. A case not stored yet answers 404.",
            params=[INCIDENT_ID], body=_action_body(settings),
            responses={"202": _ok("appended", _ref("ActionAccepted")), **errors, "404": _resp("NotFound"),
                       "409": _resp("Conflict"), "422": _resp("Invalid"), "503": _resp("Unavailable")})},
        "/api/v1/incidents/{incident_id}/photos/{name}": {"get": _op(
            "A photo stored with a report", operation_id="getPhoto", tag="incidents",
            description="Served with the Content-Type it was stored as, `X-Content-Type-Options: nosniff` "
                        "and `Content-Disposition: inline`, to principals who may see the case.",
            params=[INCIDENT_ID, _path_param("name", "`<sha256>.jpg|png|webp`, from the case's photos",
                                             {"type": "string", "pattern": "^[0-9a-f]{64}\\.(jpg|png|webp)$"})],
            responses={"200": {"description": "the image", "content": {
                t: {"schema": {"type": "string", "contentMediaType": t}}
                for t in ("image/jpeg", "image/png", "image/webp")}},
                **errors, "404": _resp("NotFound")})},
    }


def _map_paths() -> dict:
    geojson = {"application/geo+json": {"schema": _ref("FeatureCollection")}}
    return {
        "/api/v1/geo/{name}": {"get": _op(
            "Reference geography", operation_id="getGeo", tag="map",
            params=[_path_param("name", "one of the files", {"enum": ["grids.geojson", "towns.geojson",
                                                                      "district_outline.geojson"]})],
            responses={"200": {"description": "GeoJSON", "content": geojson},
                       "401": _resp("Unauthorized"), "404": _resp("NotFound")})},
        "/api/v1/live/markers.geojson": {"get": _op(
            "Open incidents as map markers", operation_id="getMarkers", tag="map",
            params=[TOWN, _query("v", "any value; a new one makes browsers reload"),
                    _query("layer", "`clustered`: only the cases the wall clusters (without the red cases "
                                    "that wait for acceptance or are overdue); default: every open case",
                           {"type": "string", "enum": ["clustered"]})],
            responses={"200": {"description": "GeoJSON points, ETag for conditional requests", "content": geojson},
                       "304": {"description": "not modified"}, "401": _resp("Unauthorized"),
                       "403": _resp("Forbidden"), "404": _resp("NotFound")})},
        "/api/v1/kpis": {"get": _op(
            "KPI figures of the district or a town", operation_id="getKpis", tag="map",
            params=[TOWN, _query("period", "the reporting period",
                                 {"enum": list(PERIODS), "default": "today"})],
            responses={"200": _ok("the figures", _ref("Kpis")), "400": _resp("BadRequest"),
                       "401": _resp("Unauthorized"), "403": _resp("Forbidden"), "404": _resp("NotFound")})},
    }


def _camera_paths() -> dict:
    scoped = {"401": _resp("Unauthorized"), "403": _resp("Forbidden"), "404": _resp("NotFound")}
    jpeg = {"image/jpeg": {"schema": {"type": "string", "contentMediaType": "image/jpeg"}}}
    return {
        "/api/v1/cameras": {"get": _op(
            "Cameras in the principal's scope", operation_id="listCameras", tag="cameras",
            params=[TOWN, _query("near", "`lat,lon`: the nearest cameras first"),
                    _query("k", "how many near cameras", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _query("page", "page number (from 0)", {"type": "integer", "minimum": 0}),
                    _query("size", "page size", {"type": "integer", "minimum": 1, "maximum": 100})],
            responses={"200": _ok("cameras", {"type": "array", "items": _ref("Camera")}),
                       "400": _resp("BadRequest"), **scoped})},
        "/api/v1/cameras/{camera_id}": {"get": _op(
            "One camera", operation_id="getCamera", tag="cameras", params=[CAMERA_ID],
            responses={"200": _ok("the camera", _ref("Camera")), **scoped})},
        "/cameras/{camera_id}/snapshot.jpg": {"get": _op(
            "A frame of a simulated camera", operation_id="getSnapshot", tag="cameras",
            params=[CAMERA_ID, WIDTH],
            responses={"200": {"description": "JPEG", "content": jpeg}, "400": _resp("BadRequest"), **scoped,
                       "503": _resp("Unavailable")})},
        "/cameras/{camera_id}/mjpeg": {"get": _op(
            "MJPEG stream of a simulated camera (~2 fps, at most 10 minutes)", operation_id="getMjpeg",
            tag="cameras",
            params=[CAMERA_ID, WIDTH, _query("seconds", "stream length", {"type": "number", "exclusiveMinimum": 0})],
            responses={"200": {"description": "multipart/x-mixed-replace of JPEG frames", "content": {
                "multipart/x-mixed-replace": {"schema": {"type": "string"}}}},
                "400": _resp("BadRequest"), **scoped, "503": _resp("Unavailable")})},
    }


def _public_paths() -> dict:
    return {
        "/api/v1/categories": {"get": _op(
            "Platforms and incident categories", operation_id="listCategories", tag="reference",
            security=PUBLIC, responses={"200": _ok("platforms and categories", _ref("Categories"))})},
        "/api/v1/openapi.json": {"get": _op(
            "This document", operation_id="getOpenapi", tag="reference", security=PUBLIC,
            responses={"200": _ok("OpenAPI 3.1", {"type": "object"})})},
        "/healthz": {"get": _op(
            "Health of Redis, the database and the pipeline", operation_id="getHealth", tag="reference",
            security=PUBLIC, responses={"200": _ok("healthy", _ref("Health")),
                                        "503": _ok("Redis or the database is down", _ref("Health"))})},
    }


def document(settings) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "路桥区全科网格综合指挥平台 API (Luqiao grid governance command center)",
            "version": "1",
            "description": "Reports, cases and their closed loop, map data and cameras. Authenticate "
                           "with an API key (`Authorization: Bearer gdk_...` or `X-API-Key`) or the "
                           "session cookie of a signed-in browser (state-changing requests then need "
                           "the `X-CSRFToken` header). What a principal sees is its role's scope; a case "
                           "outside it answers 404. Errors: `{\"error\": str, \"fields\": [{\"field\", "
                           "\"message\"}]}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerKey": []}, {"headerKey": []}, {"session": []}],
        "tags": [{"name": n} for n in ("incidents", "map", "cameras", "reference")],
        "paths": {**_incident_paths(settings), **_map_paths(), **_camera_paths(), **_public_paths()},
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "securitySchemes": {
                "bearerKey": {"type": "http", "scheme": "bearer", "bearerFormat": "gdk_<prefix>_<secret>",
                              "description": "an API key (python -m dashboard keys create)"},
                "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "griddash_session",
                            "description": "signed in at /login; unsafe methods also need X-CSRFToken"},
            },
        },
    }
