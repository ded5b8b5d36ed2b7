"""The one cache rule of the app: a value per key, computed once and shared by every caller.

``SharedCache(ttl, grace=..., idle=..., maxsize=...).get(key, compute)`` answers ``compute()``'s
value for ``key``. Each key has its own entry and its own lock, so keys compute independently
and in parallel (a slow district year never holds up a town's 30 days, one user's lookup never
waits for another's).

Freshness, per key (``age`` = seconds since the computation of the cached value began):

* ``age < ttl``: the cached value is answered at once;
* ``age ≥ ttl``: the first caller recomputes, holding the key's lock. Callers of the same key
  that arrive meanwhile get the cached value only while ``age < ttl + grace``; after that they
  wait for the running computation and answer its result (one computation per key at a time,
  never a pile-up of identical ones). A computation that fails raises in its caller and in the
  callers that waited for it; the cached value stays for the next try.

So no caller is answered a value older than ``ttl + grace``, except the result of a computation
that was already running when it asked. Keys not asked for during ``idle`` seconds are dropped;
beyond ``maxsize`` keys the least recently used are dropped first. ``clear()`` forgets every
value (after a write that makes them wrong). Values are shared: callers must not modify them.

Used by the KPI board, the leaders' view, account and key lookups and the simulated cameras'
frames. The wall's live picture (``dashboard.queries.live``) is state kept up to date from the
rows that changed, not a cache of a computation; it follows its own rule.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class _Slot:
    """One key: its lock, its value and the outcome of its last computation."""
    __slots__ = ("lock", "entry", "attempts", "error", "last_used")

    def __init__(self, now: float):
        self.lock = threading.Lock()
        self.entry: tuple[float, object] | None = None  # (monotonic start of its computation, value)
        self.attempts = 0                                # computations finished, failed ones too
        self.error: BaseException | None = None          # the last attempt's error, None if it worked
        self.last_used = now


class SharedCache(Generic[V]):
    SWEEP_EVERY = 60.0  # seconds between two looks for unused keys

    def __init__(self, ttl: float = math.inf, *, grace: float = 0.0, idle: float = 600.0,
                 maxsize: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.grace = grace
        self.idle = idle
        self.maxsize = maxsize
        self._clock = clock
        self._slots: dict[Hashable, _Slot] = {}
        self._slots_lock = threading.Lock()  # for the dict and the counter; never held while computing
        self._swept = clock()
        self.computations = 0

    def __len__(self) -> int:
        """The number of keys held."""
        return len(self._slots)

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
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
                    return self._compute_locked(slot, compute)
                finally:
                    slot.lock.release()
        return self._wait_or_compute(slot, compute)

    def clear(self) -> None:
        """Forget every value; computations running now still answer their own callers."""
        with self._slots_lock:
            self._slots.clear()

    def _wait_or_compute(self, slot: _Slot, compute: Callable[[], V]) -> V:
        """Take the key's lock, waiting for a running computation; answer its outcome if one
        finished while waiting, else compute."""
        attempts = slot.attempts
        with slot.lock:
            if slot.attempts != attempts:       # a computation finished while we waited
                if slot.error is not None:
                    raise slot.error
                return slot.entry[1]
            return self._compute_locked(slot, compute)

    def _compute_locked(self, slot: _Slot, compute: Callable[[], V]) -> V:
        entry = slot.entry
        if entry is not None and self._clock() - entry[0] < self.ttl:
            return entry[1]                     # a fresh value arrived just before we took the lock
        started = self._clock()
        try:
            value = compute()
        except BaseException as exc:
            slot.error = exc
            slot.attempts += 1
            raise
        slot.entry = (started, value)
        slot.error = None
        slot.attempts += 1
        with self._slots_lock:
            self.computations += 1
        return value

    def _slot(self, key: Hashable) -> _Slot:
        now = self._clock()
        with self._slots_lock:
            if now - self._swept >= min(self.SWEEP_EVERY, self.idle):
                self._swept = now
                for k, s in list(self._slots.items()):
                    if now - s.last_used > self.idle and not s.lock.locked():
                        del self._slots[k]
            slot = self._slots.get(key)
            if slot is None:
                if self.maxsize is not None and len(self._slots) >= self.maxsize:
                    self._evict()
                slot = self._slots[key] = _Slot(now)
            slot.last_used = now
            return slot

    def _evict(self) -> None:
        """Drop the least recently used quarter of the keys (not those being computed)."""
        idle = sorted((s.last_used, i, k) for i, (k, s) in enumerate(self._slots.items()) if not s.lock.locked())
        for _, _, k in idle[: max(1, len(self._slots) // 4)]:
            del self._slots[k]
