"""流转 (route) and 办结 (resolve) through the API: the reason and the result note they require,
and what a route does to the stored case (its department, its level)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from test_actions import act, new_case

from dashboard.core.actions import ActionError
from dashboard.core.domain import Event
from dashboard.core.routing import propose
from dashboard.stream.commands import Commands

XINQIAO = "331004103"


def assigned_case(client, drain):
    """A stored dispute in 新桥镇, accepted and assigned where the routing table says: version 3."""
    iid = new_case(client, drain)
    assert act(client, iid, "accept", 1).status_code == 202
    assert act(client, iid, "assign", 2, department=propose("dispute", XINQIAO)).status_code == 202
    return iid


def refused(client, rt, iid, action, version, field, **fields):
    length = rt.redis.xlen(rt.settings.stream)
    res = act(client, iid, action, version, **fields)
    assert res.status_code == 422, res.get_json()
    assert [f["field"] for f in res.get_json()["fields"]] == [field]
    assert rt.redis.xlen(rt.settings.stream) == length                  # nothing appended
    return res.get_json()


def test_route_without_a_reason_is_refused_and_nothing_is_appended(client, rt, drain):
    iid = assigned_case(client, drain)
    body = refused(client, rt, iid, "route", 3, "note", department="公安分局")
    assert body["error"] == "route needs note"
    refused(client, rt, iid, "route", 3, "note", department="公安分局", note="   ")
    refused(client, rt, iid, "route", 3, "note", level="town")
    # a reason but neither a department nor a level
    body = refused(client, rt, iid, "route", 3, "department", note="不属本部门职责")
    assert body["error"] == "route needs department or level"
    refused(client, rt, iid, "route", 3, "level", level="province", note="上报")
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["version"] == 3 and inc["department"] == "司法调解中心"
    assert [e["type"] for e in inc["events"]] == ["reported", "accepted", "assigned"]


def test_route_with_a_reason_moves_the_case_to_another_department(client, rt, drain):
    iid = assigned_case(client, drain)
    drain()
    assert client.get(f"/api/v1/incidents/{iid}").get_json()["department"] == "司法调解中心"
    res = act(client, iid, "route", 3, department="公安分局", note="涉及治安，转公安分局处置")
    assert res.status_code == 202 and res.get_json()["status"] == "assigned"
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert (inc["department"], inc["status"], inc["version"], inc["level"]) == ("公安分局", "assigned", 4, "grid")
    routed = inc["events"][-1]
    assert routed["type"] == "routed" and routed["note"] == "涉及治安，转公安分局处置"
    assert routed["data"]["department"] == "公安分局"


def test_route_up_a_level_raises_the_level(client, rt, drain):
    iid = assigned_case(client, drain)
    assert act(client, iid, "route", 3, level="town", note="村级无法协调，流转镇级").status_code == 202
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["level"] == "town" and inc["department"] == "司法调解中心"   # the department stays
    # a route to a level not above the current one leaves it; an escalation steps up from it
    assert act(client, iid, "route", 4, level="village", department="公安分局", note="转公安").status_code == 202
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert (inc["level"], inc["department"]) == ("town", "公安分局")
    assert act(client, iid, "escalate", 5).status_code == 202
    assert act(client, iid, "resolve", 6, note="已调解，双方签订协议").status_code == 202
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert (inc["level"], inc["resolved_level"], inc["status"]) == ("district", "district", "resolved")


def test_resolve_without_a_result_note_is_refused(client, rt, drain):
    iid = assigned_case(client, drain)
    body = refused(client, rt, iid, "resolve", 3, "note")
    assert body["error"] == "resolve needs note"
    refused(client, rt, iid, "resolve", 3, "note", note=" \n ")
    res = act(client, iid, "resolve", 3, note="已调解")
    assert res.status_code == 202 and res.get_json()["status"] == "resolved"
    drain()
    assert client.get(f"/api/v1/incidents/{iid}").get_json()["events"][-1]["note"] == "已调解"


def test_a_prepared_event_meets_the_same_required_fields(client, rt, drain):
    """The SLA clock and the simulator append prepared events (``Commands.append``): a
    resolution or a route without its note is refused there too, before the stream."""
    iid = uuid.UUID(assigned_case(client, drain))
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    length = rt.redis.xlen(rt.settings.stream)
    now = datetime.now(timezone.utc)
    for kind, data in [("resolved", {}), ("routed", {"department": "公安分局"})]:
        with pytest.raises(ActionError) as exc:
            cmds.append(Event(id=uuid.uuid4(), incident_id=iid, type=kind, at=now, actor="演示", data=data), 3)
        assert exc.value.http_status == 422 and exc.value.extra["field"] == "note"
        with pytest.raises(ActionError):
            cmds.append_many([(Event(id=uuid.uuid4(), incident_id=iid, type=kind, at=now, data=data), 3)])
    assert rt.redis.xlen(rt.settings.stream) == length
    ev = Event(id=uuid.uuid4(), incident_id=iid, type="resolved", at=now, actor="演示", note="已调解")
    assert cmds.append(ev, 3).status == "resolved"


def test_the_openapi_document_states_the_required_fields(anon):
    from jsonschema import Draft202012Validator

    doc = anon.get("/api/v1/openapi.json").get_json()
    schema = doc["components"]["schemas"]["ActionIn"]
    assert "`resolve`: `note`" in schema["description"]
    assert "`route`: (`department` or `level`) and `note`" in schema["description"]
    valid = Draft202012Validator(schema).is_valid
    assert valid({"action": "resolve", "expected_version": 3, "note": "已清理完毕"})
    assert not valid({"action": "resolve", "expected_version": 3})
    assert not valid({"action": "route", "expected_version": 3, "department": "公安分局", "note": " "})
    assert not valid({"action": "route", "expected_version": 3, "note": "不属本部门"})
    assert valid({"action": "route", "expected_version": 3, "level": "town", "note": "流转镇级"})
