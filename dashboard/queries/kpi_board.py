"""KPI figures per (scope, period), computed once per refresh and shared by every viewer.

``KpiBoard(runtime, ttl=5.0).get(town, period)`` answers ``compute_kpis``'s figures for the
district (``town=None``) or one town, plus ``computed_at``. Each (scope, period) key has its
own entry and its own lock, so keys compute independently and in parallel: a slow district
year never holds up a town's 30 days.

Freshness follows the app's one cache rule (``dashboard.cache.SharedCache``), per key
(``age`` = seconds since the computation of the cached figures began):

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

import time
from datetime import datetime, timezone
from typing import Callable

from dashboard.cache import SharedCache
from dashboard.core.metrics import DISTRICT, PERIODS
from dashboard.queries.kpis import UnknownTown, compute_kpis

Key = tuple  # (town code or None, period)
Compute = Callable[[str | None, str, datetime], dict]


def village_names(geo, town: str) -> dict[str, str]:
    """The villages of a town in the geography (code → name), to name its ranking's rows."""
    return {code: row.get("name") or code for code, row in geo.villages.items()
            if row.get("town_code") == town}


class KpiBoard:
    """KPI figures per (scope, period), per process, in one ``SharedCache`` (the module's
    docstring says how fresh they are).

    ``compute(town, period, now) -> dict`` replaces ``compute_kpis`` (tests inject slow or
    failing ones); ``clock`` replaces ``time.monotonic``.
    """

    def __init__(self, runtime, ttl: float = 5.0, *, grace: float | None = None,
                 idle: float = 600.0, compute: Compute | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.rt = runtime
        self.ttl = ttl
        self.grace = ttl if grace is None else grace
        self.idle = idle
        self._compute = compute or self._compute_kpis
        self._cache: SharedCache[dict] = SharedCache(ttl, grace=self.grace, idle=idle, clock=clock)
        self._villages: dict[str, dict[str, str]] = {}

    def __len__(self) -> int:
        """The number of keys held."""
        return len(self._cache)

    @property
    def computations(self) -> int:
        return self._cache.computations

    # ------------------------------------------------------------------ the figures

    def get(self, town: str | None, period: str) -> dict:
        """The figures of ``compute_kpis`` for the scope (None, ``""`` or ``"district"``: the
        district) and period, with ``computed_at``: the instant they describe, in epoch seconds
        (the same instant as ``data_as_of``). The answer is shared: do not modify it.
        Raises ``ValueError`` for a period not in ``PERIODS``, ``UnknownTown`` for a town not in
        the geography, and whatever the computation raised (database unreachable...)."""
        key = self._key(town, period)

        def compute() -> dict:
            wall = time.time()
            figures = dict(self._compute(key[0], key[1], datetime.fromtimestamp(wall, timezone.utc)))
            figures["computed_at"] = wall
            return figures

        return self._cache.get(key, compute)

    def _compute_kpis(self, town: str | None, period: str, now: datetime) -> dict:
        return compute_kpis(self.rt.store, now=now, tz=self.rt.settings.timezone, town=town,
                            period=period,
                            town_names={c: r["name"] for c, r in self.rt.geo.towns.items()},
                            village_names=self.village_names(town) if town is not None else None)

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
