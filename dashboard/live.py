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
from functools import cached_property

import orjson
from datetime import datetime, timedelta, timezone

from .domain import OPEN_STATUSES, URGENCY_RANK
from .stream import LIVE_VERSION_KEY

URGENCY_CODE = {"red": "r", "yellow": "y", "green": "g"}


@dataclass
class Snapshot:
    version: str
    as_of: datetime
    markers: dict                      # GeoJSON FeatureCollection of open incidents
    grid_urgency: dict[str, str]       # grid code -> most urgent open case: "r" / "y" / "g"
    counts: dict[str, int] = field(default_factory=dict)  # open cases by urgency
    ticker: list[dict] = field(default_factory=list)     # latest reports, newest first
    markers_rev: int = 0                                 # changes only when the markers changed
    newest_red: dict | None = None                       # the most recent open red case
    computed_at: float = 0.0

    @cached_property
    def markers_json(self) -> bytes:
        """The markers serialised once, for every viewer that fetches them."""
        return orjson.dumps(self.markers)

    @cached_property
    def markers_gzip(self) -> bytes:
        return gzip.compress(self.markers_json, compresslevel=5)

    @property
    def etag(self) -> str:
        return f"{self.version}-{int(self.computed_at * 1000)}"


def build_snapshot(rows, version: str, as_of: datetime,
                   ticker: list[dict] | None = None, project=None,
                   feature_cache: dict | None = None) -> Snapshot:
    """``project(lon, lat) -> (x, y)`` moves marker positions onto the base map's datum
    (GCJ-02 for Amap tiles); by default positions stay WGS84. ``feature_cache`` keeps each
    incident's marker between snapshots (keyed by id and urgency, the only thing that changes)."""
    features = []
    worst: dict[str, str] = {}
    counts = {"red": 0, "yellow": 0, "green": 0}
    newest_red = None
    for r in rows:
        u = r["urgency"]
        if u == "red" and (newest_red is None or r["reported_at"] > newest_red["reported_at"]):
            newest_red = r
        counts[u] = counts.get(u, 0) + 1
        g = r["grid_code"]
        if g not in worst or URGENCY_RANK[u] > URGENCY_RANK[worst[g]]:
            worst[g] = u
        key = (r["id"], u)
        feature = feature_cache.get(key) if feature_cache is not None else None
        if feature is None:
            x, y = project(r["lon"], r["lat"]) if project else (r["lon"], r["lat"])
            feature = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
                "properties": {"id": str(r["id"]), "u": URGENCY_CODE[u], "k": r["category"],
                               "t": int(r["reported_at"].timestamp())},
            }
            if feature_cache is not None:
                feature_cache[key] = feature
        features.append(feature)
    return Snapshot(version=version, as_of=as_of,
                    markers={"type": "FeatureCollection", "features": features},
                    grid_urgency={g: URGENCY_CODE[u] for g, u in worst.items()},
                    counts=counts, ticker=list(ticker or []),
                    newest_red=None if newest_red is None else {
                        "id": str(newest_red["id"]), "lat": newest_red["lat"], "lon": newest_red["lon"],
                        "category": newest_red["category"], "description": newest_red["description"],
                        "reported_at": newest_red["reported_at"]},
                    computed_at=time.monotonic())


@dataclass
class _ScopeRows:
    """The open incidents of one scope, kept up to date from the rows that changed."""
    rows: dict = field(default_factory=dict)          # id -> row
    features: dict = field(default_factory=dict)      # (id, urgency) -> marker feature
    since: datetime | None = None                     # newest updated_at seen
    loaded_at: float = 0.0                            # when the last full load ran
    markers_rev: int = 0                              # bumped when a marker appears, goes or recolours


def _marker_keys(rows: dict) -> set:
    return {(i, r["urgency"]) for i, r in rows.items()}


class LiveView:
    """Open incidents per scope, refreshed incrementally: after a change only the incidents
    updated since the last look are read (``updated_at``, with an overlap for transactions
    that commit out of order), and a full reload every ``full_every`` seconds heals anything
    missed. Markers of unchanged incidents are reused."""

    OVERLAP = timedelta(seconds=5)

    def __init__(self, runtime, min_interval: float = 0.5, max_age: float = 30.0, project=None,
                 full_every: float = 60.0):
        self.rt = runtime
        self.project = project
        self.min_interval = min_interval
        self.max_age = max_age
        self.full_every = full_every
        self._cache: dict[str | None, Snapshot] = {}  # keyed by scope (town code or None)
        self._scopes: dict[str | None, _ScopeRows] = {}
        self._lock = threading.Lock()
        self.computations = 0
        self.full_loads = 0

    def current_version(self) -> str | None:
        v = self.rt.redis.get(LIVE_VERSION_KEY)
        return v.decode() if v is not None else None

    def snapshot(self, town: str | None = None) -> Snapshot:
        """The latest snapshot for a scope. Raises if Redis or the database is unreachable."""
        version = self.current_version() or "0"
        cached = self._cache.get(town)
        now = time.monotonic()
        if cached and (now - cached.computed_at < self.min_interval or
                       (cached.version == version and now - cached.computed_at < self.max_age)):
            return cached
        with self._lock:
            cached = self._cache.get(town)
            if cached and now - cached.computed_at < self.min_interval:
                return cached
            scope = self._refresh_rows(town)
            ticker = self.rt.store.latest_reports(12, town)
            snap = build_snapshot(scope.rows.values(), version, datetime.now(timezone.utc), ticker,
                                  self.project, scope.features)
            snap.markers_rev = scope.markers_rev
            self._cache[town] = snap
            self.computations += 1
            return snap

    def _refresh_rows(self, town: str | None) -> _ScopeRows:
        store = self.rt.store
        scope = self._scopes.get(town)
        if scope is None or time.monotonic() - scope.loaded_at > self.full_every:
            rows = store.open_incidents(town)
            fresh = _ScopeRows(rows={r["id"]: r for r in rows}, loaded_at=time.monotonic(),
                               features=scope.features if scope else {},
                               markers_rev=scope.markers_rev if scope else 0)
            if scope is None or _marker_keys(scope.rows) != _marker_keys(fresh.rows):
                fresh.markers_rev += 1
            fresh.since = max((r["updated_at"] for r in rows), default=None)
            if len(fresh.features) > 2 * len(fresh.rows) + 1000:  # drop markers of closed cases
                fresh.features = {}
            self._scopes[town] = scope = fresh
            self.full_loads += 1
            return scope
        if scope.since is None:
            changed = store.incidents_changed_since(None, town)
        else:
            changed = store.incidents_changed_since(scope.since - self.OVERLAP, town)
        marked = False
        for r in changed:
            before = scope.rows.get(r["id"])
            if r["status"] in OPEN_STATUSES:
                scope.rows[r["id"]] = r
                marked |= before is None or before["urgency"] != r["urgency"]
            else:
                marked |= scope.rows.pop(r["id"], None) is not None
            if scope.since is None or r["updated_at"] > scope.since:
                scope.since = r["updated_at"]
        if marked:
            scope.markers_rev += 1
        return scope


class KpiBoard:
    """KPI figures per (scope, period), computed at most once per ``ttl`` seconds per process
    and shared by every viewer (figures are minutes-grained; 5 s is fresh enough)."""

    def __init__(self, runtime, ttl: float = 5.0):
        self.rt = runtime
        self.ttl = ttl
        self._cache: dict[tuple, tuple[float, dict]] = {}
        self._lock = threading.Lock()
        self.computations = 0

    def get(self, town: str | None, period: str) -> dict:
        from .kpis import compute_kpis
        from .sla import default_policy

        key = (town, period)
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        if hit:
            if not self._lock.acquire(blocking=False):
                return hit[1]  # another request is recomputing: the previous figures meanwhile
        else:
            self._lock.acquire()
        try:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            figures = compute_kpis(self.rt.store, now=datetime.now(timezone.utc),
                                   tz=self.rt.settings.timezone, town=town, period=period,
                                   town_names={c: r["name"] for c, r in self.rt.geo.towns.items()},
                                   sla=default_policy())
            self._cache[key] = (time.monotonic(), figures)
            self.computations += 1
            return figures
        finally:
            self._lock.release()
