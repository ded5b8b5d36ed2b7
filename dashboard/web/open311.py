"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``.

Endpoints, each as ``.json`` or ``.xml`` (any other extension: 404 in the JSON error format):

* ``GET discovery``, ``GET services``, ``GET services/<code>``: public;
* ``GET requests`` (filters: service_request_id, service_code, start_date, end_date, status),
  ``GET requests/<id>``, ``GET tokens/<token>``: with an API key, the rows the key's account
  may see (``dashboard.core.access``); without one only when OPEN311_PUBLIC_READ is on, and then only
  the public fields;
* ``POST requests``: form-encoded, with a key whose role may post reports.

Open311 does not use the browser session: a key comes as ``api_key`` (query string, or form
field on POST) or in the ``Authorization: Bearer`` / ``X-API-Key`` header, which the server has
already turned into ``flask.g.principal``. Every error answers in the spec's format,
``[{"code": 400, "description": "..."}]`` or ``<errors><error>...</error></errors>``. See
docs/open311.md.
"""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import wraps
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson
from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from dashboard.core import access
from dashboard.core.access import AccessDenied, Principal
from dashboard.core.domain import PLATFORMS, STATUS_NAMES, URGENCY_STYLE, categories
from dashboard.core.intake import FieldError, report_event
from dashboard.core.schemas import ReportIn, field_errors
from dashboard.core.sla import default_policy
from dashboard.store.models import IncidentRow
from dashboard.stream.events import REDIS_ERRORS, TRANSIENT_DB_ERRORS

bp = Blueprint("open311", __name__)

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-27T00:00:00+08:00"  # when this endpoint last changed
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_RESULTS = 1000
MAX_RANGE = timedelta(days=90)
TOKEN_TTL_S = 7 * 86400
TOKEN_KEY = "open311:token:{}"
TOKEN_RE = re.compile(r"^\d{1,20}-\d{1,20}$")
W3C_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$")
DECIMAL_RE = re.compile(r"^[+-]?(\d{1,3}(\.\d{0,15})?|\.\d{1,15})$")
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CJK = re.compile("[\u3400-\u9fff]")
# XML: the element name of a list's items, by the list's own element name
LIST_ITEMS = {"service_requests": "request", "services": "service", "errors": "error",
              "endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}
# Names in our report model -> the names an Open311 client sent them as
FORM_NAMES = {"category": "service_code", "lat": "lat", "lon": "long", "description": "description",
              "reporter": "attribute[reporter]", "urgency": "attribute[urgency]", "grid": "attribute[grid]",
              "photos": "media_url", "photos.0": "media_url"}


class Open311Error(Exception):
    """An answer in the spec's error format with this HTTP status."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class Reply:
    root: str                      # the XML root element; a list's items get LIST_ITEMS[root]
    body: list | dict
    status: int = 200
    headers: dict = field(default_factory=dict)


def runtime():
    return current_app.extensions["griddash"]


# --------------------------------------------------------------------------- rendering

def _xml_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return XML_INVALID.sub("", str(value))


def _fill(el: ET.Element, value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(ET.SubElement(el, k), v)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(el, LIST_ITEMS[el.tag]), item)
    elif value is not None:
        el.text = _xml_text(value)


def to_xml(root: str, body) -> bytes:
    el = ET.Element(root)
    _fill(el, body)
    return ET.tostring(el, encoding="utf-8", xml_declaration=True)


def render(reply: Reply, fmt: str) -> Response:
    data = orjson.dumps(reply.body) if fmt == "json" else to_xml(reply.root, reply.body)
    return Response(data, status=reply.status, headers=reply.headers, content_type=FORMATS[fmt])


def error_response(status: int, description: str, fmt: str = "json") -> Response:
    return render(Reply("errors", [{"code": status, "description": description}], status,
                        {"Cache-Control": "no-store"}), fmt)


@bp.errorhandler(429)
def too_many(exc) -> Response:
    """A rate limit (``RATE_LIMIT_API``) was hit: say so in Open311's error format."""
    return error_response(429, f"too many requests ({exc.description}); slow down and retry later",
                          "xml" if request.path.endswith(".xml") else "json")


def endpoint(rule: str, methods=("GET",)):
    """Register ``rule`` + ``.<fmt>``: the view returns a ``Reply`` (or raises Open311Error),
    rendered in the asked format."""
    def register(view):
        @wraps(view)
        def wrapper(fmt: str, **kw):
            if fmt not in FORMATS:
                return error_response(404, f"unknown format {fmt[:16]!r}: use .json or .xml")
            try:
                return render(view(**kw), fmt)
            except Open311Error as exc:
                return error_response(exc.status, exc.description, fmt)
            except REDIS_ERRORS:
                current_app.logger.exception("open311: Redis unavailable")
                return error_response(503, "a service is unavailable; retry later", fmt)
            except TRANSIENT_DB_ERRORS:
                current_app.logger.exception("open311: database unavailable")
                return error_response(503, "the database is unavailable; retry later", fmt)
        bp.add_url_rule(f"{PREFIX}/{rule}.<fmt>", view_func=wrapper, methods=list(methods))
        return wrapper
    return register


@bp.route("/open311/", methods=["GET", "POST"], defaults={"rest": ""})
@bp.route("/open311/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str):
    """Anything else under /open311/: the spec's error format instead of an HTML page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    other = "GET" if request.method == "POST" else "POST"
    try:
        rule, _ = adapter.match(method=other, return_rule=True)
        if rule.endpoint != request.endpoint:
            return error_response(405, f"{request.method} is not allowed here; use {other}")
    except HTTPException:
        pass
    return error_response(404, f"no such Open311 endpoint; see {PREFIX}/discovery.json")


# --------------------------------------------------------------------------- callers

def lang() -> str:
    asked = request.values.get("lang")
    if asked in ("zh", "en"):
        return asked
    return request.accept_languages.best_match(["zh", "en"], default="zh")


def pick(zh: str, en: str) -> str:
    return en if lang() == "en" else zh


def caller() -> Principal | None:
    """The principal of the request's API key: ``api_key`` (query string; on POST also the
    form) first, else the header key the server resolved. The browser session is not used."""
    raw = request.values.get("api_key") if request.method == "POST" else request.args.get("api_key")
    if g.get("bad_key"):  # the server found the key (parameter or header) invalid
        raise Open311Error(403, "invalid api_key (unknown, revoked or malformed)")
    if raw:
        p = current_app.extensions["griddash.accounts"].authenticate_key(raw)
        if p is None:
            raise Open311Error(403, "invalid api_key (unknown, revoked or malformed)")
        return p
    return g.get("principal") if g.get("by_key") else None


def reader() -> Principal | None:
    """Who reads requests: a key's principal, or None for a keyless reader when public read is on."""
    p = caller()
    if p is None and not runtime().settings.open311_public_read:
        raise Open311Error(403, "api_key required: send api_key or an Authorization: Bearer header")
    return p


def poster() -> Principal:
    p = caller()
    if p is None:
        raise Open311Error(403, "api_key required to post service requests")
    try:
        access.require_report(p)
    except AccessDenied as exc:
        raise Open311Error(403, exc.message) from None
    return p


# --------------------------------------------------------------------------- services

def service(code: str) -> dict:
    c = categories()[code]
    platform = PLATFORMS[c.platform]
    urgency = URGENCY_STYLE[c.urgency]
    return {
        "service_code": c.code,
        "service_name": pick(c.name_zh, c.name_en),
        "description": pick(f"{platform['zh']} · {c.name_zh}（默认紧急程度：{urgency['zh']}）",
                            f"{c.name_en} ({platform['en']}); default urgency: {urgency['en']}"),
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join((c.code, c.platform, c.name_zh, c.name_en)),
        "group": pick(platform["zh"], platform["en"]),
    }


def attributes(code: str) -> list[dict]:
    default = URGENCY_STYLE[categories()[code].urgency]
    urgency_values = [{"key": k, "name": pick(v["zh"], v["en"])} for k, v in URGENCY_STYLE.items()]
    return [
        {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "", "order": 1,
         "description": pick(f"紧急程度（不填则为{default['zh']}）", f"Urgency (default: {default['en']})"),
         "values": urgency_values},
        {"variable": True, "code": "grid", "datatype": "string", "required": False,
         "datatype_description": pick("网格编码，如 331004106001", "a grid code, e.g. 331004106001"),
         "order": 2, "description": pick("网格（不填则按坐标定位）", "Grid (default: the grid containing lat/long)"),
         "values": []},
        {"variable": True, "code": "reporter", "datatype": "string", "required": True,
         "datatype_description": pick("1 至 64 个字符", "1 to 64 characters"), "order": 3,
         "description": pick("上报人姓名（或填 first_name/last_name）",
                             "Reporter's name (or send first_name/last_name)"),
         "values": []},
    ]


@endpoint("discovery")
def discovery() -> Reply:
    url = request.url_root.rstrip("/") + PREFIX
    return Reply("discovery", {
        "changeset": CHANGESET,
        "contact": pick("路桥区全科网格综合指挥中心（系统管理员）", "Luqiao District grid command center (system administrator)"),
        "key_service": pick("API 密钥由系统管理员签发：python -m dashboard keys create --user <账号>",
                            "API keys are issued by the administrator: python -m dashboard keys create --user <account>"),
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }, headers={"Cache-Control": "max-age=300", "Vary": "Accept-Language"})


@endpoint("services")
def services() -> Reply:
    return Reply("services", [service(code) for code in categories()],
                 headers={"Cache-Control": "max-age=300", "Vary": "Accept-Language"})


@endpoint("services/<code>")
def service_definition(code: str) -> Reply:
    if code not in categories():
        raise Open311Error(404, f"unknown service_code {code[:64]!r}; see {PREFIX}/services.json")
    return Reply("service_definition", {"service_code": code, "attributes": attributes(code)},
                 headers={"Cache-Control": "max-age=300", "Vary": "Accept-Language"})


# --------------------------------------------------------------------------- reading requests

@dataclass
class Query:
    ids: list[uuid.UUID] | None = None
    codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] | None = None


def comma_list(name: str) -> list[str] | None:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    return [v.strip() for v in raw.split(",") if v.strip()]


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise Open311Error(400, f"service_request_id must be a UUID, got {raw[:40]!r}") from None


def parse_datetime(name: str) -> datetime | None:
    """A W3C datetime with an offset (2026-11-01T00:00:00Z, ...+08:00), or a date (midnight
    in the district's time zone). A '+' that the query string turned into a space is put back."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().replace(" ", "+")
    if not W3C_RE.match(value):
        raise Open311Error(400, f"{name} must be a W3C datetime with a time zone, e.g. "
                                f"2026-11-01T00:00:00+08:00 or 2026-11-01T00:00:00Z; got {raw[:40]!r}")
    try:
        if "T" not in value:
            return datetime.combine(date.fromisoformat(value), time(), ZoneInfo(runtime().settings.timezone))
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} is not a valid date or time: {exc}") from None


def date_range() -> tuple[datetime | None, datetime | None]:
    """The spec's window: at most 90 days; by default the most recent 90 days."""
    start, end = parse_datetime("start_date"), parse_datetime("end_date")
    if start and end:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_RANGE:
            raise Open311Error(400, "start_date to end_date may span at most 90 days")
        return start, end
    if start:
        return start, start + MAX_RANGE
    if end:
        return end - MAX_RANGE, end
    return datetime.now(timezone.utc) - MAX_RANGE, None


def query_from_args() -> Query:
    ids = comma_list("service_request_id")
    if ids:  # overrides every other filter
        if len(ids) > MAX_RESULTS:
            raise Open311Error(400, f"at most {MAX_RESULTS} service_request_id values")
        return Query(ids=[parse_id(v) for v in ids])
    codes = comma_list("service_code")
    unknown_codes = [c for c in codes or () if c not in categories()]
    if unknown_codes:
        raise Open311Error(400, f"unknown service_code {unknown_codes[0][:64]!r}; see {PREFIX}/services.json")
    statuses = comma_list("status")
    bad = [s for s in statuses or () if s not in ("open", "closed")]
    if bad:
        raise Open311Error(400, f"unknown status {bad[0][:32]!r}: use open, closed (comma-separated)")
    start, end = date_range()
    return Query(codes=codes, start=start, end=end, statuses=set(statuses) if statuses else None)


REQUEST_COLUMNS = ("id", "reported_at", "town_code", "grid_code", "category", "description", "lat", "lon",
                   "reporter", "base_urgency", "photos", "status", "department", "submitted_by",
                   "last_event_at", "updated_at")
SCOPE_COLUMNS = {"town": "town_code", "department": "department", "submitted_by": "submitted_by"}


def select_requests(q: Query, scope: dict) -> list[dict]:
    """The requests matching ``q`` within ``scope`` (``access.case_filter``), newest first."""
    t = IncidentRow.__table__
    stmt = select(*[t.c[c] for c in REQUEST_COLUMNS])
    if q.ids is not None:
        stmt = stmt.where(t.c.id.in_(q.ids))
    if q.codes:
        stmt = stmt.where(t.c.category.in_(q.codes))
    if q.start is not None:
        stmt = stmt.where(t.c.reported_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(t.c.reported_at <= q.end)
    if q.statuses == {"open"}:
        stmt = stmt.where(t.c.status != "closed")
    elif q.statuses == {"closed"}:
        stmt = stmt.where(t.c.status == "closed")
    for key, value in scope.items():
        stmt = stmt.where(t.c[SCOPE_COLUMNS[key]] == value)
    stmt = stmt.order_by(t.c.reported_at.desc(), t.c.id.desc()).limit(MAX_RESULTS)
    with runtime().store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def w3c(dt: datetime | None) -> str:
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(runtime().settings.timezone)).isoformat(timespec="seconds")


def address(row: dict) -> str:
    geo = runtime().geo
    town = geo.towns.get(row["town_code"]) or {}
    grid = geo.grids.get(row["grid_code"])
    town_name = pick(town.get("name") or row["town_code"], town.get("name_en") or town.get("name") or row["town_code"])
    return f"{town_name} · {grid.name if grid else row['grid_code']}"


def media_url(row: dict) -> str:
    photos = row.get("photos") or []
    if not photos:
        return ""
    url = str(photos[0])
    return url if urlsplit(url).scheme else request.url_root.rstrip("/") + "/" + url.lstrip("/")


def request_out(row: dict, public: bool) -> dict:
    """One incident as a GeoReport service request. ``public``: a keyless reader's fields
    (no reporter, no photos)."""
    cat = categories().get(row["category"])
    zh, en = STATUS_NAMES.get(row["status"], (row["status"], row["status"]))
    notes = pick(zh, en) + (f" · {row['department']}" if row["department"] else "")
    due = default_policy().deadlines(row["category"], row["base_urgency"], row["reported_at"]).close_by
    out = {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["status"] == "closed" else "open",
        "status_notes": notes,
        "service_name": pick(cat.name_zh, cat.name_en) if cat else row["category"],
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": row["department"] or "",
        "service_notice": "",
        "requested_datetime": w3c(row["reported_at"]),
        "updated_datetime": w3c(row["last_event_at"] or row["updated_at"]),
        "expected_datetime": w3c(due),
        "address": address(row),
        "address_id": row["grid_code"],
        "zipcode": "",
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": "" if public else media_url(row),
    }
    if not public:
        out["reporter"] = row["reporter"]
    return out


PRIVATE = {"Cache-Control": "no-store"}


@endpoint("requests")
def get_requests() -> Reply:
    p = reader()
    rows = select_requests(query_from_args(), access.case_filter(p) if p else {})
    return Reply("service_requests", [request_out(r, public=p is None) for r in rows], headers=PRIVATE)


def visible_row(p: Principal | None, iid: uuid.UUID) -> dict | None:
    rows = select_requests(Query(ids=[iid]), {})
    if not rows or (p is not None and not access.case_visible(p, rows[0])):
        return None
    return rows[0]


@endpoint("requests/<rid>")
def get_request(rid: str) -> Reply:
    p = reader()
    row = visible_row(p, parse_id(rid))
    if row is None:
        raise Open311Error(404, "no service request with this id (a request just posted may still be on its way)")
    return Reply("service_requests", [request_out(row, public=p is None)], headers=PRIVATE)


@endpoint("tokens/<token>")
def get_token(token: str) -> Reply:
    """The request a POST's token stands for: to the key that posted it, to keys that may see
    the stored request, and to keyless readers when public read is on."""
    p = reader()
    raw = runtime().redis.get(TOKEN_KEY.format(token)) if TOKEN_RE.match(token) else None
    found = orjson.loads(raw) if raw else None
    if found and p is not None and found.get("by") != p.username \
            and visible_row(p, uuid.UUID(found["id"])) is None:
        found = None
    if not found:
        raise Open311Error(404, "unknown or expired token")
    return Reply("service_requests", [{"service_request_id": found["id"], "token": token}], headers=PRIVATE)


# --------------------------------------------------------------------------- posting requests

def read_form():
    limit = runtime().settings.max_body_bytes
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "send the request form-encoded (Content-Type: application/x-www-form-urlencoded)")
    request.max_content_length = limit
    try:
        return request.form
    except RequestEntityTooLarge:
        raise Open311Error(413, f"body larger than {limit} bytes") from None


def coordinate(form, name: str) -> float:
    raw = (form.get(name) or "").strip()
    if not DECIMAL_RE.match(raw):
        raise Open311Error(400, f"{name} must be a decimal number of degrees (WGS84), got {raw[:40]!r}")
    return float(raw)


def point(form) -> tuple[float, float]:
    if not (form.get("lat") or "").strip() and not (form.get("long") or "").strip():
        if form.get("address_string") or form.get("address_id"):
            raise Open311Error(400, "address_string/address_id alone are not supported: send lat and long "
                                    "(WGS84); a request goes to the grid that contains the point")
        raise Open311Error(400, "lat and long are required (WGS84 decimal degrees)")
    return coordinate(form, "lat"), coordinate(form, "long")


def reporter_name(form) -> str:
    name = (form.get("attribute[reporter]") or "").strip()
    if name:
        return name
    first, last = (form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()
    name = last + first if CJK.search(first + last) else " ".join(n for n in (first, last) if n)
    if not name:
        raise Open311Error(400, "attribute[reporter] is required (the reporter's name; or send first_name/last_name)")
    return name


def photos(form) -> list[str]:
    url = (form.get("media_url") or "").strip()
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500 \
            or any(ch.isspace() for ch in url):
        raise Open311Error(400, "media_url must be an http(s) URL of at most 500 characters")
    return [url]


def describe(errors: list[dict]) -> str:
    return "invalid request: " + "; ".join(f"{FORM_NAMES.get(e['field'], e['field'])}: {e['message']}"
                                           for e in errors)


def report_from_form(form) -> ReportIn:
    """The report an Open311 form describes. Contact details (email, phone, device_id,
    account_id) are accepted and not kept."""
    code = (form.get("service_code") or "").strip()
    if code not in categories():
        raise Open311Error(400, f"unknown service_code {code[:64]!r}; see {PREFIX}/services.json"
                           if code else "service_code is required")
    lat, lon = point(form)
    body = {"category": code, "lat": lat, "lon": lon, "reporter": reporter_name(form),
            "photos": photos(form), "source": "open311"}
    if form.get("description") is not None:
        body["description"] = form["description"]
    for name in ("urgency", "grid"):
        if (form.get(f"attribute[{name}]") or "").strip():
            body[name] = form[f"attribute[{name}]"].strip()
    try:
        return ReportIn.model_validate(body)
    except ValidationError as exc:
        raise Open311Error(400, describe(field_errors(exc))) from None


def remember_token(entry: str, incident_id: str, p: Principal) -> str | None:
    """token -> request id for GET tokens/<token>. The report is already accepted: if Redis
    fails now, the answer goes without a token rather than inviting a duplicate retry."""
    try:
        runtime().redis.set(TOKEN_KEY.format(entry), orjson.dumps({"id": incident_id, "by": p.username}),
                            ex=TOKEN_TTL_S)
        return entry
    except REDIS_ERRORS:
        current_app.logger.exception("open311: storing token %s failed", entry)
        return None


def notice(event) -> str:
    grid = runtime().geo.grids[event.data["grid"]]
    town = runtime().geo.towns.get(grid.town_code) or {}
    due = default_policy().deadlines(event.data["category"], event.data["urgency"], event.at).close_by
    where = f"{pick(town.get('name', ''), town.get('name_en') or town.get('name', ''))} · {grid.name}"
    return pick(f"已接收，定位到 {where}，应于 {w3c(due)} 前办结",
                f"Received; located in {where}; to be closed by {w3c(due)}")


@endpoint("requests", methods=("POST",))
def post_request() -> Reply:
    form = read_form()
    p = poster()
    report = report_from_form(form)
    try:
        event = report_event(report, runtime().geo, submitted_by=p.username)
    except FieldError as exc:
        raise Open311Error(400, describe([{"field": exc.field, "message": exc.message}])) from None
    try:
        access.require_report(p, event.data["town"])
    except AccessDenied as exc:
        raise Open311Error(403, exc.message) from None
    try:
        entry = runtime().publisher.publish(event)
    except Exception:  # Redis unavailable: nothing was written, the client must retry
        current_app.logger.exception("open311: publishing a request failed")
        raise Open311Error(503, "the incident stream is unavailable; retry later (the request was not accepted)") \
            from None
    iid = str(event.incident_id)
    out = {"service_request_id": iid, "service_notice": notice(event), "account_id": None}
    token = remember_token(entry, iid, p)
    if token:
        out["token"] = token
    return Reply("service_requests", [out], status=201, headers=PRIVATE)
