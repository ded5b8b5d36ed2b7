"""Persisting the stream exactly once.

Persisting (``Persister``), any number of processes in the consumer group ``persist``:

* reads its own pending entries first (id ``0``: what it had read but not acknowledged before a
  crash), then new ones (``>``), in batches;
* stores a batch in one database transaction (idempotent by event UUID) and XACKs only after
  the commit; a database or Redis outage keeps the batch in memory and retries it, so entries
  stay pending until they are stored;
* takes over entries idle on dead consumers with XAUTOCLAIM;
* sends an entry that cannot be stored (not JSON, fails validation, rejected by the database
  on its own, or delivered too often) to the dead-letter stream with its error, XACKing it in
  the same MULTI, and lets the rest flow on;
* trims the stream only below what the group has stored (XTRIM MINID), never by length.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Sequence

import redis

from dashboard.config import Settings
from dashboard.core.domain import Event
from dashboard.store.incidents import Store
from dashboard.stream.events import (
    LIVE_VERSION_KEY,
    REDIS_ERRORS,
    TRANSIENT_DB_ERRORS,
    as_str,
    decode_entry,
    safe_trim_id,
    stream_pos,
)

log = logging.getLogger(__name__)


@dataclass
class PersisterStats:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    retries: int = 0
    claimed: int = 0
    last_error: str = ""
    started_at: float = field(default_factory=time.time)


class Persister:
    """One consumer of the ``persist`` group. ``run()`` loops until ``stop()``."""

    def __init__(self, r: redis.Redis, store: Store, settings: Settings, name: str | None = None):
        self.r = r
        self.store = store
        self.s = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stats = PersisterStats()
        self._stop = threading.Event()
        self._backlog_done = False  # own pending entries re-read after start
        self._next_claim = 0.0
        self._next_trim = 0.0

    # -------------------------------------------------------------- control
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def ensure_group(self) -> None:
        try:
            self.r.xgroup_create(self.s.stream, self.s.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self) -> None:
        backoff = 0.1
        log.info("persister %s starting on %s/%s", self.name, self.s.stream, self.s.group)
        while not self.stopping:
            try:
                self.ensure_group()
                while not self.stopping:
                    self.step()
                    backoff = 0.1
            except REDIS_ERRORS as exc:
                self._note_error(f"redis: {exc}")
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" in str(exc):  # Redis lost the group (restart without persistence)
                    self._backlog_done = False
                    continue
                self._note_error(f"redis: {exc}")
            except Exception as exc:  # never let the consumer die; log and go on
                log.exception("persister step failed")
                self._note_error(repr(exc))
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)
        log.info("persister %s stopped", self.name)

    def _note_error(self, msg: str) -> None:
        self.stats.last_error = msg
        self.stats.retries += 1
        log.warning("persister %s: %s", self.name, msg)

    # -------------------------------------------------------------- one step
    def step(self) -> int:
        """Read one batch (own pending first, then new), store it, ack it. Returns entries handled."""
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + max(self.s.claim_idle_ms / 2000, 1)
            claimed = self.claim_stale()
            if claimed:
                return claimed
        if now >= self._next_trim:
            self._next_trim = now + 10
            self.trim()
        if not self._backlog_done:
            entries = self._read("0", block=None)
            if not entries:
                self._backlog_done = True
                return 0
        else:
            entries = self._read(">", block=self.s.block_ms)
        if entries:
            self.handle(entries, redelivered=not self._backlog_done)
        return len(entries)

    def _read(self, start: str, block: int | None) -> list[tuple[bytes, dict]]:
        resp = self.r.xreadgroup(self.s.group, self.name, {self.s.stream: start},
                                 count=self.s.batch_size, block=block)
        if not resp:
            return []
        _, entries = resp[0]
        # Entries deleted while pending come back with no fields; just ack them.
        gone = [eid for eid, f in entries if not f]
        if gone:
            self.r.xack(self.s.stream, self.s.group, *gone)
        return [(eid, f) for eid, f in entries if f]

    def claim_stale(self) -> int:
        """Take over entries idle on other (dead) consumers, and handle them."""
        total = 0
        start = "0-0"
        while not self.stopping:
            res = self.r.xautoclaim(self.s.stream, self.s.group, self.name,
                                    min_idle_time=self.s.claim_idle_ms, start_id=start,
                                    count=self.s.batch_size)
            start, entries = res[0], res[1]
            live = [(eid, f) for eid, f in entries if f]
            if live:
                total += len(live)
                self.stats.claimed += len(live)
                self.handle(live)
            if start in (b"0-0", "0-0") or not entries:
                break
        return total

    # -------------------------------------------------------------- handling
    def handle(self, entries: Sequence[tuple[bytes, dict]], redelivered: bool = True) -> None:
        """Store a batch. ``redelivered``: the entries may have been delivered before (own
        backlog, claimed ones), so check how often; fresh ``>`` reads were delivered once."""
        good: list[tuple[bytes, Event]] = []
        poison: list[tuple[bytes, dict, str]] = []
        too_often = self._delivered_too_often([eid for eid, _ in entries]) if redelivered else {}
        for eid, fields in entries:
            if eid in too_often:
                poison.append((eid, fields, f"delivered {too_often[eid]} times without being stored"))
                continue
            try:
                good.append((eid, decode_entry(eid, fields)))
            except ValueError as exc:
                poison.append((eid, fields, str(exc)))
        if poison:
            self.dead_letter(poison)
        if good:
            self._store_with_retry(good, {eid: f for eid, f in entries})
        self.stats.batches += 1

    def _delivered_too_often(self, ids: list[bytes]) -> dict[bytes, int]:
        """Entries that were delivered (read or claimed) more than ``max_deliveries`` times:
        they keep killing consumers and must not block the rest."""
        out: dict[bytes, int] = {}
        if not ids:
            return out
        lo, hi = min(ids, key=stream_pos), max(ids, key=stream_pos)
        rows = self.r.xpending_range(self.s.stream, self.s.group, min=lo, max=hi,
                                     count=len(ids) * 2 + 10, consumername=self.name)
        wanted = set(ids)
        for row in rows:
            mid = row["message_id"]
            if mid in wanted and row["times_delivered"] > self.s.max_deliveries:
                out[mid] = row["times_delivered"]
        return out

    def _store_with_retry(self, good: list[tuple[bytes, Event]], fields_by_id: dict) -> None:
        backoff = 0.2
        while True:
            try:
                self._store_batch(good, fields_by_id)
                return
            except TRANSIENT_DB_ERRORS as exc:
                # The database is away: keep the batch (entries stay pending) and retry.
                self._note_error(f"database unavailable: {type(exc).__name__}")
                if self.stopping:
                    return
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _store_batch(self, good: list[tuple[bytes, Event]], fields_by_id: dict) -> None:
        events = _dedupe([ev for _, ev in good])
        try:
            new = self.store.store_events(events)
            done = [eid for eid, _ in good]
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception:
            # Something in the batch is refused: store one by one, and send what fails on its
            # own to the dead-letter stream with its error.
            log.warning("batch of %d refused; storing one by one", len(good), exc_info=True)
            new, done = 0, []
            for eid, ev in good:
                try:
                    new += self.store.store_events([ev])
                    done.append(eid)
                except TRANSIENT_DB_ERRORS:
                    raise
                except Exception as exc:
                    self.dead_letter([(eid, fields_by_id[eid], f"refused when stored: {_short(exc)}")])
        self._ack(done, changed=new > 0)
        self.stats.stored += new
        self.stats.duplicates += len(done) - new

    def _ack(self, ids: list[bytes], changed: bool) -> None:
        if not ids:
            return
        pipe = self.r.pipeline(transaction=False)
        pipe.xack(self.s.stream, self.s.group, *ids)
        if changed:
            pipe.incr(LIVE_VERSION_KEY)
        # If Redis went away after the commit, the entries stay pending and are stored again
        # (a no-op: their ids are already in the database) once it is back.
        pipe.execute()

    def dead_letter(self, poison: Sequence[tuple[bytes, dict, str]]) -> None:
        pipe = self.r.pipeline(transaction=True)  # MULTI: the copy and the ack together
        for eid, fields, error in poison:
            entry = {k: v for k, v in fields.items() if k not in (b"error", b"source_id")}
            entry.update({b"error": error.encode()[:2000], b"source_id": eid,
                          b"consumer": self.name.encode(), b"failed_at": str(time.time()).encode()})
            pipe.xadd(self.s.dead_letter_stream, entry)
            pipe.xack(self.s.stream, self.s.group, eid)
            log.warning("dead-lettered %s: %s", eid, error)
        pipe.execute()
        self.stats.dead += len(poison)

    # -------------------------------------------------------------- trimming
    def trim(self) -> int:
        """Trim entries that the group has stored and that are older than the retention."""
        minid = safe_trim_id(self.r, self.s.stream, self.s.group)
        if minid is None:
            return 0
        keep_from = int(time.time() * 1000) - self.s.stream_retention_s * 1000
        cut = min(stream_pos(minid), keep_from << 20)
        if cut <= 0:
            return 0
        cut_id = f"{cut >> 20}-{cut & ((1 << 20) - 1)}"
        trimmed = self.r.xtrim(self.s.stream, minid=cut_id, approximate=False)
        self.forget_idle_consumers()
        return trimmed

    def forget_idle_consumers(self, idle_ms: int = 3_600_000) -> list[str]:
        """Remove consumers (old process names) that own nothing and were idle for an hour."""
        gone = []
        for c in self.r.xinfo_consumers(self.s.stream, self.s.group):
            name = as_str(c["name"])
            if name != self.name and c["pending"] == 0 and c["idle"] > idle_ms:
                self.r.xgroup_delconsumer(self.s.stream, self.s.group, name)
                gone.append(name)
        return gone


def _short(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:300]


def _dedupe(events: list[Event]) -> list[Event]:
    seen: set = set()
    out = []
    for ev in events:
        if ev.id not in seen:
            seen.add(ev.id)
            out.append(ev)
    return out
