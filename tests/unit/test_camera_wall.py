"""The camera wall's follow rule (dashboard/core/camera_wall.py), on a fake clock."""
from __future__ import annotations

import itertools
import json
import random

import pytest

from dashboard.core.camera_wall import FOLLOW_HOLD_S, FOLLOW_MAX_S, next_state

T0 = 1_790_000_000_000  # epoch ms
S = 1000


def alert(i, overdue=False, reported_at=None):
    return {"id": f"case-{i}", "lat": 28.5 + i * 1e-3, "lon": 121.4 + i * 1e-3, "town": "331004103",
            "grid": "g", "category": "fire_hazard", "label": f"消防隐患 · 第{i}件",
            "reported_at": reported_at if reported_at is not None else T0 + i, "overdue": overdue}


def ordered(alerts):
    """The order of the red-alerts store: overdue first, then the longest waiting."""
    return sorted(alerts, key=lambda a: (not a["overdue"], a["reported_at"]))


class Wall:
    """The callback's loop: the state goes through JSON (the browser's store) every call."""

    def __init__(self):
        self.state, self.alerts, self.switches, self.log = None, [], [], []

    def step(self, now):
        before = None if self.state is None else self.state["id"]
        self.state = json.loads(json.dumps(next_state(self.state, ordered(self.alerts), now)))
        if self.state["id"] != before:
            self.switches.append((now, before, self.state["id"]))
        self.log.append((now, self.state["id"]))
        return self.state["id"]


def test_a_new_red_case_takes_an_idle_wall_at_once():
    w = Wall()
    assert w.step(T0) is None                       # nothing waits: touring
    w.alerts.append(alert(1))
    assert w.step(T0 + 1 * S) == "case-1"
    s = w.state
    assert (s["lat"], s["lon"], s["label"], s["since"]) == (alert(1)["lat"], alert(1)["lon"], "消防隐患 · 第1件",
                                                            T0 + 1 * S)


def test_17_new_red_cases_in_45s_switch_at_most_once_per_hold():
    """The measured storm: 17 new red cases in 45 s, the live callback firing every second
    and the camera tick every 15 s. The wall switches at most once per FOLLOW_HOLD_S."""
    w = Wall()
    arrivals = [round(i * 45 / 17 * S) for i in range(17)]     # 0 s, 2.6 s, ... 42.4 s
    for ms in range(0, 300 * S, 250):
        while len(w.alerts) < len(arrivals) and arrivals[len(w.alerts)] <= ms:
            i = len(w.alerts)
            w.alerts.append(alert(i, reported_at=T0 + arrivals[i]))
            w.step(T0 + ms)                               # red-alerts changed
        if ms % S == 0:
            w.step(T0 + ms)                               # live / camera ticks
    times = [t for t, _, _ in w.switches]
    assert times[0] == T0                            # the first case at once
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and min(gaps) >= FOLLOW_HOLD_S * S, w.switches
    assert len([t for t in times if t < T0 + 45 * S]) == 1
    # With cases waiting, the next one follows as soon as the hold is over, in queue order.
    assert [new for _, _, new in w.switches][:5] == [f"case-{i}" for i in range(5)]
    assert gaps[0] == FOLLOW_HOLD_S * S


def test_the_queue_follows_the_order_of_red_alerts_overdue_first():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    w.alerts += [alert(2, reported_at=T0 + 10), alert(3, reported_at=T0 + 5), alert(4, overdue=True,
                                                                                   reported_at=T0 + 20)]
    w.step(T0 + 10 * S)
    assert w.state["id"] == "case-1"
    assert w.state["queue"] == ["case-4", "case-3", "case-2"]
    assert w.step(T0 + FOLLOW_HOLD_S * S) == "case-4"
    assert w.step(T0 + 2 * FOLLOW_HOLD_S * S) == "case-3"
    assert w.step(T0 + 3 * FOLLOW_HOLD_S * S) == "case-2"


def test_an_accepted_case_leaves_the_queue():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    w.alerts += [alert(2), alert(3)]
    w.step(T0 + 5 * S)
    assert w.state["queue"] == ["case-2", "case-3"]
    w.alerts = [a for a in w.alerts if a["id"] != "case-2"]   # accepted
    w.step(T0 + 30 * S)
    assert w.state["queue"] == ["case-3"]
    assert w.step(T0 + FOLLOW_HOLD_S * S) == "case-3"


def test_an_accepted_followed_case_still_holds_the_wall_then_touring_resumes():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    w.alerts = []                                             # accepted after 10 s
    assert w.step(T0 + 10 * S) == "case-1"
    assert w.step(T0 + (FOLLOW_HOLD_S - 1) * S) == "case-1"
    assert w.step(T0 + FOLLOW_HOLD_S * S) is None             # hold over, nothing waits: touring


def test_touring_resumes_after_the_maximum_when_nothing_else_waits():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    for s in range(15, FOLLOW_MAX_S, 15):
        assert w.step(T0 + s * S) == "case-1"
    assert w.step(T0 + FOLLOW_MAX_S * S) is None
    # A case already shown does not take the wall again while it waits ...
    assert w.step(T0 + (FOLLOW_MAX_S + 15) * S) is None
    assert w.state["done"] == ["case-1"]
    # ... a new one does, at once (touring has no hold).
    w.alerts.append(alert(2))
    assert w.step(T0 + (FOLLOW_MAX_S + 16) * S) == "case-2"


def test_a_case_arriving_after_the_hold_takes_the_wall_at_once():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    assert w.step(T0 + 70 * S) == "case-1"
    w.alerts.append(alert(2))
    assert w.step(T0 + 71 * S) == "case-2"


def test_the_followed_case_takes_fresh_position_and_label_from_the_alerts():
    w = Wall()
    w.alerts = [alert(1)]
    w.step(T0)
    w.alerts = [{**alert(1), "lat": 28.6, "label": "changed"}]
    w.step(T0 + S)
    assert (w.state["lat"], w.state["label"]) == (28.6, "changed")


def test_the_state_stays_small_in_a_storm():
    """A storm of hundreds of waiting red cases: the state the browser sends back with every
    call keeps a few queued ids and the count, not the whole queue."""
    alerts = [alert(i) for i in range(400)]
    s = next_state(None, alerts, T0)
    assert s["id"] == "case-0" and s["queued"] == 399 and s["queue"] == [f"case-{i}" for i in range(1, 11)]
    s = next_state(s, alerts, T0 + FOLLOW_HOLD_S * S)
    assert s["id"] == "case-1" and s["queued"] == 398 and s["done"] == ["case-0", "case-1"]
    assert len(json.dumps(s)) < 1000


@pytest.mark.parametrize("junk", [None, 5, "x", [], {"id": 3}, {"id": "a", "since": "yesterday"},
                                  {"id": "a", "since": T0, "lat": float("nan"), "lon": 1.0},
                                  {"done": "case-1", "queue": 7}, {"id": "a", "since": T0, "lat": True, "lon": 1}])
def test_whatever_the_browser_sends_back_is_read_safely(junk):
    s = next_state(junk, [alert(1)], T0)
    assert s["id"] == "case-1" and s["since"] == T0


def test_bad_alerts_are_ignored_and_the_state_is_json():
    s = next_state(None, [None, {"id": 1}, {"id": "x", "lat": "a", "lon": 1}, alert(1)], T0)
    assert s["id"] == "case-1"
    assert json.loads(json.dumps(s)) == s


def test_a_since_from_the_future_does_not_hold_forever():
    w = Wall()
    w.state = {"id": "case-1", "lat": 28.5, "lon": 121.4, "label": "x", "since": T0 + 10**12}
    w.alerts = [alert(1), alert(2)]
    assert w.step(T0) == "case-1"
    assert w.step(T0 + FOLLOW_HOLD_S * S) == "case-2"


def test_random_storms_never_switch_within_the_hold():
    rnd = random.Random(7)
    for _ in range(30):
        w = Wall()
        now, n = T0, 0
        for _ in range(400):
            now += rnd.choice((250, 1000, 1000, 15000))
            r = rnd.random()
            if r < 0.25:
                n += 1
                w.alerts.append(alert(n, overdue=rnd.random() < 0.2, reported_at=now))
            elif r < 0.4 and w.alerts:
                w.alerts.pop(rnd.randrange(len(w.alerts)))
            w.step(now)
        follows = [(t, new) for t, _, new in w.switches if new is not None]
        changes = [t for t, old, new in w.switches if old is not None]
        for (t, _new) in follows:
            # a followed case is never replaced or dropped before its hold is over
            later = [c for c in changes if c > t]
            assert not later or later[0] - t >= FOLLOW_HOLD_S * S
        assert len(follows) > 3


# --------------------------------------------------------------------------- the callback's data

class _App:
    """Just enough of a Dash app to get the wall's server callback out of register()."""

    def __init__(self):
        self.callbacks, self.clientside = [], []

    def callback(self, *deps, **kw):
        def deco(fn):
            self.callbacks.append((deps, fn))
            return fn
        return deco

    def clientside_callback(self, *args, **kw):
        self.clientside.append(args)


TOWN = "331004103"
XINQIAO = (28.5231, 121.4147)


@pytest.fixture(scope="module")
def registry():
    from dashboard.config import Settings
    from dashboard.geo.cameras import CameraRegistry
    return CameraRegistry(Settings.from_env({}))


@pytest.fixture
def refresh(registry, monkeypatch):
    """The wall's callback, for a principal whose scope is the town the page asks for."""
    from types import SimpleNamespace

    import callbacks.cameras as cb
    from dashboard.core import access
    monkeypatch.setattr(cb, "require_principal", lambda: None)
    monkeypatch.setattr(access, "resolve_town", lambda principal, town: town)
    app = _App()
    cb.register(app, SimpleNamespace(runtime=SimpleNamespace(settings=registry.settings), cameras=registry))
    (deps, fn), = app.callbacks
    assert [str(d) for d in deps] == ["follow.data", "camera-wall-data.data", "camera-mode.children",
                                      "camera-tick.n_intervals", "red-alerts.data", "follow.data",
                                      "screen-config.data"]
    assert len(app.clientside) == 1
    return fn


CFG = {"scope": TOWN, "lang": "zh", "wall": 3, "period": "today"}


def red(i, lat=XINQIAO[0], lon=XINQIAO[1], town=TOWN):
    return {"id": f"case-{i}", "lat": lat, "lon": lon, "town": town, "grid": "g", "category": "fire_hazard",
            "label": f"消防安全隐患 · 第{i}起", "reported_at": T0 + i, "overdue": False}


def test_touring_sends_each_page_once_as_data(refresh, registry):
    from dash import no_update
    follow, wall, mode = refresh(None, None, None, CFG)
    assert wall["key"] == "tour:0" and wall["following"] is None
    assert [t["id"] for t in wall["tiles"]] == [c.id for c in registry.page(TOWN, 0, 9)]
    tile = wall["tiles"][0]
    assert set(tile) == {"id", "name", "title", "online", "seen", "kind", "src"}
    assert tile["src"] == f"/cameras/{tile['id']}/snapshot.jpg?w=480" and tile["kind"] == "sim"
    assert tile["title"].startswith("新桥镇") and not tile["name"].startswith("新桥镇")
    assert wall["texts"] == {"camera_offline": "离线", "camera_last_seen": "最后在线"}
    assert mode == " · 轮巡 1/200"
    json.dumps(follow)
    # red-alerts fires (nothing waits for acceptance): nothing to send.
    assert refresh(None, [], follow, CFG) == (no_update, no_update, no_update)
    # The next camera tick: the next page.
    _, wall2, mode2 = refresh(1, [], follow, CFG)
    assert wall2["key"] == "tour:1" and mode2 == " · 轮巡 2/200"


def test_following_sends_the_nearest_cameras_once_while_more_cases_queue(refresh, registry):
    from dash import no_update
    follow, wall, _ = refresh(None, None, None, CFG)
    follow, wall, mode = refresh(None, [red(1)], follow, CFG)
    assert wall["key"] == "follow:case-1" and wall["following"] == "case-1"
    assert [t["id"] for t in wall["tiles"]] == [n.camera.id for n in registry.nearest(*XINQIAO, k=9, town=TOWN)]
    assert mode == " · 跟随红色事件: 消防安全隐患 · 第1起"
    # A second red case arrives: it queues; the wall and its title are not sent again.
    follow2, wall2, mode2 = refresh(None, [red(1), red(2)], follow, CFG)
    assert (wall2, mode2) == (no_update, no_update)
    assert follow2["id"] == "case-1" and follow2["queue"] == ["case-2"]
    # Camera ticks while following do not turn pages.
    assert refresh(3, [red(1), red(2)], follow2, CFG) == (no_update, no_update, no_update)


def test_a_town_wall_ignores_red_cases_of_other_towns(refresh):
    _, wall, _ = refresh(None, [red(1, town="331004001")], None, CFG)
    assert wall["following"] is None and wall["key"] == "tour:0"


def test_offline_tiles_say_when_they_were_last_seen(refresh, registry):
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from callbacks.cameras import tile_data
    cam = next(c for c in registry.all() if c.status == "offline")
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)
    tile = tile_data(cam, registry, now, ZoneInfo("Asia/Shanghai"))
    assert tile["online"] is False
    assert tile["seen"] == registry.last_seen(cam, now).strftime("%m-%d %H:%M")


@pytest.mark.parametrize("name,short", [
    ("新桥镇扶雅社区第2网格 路口球机3号", "路口球机3号 · 扶雅社区第2网格"),
    ("路南街道方林村第2网格 工业区道路", "工业区道路 · 方林村第2网格"),
    ("Gate camera 1", "Gate camera 1"),
    ("新桥镇", "新桥镇"),
])
def test_captions_put_the_spot_first_and_drop_the_town(name, short):
    from layouts.components import short_name
    assert short_name(name) == short
