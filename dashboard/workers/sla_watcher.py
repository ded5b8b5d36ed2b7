"""The SLA clock at work: every ``interval`` seconds, the clock's events for the open cases.

The rules are ``dashboard.core.sla``'s (deadlines, lateness, what the clock does). This loop
applies them as events through the same checked append as an operator's
(``dashboard.stream.commands``), and only to cases whose stored projection is as new as their
head in Redis: while the persister lags, a case is judged later.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from dashboard.core.actions import ActionError
from dashboard.core.sla import SlaPolicy
from dashboard.store.models import EventRow
from dashboard.stream.commands import Commands
from dashboard.stream.heads import head_key

log = logging.getLogger(__name__)
CLAIM_TTL_S = 40 * 86400


class SlaWatcher:
    """Every ``interval`` seconds: the clock's events for every open case whose stored
    projection is up to date, through the checked append. Safe to run in several processes."""

    HEAD_CHUNK = 2000

    def __init__(self, runtime, policy: SlaPolicy | None = None, interval: float = 30.0, clock=None):
        self.rt = runtime
        self.policy = policy or SlaPolicy.load()
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._stop = threading.Event()
        self.appended = 0
        self.deferred = 0  # cases left for a later round in the last round

    def stop(self) -> None:
        self._stop.set()

    def _heads(self, ids: list) -> list[int | None]:
        """The head version of each case in Redis (None where it has none), pipelined."""
        out: list[int | None] = []
        for start in range(0, len(ids), self.HEAD_CHUNK):
            pipe = self.rt.redis.pipeline(transaction=False)
            for iid in ids[start:start + self.HEAD_CHUNK]:
                pipe.hget(head_key(iid), "v")
            out.extend(None if v is None else int(v) for v in pipe.execute())
        return out

    def _stored(self, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these events the log already holds (a step done long ago, whose claim has
        expired): appending one again would move the head past what can ever be stored."""
        ev_t = EventRow.__table__
        found: set[uuid.UUID] = set()
        if not event_ids:
            return found
        with self.rt.store.engine.connect() as conn:
            for start in range(0, len(event_ids), 500):
                q = select(ev_t.c.id).where(ev_t.c.id.in_(event_ids[start:start + 500]))
                found.update(row[0] for row in conn.execute(q))
        return found

    def run_once(self) -> int:
        """One round over the open cases; returns how many events it appended.

        A case is judged only when its stored projection is at the version of its head in
        Redis; otherwise (the persister has not stored everything yet) it is deferred
        (``self.deferred``). Each event is appended with the stored version as the expected
        version (a second one at the version the first returned), so anything that moved the
        case meanwhile gets it refused. Each event is claimed once in Redis under its derived id
        (SET NX) before it is appended, so a repeated round or a second watcher never repeats
        a step; the claim is released when the append is refused."""
        r = self.rt.redis
        cmds = Commands(r, self.rt.store, self.rt.settings.stream)
        now = self.clock()
        owed = [(case, evs) for case in self.rt.store.open_cases_for_sla()
                if (evs := self.policy.due_events(case, now))]
        deferred = 0
        ready = []
        for (case, evs), head in zip(owed, self._heads([c["id"] for c, _ in owed])):
            if head is None:  # no head in Redis (expired, or Redis lost it): load it, judge later
                try:
                    cmds.ensure_head(case["id"])
                except ActionError:
                    pass
                deferred += 1
            elif head != case["version"]:
                deferred += 1
            else:
                ready.append((case, evs))
        # Steps already claimed are skipped without a round trip each; a step whose claim has
        # expired but that the log holds is claimed again and skipped.
        pipe = r.pipeline(transaction=False)
        for _, evs in ready:
            for ev in evs:
                pipe.exists(f"sla:{ev.id}")
        claimed = iter(pipe.execute())
        ready = [(case, [ev for ev in evs if not next(claimed)]) for case, evs in ready]
        stored = self._stored([ev.id for _, evs in ready for ev in evs])
        done = 0
        for case, evs in ready:
            expected = case["version"]
            for ev in evs:
                claim = f"sla:{ev.id}"
                if not r.set(claim, 1, nx=True, ex=CLAIM_TTL_S) or ev.id in stored:
                    continue
                try:
                    expected = cmds.append(ev, expected).version
                    done += 1
                except ActionError:
                    r.delete(claim)  # the case moved on meanwhile (or was closed): a later round
                    break
                except Exception:
                    r.delete(claim)
                    raise
        if deferred:
            log.info("SLA watcher: %d case(s) deferred until their events are stored", deferred)
        self.deferred = deferred
        self.appended += done
        return done

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # Redis or database away: try again next round
                log.warning("SLA watcher: %s", exc)
            self._stop.wait(self.interval)
