"""Random sequences of actions through the API's command path, stored by the persister: refused
actions change nothing, and the stored case equals the fold of its stored log and the head."""
from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.core.actions import ACTIONS, ActionError
from dashboard.core.domain import Event, fold
from dashboard.stream.commands import Commands
from dashboard.stream.heads import head_key

FIELDS = {"route": {"department": "住建局"}, "assign": {"department": "综合行政执法局"}}
NOTES = {"route": "属住建局职责", "resolve": "已修复完毕", "return": "不属本部门", "supervise": "请加快"}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.sampled_from(sorted(ACTIONS)), min_size=1, max_size=15),
       stale=st.lists(st.booleans(), min_size=15, max_size=15))
def test_random_actions_keep_log_projection_and_head_in_step(rt, make_events, actions, stale, drain):
    report = make_events(1, seed=uuid.uuid4().int % 10_000, follow_ups=False)[0]
    rt.publisher.publish(report)
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    version, accepted = 1, 0
    for action, use_stale in zip(actions, stale):
        expected = version - 1 if use_stale and version > 1 else version
        length = rt.redis.xlen(rt.settings.stream)
        try:
            res = cmds.act(report.incident_id, action, expected_version=expected, actor="测试",
                           note=NOTES.get(action, ""), data=FIELDS.get(action))
        except ActionError as exc:
            assert exc.http_status == 409
            assert rt.redis.xlen(rt.settings.stream) == length      # nothing appended
            continue
        assert expected == version
        version, accepted = res.version, accepted + 1
    drain()
    inc = rt.store.get_incident(report.incident_id)
    log = [Event(id=e["id"], incident_id=e["incident_id"], type=e["type"], at=e["at"], actor=e["actor"],
                 note=e["note"], data=e["data"], stream_pos=e["stream_pos"]) for e in inc["events"]]
    state = fold(log)
    assert state.rejected == []                                    # only legal steps got in
    assert (inc["status"], inc["version"]) == (state.status, state.version) == \
        (rt.redis.hget(head_key(report.incident_id), "s").decode(), version)
    assert len(log) == accepted + 1
