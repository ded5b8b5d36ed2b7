"""The KPI board (dashboard.queries.kpi_board): figures per (scope, period), fresh after a page load.

On the real runtime (Redis and both databases). The freshness tests inject a compute function
(to make one key slow, or count computations) and a clock (to age the figures without waiting).
"""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.core.domain import IncidentState
from dashboard.queries.kpi_board import KpiBoard
from dashboard.queries.kpis import UnknownTown, compute_kpis

A, B = "331004001", "331004103"
TTL = GRACE = 5.0
WAIT = 10.0  # seconds a test waits for a thread before it fails


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Counting:
    """A compute function that numbers its results; ``block(key)`` makes that key wait for
    ``release()`` (``entered`` is set once it waits)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.blocked: set = set()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def block(self, key):
        self.blocked.add(key)

    def release(self):
        self.gate.set()

    def __call__(self, town, period, now):
        with self._lock:
            self.calls.append((town, period))
            n = len(self.calls)
        if (town, period) in self.blocked:
            self.entered.set()
            assert self.gate.wait(WAIT)
        return {"scope": town or "district", "period": period, "n": n,
                "data_as_of": now.isoformat()}


def in_thread(fn, *args, arrived: list | None = None):
    """Run fn(*args) in a thread; returns (thread, outcome list: [result] or [exception]).
    ``arrived`` gets an item appended just before fn is called."""
    out: list = []

    def run():
        if arrived is not None:
            arrived.append(1)
        try:
            out.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


def until(condition, timeout=WAIT):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


# --------------------------------------------------------------------------- real figures

def _case(town, village, ago, closed_after=None):
    r = datetime.now(timezone.utc) - ago
    closed = r + closed_after if closed_after else None
    return IncidentState(
        id=uuid.uuid4(), reported_at=r, town_code=town, village_code=village,
        grid_code=village + "-01", category="fire_hazard", platform="public_order",
        description="【测试】", lat=28.52, lon=121.41, reporter="网格员", base_urgency="green",
        urgency="green", photos=[], source="test", status="closed" if closed else "reported",
        accepted_at=r + timedelta(hours=1) if closed else None, resolved_at=closed, closed_at=closed,
        resolved_level="grid" if closed else None, level="grid", version=1)


def test_figures_are_compute_kpis_with_their_compute_time(rt):
    villages = {c: v for c, v in rt.geo.villages.items() if v["town_code"] == B}
    v1, v2 = sorted(villages)[:2]
    h = lambda n: timedelta(hours=n)  # noqa: E731
    with rt.store.engine.begin() as conn:
        rt.store.upsert_states(conn, [_case(B, v1, h(30), closed_after=h(3)), _case(B, v2, h(4)),
                                      _case(B, v2, h(50), closed_after=h(20)), _case(A, A + "001", h(2))])
    board = KpiBoard(rt)
    before = time.time()
    k = board.get(None, "30d")
    assert before <= k["computed_at"] <= time.time()
    # computed_at is the instant the figures describe: data_as_of, in epoch seconds
    now = datetime.fromisoformat(k["data_as_of"])
    assert k["computed_at"] == pytest.approx(now.timestamp(), abs=1e-5)
    expected = compute_kpis(rt.store, now=now, tz=rt.settings.timezone, period="30d",
                            town_names={c: r["name"] for c, r in rt.geo.towns.items()})
    assert {x: y for x, y in k.items() if x != "computed_at"} == expected
    assert k["ranking"]["by"] == "town" and len(k["ranking"]["rows"]) == len(rt.geo.towns)
    assert board.get(None, "30d") is k and board.computations == 1   # cached within ttl

    # a town's wall ranks the town's villages, named from the geography, all of them
    t = board.get(B, "30d")
    assert t["town_ranking"] is None and t["ranking"]["by"] == "village"
    rows = t["ranking"]["rows"]
    assert {r["code"] for r in rows} == set(villages)
    assert [(r["code"], r["name"], r["reports"], r["closed"]) for r in rows[:2]] == [
        (v1, villages[v1]["name"], 1, 1), (v2, villages[v2]["name"], 2, 1)]
    assert all(r["reports"] == 0 for r in rows[2:])
    assert t["closure_rate"] == {"numerator": 2, "denominator": 3, "rate": 2 / 3, "open": 1}
    assert board.computations == 2


def test_unknown_scope_or_period_makes_no_key(rt):
    board = KpiBoard(rt, compute=Counting())
    with pytest.raises(UnknownTown):
        board.get("999999", "30d")
    with pytest.raises(ValueError, match="period"):
        board.get(None, "week")
    assert len(board) == 0
    # the district has one key, however it is named
    assert board.get(None, "7d") is board.get("district", "7d") is board.get("", "7d")
    assert len(board) == 1


# --------------------------------------------------------------------------- freshness per key

def test_a_slow_key_does_not_hold_up_another(rt):
    clock, compute = Clock(), Counting()
    board = KpiBoard(rt, ttl=TTL, grace=GRACE, compute=compute, clock=clock)
    district0, town0 = board.get(None, "30d"), board.get(B, "30d")
    clock.t += TTL + GRACE + 1            # both keys stale, beyond their grace
    compute.block((None, "30d"))
    slow, slow_out = in_thread(board.get, None, "30d")
    assert compute.entered.wait(WAIT)     # the district is computing (and will take its time)

    started = time.monotonic()
    town1, town_out = in_thread(board.get, B, "30d")
    town1.join(WAIT)
    assert not town1.is_alive(), "the town's caller waited for the district's computation"
    assert time.monotonic() - started < 2.0
    assert town_out[0] is not town0 and town_out[0]["n"] > town0["n"]   # fresh, not the stale figures
    # another period of the same scope is another key too
    assert board.get(None, "7d")["n"] > town0["n"]

    compute.release()
    slow.join(WAIT)
    assert slow_out[0] is not district0 and slow_out[0]["n"] > district0["n"]


def test_no_figures_older_than_ttl_plus_grace(rt):
    clock, compute = Clock(), Counting()
    board = KpiBoard(rt, ttl=TTL, grace=GRACE, compute=compute, clock=clock)
    first = board.get(B, "today")
    clock.t += TTL - 0.1
    assert board.get(B, "today") is first                       # younger than ttl: cached
    clock.t += 0.2                                              # older than ttl: recomputed
    compute.block((B, "today"))
    computing, computed = in_thread(board.get, B, "today")
    assert compute.entered.wait(WAIT)
    # within the grace period, a second caller gets the cached figures at once...
    assert board.get(B, "today") is first
    # ...beyond it, it waits for the running computation and answers its result
    clock.t = 1000.0 + TTL + GRACE + 0.1
    waiting, waited = in_thread(board.get, B, "today")
    waiting.join(0.3)
    assert waiting.is_alive() and not waited, "figures older than ttl + grace were answered"
    compute.release()
    computing.join(WAIT)
    waiting.join(WAIT)
    assert computed[0]["n"] == waited[0]["n"] == 2 and waited[0] is computed[0]
    assert len(compute.calls) == 2                              # the waiter reused it
    assert "computed_at" in waited[0]


def test_concurrent_callers_of_one_key_trigger_one_computation(rt):
    compute = Counting()
    board = KpiBoard(rt, compute=compute)
    compute.block((A, "7d"))
    arrived: list = []
    threads = [in_thread(board.get, A, "7d", arrived=arrived) for _ in range(8)]
    assert compute.entered.wait(WAIT)
    until(lambda: len(arrived) == 8)
    time.sleep(0.2)                       # let the other callers reach the key's lock
    compute.release()
    for th, _ in threads:
        th.join(WAIT)
    results = [out[0] for _, out in threads]
    assert len(compute.calls) == 1 and board.computations == 1
    assert all(r is results[0] for r in results)


def test_a_failure_is_shared_by_its_waiters_and_retried_later(rt):
    calls = []
    entered, gate = threading.Event(), threading.Event()

    def failing(town, period, now):
        calls.append(1)
        entered.set()
        assert gate.wait(WAIT)
        raise ConnectionError("database unreachable")

    clock = Clock()
    board = KpiBoard(rt, compute=failing, clock=clock)
    arrived: list = []
    threads = [in_thread(board.get, None, "30d", arrived=arrived) for _ in range(4)]
    assert entered.wait(WAIT)
    until(lambda: len(arrived) == 4)
    time.sleep(0.2)                       # let the other callers reach the key's lock
    gate.set()
    for th, _ in threads:
        th.join(WAIT)
    assert all(isinstance(out[0], ConnectionError) for _, out in threads)
    assert len(calls) == 1                # the waiters did not each retry against a dead database
    with pytest.raises(ConnectionError):  # the next caller tries again
        board.get(None, "30d")
    assert len(calls) == 2 and board.computations == 0


def test_keys_unused_for_ten_minutes_are_dropped(rt):
    clock, compute = Clock(), Counting()
    board = KpiBoard(rt, compute=compute, clock=clock)
    for period in ("today", "7d", "30d", "year"):
        board.get(None, period)
    board.get(B, "30d")
    assert len(board) == 5
    clock.t += 300
    board.get(B, "30d")                   # used again: kept
    clock.t += 301
    board.get(A, "today")
    assert len(board) == 2                # the district's four keys went, B's and A's stay
    before = len(compute.calls)
    board.get(None, "today")              # a dropped key simply computes again
    assert len(compute.calls) == before + 1
