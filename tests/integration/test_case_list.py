"""The console's list in SQL (``Store.case_page``), on SQLite and PostgreSQL, checked against the
same answers computed another way in Python from every stored case: urgency by rank, deadlines by
time, search by a word and by an id prefix, the total, paging, the overdue filter and the list
holding still at its snapshot time."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.core.domain import URGENCY_RANK, categories
from dashboard.core.sla import default_policy
from dashboard.store.incidents import CaseQuery
from dashboard.store.models import IncidentRow


@pytest.fixture
def cases(store, make_events):
    store.store_events(make_events(600, seed=7))
    store.store_events(make_events(40, seed=8, follow_ups=False))  # some still waiting
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(IncidentRow.__table__)).mappings()]
    assert len(rows) > 60 and {r["status"] for r in rows} > {"reported", "closed"}
    return rows

def windows():
    return default_policy().windows(categories())

def newest_first(rows):
    return sorted(rows, key=lambda r: (r["reported_at"], r["id"]), reverse=True)

def ids(rows):
    return [r["id"] for r in rows]

def test_urgency_sorts_by_rank_not_by_name(store, cases):
    got, total = store.case_page(CaseQuery(), sort=[("urgency", True)], limit=1000)
    assert total == len(cases)
    # another way: Python's stable sort by rank of the newest-first list
    want = sorted(newest_first(cases), key=lambda r: -URGENCY_RANK[r["urgency"]])
    assert ids(got) == ids(want)
    assert got[0]["urgency"] == "red" and got[-1]["urgency"] == "green"
    asc, _ = store.case_page(CaseQuery(), sort=[("urgency", False)], limit=1000)
    assert asc[0]["urgency"] == "green"

def test_deadline_sorts_by_time_with_closed_cases_last(store, cases):
    policy = default_policy()
    got, _ = store.case_page(CaseQuery(), sort=[("due", False)], limit=1000, windows=windows())
    open_ = [r for r in newest_first(cases) if policy.pending(r) is not None]
    want = sorted(open_, key=lambda r: policy.pending(r)[1])  # stable: newest first among equals
    assert ids(got[:len(want)]) == ids(want)
    assert all(policy.pending(r) is None for r in got[len(want):])
    dues = [policy.pending(r)[1] for r in got[:len(want)]]
    assert dues == sorted(dues) and len(set(dues)) > 10

def test_search_by_a_word_and_by_id_prefix(store, cases):
    word = cases[0]["description"][2:5]
    got, total = store.case_page(CaseQuery(text=word), limit=1000)
    want = [r for r in cases if word in r["description"] or word in r["reporter"]]
    assert total == len(want) and set(ids(got)) == set(ids(want)) and want

    target = cases[len(cases) // 2]
    prefix = target["id"].hex[:8]
    got, total = store.case_page(CaseQuery(text=prefix.upper()), limit=10)
    assert ids(got) == [target["id"]] and total == 1
    # the dashed form a user may paste
    got, _ = store.case_page(CaseQuery(text=str(target["id"])[:13]), limit=10)
    assert ids(got) == [target["id"]]
    # four digits: a case number's start (or a word): the case is among the answers
    got, _ = store.case_page(CaseQuery(text=target["id"].hex[:4]), limit=1000)
    assert target["id"] in ids(got)
    # a wildcard typed by the user is a plain character
    assert store.case_page(CaseQuery(text="%"), limit=10) == ([], 0)

def test_total_and_pages_cover_the_filtered_list_once(store, cases):
    q = CaseQuery(statuses=("reported", "accepted", "assigned"), urgencies=("red", "yellow"))
    want = newest_first([r for r in cases if r["status"] in q.statuses and r["urgency"] in q.urgencies])
    pages, offset = [], 0
    while True:
        page, total = store.case_page(q, offset=offset, limit=7)
        assert total == len(want)
        if not page:
            break
        pages += page
        offset += 7
    assert ids(pages) == ids(want)

def test_overdue_filter_matches_the_sla_table(store, cases):
    policy = default_policy()
    now = max(r["reported_at"] for r in cases) + timedelta(hours=30)
    got, total = store.case_page(CaseQuery(overdue=True), limit=1000, windows=windows(), now=now)
    want = [r for r in cases if policy.lateness(r, now) == "overdue"]
    assert total == len(want) and set(ids(got)) == set(ids(want)) and 0 < len(want) < len(cases)

def test_the_list_holds_still_at_its_snapshot(store, cases):
    ordered = newest_first(cases)
    until = ordered[10]["reported_at"]
    got, total = store.case_page(CaseQuery(until=until), limit=1000)
    assert ids(got) == ids([r for r in ordered if r["reported_at"] <= until])
    assert store.count_cases(CaseQuery(after=until)) == len([r for r in cases if r["reported_at"] > until])
    newest = store.newest_cases(CaseQuery(after=until), limit=3)
    assert ids(newest) == ids(ordered[:3])

def test_unknown_sort_key_is_refused(store, cases):
    with pytest.raises(ValueError, match="cannot sort by 'description'"):
        store.case_page(CaseQuery(), sort=[("description", True)])
