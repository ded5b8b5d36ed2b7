"""GET /api/v1/kpis on a real app (Flask test client), real Redis and both databases."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from dashboard.core.domain import IncidentState
from dashboard.queries.kpi_board import village_names
from dashboard.queries.kpis import compute_kpis

A, B = "331004001", "331004103"


def _case(town, ago, accepted_after=None, closed_after=None, urgency="red", level="grid", village=None):
    r = datetime.now(timezone.utc) - ago
    closed = r + closed_after if closed_after else None
    village = village or town + "201"
    return IncidentState(
        id=uuid.uuid4(), reported_at=r, town_code=town, village_code=village,
        grid_code=village + "-01", category="fire_hazard", platform="public_order",
        description="【测试】", lat=28.52, lon=121.41, reporter="网格员", base_urgency=urgency,
        urgency=urgency, photos=[], source="test",
        status="closed" if closed else ("accepted" if accepted_after else "reported"),
        accepted_at=r + accepted_after if accepted_after else None,
        resolved_at=closed, closed_at=closed, resolved_level=level if closed else None,
        level=level, version=1)


@pytest.fixture
def cases(rt):
    h = lambda n: timedelta(hours=n)  # noqa: E731
    states = [
        _case(A, h(2)),                                   # not yet due for 1 day; past its SLA (red: 1 h)
        _case(A, h(40), accepted_after=h(30), urgency="yellow"),   # accepted late
        _case(A, h(72), h(1), closed_after=h(20), level="village"),
        _case(B, h(5), h(1), closed_after=h(3)),
        _case(B, h(24 * 6), urgency="green"),             # overdue
        _case(B, h(24 * 20), h(2), closed_after=h(24 * 6), level="town"),
    ]
    with rt.store.engine.begin() as conn:
        rt.store.upsert_states(conn, states)
    return states


def get(client, **params):
    return client.get("/api/v1/kpis", query_string=params)


def expected(rt, body, **kw):
    """compute_kpis at the instant the answer states, as JSON."""
    now = datetime.fromisoformat(body["data_as_of"])
    names = {c: row["name"] for c, row in rt.geo.towns.items()}
    villages = village_names(rt.geo, kw["town"]) if kw.get("town") else None
    return orjson.loads(orjson.dumps(
        compute_kpis(rt.store, now=now, tz=rt.settings.timezone, town_names=names,
                     village_names=villages, **kw)))


@pytest.mark.parametrize("period", ["today", "7d", "30d", "year"])
def test_district_figures_equal_compute_kpis(client, rt, cases, period):
    res = get(client, period=period)
    assert res.status_code == 200, res.get_json()
    assert res.mimetype == "application/json"
    body = res.get_json()
    assert body == expected(rt, body, period=period)
    assert body["scope"] == "district" and body["period"] == period
    assert body["data_as_of"].endswith("+08:00") and body["period_start"].endswith("+08:00")
    assert body["open_red"] == 1 and body["open_yellow"] == 1 and body["open_green"] == 1
    # overdue follows the SLA table: the red fire hazard not accepted after 2 h (1 h allowed) and
    # the case not accepted in 6 days; the yellow one accepted late is inside its 48 h to close
    assert body["overdue"] == 2
    assert len(body["town_ranking"]) == len(rt.geo.towns)
    if period in ("30d", "year"):
        assert body["reports_in_period"] == 6
        assert body["closure_rate"] == {"numerator": 3, "denominator": 6, "rate": 0.5, "open": 3}
        # on time: the 3 closed ones (1 h, 1 h, 2 h); late: accepted after 30 h, never
        # accepted in 6 days; pending: reported 2 h ago
        assert body["accepted_within_1d"] == {"numerator": 3, "denominator": 5, "rate": 0.6,
                                              "pending": 1}


def test_default_is_district_today(client, rt, cases):
    body = get(client).get_json()
    assert body["period"] == "today" and body["scope"] == "district"
    assert body == expected(rt, body, period="today")
    assert get(client, town="district").get_json()["scope"] == "district"


def test_town_scope_filters(client, rt, cases):
    res = get(client, town=B, period="30d")
    assert res.status_code == 200
    body = res.get_json()
    assert body == expected(rt, body, town=B, period="30d")
    assert body["scope"] == B and body["town_ranking"] is None
    assert body["reports_in_period"] == 3
    assert (body["open_red"], body["open_yellow"], body["open_green"], body["overdue"]) == (0, 0, 1, 1)
    assert body["closure_rate"]["numerator"] == 2
    a = get(client, town=A, period="30d").get_json()
    assert a["reports_in_period"] == 3 and a["open_red"] == 1 and a["overdue"] == 1


def test_a_town_ranks_its_villages_by_name(client, rt, cases):
    villages = village_names(rt.geo, B)
    v = sorted(villages)[0]
    with rt.store.engine.begin() as conn:
        rt.store.upsert_states(conn, [_case(B, timedelta(hours=3), timedelta(hours=1), timedelta(hours=2),
                                            village=v)])
    ranking = get(client, town=B, period="7d").get_json()["ranking"]
    assert ranking["by"] == "village" and ranking["period"] == "7d"
    rows = ranking["rows"]
    # every village of the town, with or without cases; the fixture's cases are in a village
    # the geography does not know (listed under its code)
    assert {r["code"] for r in rows} == set(villages) | {B + "201"}
    assert rows[0] == {"code": v, "name": villages[v], "reports": 1, "closed": 1, "closure_rate": 1.0,
                       "overdue": 0}
    district = get(client, period="7d").get_json()
    assert district["ranking"] == {"by": "town", "period": "7d", "rows": district["town_ranking"]}


def test_answers_match_the_openapi_schema(client, anon, cases):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = anon.get("/api/v1/openapi.json").get_json()
    registry = Registry().with_resource("urn:api", Resource.from_contents(doc, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": "urn:api#/components/schemas/Kpis"}, registry=registry)
    for params in ({"period": "7d"}, {"town": B, "period": "30d"}, {"period": "today"}):
        validator.validate(get(client, **params).get_json())
    body = get(client).get_json()
    assert set(doc["components"]["schemas"]["Kpis"]["required"]) <= set(body)
    body["closure_rate"] = {k: v for k, v in body["closure_rate"].items() if k != "open"}
    assert not validator.is_valid(body)   # the schema does check the figures


def test_bad_period_is_400_naming_period(client, cases):
    res = get(client, period="week")
    assert res.status_code == 400
    body = res.get_json()
    assert "period" in body["error"] and body["fields"][0]["field"] == "period"


def test_unknown_town_is_404(client, cases):
    res = get(client, town="999999")
    assert res.status_code == 404
    assert "unknown town" in res.get_json()["error"]


def test_empty_database_answers_without_rates(client, rt):
    body = get(client, period="7d").get_json()
    assert body["reports_in_period"] == 0 and body["accepted_within_1d"]["rate"] is None
    assert body["closure_rate"]["rate"] is None and body["mean_hours_to_close"] is None
