"""Reports with photos, Idempotency-Key, the OpenAPI document and hostile input, on the real app
(Flask test client), real Redis and both databases.

Most reports here come from the grid worker's phone: an API key of ``worker`` (a reporter).
Photo limits are made small for these tests (``settings`` below) so that "too large" is cheap.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid

import orjson
import pytest
from people import OTHER_TOWN, TOWN
from PIL import Image

from dashboard.core.schemas import ReportIn

XINQIAO = (28.5231, 121.4147)  # a point in 新桥镇 (OTHER_TOWN)
PHOTO_MAX = 200_000
MAX_PHOTOS = 3


@pytest.fixture
def settings(settings):
    return settings.with_(max_photo_bytes=PHOTO_MAX, max_photos=MAX_PHOTOS)


def report(**over) -> dict:
    body = {"category": "fire_hazard", "description": "商户违规使用明火，存在安全隐患",
            "lat": XINQIAO[0], "lon": XINQIAO[1], "reporter": "网格员陈君辉"}
    body.update(over)
    return body


def image(fmt: str = "JPEG", size=(64, 48), colour=(200, 30, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, fmt)
    return buf.getvalue()


def noisy_jpeg(size=(320, 240)) -> bytes:
    """A JPEG that does not compress to nothing (so that a truncated copy misses real data)."""
    import random
    rnd = random.Random(7)
    im = Image.frombytes("RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def keyed(app, key: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return c


@pytest.fixture
def phone(app, api_key):
    """The grid worker's phone: its API key on every request."""
    return keyed(app, api_key("worker"))


def post_multipart(client, body, files=(), *, raw_report: bytes | str | None = None, extra=None, headers=None):
    """``files``: (bytes, filename, declared type) triples sent as ``photos`` parts."""
    data: dict = {"report": raw_report if raw_report is not None else json.dumps(body, ensure_ascii=False)}
    if files:
        data["photos"] = [(io.BytesIO(b), name, mime) for b, name, mime in files]
    data.update(extra or {})
    return client.post("/api/v1/incidents", data=data, content_type="multipart/form-data", headers=headers)


def jpg(data: bytes, name: str = "photo.jpg"):
    return (data, name, "image/jpeg")


def stored_files(rt) -> list:
    root = rt.settings.photos_path
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class Unchanged:
    """Asserts that a refused request left the stream, the database and the photo folder as
    they were (after running the persister)."""

    def __init__(self, rt, drain):
        self.rt, self.drain = rt, drain
        drain()
        self.state = self.now()

    def now(self):
        rt = self.rt
        return (rt.redis.xlen(rt.settings.stream), rt.store.count_events(), rt.store.count_incidents(),
                stored_files(rt))

    def check(self, what: str = ""):
        self.drain()
        assert self.now() == self.state, f"{what}: something was stored (stream, events, incidents, files)"


def assert_refused(res, status, field):
    """A refusal with ``status``, an error message and, when given, the offending field named."""
    assert res.status_code == status, res.get_data(as_text=True)
    answer = res.get_json()
    assert answer["error"]
    if field:
        assert any(f["field"] == field for f in answer["fields"]), answer


@pytest.fixture
def unchanged(rt, drain):
    return lambda: Unchanged(rt, drain)


# --------------------------------------------------------------------------- photos

def test_report_with_photos_is_stored_and_served(phone, rt, drain, login):
    shots = [image("JPEG"), image("PNG", colour=(0, 90, 0)), image("WEBP", colour=(0, 0, 200))]
    res = post_multipart(phone, report(photos=["https://example.org/p/elsewhere.jpg"]),
                         [jpg(shots[0]), (shots[1], "b.png", "image/png"), (shots[2], "c.webp", "image/webp")])
    assert res.status_code == 202, res.get_json()
    body = res.get_json()
    iid = body["id"]
    names = [f"{hashlib.sha256(d).hexdigest()}.{ext}" for d, ext in zip(shots, ("jpg", "png", "webp"))]
    urls = [f"/api/v1/incidents/{iid}/photos/{n}" for n in names]
    assert body["photos"] == urls
    for data, name in zip(shots, names):
        assert (rt.settings.photos_path / iid / name).read_bytes() == data
    drain()
    inc = phone.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["photos"] == ["https://example.org/p/elsewhere.jpg", *urls]
    assert inc["submitted_by"] == "worker"
    for data, url, mime in zip(shots, urls, ("image/jpeg", "image/png", "image/webp")):
        got = phone.get(url)
        assert got.status_code == 200 and got.data == data
        assert got.mimetype == mime
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Content-Disposition"].startswith("inline")
        assert "sandbox" in got.headers["Content-Security-Policy"]
    # the case is in 新桥镇: that town's operator sees the photos, 金清镇's does not
    assert login("op_other").get(urls[0]).status_code == 200
    assert login("op").get(urls[0]).status_code == 404


def test_a_photo_is_judged_by_its_content_not_its_name_or_type(phone, rt, drain):
    png = image("PNG")
    res = post_multipart(phone, report(), [(png, "camera.jpg", "image/jpeg")])
    assert res.status_code == 202, res.get_json()
    url = res.get_json()["photos"][0]
    assert url.endswith(".png")
    drain()
    assert phone.get(url).mimetype == "image/png"


def test_a_repeated_report_id_adds_no_photos_to_the_stored_case(phone, rt, drain):
    iid = str(uuid.uuid4())
    first = post_multipart(phone, report(id=iid), [jpg(image())])
    assert first.status_code == 202
    drain()
    files = stored_files(rt)
    again = post_multipart(phone, report(id=iid, description="另一张照片"), [jpg(image(colour=(9, 9, 9)))])
    assert again.status_code == 202 and again.get_json()["id"] == iid
    drain()
    assert stored_files(rt) == files and len(files) == 1
    assert phone.get(f"/api/v1/incidents/{iid}").get_json()["photos"] == first.get_json()["photos"]


def test_photo_names_are_strict(phone, rt, drain):
    res = post_multipart(phone, report(), [jpg(image())])
    iid = res.get_json()["id"]
    drain()
    (rt.settings.photos_path / iid / "notes.txt").write_text("not a photo")
    secret = "a file outside the case's folder"
    (rt.settings.photos_path / f"{'1' * 64}.jpg").write_text(secret)
    for name in ("notes.txt", f"{'0' * 64}.jpg", f"{'A' * 64}.jpg", f"{'1' * 64}.JPG",
                 res.get_json()["photos"][0].rsplit("/", 1)[1] + ".html"):
        got = phone.get(f"/api/v1/incidents/{iid}/photos/{name}")
        assert got.status_code == 404, name
    for name in (f"..%2f{'1' * 64}.jpg", f"%2e%2e/{'1' * 64}.jpg", f"..%5c{'1' * 64}.jpg"):
        got = phone.get(f"/api/v1/incidents/{iid}/photos/{name}")
        assert secret not in got.get_data(as_text=True) and not got.mimetype.startswith("image/"), name
    assert phone.get(f"/api/v1/incidents/not-a-uuid/photos/{'0' * 64}.jpg").status_code == 400


def truncated_jpeg():
    data = noisy_jpeg()
    return data[: len(data) * 2 // 3]


def bomb_png():
    return image("PNG", size=(10_001, 10_000), colour=0, mode="1")  # 100 megapixels in ~12 kB


BAD_PHOTOS = [
    # (case, data, filename, declared type, status, words in the message)
    ("HTML named .jpg", b"<html><script>alert(1)</script></html>", "x.jpg", "image/jpeg", 422, "not a JPEG"),
    ("SVG with a script", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "x.svg", "image/svg+xml", 422, "not a JPEG"),
    ("GIF", image("GIF"), "x.gif", "image/gif", 422, "not a JPEG"),
    ("truncated JPEG", truncated_jpeg(), "x.jpg", "image/jpeg", 422, "truncated"),
    ("JPEG then HTML (polyglot)", image() + b"<html><script>alert(1)</script></html>", "x.jpg",
     "image/jpeg", 422, "data follows"),
    ("PNG then a ZIP archive", image("PNG") + b"PK\x03\x04" + b"\x00" * 40, "x.png", "image/png", 422,
     "data follows"),
    ("decompression bomb", bomb_png(), "x.png", "image/png", 422, "megapixels"),
    ("more than 50 megapixels", image("PNG", size=(8_000, 7_600), colour=0, mode="1"), "x.png", "image/png",
     422, "megapixels"),
    ("empty file", b"", "x.jpg", "image/jpeg", 422, "empty"),
    ("larger than max_photo_bytes", image() + b"\x00" * PHOTO_MAX, "x.jpg", "image/jpeg", 413, "larger than"),
]


@pytest.mark.parametrize("case,data,name,mime,status,words", BAD_PHOTOS, ids=[b[0] for b in BAD_PHOTOS])
def test_bad_photos_are_refused_and_nothing_is_kept(phone, unchanged, case, data, name, mime, status, words):
    before = unchanged()
    # a good photo first: it must not be kept either
    res = post_multipart(phone, report(), [jpg(image()), (data, name, mime)])
    assert res.status_code == status, res.get_data(as_text=True)
    answer = res.get_json()
    assert words in answer["error"], answer
    assert answer["fields"][0]["field"] == "photos[1]", answer
    before.check(case)


def test_too_many_photos(phone, unchanged):
    before = unchanged()
    res = post_multipart(phone, report(), [jpg(image(colour=(i, 0, 0))) for i in range(MAX_PHOTOS + 1)])
    assert res.status_code == 422
    assert res.get_json()["fields"] == [{"field": "photos", "message": f"{MAX_PHOTOS + 1} photos; at most "
                                                                       f"{MAX_PHOTOS} per report"}]
    before.check()


def test_a_body_larger_than_all_photos_allow_is_413_before_it_is_read(phone, unchanged):
    before = unchanged()
    big = [jpg(image() + b"\x00" * (PHOTO_MAX - 2000)) for _ in range(MAX_PHOTOS + 1)]
    res = post_multipart(phone, report(), big)
    assert res.status_code == 413 and "larger than" in res.get_json()["error"]
    before.check()


def test_photos_and_urls_together_are_at_most_ten(phone, unchanged):
    before = unchanged()
    urls = [f"https://example.org/{i}.jpg" for i in range(9)]
    res = post_multipart(phone, report(photos=urls), [jpg(image()), jpg(image(colour=(1, 2, 3)))])
    assert res.status_code == 422 and res.get_json()["fields"][0]["field"] == "photos"
    before.check()


MULTIPART_BAD = [
    # (case, report part (None: none sent), extra parts, status, field named)
    ("no report part", None, {}, 422, "report"),
    ("two report parts", [json.dumps(report()), json.dumps(report())], {}, 422, "report"),
    ("report part is not JSON", "category=fire_hazard", {}, 400, None),
    ("report part is a JSON array", "[1, 2]", {}, 400, None),
    ("invalid report field", json.dumps(report(lat="north")), {}, 422, "lat"),
    ("unknown part", json.dumps(report()), {"comment": "hi"}, 422, "comment"),
    ("photos as text", json.dumps(report()), {"photos": "https://example.org/a.jpg"}, 422, "photos"),
    ("report part too large", json.dumps(report(description="长" * 30_000)), {}, 413, None),
]


@pytest.mark.parametrize("case,raw,extra,status,field", MULTIPART_BAD, ids=[b[0] for b in MULTIPART_BAD])
def test_bad_multipart_requests(phone, unchanged, case, raw, extra, status, field):
    before = unchanged()
    data: dict = dict(extra)
    if raw is not None:
        data["report"] = raw
    if "photos" not in data:
        data["photos"] = [(io.BytesIO(image()), "a.jpg", "image/jpeg")]
    res = phone.post("/api/v1/incidents", data=data, content_type="multipart/form-data")
    assert_refused(res, status, field)
    before.check(case)


def test_photos_are_removed_when_the_stream_is_down(phone, rt, unchanged, monkeypatch):
    import redis
    before = unchanged()

    def down(_event):
        raise redis.exceptions.ConnectionError("stream down (test)")
    monkeypatch.setattr(rt.publisher, "publish", down)
    res = post_multipart(phone, report(), [jpg(image()), jpg(image("PNG"), "b.png")])
    assert res.status_code == 503 and "not accepted" in res.get_json()["error"]
    before.check()


def test_an_operator_reports_only_in_its_own_town(app, api_key, rt, unchanged):
    op = keyed(app, api_key("op"))  # 金清镇 (TOWN); XINQIAO is in OTHER_TOWN
    before = unchanged()
    res = post_multipart(op, report(), [jpg(image())])
    assert res.status_code == 403 and OTHER_TOWN in res.get_json()["error"]
    before.check()
    grid = next(g for g in rt.geo.grids.values() if g.town_code == TOWN)
    assert post_multipart(op, report(lat=grid.lat, lon=grid.lon), [jpg(image())]).status_code == 202


def test_roles_that_do_not_report_are_refused_before_the_body_is_read(app, api_key, unchanged):
    before = unchanged()
    for who in ("leader", "handler"):
        res = post_multipart(keyed(app, api_key(who)), report(), [jpg(image())])
        assert res.status_code == 403, who
    before.check()


def test_the_session_cookie_path_needs_csrf_for_multipart_too(client, unchanged):
    before = unchanged()
    res = client.post("/api/v1/incidents", no_csrf=True, content_type="multipart/form-data",
                      data={"report": json.dumps(report()), "photos": [(io.BytesIO(image()), "a.jpg", "image/jpeg")]})
    assert res.status_code == 400 and "CSRF" in res.get_json()["error"]
    before.check()
    assert post_multipart(client, report(), [jpg(image())]).status_code == 202


# --------------------------------------------------------------------------- Idempotency-Key

def test_a_repeat_with_the_same_key_is_answered_not_repeated(phone, rt, drain):
    key = {"Idempotency-Key": f"report-{uuid.uuid4()}"}
    first = post_multipart(phone, report(), [jpg(image())], headers=key)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    length = rt.redis.xlen(rt.settings.stream)
    for _ in range(2):
        again = post_multipart(phone, report(), [jpg(image())], headers=key)
        assert again.status_code == 202
        assert again.get_json() == first.get_json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == first.headers["Location"]
    assert rt.redis.xlen(rt.settings.stream) == length
    drain()
    assert rt.store.count_incidents() == 1


def test_the_same_key_with_json_and_reordered_fields_is_the_same_request(phone, rt):
    key = {"Idempotency-Key": "k-1"}
    body = report()
    first = phone.post("/api/v1/incidents", json=body, headers=key)
    reordered = dict(reversed(list(body.items())))
    again = phone.post("/api/v1/incidents", data=orjson.dumps(reordered), content_type="application/json",
                       headers=key)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_report_is_422(phone, rt):
    key = {"Idempotency-Key": "k-2"}
    assert phone.post("/api/v1/incidents", json=report(), headers=key).status_code == 202
    length = rt.redis.xlen(rt.settings.stream)
    for other in (lambda: phone.post("/api/v1/incidents", json=report(description="另一件事"), headers=key),
                  lambda: post_multipart(phone, report(), [jpg(image())], headers=key)):
        res = other()
        assert res.status_code == 422, res.get_json()
        assert "different report" in res.get_json()["error"]
        assert res.get_json()["fields"][0]["field"] == "Idempotency-Key"
    assert rt.redis.xlen(rt.settings.stream) == length


def test_keys_belong_to_who_sends_them(app, phone, api_key, accounts, rt):
    key_id, other_key = accounts.create_key("worker", name="second phone")
    key = {"Idempotency-Key": "shared-name"}
    first = phone.post("/api/v1/incidents", json=report(), headers=key)
    second = keyed(app, other_key).post("/api/v1/incidents", json=report(), headers=key)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    ttl = rt.redis.ttl(f"idem:key:{key_id}:shared-name")
    assert 86_000 < ttl <= 86_400


def test_a_refused_request_frees_its_key(phone, rt):
    key = {"Idempotency-Key": "k-3"}
    assert phone.post("/api/v1/incidents", json=report(lat="north"), headers=key).status_code == 422
    res = phone.post("/api/v1/incidents", json=report(), headers=key)
    assert res.status_code == 202 and "Idempotent-Replayed" not in res.headers


def test_a_duplicate_while_the_first_is_in_flight_is_409(app, api_key, rt, monkeypatch):
    key = api_key("worker")
    entered, release = threading.Event(), threading.Event()
    real = rt.publisher.publish

    def slow(event):
        entered.set()
        assert release.wait(10)
        return real(event)
    monkeypatch.setattr(rt.publisher, "publish", slow)
    headers = {"Idempotency-Key": "k-4"}
    results = {}
    t = threading.Thread(target=lambda: results.update(
        first=keyed(app, key).post("/api/v1/incidents", json=report(), headers=headers)))
    t.start()
    try:
        assert entered.wait(10)
        dup = keyed(app, key).post("/api/v1/incidents", json=report(), headers=headers)
        assert dup.status_code == 409 and "still being processed" in dup.get_json()["error"]
    finally:
        release.set()
        t.join(10)
    assert results["first"].status_code == 202
    monkeypatch.setattr(rt.publisher, "publish", real)
    again = keyed(app, key).post("/api/v1/incidents", json=report(), headers=headers)
    assert again.status_code == 202 and again.get_json()["id"] == results["first"].get_json()["id"]


@pytest.mark.parametrize("bad", ["", "x" * 129, "naïve", "tab\there"])
def test_malformed_idempotency_keys_are_400(phone, rt, bad):
    length = rt.redis.xlen(rt.settings.stream)
    res = phone.post("/api/v1/incidents", json=report(), headers={"Idempotency-Key": bad})
    assert res.status_code == 400 and "Idempotency-Key" in res.get_json()["error"]
    assert rt.redis.xlen(rt.settings.stream) == length


# --------------------------------------------------------------------------- OpenAPI

def api_rules(app) -> dict[str, set]:
    """OpenAPI-style path -> methods of every /api/v1 route of the app."""
    import re
    out: dict[str, set] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.unknown_api_path":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            out.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_openapi_document_is_valid_and_public(anon):
    from openapi_spec_validator import validate

    res = anon.get("/api/v1/openapi.json")
    assert res.status_code == 200 and res.mimetype == "application/json"
    doc = res.get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerKey"]["scheme"] == "bearer" and schemes["session"]["in"] == "cookie"


def test_every_api_route_is_documented_with_its_methods(app, anon):
    doc = anon.get("/api/v1/openapi.json").get_json()
    routes = api_rules(app)
    assert routes, "no /api/v1 routes found"
    documented = {p: {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
                  for p, ops in doc["paths"].items() if p.startswith("/api/v1/")}
    missing = {p: sorted(m - documented.get(p, set())) for p, m in routes.items() if m - documented.get(p, set())}
    stale = {p: sorted(m - routes.get(p, set())) for p, m in documented.items() if m - routes.get(p, set())}
    assert not missing, f"routes missing from dashboard/web/openapi.py: {missing}"
    assert not stale, f"documented in dashboard/web/openapi.py but not routes of the app: {stale}"


def test_an_unknown_api_path_is_a_json_404(client, anon):
    for method in ("get", "post", "delete"):
        res = getattr(client, method)("/api/v1/incident")
        assert res.status_code == 404 and "openapi.json" in res.get_json()["error"], method
    assert anon.get("/api/v1/incident").status_code == 401


def test_openapi_report_schema_is_reportin_and_errors_match_answers(app, phone, anon):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = anon.get("/api/v1/openapi.json").get_json()
    schema = doc["components"]["schemas"]["ReportIn"]
    assert set(schema["properties"]) == set(ReportIn.model_fields)
    assert set(schema["required"]) == {n for n, f in ReportIn.model_fields.items() if f.is_required()}
    multipart = doc["paths"]["/api/v1/incidents"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert multipart["schema"]["properties"]["photos"]["maxItems"] == MAX_PHOTOS

    registry = Registry().with_resource("urn:api", Resource.from_contents(doc, default_specification=DRAFT202012))

    def validate(instance, name):
        Draft202012Validator({"$ref": f"urn:api#/components/schemas/{name}"}, registry=registry).validate(instance)
    validate(report(), "ReportIn")
    accepted = post_multipart(phone, report(), [jpg(image())])
    validate(accepted.get_json(), "Accepted")
    refused = phone.post("/api/v1/incidents", json=report(lat="north", colour="red"))
    validate(refused.get_json(), "Error")
    assert {f["field"] for f in refused.get_json()["fields"]} == {"lat", "colour"}


# --------------------------------------------------------------------------- hostile text

def test_script_tags_are_kept_as_text(phone, rt, drain):
    text = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\''
    res = phone.post("/api/v1/incidents", json=report(description=text, reporter="<b>网格员</b>"))
    assert res.status_code == 202
    drain()
    got = phone.get(f"/api/v1/incidents/{res.get_json()['id']}")
    assert got.mimetype == "application/json"
    assert got.get_json()["description"] == text and got.get_json()["reporter"] == "<b>网格员</b>"


SQL = "'; DROP TABLE incidents; --"


def test_sql_meta_characters_are_stored_verbatim_or_refused(app, client, phone, rt, drain, accounts):
    res = phone.post("/api/v1/incidents", json=report(description=SQL, reporter="Robert'); DROP TABLE users;--"))
    assert res.status_code == 202
    iid = res.get_json()["id"]
    refused = phone.post("/api/v1/incidents", json=report(category="fire_hazard' OR '1'='1"))
    assert refused.status_code == 422 and refused.get_json()["fields"][0]["field"] == "category"
    assert phone.post("/api/v1/incidents", json=report(grid="1' OR '1'='1")).status_code == 422
    drain()
    inc = phone.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["description"] == SQL and inc["reporter"] == "Robert'); DROP TABLE users;--"
    q = "' OR '1'='1' --"
    assert client.get("/api/v1/kpis", query_string={"town": q}).status_code == 404
    assert client.get("/api/v1/live/markers.geojson", query_string={"town": q}).status_code == 404
    assert client.get("/api/v1/cameras", query_string={"town": q}).get_json() == []
    assert client.get("/api/v1/kpis", query_string={"period": q}).status_code == 400
    assert client.get("/api/v1/incidents/1' OR '1'='1").status_code == 400
    assert client.get(f"/api/v1/cameras/{q}").status_code == 404
    # the tables are intact
    assert rt.store.count_incidents() == 1 and rt.store.count_events() == 1
    assert {"admin", "worker", "op"} <= {u["username"] for u in accounts.list_users()}


BAD_JSON = [
    # (case, raw body, status, field)
    ("truncated JSON", b'{"category": "fire_hazard", "lat": 28.5', 400, None),
    ("not UTF-8", b'{"description": "\xff\xfe"}', 400, None),
    ("deeply nested", b'{"a":' * 2000 + b"1" + b"}" * 2000, 400, None),
    ("number too large", orjson.dumps(report())[:-1] + b', "urgency": 1e400}', 400, None),
    ("id not a UUID", orjson.dumps(report(id="1; DROP TABLE incidents")), 422, "id"),
    ("photos not a list", orjson.dumps(report(photos="a.jpg")), 422, "photos"),
    ("eleven photo URLs", orjson.dumps(report(photos=[f"https://e.org/{i}" for i in range(11)])), 422, "photos"),
    ("description too long", orjson.dumps(report(description="x" * 2001)), 422, "description"),
    ("reporter too long", orjson.dumps(report(reporter="x" * 65)), 422, "reporter"),
    ("reporter as object", orjson.dumps(report(reporter={"$ne": None})), 422, "reporter"),
    ("submitted_by in the body", orjson.dumps(report(submitted_by="admin")), 422, "submitted_by"),
    ("null body", b"null", 400, None),
]


@pytest.mark.parametrize("case,raw,status,field", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_bad_json_reports(phone, unchanged, case, raw, status, field):
    before = unchanged()
    res = phone.post("/api/v1/incidents", data=raw, content_type="application/json")
    assert_refused(res, status, field)
    before.check(case)
