"""The live picture of open incidents, computed once per change and shared by all viewers.

The persister bumps ``live:version`` in Redis after every commit that changed incidents.
``LiveView.snapshot()`` reads that counter (one cheap GET) and recomputes from the database
only when it moved, at most once per ``min_interval`` seconds per process, whatever the number
of viewers. Callbacks compare versions and send nothing when nothing changed.
"""
from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property

import orjson

from dashboard.core import wall
from dashboard.core.domain import OPEN_STATUSES
from dashboard.core.sla import default_policy
from dashboard.stream.events import LIVE_VERSION_KEY, store_delay_s
from dashboard.stream.heads import head_key

URGENCY_CODE = {"red": "r", "yellow": "y", "green": "g"}


@dataclass
class Snapshot:
    version: str
    as_of: datetime
    markers: dict                      # GeoJSON FeatureCollection of the clustered open cases
    grid_fill: dict[str, str]          # grid code -> "r" / "y" / "g" (dashboard.core.wall, the one rule)
    counts: dict[str, int] = field(default_factory=dict)  # open cases by urgency, and overdue
    ticker: list[dict] = field(default_factory=list)     # latest reports, newest first
    markers_rev: int = 0                                 # changes only when the markers changed
    pinned: dict = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})
    alarms: list[dict] = field(default_factory=list)     # red cases waiting for acceptance
    markers_digest: int = 0                              # of the clustered markers' ids and looks
    store_delay_s: float = 0.0                           # how far the database lags the stream
    computed_at: float = 0.0

    @cached_property
    def markers_json(self) -> bytes:
        """The markers serialised once, for every viewer that fetches them."""
        return orjson.dumps(self.markers)

    @cached_property
    def markers_gzip(self) -> bytes:
        return gzip.compress(self.markers_json, compresslevel=5)

    @cached_property
    def all_markers_json(self) -> bytes:
        """Every open case, the pinned ones included (for API clients)."""
        return orjson.dumps({"type": "FeatureCollection",
                             "features": self.markers["features"] + self.pinned["features"]})

    @cached_property
    def all_markers_gzip(self) -> bytes:
        return gzip.compress(self.all_markers_json, compresslevel=5)

    @property
    def etag(self) -> str:
        return f"{self.version}-{self.markers_rev}-{int(self.computed_at * 1000)}"


def _feature(r: dict, flags: tuple, project) -> dict:
    x, y = project(r["lon"], r["lat"]) if project else (r["lon"], r["lat"])
    late, waiting = flags
    props = {"id": str(r["id"]), "u": URGENCY_CODE[r["urgency"]], "k": r["category"],
             "t": int(r["reported_at"].timestamp())}
    if late == "overdue":
        props["l"] = 1   # overdue: a ring around the marker
    if waiting:
        props["w"] = 1   # waiting for acceptance
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
            "properties": props}


def build_snapshot(rows, version: str, as_of: datetime,
                   ticker: list[dict] | None = None, project=None,
                   feature_cache: dict | None = None, lateness=None, heads: dict | None = None) -> Snapshot:
    """The wall's picture of the open cases ``rows`` at ``as_of``.

    ``lateness(row, now) -> "overdue" | "due_soon" | None`` is the SLA policy's (None: nothing
    is late). ``heads`` (case id -> status in Redis) overrides a row's stored status where the
    stream is ahead of the database, so alarms and red grids follow the latest state.
    ``project(lon, lat) -> (x, y)`` moves marker positions onto the base map's datum (GCJ-02
    for Amap tiles). ``feature_cache`` keeps each case's marker between snapshots."""
    features, pinned, keys = [], [], []
    fill: dict[str, str] = {}
    counts = {"red": 0, "yellow": 0, "green": 0, "overdue": 0, "waiting": 0}
    alarms = []
    heads = heads or {}
    for r in rows:
        head = heads.get(r["id"])
        if head is not None and head != r["status"]:
            if head not in OPEN_STATUSES:
                continue  # closed in the stream, not yet in the database
            # accepted in the stream: its acceptance is not stored yet, so judge the case by
            # its close deadline (the acceptance time only matters once it is stored)
            r = {**r, "status": head, "accepted_at": r.get("accepted_at") or
                 (r["reported_at"] if head != wall.WAITING else None)}
        u = r["urgency"]
        counts[u] = counts.get(u, 0) + 1
        late = lateness(r, as_of) if lateness else None
        waiting = r["status"] == wall.WAITING
        counts["overdue"] += late == "overdue"
        counts["waiting"] += waiting
        signal = wall.case_signal(r, late)
        wall.grid_fill(fill, r["grid_code"], signal)
        # what the marker shows: overdue (a ring) and, for pinned ones, waiting (it pulses)
        flags = (late if late == "overdue" else None, waiting and signal == "r")
        key = (r["id"], u, flags)
        feature = feature_cache.get(key) if feature_cache is not None else None
        if feature is None:
            feature = _feature(r, flags, project)
            if feature_cache is not None:
                feature_cache[key] = feature
        if signal == "r":
            pinned.append(feature)
        else:
            features.append(feature)
            keys.append(key)
        if wall.is_alarm(r):
            alarms.append({"id": str(r["id"]), "lat": r["lat"], "lon": r["lon"], "town": r["town_code"],
                           "grid": r["grid_code"], "category": r["category"],
                           "description": r["description"], "reported_at": r["reported_at"],
                           "overdue": late == "overdue"})
    return Snapshot(version=version, as_of=as_of,
                    markers={"type": "FeatureCollection", "features": features},
                    pinned={"type": "FeatureCollection", "features": pinned},
                    grid_fill=fill, counts=counts, ticker=list(ticker or []),
                    alarms=wall.alarm_order(alarms), markers_digest=hash(tuple(keys)),
                    computed_at=time.monotonic())


@dataclass
class _ScopeRows:
    """The open incidents of one scope, kept up to date from the rows that changed."""
    rows: dict = field(default_factory=dict)          # id -> row
    features: dict = field(default_factory=dict)      # (id, urgency, flags) -> marker feature
    since: datetime | None = None                     # newest updated_at seen
    loaded_at: float = 0.0                            # when the last full load ran
    markers_rev: int = 0                              # bumped when a clustered marker changes
    markers_key: int | None = None                    # digest of the clustered markers


class LiveView:
    """Open incidents per scope, refreshed incrementally: after a change only the incidents
    updated since the last look are read (``updated_at``, with an overlap for transactions
    that commit out of order), and a full reload every ``full_every`` seconds heals anything
    missed. Markers of unchanged incidents are reused. Lateness moves with the clock, so a
    snapshot is rebuilt at least every ``max_age`` seconds even when nothing was stored."""

    OVERLAP = timedelta(seconds=5)

    def __init__(self, runtime, min_interval: float = 0.5, max_age: float = 10.0, project=None,
                 full_every: float = 60.0, policy=None):
        self.rt = runtime
        self.project = project
        self.min_interval = min_interval
        self.max_age = max_age
        self.full_every = full_every
        self._policy = policy
        self._cache: dict[str | None, Snapshot] = {}  # keyed by scope (town code or None)
        self._scopes: dict[str | None, _ScopeRows] = {}
        self._build_s: dict[str | None, float] = {}  # how long the last rebuild of a scope took
        self._locks: dict[str | None, threading.Lock] = {}  # one per scope: scopes rebuild in parallel
        self._locks_lock = threading.Lock()
        self.computations = 0
        self.full_loads = 0

    @property
    def policy(self):
        if self._policy is None:
            self._policy = default_policy()
        return self._policy

    def _scope_lock(self, town: str | None) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(town, threading.Lock())

    def current_version(self) -> str | None:
        v = self.rt.redis.get(LIVE_VERSION_KEY)
        return v.decode() if v is not None else None

    def snapshot(self, town: str | None = None) -> Snapshot:
        """The latest snapshot for a scope. Raises if Redis or the database is unreachable."""
        version = self.current_version() or "0"
        cached = self._cache.get(town)
        now = time.monotonic()
        # While everything changes (a backlog being stored), a rebuild may cost a good part of a
        # second: rebuild at most every 3× its own cost, so the wall never starves the persister.
        build_s = self._build_s.get(town, 0.0)
        min_interval = max(self.min_interval, 3 * build_s if build_s > 0.05 else 0.0)
        if cached and (now - cached.computed_at < min_interval or
                       (cached.version == version and now - cached.computed_at < self.max_age)):
            return cached
        with self._scope_lock(town):
            cached = self._cache.get(town)
            if cached and now - cached.computed_at < min_interval:
                return cached
            t0 = time.monotonic()
            scope = self._refresh_rows(town)
            ticker = self.rt.store.latest_reports(12, town)
            rows = list(scope.rows.values())
            now = datetime.now(timezone.utc)
            snap = build_snapshot(rows, version, now, ticker, self.project, scope.features,
                                  self.policy.lateness, self._heads(rows, now))
            if snap.markers_digest != scope.markers_key:
                scope.markers_key = snap.markers_digest
                scope.markers_rev += 1
            snap.markers_rev = scope.markers_rev
            s = self.rt.settings
            snap.store_delay_s = store_delay_s(self.rt.redis, s.stream, s.group)
            if len(scope.features) > 2 * len(scope.rows) + 1000:  # drop markers of closed cases
                scope.features.clear()
            self._cache[town] = snap
            self._build_s[town] = time.monotonic() - t0
            self.computations += 1
            return snap

    def _heads(self, rows: list[dict], now: datetime) -> dict:
        """The latest status (Redis case heads) of the cases that would raise an alarm or
        colour a grid from their stored status: those waiting for acceptance, red ones and
        overdue ones (while the persister lags, e.g. storing a backfill, the stream may already
        hold their next steps)."""
        lateness = self.policy.lateness
        ids = [r["id"] for r in rows if r["status"] == wall.WAITING or r["urgency"] == "red"
               or lateness(r, now) == "overdue"]
        if not ids:
            return {}
        pipe = self.rt.redis.pipeline(transaction=False)
        for i in ids:
            pipe.hget(head_key(i), "s")
        return {i: s.decode() for i, s in zip(ids, pipe.execute()) if s is not None}

    def _refresh_rows(self, town: str | None) -> _ScopeRows:
        store = self.rt.store
        scope = self._scopes.get(town)
        if scope is None or time.monotonic() - scope.loaded_at > self.full_every:
            rows = store.open_incidents(town)
            fresh = _ScopeRows(rows={r["id"]: r for r in rows}, loaded_at=time.monotonic(),
                               features=scope.features if scope else {},
                               markers_rev=scope.markers_rev if scope else 0,
                               markers_key=scope.markers_key if scope else None)
            fresh.since = max((r["updated_at"] for r in rows), default=None)
            self._scopes[town] = scope = fresh
            self.full_loads += 1
            return scope
        if scope.since is None:
            changed = store.incidents_changed_since(None, town)
        else:
            changed = store.incidents_changed_since(scope.since - self.OVERLAP, town)
        for r in changed:
            if r["status"] in OPEN_STATUSES:
                scope.rows[r["id"]] = r
            else:
                scope.rows.pop(r["id"], None)
            if scope.since is None or r["updated_at"] > scope.since:
                scope.since = r["updated_at"]
        return scope
