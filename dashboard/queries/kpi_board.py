"""KPI figures per (scope, period), computed once per refresh and shared by every viewer.

``KpiBoard(runtime, ttl=5.0).get(town, period)`` answers ``compute_kpis``'s figures for the
district (``town=None``) or one town, plus ``computed_at``. Each (scope, period) key has its
own entry and its own lock, so keys compute independently and in parallel: a slow district
year never holds up a town's 30 days.

Freshness, per key (``age`` = seconds since the computation of the cached figures began):

* ``age < ttl``: the cached figures are answered at once;
* ``age ≥ ttl``: the first caller recomputes, holding the key's lock. Callers of the same key
  that arrive meanwhile get the cached figures only while ``age < ttl + grace``; after that
  they wait for the running computation and answer its result (one computation per key at a
  time, never a pile-up of identical ones). A computation that fails raises in its caller and
  in the callers that waited for it; the cached figures stay for the next try.

So no caller is answered figures older than ``ttl + grace``, except the result of a
computation that was already running when it asked (that is as fresh as figures get).

Keys are scope × period (at most 11 × 4: the district and the geography's towns, ``PERIODS``);
unknown towns and periods are refused before a key is made, and keys not asked for during
``idle`` seconds (10 minutes) are dropped.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Callable

from dashboard.core.metrics import DISTRICT, PERIODS
from dashboard.core.sla import default_policy
from dashboard.queries.kpis import UnknownTown, compute_kpis

Key = tuple  # (town code or None, period)
Compute = Callable[[str | None, str, datetime], dict]


def village_names(geo, town: str) -> dict[str, str]:
    """The villages of a town in the geography (code → name), to name its ranking's rows."""
    return {code: row.get("name") or code for code, row in geo.villages.items()
            if row.get("town_code") == town}


class _Slot:
    """One key: its lock, its figures and the outcome of its last computation."""
    __slots__ = ("lock", "entry", "attempts", "error", "last_used")

    def __init__(self, now: float):
        self.lock = threading.Lock()
        self.entry: tuple[float, dict] | None = None  # (monotonic start of its computation, figures)
        self.attempts = 0                               # computations finished, failed ones too
        self.error: BaseException | None = None         # the last attempt's error, None if it worked
        self.last_used = now


class KpiBoard:
    """KPI figures per (scope, period), per process. See the module's docstring.

    ``compute(town, period, now) -> dict`` replaces ``compute_kpis`` (tests inject slow or
    failing ones); ``clock`` replaces ``time.monotonic``.
    """

    SWEEP_EVERY = 60.0  # seconds between two looks for unused keys

    def __init__(self, runtime, ttl: float = 5.0, *, grace: float | None = None,
                 idle: float = 600.0, compute: Compute | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.rt = runtime
        self.ttl = ttl
        self.grace = ttl if grace is None else grace
        self.idle = idle
        self._compute = compute or self._compute_kpis
        self._clock = clock
        self._slots: dict[Key, _Slot] = {}
        self._slots_lock = threading.Lock()   # for the dict and the counter; never held while computing
        self._swept = clock()
        self._villages: dict[str, dict[str, str]] = {}
        self.computations = 0

    def __len__(self) -> int:
        """The number of keys held."""
        return len(self._slots)

    # ------------------------------------------------------------------ the figures

    def get(self, town: str | None, period: str) -> dict:
        """The figures of ``compute_kpis`` for the scope (None, ``""`` or ``"district"``: the
        district) and period, with ``computed_at``: the instant they describe, in epoch seconds
        (the same instant as ``data_as_of``). The answer is shared: do not modify it.
        Raises ``ValueError`` for a period not in ``PERIODS``, ``UnknownTown`` for a town not in
        the geography, and whatever the computation raised (database unreachable...)."""
        key = self._key(town, period)
        slot = self._slot(key)
        entry = slot.entry
        if entry is not None:
            age = self._clock() - entry[0]
            if age < self.ttl:
                return entry[1]
            if age < self.ttl + self.grace:
                if not slot.lock.acquire(blocking=False):
                    return entry[1]  # being recomputed, and still within the grace period
                try:                 # the lock was free: this caller recomputes
                    return self._compute_locked(key, slot)
                finally:
                    slot.lock.release()
        return self._wait_or_compute(key, slot)

    def _wait_or_compute(self, key: Key, slot: _Slot) -> dict:
        """Take the key's lock, waiting for a running computation; answer its outcome if one
        finished while waiting, else compute."""
        attempts = slot.attempts
        with slot.lock:
            if slot.attempts != attempts:       # a computation finished while we waited
                if slot.error is not None:
                    raise slot.error
                return slot.entry[1]
            return self._compute_locked(key, slot)

    def _compute_locked(self, key: Key, slot: _Slot) -> dict:
        entry = slot.entry
        if entry is not None and self._clock() - entry[0] < self.ttl:
            return entry[1]                     # fresh figures arrived just before we took the lock
        started, wall = self._clock(), time.time()
        try:
            figures = dict(self._compute(key[0], key[1], datetime.fromtimestamp(wall, timezone.utc)))
        except BaseException as exc:
            slot.error = exc
            slot.attempts += 1
            raise
        figures["computed_at"] = wall
        slot.entry = (started, figures)
        slot.error = None
        slot.attempts += 1
        with self._slots_lock:
            self.computations += 1
        return figures

    def _compute_kpis(self, town: str | None, period: str, now: datetime) -> dict:
        return compute_kpis(self.rt.store, now=now, tz=self.rt.settings.timezone, town=town,
                            period=period,
                            town_names={c: r["name"] for c, r in self.rt.geo.towns.items()},
                            village_names=self.village_names(town) if town is not None else None,
                            sla=default_policy())

    def village_names(self, town: str) -> dict[str, str]:
        """The villages of a town in the geography (code → name), looked up once per town."""
        names = self._villages.get(town)
        if names is None:
            names = self._villages[town] = village_names(self.rt.geo, town)
        return names

    # ------------------------------------------------------------------ keys

    def _key(self, town: str | None, period: str) -> Key:
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
        if town in ("", DISTRICT):
            town = None
        if town is not None and town not in self.rt.geo.towns:
            raise UnknownTown(f"unknown town {town!r}")
        return (town, period)

    def _slot(self, key: Key) -> _Slot:
        now = self._clock()
        with self._slots_lock:
            if now - self._swept >= min(self.SWEEP_EVERY, self.idle):
                self._swept = now
                for k, s in list(self._slots.items()):
                    if now - s.last_used > self.idle and not s.lock.locked():
                        del self._slots[k]
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot(now)
            slot.last_used = now
            return slot
