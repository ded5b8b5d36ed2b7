"""办结 (resolve) with photos of the result: the same checked upload as a report's photos, kept
only when the step is appended, and shown with the case."""
from __future__ import annotations

import io
import json
import uuid

import pytest
from test_actions import act, new_case
from test_report_api import image

from dashboard.core.actions import ActionError
from dashboard.stream.commands import Commands


def post_step(client, iid, body, files):
    data = {"action": json.dumps(body, ensure_ascii=False),
            "photos": [(io.BytesIO(b), name, mime) for b, name, mime in files]}
    return client.post(f"/api/v1/incidents/{iid}/actions", data=data, content_type="multipart/form-data")


def to_assigned(client, iid):
    for version, (action, fields) in enumerate([("accept", {}), ("assign", {"department": "司法调解中心"})], 1):
        assert act(client, iid, action, version, **fields).status_code == 202
    return 3


def stored_files(rt, iid):
    folder = rt.settings.photos_path / str(iid)
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_resolve_with_photos_keeps_them_with_the_case(client, rt, drain):
    iid = new_case(client, drain)
    version = to_assigned(client, iid)
    res = post_step(client, iid, {"action": "resolve", "expected_version": version, "note": "已调解，双方签字"},
                    [(image(), "after.jpg", "image/jpeg"), (image("PNG", colour=(1, 2, 3)), "sign.png", "image/png")])
    assert res.status_code == 202, res.get_json()
    drain()
    case = client.get(f"/api/v1/incidents/{iid}").get_json()
    resolved = next(e for e in case["events"] if e["type"] == "resolved")
    assert len(resolved["data"]["photos"]) == 2 and set(resolved["data"]["photos"]) <= set(case["photos"])
    assert len(stored_files(rt, iid)) == 2
    for url in resolved["data"]["photos"]:
        got = client.get(url)
        assert got.status_code == 200 and got.mimetype in ("image/jpeg", "image/png")


def test_bad_or_misplaced_photos_are_refused_and_nothing_is_kept(client, rt, drain):
    iid = new_case(client, drain)
    version = to_assigned(client, iid)
    before = rt.redis.xlen(rt.settings.stream)
    # not an image, whatever its name says
    res = post_step(client, iid, {"action": "resolve", "expected_version": version, "note": "已处理"},
                    [(b"<html>not a photo</html>", "x.jpg", "image/jpeg")])
    assert res.status_code == 422 and res.get_json()["fields"][0]["field"] == "photos[0]"
    # photos on a step that carries none
    res = post_step(client, iid, {"action": "start", "expected_version": version}, [(image(), "a.jpg", "image/jpeg")])
    assert res.status_code == 422 and res.get_json()["fields"][0]["field"] == "photos"
    # a good photo on a step that is refused (no result note): its file is not kept
    res = post_step(client, iid, {"action": "resolve", "expected_version": version}, [(image(), "a.jpg", "image/jpeg")])
    assert res.status_code == 422 and res.get_json()["fields"][0]["field"] == "note"
    # a stale version: refused, the file removed again
    res = post_step(client, iid, {"action": "resolve", "expected_version": 1, "note": "已处理"},
                    [(image(), "a.jpg", "image/jpeg")])
    assert res.status_code == 409
    assert rt.redis.xlen(rt.settings.stream) == before and stored_files(rt, iid) == []


def test_a_step_names_only_this_cases_stored_photos(rt, client, drain):
    iid = new_case(client, drain)
    version = to_assigned(client, iid)
    cmd = Commands(rt.redis, rt.store, rt.settings.stream)
    other = uuid.uuid4()
    for bad in (["https://example.org/x.jpg"],                              # a link, not a stored photo
                [f"/api/v1/incidents/{other}/photos/{'a' * 64}.jpg"],       # another case's
                [f"/api/v1/incidents/{iid}/photos/{'a' * 64}.jpg"] * 5):   # too many
        with pytest.raises(ActionError) as exc:
            cmd.act(uuid.UUID(iid), "resolve", expected_version=version, actor="t", note="已处理", photos=bad)
        assert exc.value.http_status == 422 and exc.value.extra["field"] == "photos"
