"""Actions on a case: allowed steps only, optimistic concurrency, and the stored fold catching up."""
from __future__ import annotations

import threading
import uuid

import orjson
import pytest

XINQIAO = (28.5231, 121.4147)


def new_case(client, drain):
    """A stored case: who may act on it is decided by its stored town and department."""
    res = client.post("/api/v1/incidents", data=orjson.dumps({
        "category": "dispute", "description": "邻里纠纷", "lat": XINQIAO[0], "lon": XINQIAO[1],
        "reporter": "网格员"}), content_type="application/json")
    assert res.status_code == 202
    drain()
    return res.get_json()["id"]


def act(client, iid, action, version, **fields):
    body = {"action": action, "expected_version": version, "actor": "新桥镇指挥中心", **fields}
    return client.post(f"/api/v1/incidents/{iid}/actions", data=orjson.dumps(body),
                       content_type="application/json")


def test_closed_loop_through_the_api_is_stored_and_folded(client, rt, drain):
    iid = new_case(client, drain)
    steps = [("accept", {}), ("assign", {"department": "司法调解中心"}), ("start", {}),
             ("supervise", {"note": "请加快"}), ("escalate", {"level": "village"}),
             ("resolve", {"note": "已调解"}), ("close", {"note": "回访满意"})]
    version = 1
    for action, fields in steps:
        res = act(client, iid, action, version, **fields)
        assert res.status_code == 202, res.get_json()
        assert res.get_json()["version"] == version + 1
        version += 1
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["status"] == "closed" and inc["version"] == version == 8
    assert inc["department"] == "司法调解中心" and inc["resolved_level"] == "village"
    assert [e["type"] for e in inc["events"]] == ["reported", "accepted", "assigned", "started",
                                                  "supervised", "escalated", "resolved", "closed"]
    assert all(e["actor"] for e in inc["events"])
    # The audit trail: who, when, from -> to, note.
    trail = [(e["from_status"], e["to_status"]) for e in inc["events"]]
    assert trail == [(None, "reported"), ("reported", "accepted"), ("accepted", "assigned"),
                     ("assigned", "in_progress"), ("in_progress", "in_progress"), ("in_progress", "in_progress"),
                     ("in_progress", "resolved"), ("resolved", "closed")]
    assert inc["events"][4]["note"] == "请加快" and all(e["applied"] for e in inc["events"])


def test_illegal_action_is_refused_naming_the_allowed_ones(client, rt, drain):
    iid = new_case(client, drain)
    length = rt.redis.xlen(rt.settings.stream)
    res = act(client, iid, "close", 1)
    assert res.status_code == 409
    body = res.get_json()
    assert body["status"] == "reported" and "accept" in body["allowed"] and "close" not in body["allowed"]
    assert "accept" in body["error"]
    assert rt.redis.xlen(rt.settings.stream) == length


def test_stale_version_is_refused_and_nothing_changes(client, rt, drain):
    iid = new_case(client, drain)
    assert act(client, iid, "accept", 1).status_code == 202
    length = rt.redis.xlen(rt.settings.stream)
    res = act(client, iid, "assign", 1, department="住建局")  # saw version 1, case is at 2
    assert res.status_code == 409 and res.get_json()["version"] == 2
    assert rt.redis.xlen(rt.settings.stream) == length


def test_two_conflicting_actions_exactly_one_wins(login, rt, drain):
    client = login("op_other")  # the case is in 新桥镇
    iid = new_case(client, drain)
    assert act(client, iid, "accept", 1).status_code == 202
    results = []
    barrier = threading.Barrier(8)
    clients = [login("op_other") for _ in range(8)]

    def operator(i):
        c = clients[i]
        barrier.wait()
        results.append(act(c, iid, "assign", 2, department=f"部门{i}").status_code)

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [202] + [409] * 7
    drain()
    inc = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert inc["version"] == 3 and [e["type"] for e in inc["events"]].count("assigned") == 1


def test_head_is_reloaded_from_the_database_when_redis_has_none(client, rt, drain):
    iid = new_case(client, drain)
    act(client, iid, "accept", 1)
    drain()
    rt.redis.delete(f"case:{iid}")
    assert act(client, iid, "assign", 1, department="住建局").status_code == 409
    assert act(client, iid, "assign", 2, department="住建局").status_code == 202


@pytest.mark.parametrize("body,field", [
    ({"expected_version": 1, "actor": "a"}, "action"),
    ({"action": "accept", "actor": "a"}, "expected_version"),
    ({"action": "accept", "expected_version": "1", "actor": "a"}, "expected_version"),
    ({"action": "accept", "expected_version": 1, "actor": 42}, "actor"),
    ({"action": "fly", "expected_version": 1, "actor": "a"}, "action"),
    ({"action": "assign", "expected_version": 2, "actor": "a"}, "department"),
    ({"action": "escalate", "expected_version": 1, "actor": "a", "level": "province"}, "level"),
])
def test_bad_action_bodies(client, rt, drain, body, field):
    iid = new_case(client, drain)
    if body.get("expected_version") == 2:
        act(client, iid, "accept", 1)
    length = rt.redis.xlen(rt.settings.stream)
    res = client.post(f"/api/v1/incidents/{iid}/actions", data=orjson.dumps(body),
                      content_type="application/json")
    assert res.status_code == 422, res.get_json()
    assert any(f["field"] == field for f in res.get_json()["fields"])
    assert rt.redis.xlen(rt.settings.stream) == length


def test_unknown_case_is_404(client):
    assert act(client, str(uuid.uuid4()), "accept", 1).status_code == 404


def test_an_oversized_note_from_any_door_is_refused_before_the_stream(rt, client, drain):
    """The console's callbacks and the API share Commands.act: a note the stream's schema would
    refuse (and dead-letter) is refused at the door, and nothing is appended."""
    from dashboard.core.actions import ActionError
    from dashboard.stream.commands import Commands

    iid = new_case(client, drain)
    length = rt.redis.xlen(rt.settings.stream)
    cmd = Commands(rt.redis, rt.store, rt.settings.stream)
    with pytest.raises(ActionError) as exc:
        cmd.act(uuid.UUID(iid), "accept", expected_version=1, actor="值班员", note="长" * 2001)
    assert exc.value.http_status == 422 and "note" in exc.value.message
    with pytest.raises(ActionError):
        cmd.act(uuid.UUID(iid), "assign", expected_version=1, actor="值班员", data={"department": "x" * 65})
    assert rt.redis.xlen(rt.settings.stream) == length


def test_the_console_refuses_inputs_filled_for_another_case(rt, client, drain):
    """The console's action carries the case its inputs were filled for (``form-case``): a
    request where it is another case than the one acted on writes nothing."""
    from test_access_matrix import _outputs

    a, b = new_case(client, drain), new_case(client, drain)
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(d for d in deps if any("case-action" in i["id"] for i in d["inputs"]))
    button = [{"id": {"type": "case-action", "action": "accept"}, "property": "n_clicks", "value": 1}]

    def press(form_case):
        values = {"case-version.data": {"id": b, "version": 1}, "form-case.data": form_case,
                  "case-note.value": "处置意见", "case-dept.value": None, "case-level.value": None,
                  "case-handler.value": None, "console-config.data": {"lang": "zh"}}
        # the callback's other inputs and states (a pending confirmation, the list's refresh) are empty
        state = [{"id": s["id"], "property": s["property"], "value": values.get(f"{s['id']}.{s['property']}")}
                 for s in cb["state"]]
        inputs = [button if "case-action" in i["id"] else {**i, "value": None} for i in cb["inputs"]]
        body = {"output": cb["output"], "outputs": _outputs(cb["output"])[0], "inputs": inputs,
                "state": state, "changedPropIds": ['{"action":"accept","type":"case-action"}.n_clicks']}
        return client.post("/_dash-update-component", json=body)

    length = rt.redis.xlen(rt.settings.stream)
    res = press(form_case=a)                        # the inputs were filled for case A
    assert res.status_code == 200 and "另一个事件" in res.get_data(as_text=True)
    assert rt.redis.xlen(rt.settings.stream) == length                 # nothing appended
    res = press(form_case=b)                        # B's own inputs: accepted, with its note
    assert res.status_code == 200 and "已提交" in res.get_data(as_text=True)
    drain()
    assert [e["note"] for e in client.get(f"/api/v1/incidents/{b}").get_json()["events"]] == ["", "处置意见"]
